package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

const clientID = "iocd-bench"

// payload is a telemetry message with four numeric fields.
func payload(buf []byte, ts int64, i int) []byte {
	return fmt.Appendf(buf[:0], `{"ts":%d,"values":{"temp_c":%d.%d,"humidity":%d.5,"pm25":%d,"level_m":1.%03d}}`,
		ts, 20+i%15, i%10, 50+i%40, i%97, i%1000)
}

func connect(b *testing.B, url, id string, clean bool) mqtt.Client {
	b.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).
		SetCleanSession(clean).SetAutoReconnect(false).SetWriteTimeout(30 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		b.Fatalf("connecting %s: %v", id, tok.Error())
	}
	return c
}

// publishAll publishes msgs QoS 1 messages from conns parallel clients,
// message i to device i mod len(devs) with a timestamp unique per device.
// It returns the number the broker acknowledged.
func publishAll(b *testing.B, url string, devs []defs.Device, msgs, conns int, base int64) int {
	b.Helper()
	clients := make([]mqtt.Client, conns)
	for i := range clients {
		clients[i] = connect(b, url, fmt.Sprintf("bench-pub-%d", i), true)
	}
	var wg sync.WaitGroup
	acked := make([]int, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var toks []mqtt.Token
			for i := c; i < msgs; i += conns {
				d := devs[i%len(devs)]
				// A fresh buffer each time: paho sends it later.
				buf := payload(nil, base+int64(i/len(devs)), i)
				toks = append(toks, clients[c].Publish("ioc/"+d.Site+"/"+string(d.ID)+"/telemetry", 1, false, buf))
				if len(toks) == 2000 {
					acked[c] += waitAll(toks)
					toks = toks[:0]
				}
			}
			acked[c] += waitAll(toks)
		}()
	}
	wg.Wait()
	n := 0
	for i, c := range clients {
		n += acked[i]
		c.Disconnect(250)
	}
	return n
}

func waitAll(toks []mqtt.Token) int {
	n := 0
	for _, t := range toks {
		if t.WaitTimeout(60*time.Second) && t.Error() == nil {
			n++
		}
	}
	return n
}

// BenchmarkDrain is the drain test: with iocd stopped, N telemetry messages
// (4 numeric fields, 1,000 devices, unique timestamps per device) are queued
// at the broker under iocd's persistent session; then iocd starts and the
// clock runs until all N points are in InfluxDB. IOCD_BENCH_N and
// IOCD_BENCH_DEVICES change the size.
func BenchmarkDrain(b *testing.B) {
	n := env("IOCD_BENCH_N", 500_000)
	devs, seed := benchDevices(b, env("IOCD_BENCH_DEVICES", 1000))
	bin := iocdBinary(b)
	mq := testrig.Mosquitto(b)
	ix := testrig.Influx(b, testrig.WithoutFlux())
	ix.CreateDB("iocd")

	for range b.N {
		// Create iocd's persistent session and its subscription, then
		// leave, so the broker queues what follows for it.
		sess := connect(b, mq.URL(), clientID, false)
		if tok := sess.Subscribe("ioc/+/+/telemetry", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("subscribing: %v", tok.Error())
		}
		sess.Disconnect(250)
		base := time.Now().Add(-time.Hour).UnixMilli()
		start := time.Now()
		queued := publishAll(b, mq.URL(), devs, n, 2, base)
		b.Logf("queued %d messages at the broker in %s", queued, time.Since(start).Round(time.Millisecond))

		b.ResetTimer()
		start = time.Now()
		var extra []string
		if path := os.Getenv("IOCD_BENCH_PPROF"); path != "" {
			// iocd writes a CPU profile of its whole run there when
			// it exits (cmd/iocd/cpuprofile.go).
			extra = append(extra, "IOCD_CPU_PROFILE="+path)
		}
		p := startIocd(b, bin, mq.URL(), ix.URL(), seed, clientID, extra...)
		var written float64
		var doneAt time.Time
		last, lastChange := -1.0, time.Now()
		prevWritten, prevAt := 0.0, time.Now()
		for {
			// Points written include device_status, one per health
			// change (each device going online).
			m := p.scrape()
			written = m["iocd_influx_points_written_total"] - m["iocd_fleet_health_changes_total{health=\"online\"}"]
			if written >= float64(queued) {
				doneAt = time.Now()
				break
			}
			if written != last {
				last, lastChange = written, time.Now()
			}
			if time.Since(lastChange) > 30*time.Second {
				b.Logf("no progress for 30 s at %v points", written)
				doneAt = lastChange
				break
			}
			// A scrape costs iocd CPU (it gathers every metric):
			// at every 20 ms it was a tenth of iocd's CPU in this
			// benchmark. So wait for about half of what the last
			// interval's rate says is left, between 10 and 250 ms:
			// few scrapes, and the end time within about 10 ms.
			now := time.Now()
			wait := 250 * time.Millisecond
			if rate := (written - prevWritten) / now.Sub(prevAt).Seconds(); rate > 0 {
				left := time.Duration((float64(queued) - written) / rate * float64(time.Second))
				wait = min(max(left/2, 10*time.Millisecond), wait)
			}
			prevWritten, prevAt = written, now
			time.Sleep(wait)
		}
		elapsed := doneAt.Sub(start)
		cpu, rss, err := p.usage()
		if err != nil {
			b.Fatalf("reading iocd's usage: %v", err)
		}
		sysr, sysw, err := p.syscalls()
		if err != nil {
			b.Fatalf("reading iocd's system calls: %v", err)
		}
		logCounters(b, p.scrape())
		b.StopTimer()
		p.stop()
		stored := ix.Count("iocd", "telemetry")
		lost := n - stored
		rate := float64(stored) / elapsed.Seconds()
		b.ReportMetric(rate, "msg/s")
		b.ReportMetric(cpu/float64(n)*1e3, "cpu-s/1000msg")
		b.ReportMetric(cpu/float64(n)*1e6, "cpu-µs/msg")
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(sysr+sysw)/float64(n), "rw-syscalls/msg")
		fmt.Printf("drain: %d messages (%d queued) in %s: %.0f msg/s, iocd CPU %.2f s = %.4f s per 1,000 messages (%.2f µs/msg), peak RSS %.1f MiB, lost %d, read/write syscalls %d/%d (%.3f per msg)\n",
			n, queued, elapsed.Round(time.Millisecond), rate, cpu, cpu/float64(n)*1e3, cpu/float64(n)*1e6, float64(rss)/(1<<20), lost, sysr, sysw, float64(sysr+sysw)/float64(n))
	}
}

