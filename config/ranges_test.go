package config

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestEveryNumericKeyHasARange: a numeric key without bounds is how a
// typo becomes an out-of-memory start or an overflow.
func TestEveryNumericKeyHasARange(t *testing.T) {
	c := Default()
	for _, l := range leaves(&c) {
		if l.numeric() && l.rng == "" {
			t.Errorf("%s is numeric but has no range tag", l.key)
		}
	}
	// The defaults are in range (checkRanges panics on a malformed tag).
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

// TestNumericRangesEnforced sets every numeric key, through its
// environment variable, just below and just above its range: each must
// be refused naming the key, and the bounds themselves accepted.
func TestNumericRangesEnforced(t *testing.T) {
	c := Default()
	for _, l := range leaves(&c) {
		if l.rng == "" {
			continue
		}
		lo, hi, _ := strings.Cut(l.rng, ",")
		var below, above, atLo, atHi string
		if _, ok := l.v.Interface().(Duration); ok {
			min, max := mustDuration(l.key, lo), mustDuration(l.key, hi)
			below, above = (min - time.Nanosecond).String(), (max + time.Nanosecond).String()
			atLo, atHi = min.String(), max.String()
		} else {
			min, max := mustInt(l.key, lo), mustInt(l.key, hi)
			below, above = strconv.FormatInt(min-1, 10), strconv.FormatInt(max+1, 10)
			atLo, atHi = strconv.FormatInt(min, 10), strconv.FormatInt(max, 10)
		}
		for _, tc := range []struct {
			name, value string
			ok          bool
		}{{"too small", below, false}, {"too large", above, false}, {"min", atLo, true}, {"max", atHi, true}} {
			t.Run(l.key+" "+tc.name, func(t *testing.T) {
				vars := map[string]string{EnvName(l.key): tc.value}
				// backoff_max must not be under backoff_min.
				if l.key == "streams.backoff_min" {
					vars["IOCD_STREAMS_BACKOFF_MAX"] = "1h"
				}
				if l.key == "streams.backoff_max" {
					vars["IOCD_STREAMS_BACKOFF_MIN"] = "10ms"
				}
				_, err := load(t, nil, vars)
				switch {
				case tc.ok && err != nil:
					t.Errorf("%s=%s: want accepted, got %v", EnvName(l.key), tc.value, err)
				case !tc.ok && (err == nil || !strings.Contains(err.Error(), l.key+" ("+EnvName(l.key)+"): must be between")):
					t.Errorf("%s=%s: want an error naming %s and its range, got %v", EnvName(l.key), tc.value, l.key, err)
				}
			})
		}
	}
}

// TestIssueProbesAreConfigurationErrors: the values the issue found
// overflowing or exhausting memory are refused at start.
func TestIssueProbesAreConfigurationErrors(t *testing.T) {
	for k, v := range map[string]string{
		"IOCD_RETENTION_CONFIRMED_DAYS": "200000",
		"IOCD_INGEST_QUEUE_SIZE":        "100000000000",
		"IOCD_INGEST_WORKERS":           "1000000",
		"IOCD_INFLUX_BATCH_SIZE":        "1000000000",
		"IOCD_HTTP_MAX_CONNS":           "0",
	} {
		if _, err := load(t, nil, map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: want a configuration error naming it, got %v", k, v, err)
		}
	}
}

// TestExampleListsEveryKey keeps deploy/iocd.example.yaml complete: every
// key appears in it, set or commented out.
func TestExampleListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../deploy/iocd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	c := Default()
	for _, l := range leaves(&c) {
		parts := strings.Split(l.key, ".")
		var cur any = doc
		for _, p := range parts {
			m, _ := cur.(map[string]any)
			cur = m[p]
			if m == nil {
				break
			}
			if _, ok := m[p]; !ok {
				cur = nil
				break
			}
		}
		if cur == nil && !strings.Contains(string(b), "# "+parts[len(parts)-1]+":") {
			t.Errorf("deploy/iocd.example.yaml does not list %s", l.key)
		}
	}
}
