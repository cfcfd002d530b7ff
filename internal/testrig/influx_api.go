package testrig

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds each helper call that has no context of its own.
const requestTimeout = 30 * time.Second

// Series is one series of an InfluxQL query result.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	// Values holds one row per point. Numbers are json.Number, and the
	// time column is nanoseconds since the epoch.
	Values [][]any `json:"values"`
}

// Column returns the values of the named column, one per row, or nil when
// the series has no such column.
func (s Series) Column(name string) []any {
	for i, c := range s.Columns {
		if c != name {
			continue
		}
		out := make([]any, len(s.Values))
		for j, row := range s.Values {
			if i < len(row) {
				out[j] = row[i]
			}
		}
		return out
	}
	return nil
}

type queryResponse struct {
	Results []struct {
		Series []Series `json:"series"`
		Error  string   `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// Query runs InfluxQL statements against db through the HTTP /query
// endpoint and returns the series of all results. Timestamps come back as
// epoch nanoseconds. An error in any statement is returned as an error.
func (s *InfluxServer) Query(ctx context.Context, db, influxql string) ([]Series, error) {
	form := url.Values{"q": {influxql}, "epoch": {"ns"}}
	if db != "" {
		form.Set("db", db)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/query",
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("building query: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying influxd: %w", err)
	}
	defer resp.Body.Close()

	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var qr queryResponse
	if err := dec.Decode(&qr); err != nil {
		return nil, fmt.Errorf("decoding query response (status %s): %w", resp.Status, err)
	}
	if qr.Error != "" {
		return nil, fmt.Errorf("query %q: %s", influxql, qr.Error)
	}
	var series []Series
	for _, r := range qr.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("query %q: %s", influxql, r.Error)
		}
		series = append(series, r.Series...)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query %q: status %s", influxql, resp.Status)
	}
	return series, nil
}

// QueryFlux runs a Flux query through POST /api/v2/query and returns the
// annotated CSV response as records; blank separator lines between tables
// are dropped.
func (s *InfluxServer) QueryFlux(ctx context.Context, flux string) ([][]string, error) {
	body, err := json.Marshal(map[string]string{"query": flux, "type": "flux"})
	if err != nil {
		return nil, fmt.Errorf("encoding flux query: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api/v2/query",
		strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("building flux query: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/csv")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("flux query: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("flux query: status %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1 // tables in one response differ in width
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading flux csv: %w", err)
	}
	return records, nil
}

// exec runs an InfluxQL statement and fails the test on error.
func (s *InfluxServer) exec(db, influxql string) []Series {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	series, err := s.Query(ctx, db, influxql)
	if err != nil {
		s.t.Fatalf("influxql: %v", err)
	}
	return series
}

// CreateDB creates a database (a no-op if it exists) and fails the test on
// error.
func (s *InfluxServer) CreateDB(name string) {
	s.t.Helper()
	s.exec("", "CREATE DATABASE "+quoteIdent(name))
}

// Write writes line protocol lines (nanosecond precision) to db through the
// HTTP /write endpoint and fails the test unless influxd answers 204.
func (s *InfluxServer) Write(db string, lines ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	u := s.URL() + "/write?" + url.Values{"db": {db}, "precision": {"ns"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u,
		strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		s.t.Fatalf("building write: %v", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("writing to influxd: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		s.t.Fatalf("writing to influxd: status %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
}

// Count returns how many points measurement holds in db, taken as the
// largest per-field count so sparse fields do not undercount. A missing
// database or measurement counts as zero.
func (s *InfluxServer) Count(db, measurement string) int {
	s.t.Helper()
	n, err := s.count(db, measurement)
	if err != nil {
		s.t.Fatalf("counting %s in %s: %v", measurement, db, err)
	}
	return n
}

// WaitCount polls until measurement in db holds at least want points, and
// fails the test with the last count if that does not happen within timeout.
// It returns the final count, which may exceed want.
func (s *InfluxServer) WaitCount(db, measurement string, want int, timeout time.Duration) int {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := s.count(db, measurement)
		if err == nil && n >= want {
			return n
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for %d points in %s.%s: have %d after %s (last error: %v)",
				want, db, measurement, n, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *InfluxServer) count(db, measurement string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	series, err := s.Query(ctx, db, "SELECT COUNT(*) FROM "+quoteIdent(measurement))
	if err != nil {
		if strings.Contains(err.Error(), "database not found") {
			return 0, nil
		}
		return 0, err
	}
	most := 0
	for _, sr := range series {
		for _, row := range sr.Values {
			for i, v := range row {
				if i >= len(sr.Columns) || !strings.HasPrefix(sr.Columns[i], "count") {
					continue
				}
				num, ok := v.(json.Number)
				if !ok {
					continue
				}
				n, err := num.Int64()
				if err != nil {
					return 0, fmt.Errorf("count column %s: %w", sr.Columns[i], err)
				}
				most = max(most, int(n))
			}
		}
	}
	return most, nil
}

// quoteIdent quotes an InfluxQL identifier so names with dots, dashes or
// spaces work.
func quoteIdent(name string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}
