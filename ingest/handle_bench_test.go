package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
)

// benchMessage is an in-memory mqtt.Message, for measuring iocd's own
// share of the per-message work without a broker.
type benchMessage struct {
	topic   string
	payload []byte
	acked   int
}

func (m *benchMessage) Duplicate() bool   { return false }
func (m *benchMessage) Qos() byte         { return 1 }
func (m *benchMessage) Retained() bool    { return false }
func (m *benchMessage) Topic() string     { return m.topic }
func (m *benchMessage) MessageID() uint16 { return 1 }
func (m *benchMessage) Payload() []byte   { return m.payload }
func (m *benchMessage) Ack()              { m.acked++ }

// countingSink stands in for the writer: it only counts.
type countingSink struct{ n int }

func (s *countingSink) WriteTelemetry(_ defs.DeviceID, _ string, _ defs.Kind, _ time.Time, _ []defs.Field, done func()) error {
	s.n++
	if done != nil {
		done() // durable at once
	}
	return nil
}

// BenchmarkHandleTelemetry measures one telemetry message through topic
// parsing, the registry lookup, decoding, fleet health and the ack, with
// the writer replaced by a counter (its own cost is in
// influx.BenchmarkWriteTelemetry).
func BenchmarkHandleTelemetry(b *testing.B) {
	devs := make([]defs.Device, 1000)
	msgs := make([]*benchMessage, len(devs))
	for i := range devs {
		devs[i] = device(fmt.Sprintf("bench-%04d", i), "tan-an", defs.KindSensor)
		msgs[i] = &benchMessage{
			topic:   "ioc/tan-an/" + string(devs[i].ID) + "/telemetry",
			payload: fmt.Appendf(nil, `{"ts":%d,"values":{"temp_c":21.5,"humidity":64.5,"pm25":%d,"level_m":1.234}}`, 1732233600000+i, i%97),
		}
	}
	logger := slog.New(slog.DiscardHandler)
	bs := bus.New(nil)
	tr := fleet.New(config.Default().Fleet, devs, bs, nil, logger, nil)
	sink := &countingSink{}
	mcfg := config.Default().MQTT
	mcfg.URL = "tcp://127.0.0.1:1"
	in, err := New(mcfg, config.Default().Ingest, Deps{Registry: newRegistry(devs...), Sink: sink, Health: tr, Bus: bs, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	w := &worker{in: in, dec: NewDecoder(1 << 16)}
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := msgs[i%len(msgs)]
		w.handle(ctx, job{msg: m, recv: now, s: in.tel.acquire(m, nil, nil)})
		i++
	}
	if sink.n != i {
		b.Fatalf("written %d of %d", sink.n, i)
	}
	acked := 0
	for _, m := range msgs {
		acked += m.acked
	}
	if acked != i {
		b.Fatalf("acked %d of %d", acked, i)
	}
}
