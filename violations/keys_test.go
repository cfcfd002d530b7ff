package violations_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/violations"
)

// keyRig is a store and data dir that services with different keyrings
// open in turn, as restarts of iocd would.
type keyRig struct {
	t       *testing.T
	dir     string
	keyPath string
	st      *store.SQLite
	cam     defs.Device
	n       int
}

func newKeyRig(t *testing.T) *keyRig {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "iocd.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &keyRig{t: t, dir: dir, keyPath: filepath.Join(dir, violations.DefaultKeyFile), st: st,
		cam: defs.Device{ID: "cam", Site: "hcm", Kind: defs.KindCamera, Status: defs.StatusActive}}
}

// start opens the key file as serve does, then the ledger.
func (r *keyRig) start() *violations.Service {
	r.t.Helper()
	k, err := violations.OpenKeyring(r.keyPath, true)
	if err != nil {
		r.t.Fatal(err)
	}
	cfg := config.Default()
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dir, r.st, nil, nil, nil, nil, nil, violations.WithKeyring(k))
	if err := svc.OpenLedger(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return svc
}

// file records a violation with svc and waits for its seal.
func (r *keyRig) file(svc *violations.Service) {
	r.t.Helper()
	r.n++
	id := fmt.Sprintf("e%d", r.n)
	if err := svc.HandleEvent(context.Background(), r.cam, []byte(fmt.Sprintf(`{"event_id":%q,"type":"red_light","ts":%d}`, id, time.Now().UnixMilli())), time.Now()); err != nil {
		r.t.Fatal(err)
	}
	testrig.WaitFor(r.t, id+" sealed", 20*time.Second, func() bool {
		vs, _, err := r.st.ListViolations(context.Background(), defs.ViolationFilter{})
		for _, v := range vs {
			if v.EventID == id {
				return err == nil && v.ClipStatus != defs.ClipRecording
			}
		}
		return false
	})
}

func (r *keyRig) verify(trusted ...string) map[string]int {
	r.t.Helper()
	rep, err := violations.VerifyWith(context.Background(), r.st, r.dir, violations.VerifyOptions{TrustedKeys: trusted})
	if err != nil {
		r.t.Fatal(err)
	}
	got := map[string]int{}
	for _, p := range rep.Problems {
		got[p.Kind]++
	}
	return got
}

// TestKeyRotation: the key is created at first start (0600) and sealed; a
// next key is endorsed by the current one and takes over at the next
// start; a key swapped in without its predecessor is reported.
func TestKeyRotation(t *testing.T) {
	r := newKeyRig(t)
	ctx := context.Background()
	svc := r.start()
	r.file(svc)
	st, err := os.Stat(r.keyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: want mode 0600, got %v %v", st, err)
	}
	old, err := violations.LoadKey(r.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	next, err := violations.WriteKey(r.keyPath + violations.NextKeySuffix)
	if err != nil {
		t.Fatal(err)
	}
	svc = r.start()
	r.file(svc)
	keys, err := svc.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Fingerprint != old.Fingerprint() || keys[1].Fingerprint != next.Fingerprint() ||
		!keys[0].ValidUntil.Equal(keys[1].ValidFrom) || !keys[1].ValidUntil.IsZero() {
		t.Fatalf("keys: want the old key valid until the next took over, then the next; got %+v", keys)
	}
	if cur, err := violations.LoadKey(r.keyPath); err != nil || cur.Fingerprint() != next.Fingerprint() {
		t.Errorf("key file after the rotation: want the next key, got %v %v", cur, err)
	}
	if _, err := os.Stat(r.keyPath + violations.NextKeySuffix); !os.IsNotExist(err) {
		t.Errorf("the next key file should have moved into place: %v", err)
	}
	if got := r.verify(next.Fingerprint()); len(got) != 0 {
		t.Errorf("verify trusting the new key: want OK, got %v", got)
	}
	if got := r.verify(old.Fingerprint()); fmt.Sprint(got) != "map[key_untrusted:1]" {
		t.Errorf("verify trusting only the old key: want key_untrusted, got %v", got)
	}

	// The key file replaced by another key, without a rotation: iocd keeps
	// running, and the break shows in verify for good.
	os.Remove(r.keyPath)
	if _, err := violations.WriteKey(r.keyPath); err != nil {
		t.Fatal(err)
	}
	svc = r.start()
	r.file(svc)
	if got := r.verify(); fmt.Sprint(got) != "map[key_unendorsed:1]" {
		t.Errorf("verify after an unendorsed key swap: want key_unendorsed, got %v", got)
	}
}

// TestForgedKeyEntry plays someone who can write the database: a key of
// their own introduced with a key entry, and a decision signed with it.
func TestForgedKeyEntry(t *testing.T) {
	r := newKeyRig(t)
	svc := r.start()
	r.file(svc)
	forger, err := violations.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.AppendLedger(context.Background(), func(prev string) defs.LedgerEntry { return forger.KeyEntry(nil, prev) }); err != nil {
		t.Fatal(err)
	}
	vs, _, _ := r.st.ListViolations(context.Background(), defs.ViolationFilter{})
	v := vs[0]
	v.ClipReason = "forged"
	if _, err := r.st.SealEvidence(context.Background(), v, forger.SealRecord, nil); err != nil {
		t.Fatal(err)
	}
	own, _ := violations.LoadKey(r.keyPath)
	if got := r.verify(own.Fingerprint()); fmt.Sprint(got) != "map[key_unendorsed:1 key_untrusted:1]" {
		t.Errorf("verify: want the forged key unendorsed and untrusted, got %v", got)
	}
}

// TestUnsignedChainUpgrades: a ledger written before signing (form 1)
// verifies after the upgrade seals a key and signs from then on.
func TestUnsignedChainUpgrades(t *testing.T) {
	r := newKeyRig(t)
	ctx := context.Background()
	now := time.Now().UTC()
	v := defs.Violation{ID: "vold", Camera: "cam", Site: "hcm", EventID: "old", Type: "red_light", Time: now, Plate: "62A-123.45",
		Status: defs.ReviewPending, ClipStatus: defs.ClipRecording, CreatedAt: now, UpdatedAt: now}
	if _, _, err := r.st.InsertViolation(ctx, v); err != nil {
		t.Fatal(err)
	}
	v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "camera not connected"
	if _, err := r.st.SealEvidence(ctx, v, violations.SealEvidenceUnsigned, nil); err != nil {
		t.Fatal(err)
	}
	svc := r.start()
	if _, err := svc.Review(ctx, violations.Actor{Subject: "user:thanh", Name: "thanh", Role: defs.RoleReviewer}, v.ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	r.file(svc)
	if got := r.verify(); len(got) != 0 {
		t.Errorf("verify after the upgrade: want OK, got %v", got)
	}
	got, _ := r.st.GetViolation(ctx, v.ID)
	if got.ReviewedBy != "user:thanh" {
		t.Errorf("reviewed_by: want the principal's subject, got %q", got.ReviewedBy)
	}
}

func (r *keyRig) exec(q string) {
	r.t.Helper()
	if _, err := r.st.DB().Exec(q); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
}
