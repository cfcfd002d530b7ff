package violations_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/violations"
)

var _ ingest.EventHandler = (*violations.Service)(nil)

// ingestRegistry is the registry as ingest sees it, over the rig's devices.
type ingestRegistry map[string]defs.Device

func (r ingestRegistry) Lookup(id defs.DeviceID) (defs.Device, bool) {
	d, ok := r[string(id)]
	return d, ok
}

func (r ingestRegistry) Unknown(context.Context, string, defs.DeviceID) (defs.Device, bool, error) {
	return defs.Device{}, false, nil
}

// TestEventsThroughIngest publishes simulated violation events to a real
// Mosquitto and lets ingest route them to the service, as in production:
// every event makes one record (re-deliveries included) with final
// evidence.
func TestEventsThroughIngest(t *testing.T) {
	mq := testrig.Mosquitto(t)
	r := newRig(t, nil)
	r.waitBuffered("cam264", pre+time.Second)
	mcfg := config.Default().MQTT
	mcfg.URL, mcfg.ClientID = mq.URL(), "iocd-violations-test"
	in, err := ingest.New(mcfg, config.Default().Ingest, ingest.Deps{
		Registry: ingestRegistry(r.devs), Events: r.svc, Bus: r.bus, Logger: discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); in.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	testrig.WaitFor(t, "ingest to have its subscriptions confirmed", 15*time.Second, func() bool { return in.Ready(ctx) == nil })
	// Publish until ten events are recorded, however slowly a loaded
	// machine lets the publisher tick; the bound only catches a hang.
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	pubErr := make(chan error, 1)
	cams := []defs.Device{r.devs["cam264"], r.devs["dead"]}
	go func() {
		pubErr <- sim.NewEvents(sim.EventsConfig{URL: mq.URL(), Every: 300 * time.Millisecond, Seed: 3}, cams, nil).Run(pctx)
	}()
	testrig.WaitFor(t, "ten events recorded, of both cameras", 60*time.Second, func() bool {
		vs, _, err := r.store.ListViolations(ctx, defs.ViolationFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		by := map[defs.DeviceID]int{}
		for _, v := range vs {
			by[v.Camera]++
		}
		return len(vs) >= 10 && by["cam264"] > 0 && by["dead"] > 0
	})
	pcancel()
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	var vs []defs.Violation
	testrig.WaitFor(t, "every record to have final evidence", 30*time.Second, func() bool {
		vs, _, err = r.store.ListViolations(ctx, defs.ViolationFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.ClipStatus == defs.ClipRecording {
				return false
			}
		}
		return len(vs) >= 10
	})
	seen := map[string]bool{}
	for _, v := range vs {
		key := string(v.Camera) + "/" + v.EventID
		if seen[key] {
			t.Errorf("event %s recorded twice", key)
		}
		seen[key] = true
		want := defs.ClipComplete
		if v.Camera == "dead" {
			want = defs.ClipNoVideo
		}
		if v.ClipStatus != want {
			t.Errorf("%s: want clip %s, got %s (%s)", key, want, v.ClipStatus, v.ClipReason)
		}
		if !v.PlateValid && v.PlateFlag == "" {
			t.Errorf("%s: invalid plate %q not flagged", key, v.Plate)
		}
	}
}
