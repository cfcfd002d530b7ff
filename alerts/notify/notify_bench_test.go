package notify

import (
	"strconv"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

type discardPoints struct{}

func (discardPoints) WritePoint(string, map[string]string, map[string]any, time.Time) {}

// BenchmarkNotifyWithOutbox measures what one transition costs the engine's
// goroutine: the outbox insert (SQLite, WAL) of its deliveries and the
// enqueueing; the history sender drains meanwhile and marks each done.
func BenchmarkNotifyWithOutbox(b *testing.B) {
	st, err := openStoreAt(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	n := New(Config{QueueSize: 1 << 20}, Deps{Outbox: st, History: discardPoints{}})
	n.Start()
	defer n.Close()
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		n.Notify(transition("b"+strconv.Itoa(i), 1, defs.ChangeFired, defs.SeverityMajor, now), defs.AlertRule{})
	}
}
