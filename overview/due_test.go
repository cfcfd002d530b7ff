package overview

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// TestViolationsDueTomorrow: the wall's tile counts the violations not
// rejected whose notify_by (detection + review.notify_days) falls on
// tomorrow's local date, as the violations service derives it.
func TestViolationsDueTomorrow(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC) // 08:00 local on 2 Dec; tomorrow is 3 Dec
	local := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, hcm) }
	for i, c := range []struct {
		at     time.Time
		status defs.ReviewStatus
	}{
		{local(22, 23, 59), defs.ReviewPending},  // due 2 Dec: today
		{local(23, 0, 0), defs.ReviewPending},    // due 3 Dec 00:00
		{local(23, 10, 0), defs.ReviewConfirmed}, // due 3 Dec
		{local(23, 12, 0), defs.ReviewRejected},  // no deadline
		{local(23, 23, 59), defs.ReviewDisputed}, // due 3 Dec
		{local(24, 0, 0), defs.ReviewPending},    // due 4 Dec
	} {
		v := defs.Violation{ID: fmt.Sprint("v", i), Camera: "cam-1", Site: "a", EventID: fmt.Sprint(i), Type: "red_light", Time: c.at,
			Status: c.status, ClipStatus: defs.ClipNoVideo, CreatedAt: c.at, UpdatedAt: c.at}
		if _, _, err := st.InsertViolation(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	viol := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, t.TempDir(), st, nil, nil, nil, nil, nil,
		violations.WithDesk(violations.DeskConfig{NotifyDays: 10, PublishDays: 20, Location: hcm}))
	svc := New(Config{Location: hcm, Now: func() time.Time { return now }}, Deps{Deadlines: viol})
	o, err := svc.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.ViolationsDueTomorrow != 3 {
		t.Errorf("violations_due_tomorrow: want 3, got %d", o.ViolationsDueTomorrow)
	}
}
