package testrig

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestInfluxWriteAndQuery(t *testing.T) {
	s := Influx(t)
	const db = "rigtest"
	s.CreateDB(db)

	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	s.Write(db,
		fmt.Sprintf("temperature,device=dev1 value=21.5 %d", base.UnixNano()),
		fmt.Sprintf("temperature,device=dev1 value=22.5 %d", base.Add(time.Second).UnixNano()),
		fmt.Sprintf("temperature,device=dev2 value=30 %d", base.Add(2*time.Second).UnixNano()),
	)

	if got := s.Count(db, "temperature"); got != 3 {
		t.Errorf("Count(temperature) = %d, want 3", got)
	}
	if got := s.Count(db, "absent"); got != 0 {
		t.Errorf("Count(absent) = %d, want 0", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	series, err := s.Query(ctx, db, `SELECT value FROM temperature WHERE device = 'dev1'`)
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(series) != 1 {
		t.Fatalf("Query returned %d series, want 1: %+v", len(series), series)
	}
	if got := fmt.Sprint(series[0].Column("value")); got != "[21.5 22.5]" {
		t.Errorf("dev1 values = %s, want [21.5 22.5]", got)
	}
	if got := fmt.Sprint(series[0].Column("time")[0]); got != fmt.Sprint(base.UnixNano()) {
		t.Errorf("first time = %s, want %d (epoch ns)", got, base.UnixNano())
	}

	if _, err := s.Query(ctx, db, `SELEKT nonsense`); err == nil {
		t.Errorf("Query with a syntax error returned no error")
	}

	records, err := s.QueryFlux(ctx, fmt.Sprintf(`from(bucket: "%s/autogen")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "temperature" and r.device == "dev2")`, db))
	if err != nil {
		t.Fatalf("QueryFlux: %v", err)
	}
	if got := fluxColumn(records, "_value"); !slices.Equal(got, []string{"30"}) {
		t.Errorf("flux _value column = %q, want [30]; response:\n%q", got, records)
	}
}

// fluxColumn returns the named column's values from a Flux CSV response,
// locating the column by the header row that names it.
func fluxColumn(records [][]string, name string) []string {
	var out []string
	col := -1
	for _, rec := range records {
		if i := slices.Index(rec, name); i >= 0 {
			col = i // a header row; each table repeats it
			continue
		}
		if col >= 0 && col < len(rec) && (len(rec) == 0 || len(rec[0]) == 0 || rec[0][0] != '#') {
			out = append(out, rec[col])
		}
	}
	return out
}

// TestInfluxRestartKeepsData is what outage tests rely on: Stop and Start
// bring influxd back on the same URL with the points written before.
func TestInfluxRestartKeepsData(t *testing.T) {
	s := Influx(t, WithoutFlux())
	const db = "outage"
	s.CreateDB(db)
	s.Write(db, "m v=1 1", "m v=2 2")

	s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.ping(ctx); err == nil {
		t.Errorf("ping succeeded while influxd was stopped")
	}

	s.Start()
	if got := s.Count(db, "m"); got != 2 {
		t.Errorf("after restart Count(m) = %d, want 2", got)
	}
}
