package bench

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// benchAlertsEnv returns the environment that gives iocd an alert rule and,
// with IOCD_BENCH_WEBHOOK=blackhole, a default webhook on a loopback
// listener that accepts connections and never answers, to show that a dead
// webhook does not slow ingest. IOCD_BENCH_WEBHOOK=none gives the same rule
// without a webhook, the baseline to compare with. Unset: neither.
//
// The rule (pm25 > 90, which the bench payload crosses for 6 of every 97
// messages of a device) makes alerts fire and resolve throughout the drain.
func benchAlertsEnv(b *testing.B) []string {
	b.Helper()
	mode := os.Getenv("IOCD_BENCH_WEBHOOK")
	switch mode {
	case "":
		return nil
	case "none", "blackhole":
	default:
		b.Fatalf("IOCD_BENCH_WEBHOOK=%q: want none or blackhole", mode)
	}
	dir := b.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(`- name: bench pm25 high
  kind: threshold
  field: pm25
  op: ">"
  value: 90
  severity: warning
  message:
    vi: "PM2.5 {{value}} tại {{device}}"
    en: "PM2.5 {{value}} at {{device}}"
`), 0o644); err != nil {
		b.Fatal(err)
	}
	conf := fmt.Sprintf("alerts:\n  rules_file: %q\n", rules)
	if mode == "blackhole" {
		conf += fmt.Sprintf("  webhooks:\n    - name: blackhole\n      url: %q\n      default: true\n      timeout: 5m\n", "http://"+blackhole(b)+"/")
	}
	path := filepath.Join(dir, "iocd.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("alerts: IOCD_BENCH_WEBHOOK=%s, config:\n%s", mode, conf)
	return []string{"IOCD_CONFIG=" + path}
}

// blackhole listens on loopback, accepts every connection and never
// answers; it returns its address.
func blackhole(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	b.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
