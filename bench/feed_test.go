package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/valyala/fastjson"

	"github.com/iocd/iocd/internal/testrig"
)

const feedToken = "bench-feed-admin-token-0123456789"

// arrival is when one reading (device, seq) reached a client.
type arrival struct {
	key seqKey
	at  time.Time
}

type seqKey struct {
	device string
	seq    int64
}

// watchedSite is the site the plain MQTT subscriber follows.
const watchedSite = "tan-an"

// feedClient is one websocket screen of the feed benchmark.
type feedClient struct {
	id      int
	conn    *websocket.Conn
	topics  []string
	targets map[string]bool // telemetry targets: sites or device IDs
	events  bool            // subscribed to fleet and alerts too

	stall chan struct{} // closed: stop reading (the client that falls behind)

	mu     sync.Mutex
	phase  int
	delays [2][]time.Duration // publish-to-client delay of each "seq" reading, per phase
	// arrivals of the watched site's readings, per phase, to compare
	// with the plain MQTT subscriber's
	arrivals [2][]arrival
	last     map[string]float64 // newest seq per device
	wrong    []string           // what the client should not have received
	readErr  error
}

func (c *feedClient) fail(format string, args ...any) {
	if len(c.wrong) < 10 {
		c.wrong = append(c.wrong, fmt.Sprintf(format, args...))
	}
}

// read decodes frames until the connection ends, checking each against
// the client's subscriptions: only subscribed topics, only readings of
// subscribed sites and devices, each device's seq moving forward.
func (c *feedClient) read(t0 time.Time) {
	var parser fastjson.Parser
	for {
		select {
		case <-c.stall:
			return
		default:
		}
		_, data, err := c.conn.ReadMessage()
		now := time.Now()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		v, err := parser.ParseBytes(data)
		if err != nil {
			c.fail("undecodable frame: %v", err)
			c.mu.Unlock()
			continue
		}
		typ := string(v.GetStringBytes("type"))
		topic := string(v.GetStringBytes("data", "topic"))
		switch typ {
		case "subscribed", "snapshot", "telemetry":
		case "overview", "device", "alert", "notice":
			if !c.events {
				c.fail("%s frame without a fleet/alerts subscription", typ)
			}
		default:
			c.fail("unexpected %s frame: %.200s", typ, data)
		}
		if typ == "telemetry" || (typ == "snapshot" && strings.HasPrefix(topic, "telemetry:")) {
			if !c.targets[strings.TrimPrefix(topic, "telemetry:")] {
				c.fail("frame of topic %s, not subscribed", topic)
			}
			for _, r := range v.GetArray("data", "readings") {
				dev, site := string(r.GetStringBytes("device")), string(r.GetStringBytes("site"))
				if !c.targets[dev] && !c.targets[site] {
					c.fail("reading of %s (site %s) on a client subscribed to %v", dev, site, c.topics)
				}
				val := r.Get("value")
				if string(r.GetStringBytes("field")) != "seq" || val == nil || val.Type() != fastjson.TypeNumber {
					continue
				}
				seq := val.GetFloat64()
				if prev, ok := c.last[dev]; ok && seq < prev {
					c.fail("%s seq went back from %v to %v", dev, prev, seq)
				}
				c.last[dev] = seq
				if typ == "telemetry" && c.phase >= 0 {
					c.delays[c.phase] = append(c.delays[c.phase], now.Sub(t0.Add(time.Duration(seq)*time.Microsecond)))
					if site == watchedSite {
						c.arrivals[c.phase] = append(c.arrivals[c.phase], arrival{seqKey{dev, int64(seq)}, now})
					}
				}
			}
		}
		c.mu.Unlock()
	}
}

