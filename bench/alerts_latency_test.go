package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// probeBase offsets a crossing reading's probe value above the rule's
// threshold; the rest of the value is the microseconds since the run's
// start at which the reading was published, so the fired notification
// (whose alert value is that reading's) says exactly when it was sent.
const probeBase = 1000

const probeRule = "bench probe"

// BenchmarkAlertsLatency measures, on iocd as a child process on real
// Mosquitto and InfluxDB, the delay from publishing a reading that crosses
// a threshold to receiving the alert's MQTT notification, under a steady
// IOCD_BENCH_RATE (20,000) readings/s from IOCD_BENCH_DEVICES (1,000)
// devices for IOCD_BENCH_SECONDS (20). IOCD_BENCH_CROSSINGS (20) extra
// readings per second cross the rule (probe > 100), each from the next
// device in turn, and that device's next regular reading (about 50 ms
// later at the default rate) clears it; so no device fires twice in a run
// (the flap limit would quiet one that did). It reports p50, p99 and max of publish → notification.
func BenchmarkAlertsLatency(b *testing.B) {
	rate := env("IOCD_BENCH_RATE", 20_000)
	secs := env("IOCD_BENCH_SECONDS", 20)
	crossRate := env("IOCD_BENCH_CROSSINGS", 20)
	devs, seed := benchDevices(b, env("IOCD_BENCH_DEVICES", 1000))
	bin := iocdBinary(b)
	mq := testrig.Mosquitto(b)
	ix := testrig.Influx(b, testrig.WithoutFlux())
	ix.CreateDB("iocd")

	dir := b.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(`- name: `+probeRule+`
  kind: threshold
  field: probe
  op: ">"
  value: 100
  severity: warning
  message:
    vi: "Đầu dò {{value}} tại {{device}}"
    en: "Probe {{value}} at {{device}}"
`), 0o644); err != nil {
		b.Fatal(err)
	}
	conf := filepath.Join(dir, "iocd.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("alerts:\n  rules_file: %q\n", rules)), 0o644); err != nil {
		b.Fatal(err)
	}

	for range b.N {
		p := startIocd(b, bin, mq.URL(), ix.URL(), seed, clientID+"-alerts", "IOCD_CONFIG="+conf)
		deadline := time.Now().Add(30 * time.Second)
		for p.scrape()["iocd_mqtt_connected"] != 1 {
			if time.Now().After(deadline) {
				b.Fatal("iocd did not connect to the broker")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // let the subscription settle

		base := time.Now()
		var mu sync.Mutex
		var lat, toEngine []time.Duration // publish → notification; publish → the transition's time in iocd
		var fired atomic.Int64
		sub := connect(b, mq.URL(), "bench-alerts-sub", true)
		tok := sub.Subscribe("ioc/iocd/alerts/#", 1, func(_ mqtt.Client, m mqtt.Message) {
			got := time.Since(base)
			var n defs.AlertNotification
			if json.Unmarshal(m.Payload(), &n) != nil || n.Alert.RuleName != probeRule {
				return
			}
			if c := n.Transition.Change; c != defs.ChangeFired && c != defs.ChangeReopened {
				return
			}
			sent := time.Duration(n.Alert.Value-probeBase) * time.Microsecond
			fired.Add(1)
			mu.Lock()
			lat = append(lat, got-sent)
			toEngine = append(toEngine, n.Transition.At.Sub(base.Add(sent)))
			mu.Unlock()
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("subscribe: %v", tok.Error())
		}

		b.ResetTimer()
		const conns, tick = 4, 10 * time.Millisecond
		perTick := rate * int(tick) / int(time.Second) / conns
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
		var wg sync.WaitGroup
		sent := make([]int, conns)
		crossed := make([]int, conns)
		for c := range conns {
			cl := connect(b, mq.URL(), fmt.Sprintf("bench-alerts-%d", c), true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cl.Disconnect(250)
				t := time.NewTicker(tick)
				defer t.Stop()
				var toks []mqtt.Token
				i := c
				began, due, crossDue := time.Now(), 0, 0
				// The devices of this connection (c mod conns) that
				// crossed, and when: their next reading at least 5 ms
				// later (a distinct ts) clears.
				clearing := map[defs.DeviceID]time.Time{}
				pub := func(d defs.Device, buf []byte) {
					toks = append(toks, cl.Publish("ioc/"+d.Site+"/"+string(d.ID)+"/telemetry", 1, false, buf))
				}
				for {
					select {
					case <-ctx.Done():
						sent[c] += waitAll(toks)
						return
					case <-t.C:
					}
					el := time.Since(began)
					target := int(el / tick * time.Duration(perTick))
					n := target - due
					due = target
					// This connection's share of the crossings due by
					// now, each an extra reading from the next of its
					// devices in turn, so no device crosses twice in a run
					// of default length.
					for ; crossDue < int(el*time.Duration(crossRate)/time.Second)/conns; crossDue++ {
						d := devs[(c+conns*crossDue)%len(devs)]
						if _, busy := clearing[d.ID]; busy {
							continue
						}
						now := time.Now()
						pub(d, withProbe(payload(nil, now.UnixMilli(), crossDue), probeBase+float64(now.Sub(base).Microseconds())))
						clearing[d.ID] = now
						crossed[c]++
					}
					for range n {
						d := devs[i%len(devs)]
						now := time.Now()
						buf := payload(nil, now.UnixMilli(), i)
						if at, ok := clearing[d.ID]; ok && now.Sub(at) >= 5*time.Millisecond {
							buf = withProbe(buf, 0)
							delete(clearing, d.ID)
						}
						pub(d, buf)
						i += conns
					}
					if len(toks) >= 1000 {
						sent[c] += waitAll(toks)
						toks = toks[:0]
					}
				}
			}()
		}
		wg.Wait()
		cancel()
		total, crossings := 0, 0
		for c := range conns {
			total += sent[c]
			crossings += crossed[c]
		}
		deadline = time.Now().Add(30 * time.Second)
		for fired.Load() < int64(crossings) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		m := p.scrape()
		sub.Disconnect(250)
		mu.Lock()
		slices.Sort(lat)
		slices.Sort(toEngine)
		q := func(l []time.Duration, f float64) time.Duration {
			if len(l) == 0 {
				return 0
			}
			return l[min(len(l)-1, int(f*float64(len(l))))].Round(10 * time.Microsecond)
		}
		p50, p99, worst := q(lat, 0.5), q(lat, 0.99), q(lat, 1)
		e50, e99 := q(toEngine, 0.5), q(toEngine, 0.99)
		mu.Unlock()
		achieved := float64(total) / float64(secs)
		b.ReportMetric(achieved, "msg/s")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		fmt.Printf("alerts latency: %d readings at %.0f msg/s (target %d) from %d devices; %d crossings, %d fired notifications received; publish→MQTT notification p50 %v, p99 %v, max %v (target p99 ≤ 100ms); of which publish→transition in iocd p50 %v, p99 %v; publish→InfluxDB of all readings p50 %.3fs, p99 %.3fs; iocd dropped %v observations, %v bus events\n",
			total, achieved, rate, len(devs), crossings, fired.Load(), p50, p99, worst, e50, e99,
			quantile(m, "iocd_telemetry_delay_seconds", 0.5), quantile(m, "iocd_telemetry_delay_seconds", 0.99),
			m["iocd_alerts_observations_dropped_total"], m["iocd_bus_events_dropped_total"])
		if fired.Load() < int64(crossings) {
			logCounters(b, m)
			b.Errorf("%d of %d crossings notified", fired.Load(), crossings)
		}
		p.stop()
	}
}

// withProbe adds a probe field to a payload's values.
func withProbe(buf []byte, v float64) []byte {
	// payload ends with `}}`: insert before the values' closing brace.
	out := append([]byte(nil), buf[:len(buf)-2]...)
	return fmt.Appendf(out, `,"probe":%.0f}}`, v)
}
