package violations_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// While another connection holds the database's write lock, an arriving
// event is refused with a retryable (EUNAVAILABLE) error, never accepted
// and dropped; once the lock is released the same event, retried as ingest
// retries it, is recorded, once.
func TestStoreLockedEventRetried(t *testing.T) {
	r := newRigWith(t, nil, nil, violations.WithStoreTimeout(300*time.Millisecond))
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(r.dataDir, "iocd.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	locker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	payload := []byte(fmt.Sprintf(`{"event_id":"locked","type":"red_light","ts":%d,"plate":"62a 12345","vehicle":"car"}`, time.Now().UnixMilli()))
	for i := range 2 {
		err := r.svc.HandleEvent(ctx, r.devs["dead"], payload, time.Now())
		if err == nil || defs.ErrorCode(err) != defs.EUNAVAILABLE {
			t.Fatalf("attempt %d while locked: want a retryable (unavailable) error, got %v (code %s)", i, err, defs.ErrorCode(err))
		}
	}
	if vs, _, err := r.store.ListViolations(ctx, defs.ViolationFilter{Camera: "dead"}); err != nil || len(vs) != 0 {
		t.Fatalf("while locked: want nothing recorded, got %d %v", len(vs), err)
	}
	if _, err := locker.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.HandleEvent(ctx, r.devs["dead"], payload, time.Now()); err != nil {
		t.Fatalf("after the lock is released: want the event recorded, got %v", err)
	}
	v := r.final("dead", "locked")
	if v.ClipStatus != defs.ClipNoVideo || v.Plate == "" {
		t.Errorf("want the record sealed (no_video: the camera is dead) with its plate, got %+v", v)
	}
	if vs, _, err := r.store.ListViolations(ctx, defs.ViolationFilter{Camera: "dead"}); err != nil || len(vs) != 1 {
		t.Errorf("want the event recorded once, got %d %v", len(vs), err)
	}
}