// selfCPU is this process's CPU seconds (user+system).
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// BenchmarkFeed is the feed's done-when test: iocd as a child process on
// real Mosquitto, 50 websocket clients with different subscriptions (a
// site's telemetry, a few devices' telemetry, some also fleet and
// alerts), IOCD_BENCH_FEED_RATE readings a second (default 10,000: 1,000
// devices, 10 a second each) for IOCD_BENCH_FEED_SECONDS (default 20)
// after IOCD_BENCH_FEED_WARMUP_SECONDS (default 5) unmeasured.
// Each reading carries its publish time; every client checks that it gets
// only what it subscribed to, each device's readings in order, and
// records publish-to-client delays. Then one client stops reading; the
// others' delays are recorded again until iocd has cut it off.
func BenchmarkFeed(b *testing.B) {
	rate := env("IOCD_BENCH_FEED_RATE", 10000)
	seconds := env("IOCD_BENCH_FEED_SECONDS", 20)
	nClients := env("IOCD_BENCH_FEED_CLIENTS", 50)
	devs, seed := benchDevices(b, env("IOCD_BENCH_DEVICES", 1000))
	mq := testrig.Mosquitto(b)
	bin := iocdBinary(b)
	p := startIocd(b, bin, mq.URL(), "", seed, clientID, "IOCD_ADMIN_TOKEN="+feedToken, "IOCD_INFLUX_URL=")
	testrig.WaitFor(b, "iocd to serve /metrics", 60*time.Second, func() bool { return p.scrape() != nil })
	wsURL := "ws" + strings.TrimSuffix(strings.TrimPrefix(p.metrics, "http"), "/metrics") + "/ws"

	// Clients: every fifth follows a site, the others three devices each;
	// every third also the fleet and alerts. Seeded: the same each run.
	rnd := rand.New(rand.NewSource(8))
	sites := []string{"tan-an", "ben-luc", "can-giuoc", "duc-hoa"}
	clients := make([]*feedClient, nClients)
	t0 := time.Now()
	for i := range clients {
		c := &feedClient{id: i, phase: -1, targets: map[string]bool{}, last: map[string]float64{}, stall: make(chan struct{})}
		if i%5 == 0 {
			c.targets[sites[(i/5)%len(sites)]] = true
		} else {
			for range 3 {
				c.targets[string(devs[rnd.Intn(len(devs))].ID)] = true
			}
		}
		for target := range c.targets {
			c.topics = append(c.topics, "telemetry:"+target)
		}
		if i%3 == 0 {
			c.events = true
			c.topics = append(c.topics, "fleet", "alerts")
		}
		hdr := http.Header{"Authorization": {"Bearer " + feedToken}}
		dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		if i == 0 {
			// The client that will stop reading: a small socket buffer,
			// so that it falls behind soon after it stops.
			dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetReadBuffer(16 << 10)
				}
				return conn, err
			}
		}
		conn, _, err := dialer.Dial(wsURL, hdr)
		if err != nil {
			b.Fatalf("client %d: dial %s: %v", i, wsURL, err)
		}
		defer conn.Close()
		c.conn = conn
		msg, _ := json.Marshal(map[string][]string{"subscribe": c.topics})
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatalf("client %d: subscribing: %v", i, err)
		}
		clients[i] = c
		go c.read(t0)
	}

	// Publishers: 4 connections, each a quarter of the devices, paced
	// every 10 ms. A message's seq is its publish time in µs since t0.
	pubs := make([]mqtt.Client, 4)
	for i := range pubs {
		pubs[i] = connect(b, mq.URL(), fmt.Sprintf("bench-feed-pub-%d", i), true)
	}
	// A plain MQTT subscriber beside iocd, to one site (a quarter of the
	// traffic, to add little to the broker's work): the broker's and the
	// machine's share of the delay, for comparison.
	var mqttMu sync.Mutex
	var mqttDelays [2][]time.Duration
	mqttSeen := map[seqKey]time.Time{}
	mqttPhase := -1
	watcher := connect(b, mq.URL(), "bench-feed-watch", true)
	defer watcher.Disconnect(250)
	watcher.Subscribe("ioc/"+watchedSite+"/+/telemetry", 0, func(_ mqtt.Client, msg mqtt.Message) {
		now := time.Now()
		pl := string(msg.Payload())
		i := strings.Index(pl, `"seq":`)
		if i < 0 {
			return
		}
		var us int64
		fmt.Sscanf(pl[i+len(`"seq":`):], "%d", &us)
		mqttMu.Lock()
		if mqttPhase >= 0 {
			mqttDelays[mqttPhase] = append(mqttDelays[mqttPhase], now.Sub(t0.Add(time.Duration(us)*time.Microsecond)))
			if parts := strings.Split(msg.Topic(), "/"); len(parts) == 4 {
				mqttSeen[seqKey{parts[2], us}] = now
			}
		}
		mqttMu.Unlock()
	}).WaitTimeout(10 * time.Second)
	var published atomic.Int64
	publish := func(ctx context.Context) {
		var wg sync.WaitGroup
		for pi, pc := range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				// Paced by the clock: what falls behind is caught up.
				start, sent := time.Now(), 0
				next := pi
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					due := int(time.Since(start).Seconds()*float64(rate)/float64(len(pubs))) - sent
					for range due {
						sent++
						d := devs[next%len(devs)]
						next += len(pubs)
						now := time.Now()
						buf := fmt.Appendf(nil, `{"ts":%d,"values":{"seq":%d,"level_m":1.%03d}}`,
							now.UnixMilli(), now.Sub(t0).Microseconds(), next%1000)
						pc.Publish("ioc/"+d.Site+"/"+string(d.ID)+"/telemetry", 1, false, buf)
						published.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}

	b.ResetTimer()
	// Warm-up: every device comes online (a burst of health changes to
	// the fleet subscribers); delays are recorded from its end.
	warmup := time.Duration(env("IOCD_BENCH_FEED_WARMUP_SECONDS", 5)) * time.Second
	var cpu0, self0 float64
	var began time.Time
	warmed := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), warmup+time.Duration(seconds)*time.Second)
	time.AfterFunc(warmup, func() {
		defer close(warmed)
		cpu0, _, _ = p.usage()
		self0 = selfCPU()
		began = time.Now()
		for _, c := range clients {
			c.mu.Lock()
			c.phase = 0
			c.mu.Unlock()
		}
		mqttMu.Lock()
		mqttPhase = 0
		mqttMu.Unlock()
		published.Store(0)
	})
	publish(ctx)
	cancel()
	<-warmed
	phase0 := published.Load()
	phase0Took := time.Since(began)

	// Phase 2: client 0 stops reading; the others go on until iocd has
	// cut it off (and a few seconds more), at most 2 minutes.
	for _, c := range clients {
		c.mu.Lock()
		c.phase = 1
		c.mu.Unlock()
	}
	mqttMu.Lock()
	mqttPhase = 1
	mqttMu.Unlock()
	close(clients[0].stall)
	stallAt := time.Now()
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { publish(ctx); close(done) }()
	cutAt := time.Time{}
	for time.Since(stallAt) < 2*time.Minute {
		m := p.scrape()
		if m[`iocd_dashboard_clients_cut_off_total{reason="queue_full"}`]+m[`iocd_dashboard_clients_cut_off_total{reason="write_stalled"}`] >= 1 {
			cutAt = time.Now()
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !cutAt.IsZero() {
		time.Sleep(3 * time.Second)
	}
	cancel()
	<-done
	b.StopTimer()
	m := p.scrape()
	cpu1, rss, _ := p.usage()

	var all, added [2][]time.Duration
	mqttMu.Lock()
	for _, c := range clients {
		c.mu.Lock()
		for ph := range added {
			if c.id == 0 && ph == 1 {
				continue
			}
			for _, a := range c.arrivals[ph] {
				if at, ok := mqttSeen[a.key]; ok {
					added[ph] = append(added[ph], a.at.Sub(at))
				}
			}
		}
		c.mu.Unlock()
	}
	mqttMu.Unlock()
	var delivered int
	for _, c := range clients {
		c.mu.Lock()
		for _, w := range c.wrong {
			b.Errorf("client %d (%v): %s", c.id, c.topics, w)
		}
		if c.id != 0 && c.readErr != nil {
			b.Errorf("client %d (%v): feed ended: %v", c.id, c.topics, c.readErr)
		}
		if len(c.delays[0]) == 0 {
			b.Errorf("client %d (%v): received no telemetry", c.id, c.topics)
		}
		for ph := range all {
			if c.id != 0 || ph == 0 {
				all[ph] = append(all[ph], c.delays[ph]...)
			}
		}
		delivered += len(c.delays[0]) + len(c.delays[1])
		c.mu.Unlock()
	}
	if cutAt.IsZero() {
		b.Errorf("the client that stopped reading was not cut off within 2 minutes")
	}
	verdict := func(d time.Duration) string {
		if d <= 100*time.Millisecond {
			return "within 100 ms"
		}
		return "OVER 100 ms"
	}
	b.Logf("%d clients, %d readings/s asked for %ds: %d published (%.0f/s), %d in all, %d seq readings delivered to clients",
		nClients, rate, seconds, phase0, float64(phase0)/phase0Took.Seconds(), published.Load(), delivered)
	b.Logf("all reading:   publish-to-client p50 %v, p99 %v (%s), max %v over %d readings",
		percentile(all[0], 0.5), percentile(all[0], 0.99), verdict(percentile(all[0], 0.99)), percentile(all[0], 1), len(all[0]))
	b.Logf("one stalled:   cut off after %v; the other %d clients: p50 %v, p99 %v (%s), max %v over %d readings",
		cutAt.Sub(stallAt).Round(100*time.Millisecond), nClients-1,
		percentile(all[1], 0.5), percentile(all[1], 0.99), verdict(percentile(all[1], 0.99)), percentile(all[1], 1), len(all[1]))
	b.Logf("iocd: cut off queue_full %v write_stalled %v, frames dropped %v, resyncs %v",
		m[`iocd_dashboard_clients_cut_off_total{reason="queue_full"}`], m[`iocd_dashboard_clients_cut_off_total{reason="write_stalled"}`],
		m["iocd_dashboard_frames_dropped_total"], m["iocd_dashboard_resyncs_total"])
	mqttMu.Lock()
	b.Logf("MQTT alone:    publish-to-subscriber p50 %v, p99 %v over %d messages, then p50 %v, p99 %v over %d (a plain subscriber beside iocd)",
		percentile(mqttDelays[0], 0.5), percentile(mqttDelays[0], 0.99), len(mqttDelays[0]),
		percentile(mqttDelays[1], 0.5), percentile(mqttDelays[1], 0.99), len(mqttDelays[1]))
	mqttMu.Unlock()
	b.Logf("iocd's share:  the same %s readings, feed client minus the plain subscriber: p50 %v, p99 %v over %d; with one stalled p50 %v, p99 %v over %d",
		watchedSite, percentile(added[0], 0.5), percentile(added[0], 0.99), len(added[0]),
		percentile(added[1], 0.5), percentile(added[1], 0.99), len(added[1]))
	b.Logf("iocd: %.2f CPU cores on average over %v, peak RSS %d MiB; this benchmark's clients and publishers %.2f cores",
		(cpu1-cpu0)/time.Since(began).Seconds(), time.Since(began).Round(time.Second), rss>>20,
		(selfCPU()-self0)/time.Since(began).Seconds())
	b.ReportMetric(float64(percentile(all[0], 0.99))/1e6, "p99_ms")
	b.ReportMetric(float64(percentile(all[1], 0.99))/1e6, "p99_stalled_ms")
	b.ReportMetric(float64(percentile(all[0], 0.5))/1e6, "p50_ms")
	b.ReportMetric(float64(percentile(added[0], 0.99))/1e6, "p99_iocd_share_ms")
}
