package store

import (
	"context"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// TestAlertOutbox: a delivery is recorded once per (alert, seq,
// destination) whatever its status; pending ones come back oldest first;
// pruning removes finished rows only.
func TestAlertOutbox(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	d := func(alert string, seq int, dest string) defs.AlertDelivery {
		return defs.AlertDelivery{Alert: alert, Seq: seq, Destination: dest, Body: []byte(`{"seq":` + string(rune('0'+seq)) + `}`)}
	}
	added, err := s.AddAlertDeliveries(ctx, []defs.AlertDelivery{d("a", 1, "mqtt"), d("a", 1, "webhook:ops"), d("a", 2, "mqtt")})
	if err != nil || len(added) != 3 {
		t.Fatalf("first add: %d added, err %v", len(added), err)
	}
	for _, x := range added {
		if x.ID == 0 || x.Status != defs.DeliveryPending {
			t.Errorf("added %+v: want an id and pending", x)
		}
	}
	if err := s.FinishAlertDelivery(ctx, added[0].ID, defs.DeliveryDone, 1, ""); err != nil {
		t.Fatal(err)
	}
	again, err := s.AddAlertDeliveries(ctx, []defs.AlertDelivery{d("a", 1, "mqtt"), d("a", 2, "mqtt"), d("a", 3, "mqtt")})
	if err != nil || len(again) != 1 || again[0].Seq != 3 {
		t.Fatalf("second add = %+v, %v; want only seq 3 (done and pending ones are known)", again, err)
	}
	pending, err := s.PendingAlertDeliveries(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pending {
		got = append(got, p.Destination+"/"+string(p.Body))
	}
	want := []string{`webhook:ops/{"seq":1}`, `mqtt/{"seq":2}`, `mqtt/{"seq":3}`}
	if len(got) != len(want) {
		t.Fatalf("pending = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pending[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	recent, err := s.RecentAlertDeliveries(ctx, "mqtt", time.Now().Add(-time.Minute), 10)
	if err != nil || len(recent) != 3 || recent[0].Status != defs.DeliveryDone {
		t.Errorf("recent mqtt = %+v, %v; want 3, the first done", recent, err)
	}
	n, err := s.PruneAlertDeliveries(ctx, time.Now().Add(time.Minute))
	if err != nil || n != 1 {
		t.Errorf("pruned %d (%v), want 1: only the done row", n, err)
	}
	if p, _ := s.PendingAlertDeliveries(ctx, 10); len(p) != 3 {
		t.Errorf("pending after prune = %d, want 3", len(p))
	}
}