// BenchmarkSteadyLatency publishes at a steady IOCD_BENCH_RATE (default
// 20,000) messages per second for IOCD_BENCH_SECONDS (default 30) with the
// publish time as each reading's ts, and reports the p50 and p99 delay from
// publish to InfluxDB's acknowledgement from iocd's
// iocd_telemetry_delay_seconds histogram.
func BenchmarkSteadyLatency(b *testing.B) {
	rate := env("IOCD_BENCH_RATE", 20_000)
	secs := env("IOCD_BENCH_SECONDS", 30)
	devs, seed := benchDevices(b, env("IOCD_BENCH_DEVICES", 1000))
	bin := iocdBinary(b)
	mq := testrig.Mosquitto(b)
	ix := testrig.Influx(b, testrig.WithoutFlux())
	ix.CreateDB("iocd")

	for range b.N {
		p := startIocd(b, bin, mq.URL(), ix.URL(), seed, clientID+"-steady")
		deadline := time.Now().Add(30 * time.Second)
		for p.scrape()["iocd_mqtt_connected"] != 1 {
			if time.Now().After(deadline) {
				b.Fatal("iocd did not connect to the broker")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // let the subscription settle
		b.ResetTimer()
		const conns, tick = 4, 10 * time.Millisecond
		perTick := rate * int(tick) / int(time.Second) / conns
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
		var wg sync.WaitGroup
		sent := make([]int, conns)
		for c := range conns {
			cl := connect(b, mq.URL(), fmt.Sprintf("bench-steady-%d", c), true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cl.Disconnect(250)
				t := time.NewTicker(tick)
				defer t.Stop()
				var toks []mqtt.Token
				i := c
				began, due := time.Now(), 0
				for {
					select {
					case <-ctx.Done():
						sent[c] += waitAll(toks)
						return
					case <-t.C:
					}
					// Pace by the clock, not by ticks, which a busy
					// machine skips: send what is due by now.
					target := int(time.Since(began) / tick * time.Duration(perTick))
					n := target - due
					due = target
					for range n {
						d := devs[i%len(devs)]
						buf := payload(nil, time.Now().UnixMilli(), i)
						toks = append(toks, cl.Publish("ioc/"+d.Site+"/"+string(d.ID)+"/telemetry", 1, false, buf))
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
		total := 0
		for _, s := range sent {
			total += s
		}
		deadline = time.Now().Add(60 * time.Second)
		var m map[string]float64
		for {
			m = p.scrape()
			if m["iocd_influx_points_written_total"]-m["iocd_fleet_health_changes_total{health=\"online\"}"] >= float64(total) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.StopTimer()
		p50, p99 := quantile(m, "iocd_telemetry_delay_seconds", 0.5), quantile(m, "iocd_telemetry_delay_seconds", 0.99)
		achieved := float64(total) / float64(secs)
		b.ReportMetric(achieved, "msg/s")
		b.ReportMetric(p50, "p50-s")
		b.ReportMetric(p99, "p99-s")
		fmt.Printf("steady: %d messages at %.0f msg/s (target %d): publish→InfluxDB ack p50 %.3f s, p99 %.3f s; written %v\n",
			total, achieved, rate, p50, p99, m["iocd_influx_points_written_total"])
		p.stop()
	}
}

// logCounters logs iocd's own counters, to explain a result.
func logCounters(b *testing.B, m map[string]float64) {
	var lines []string
	for k, v := range m {
		if strings.HasPrefix(k, "iocd_") && !strings.Contains(k, "_bucket") && v != 0 {
			lines = append(lines, fmt.Sprintf("%s %v", k, v))
		}
	}
	sort.Strings(lines)
	b.Logf("iocd metrics:\n%s", strings.Join(lines, "\n"))
}

// quantile estimates a quantile from a scraped Prometheus histogram by
// linear interpolation within the bucket, as histogram_quantile does.
func quantile(m map[string]float64, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, name+`_bucket{le="`)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil { // +Inf
			continue
		}
		bs = append(bs, bucket{le, v})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	total := m[name+"_count"]
	if total == 0 {
		return 0
	}
	rank := q * total
	prevLe, prevN := 0.0, 0.0
	for _, bk := range bs {
		if bk.n >= rank {
			return prevLe + (bk.le-prevLe)*(rank-prevN)/max(bk.n-prevN, 1)
		}
		prevLe, prevN = bk.le, bk.n
	}
	return bs[len(bs)-1].le // beyond the last finite bucket
}
