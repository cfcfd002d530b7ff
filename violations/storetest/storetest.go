// Package storetest is the conformance suite every store of violations
// must pass: what it is given it gives back, so that the sealed form
// (defined by package violations from the defs values, never from a
// store's text) of a record, review, audit entry or ledger entry read back
// is byte for byte the form that was sealed. The SQLite store runs it; a
// PostgreSQL store would run the same.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// Open returns an empty store for one test; the test closes nothing (use
// t.Cleanup).
type Open func(t *testing.T) violations.Store

// Run runs the suite against stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("record", func(t *testing.T) { testRecord(t, open(t)) })
	t.Run("ledger and audit", func(t *testing.T) { testLedger(t, open(t)) })
	t.Run("timestamps", func(t *testing.T) { testTimestamps(t, open(t)) })
}

func testTimestamps(t *testing.T, st violations.Store) {
	ctx := context.Background()
	signer, err := violations.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return signer.KeyEntry(nil, prev) })
	if err != nil {
		t.Fatal(err)
	}
	want := defs.LedgerTimestamp{Hash: key.Hash, Token: []byte{0x30, 0x00, 0xff, 0x00, 0x01}, At: time.Date(2026, 12, 2, 1, 2, 3, 0, time.UTC)}
	var sealed defs.LedgerEntry
	if err := st.AddTimestamp(ctx, want, func(ts defs.LedgerTimestamp, prev string) defs.LedgerEntry {
		sealed = signer.SealTimestamp(ts, prev)
		return sealed
	}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Timestamps(ctx)
	if err != nil || len(got) != 1 || got[0].Hash != want.Hash || !bytes.Equal(got[0].Token, want.Token) || !got[0].At.Equal(want.At) {
		t.Fatalf("Timestamps: want %+v back, got %+v (%v)", want, got, err)
	}
	stamped, sealedBy, err := st.LastTimestamp(ctx)
	if err != nil || stamped != key.Hash || sealedBy != sealed.Hash {
		t.Errorf("LastTimestamp: want %s sealed by %s, got %s, %s (%v)", key.Hash, sealed.Hash, stamped, sealedBy, err)
	}
	if head, err := st.LedgerHead(ctx); err != nil || head != sealed.Hash {
		t.Errorf("LedgerHead: want the stamp's seal %s, got %s (%v)", sealed.Hash, head, err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// record is a violation with every field set to something a careless
// store would change: times in another zone with nanoseconds, floats
// without a short decimal form, text outside ASCII, raw bytes that are
// JSON with odd spacing.
func record() defs.Violation {
	ict := time.FixedZone("ICT", 7*3600)
	ts := time.Date(2026, 12, 2, 8, 15, 30, 123456789, ict)
	raw := []byte(`{"event_id":"e-1",  "type":"speeding","ts":1764638130123,"speed_kmh":71.25,"radar":{"samples":[70.1,71.25]}}`)
	return defs.Violation{
		ID: "v0001", Camera: "cam-7", Site: "tan-an", EventID: "e-1", Type: "speeding", Time: ts,
		Plate: "62A-123.45", PlateRaw: "62a 12345", PlateValid: true, PlateConfidence: 0.1 + 0.2, Vehicle: "car",
		SpeedKmh: 71.25, LimitKmh: 50, Lane: 2, Status: defs.ReviewPending, ClipStatus: defs.ClipRecording,
		SnapshotSHA256: sum([]byte("jpeg")), SnapshotPath: "clips/tan-an/cam-7/2026-12-02/v0001.jpg",
		CreatedAt: ts.Add(time.Second + 1), UpdatedAt: ts.Add(time.Second + 1),
		CameraName: "Ngã tư Tân An", Address: "QL1A, Tân An, Long An", Lat: 10.536312345678901, Lon: 106.41318765432101,
		RawEvent: raw, RawEventSHA256: sum(raw),
	}
}

// final is the record's evidence as the clip job seals it.
func final(v defs.Violation) defs.Violation {
	v.ClipStatus, v.ClipReason = defs.ClipPartial, "camera dropped at +3.2 s"
	v.ClipSHA256, v.ClipBytes, v.ClipPath = sum([]byte("mp4")), 1234567, "clips/tan-an/cam-7/2026-12-02/v0001.mp4"
	v.ClipStart, v.ClipEnd = v.Time.Add(-5*time.Second+7), v.Time.Add(5*time.Second-3)
	v.Evidential, v.ClockOffsetMs, v.HostClockSynced, v.HostClockErrorMs = false, 1712.125, true, 0.333
	v.EvidenceChecks = []defs.EvidenceCheck{{Name: "clock_offset", OK: false, Detail: "1.71 s > 1 s"}, {Name: "fps", OK: true}}
	v.UpdatedAt = v.UpdatedAt.Add(time.Minute)
	return v
}

func testRecord(t *testing.T, st violations.Store) {
	ctx := context.Background()
	want := record()
	if _, created, err := st.InsertViolation(ctx, want); err != nil || !created {
		t.Fatalf("InsertViolation: created %v, %v", created, err)
	}
	got, err := st.GetViolation(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(violations.SealedRecord(got), violations.SealedRecord(want)) {
		t.Errorf("record read back seals differently:\nwant %s\ngot  %s", violations.SealedRecord(want), violations.SealedRecord(got))
	}
	if !bytes.Equal(got.RawEvent, want.RawEvent) {
		t.Errorf("raw event: want the bytes as given\n%s\ngot\n%s", want.RawEvent, got.RawEvent)
	}
	signer, err := violations.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	var sealed defs.LedgerEntry
	fin := final(want)
	stored, err := st.SealEvidence(ctx, fin, func(v defs.Violation, prev string) defs.LedgerEntry {
		sealed = signer.SealRecord(v, prev)
		return sealed
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(violations.SealedRecord(stored), violations.SealedRecord(fin)) {
		t.Errorf("sealed record seals differently from the one given:\nwant %s\ngot  %s", violations.SealedRecord(fin), violations.SealedRecord(stored))
	}
	got, err = st.GetViolation(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h := sum(violations.SealedRecord(got)); h != sealed.ContentHash {
		t.Errorf("record read back after its seal hashes to %s, the entry sealed %s\n%s", h, sealed.ContentHash, violations.SealedRecord(got))
	}
	entries, err := st.Ledger(ctx, want.ID)
	if err != nil || len(entries) != 1 {
		t.Fatalf("Ledger: want the one entry, got %d, %v", len(entries), err)
	}
	sealed.Seq = entries[0].Seq
	if !sameEntry(entries[0], sealed) {
		t.Errorf("ledger entry read back differs:\nwant %+v\ngot  %+v", sealed, entries[0])
	}
	// Lists need not carry the raw event, but seal the same.
	list, _, err := st.ListViolations(ctx, defs.ViolationFilter{})
	if err != nil || len(list) != 1 || !bytes.Equal(violations.SealedRecord(list[0]), violations.SealedRecord(got)) {
		t.Errorf("listed record seals differently (%v)", err)
	}
}

// sameEntry compares entries by their JSON (times as instants).
func sameEntry(a, b defs.LedgerEntry) bool {
	a.At, b.At = a.At.UTC(), b.At.UTC()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb) && a.At.Equal(b.At)
}

func testLedger(t *testing.T, st violations.Store) {
	ctx := context.Background()
	signer, err := violations.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return signer.KeyEntry(nil, prev) })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.KeyEntries(ctx)
	if err != nil || len(keys) != 1 || !sameEntry(keys[0], key) {
		t.Fatalf("KeyEntries: want the key entry back\nwant %+v\ngot  %+v (%v)", key, keys, err)
	}
	var audits []defs.LedgerEntry
	st.SetAuditSealer(func(a defs.AuditEntry, prev string) defs.LedgerEntry {
		e := signer.SealAudit(a, prev)
		audits = append(audits, e)
		return e
	})
	v := record()
	v.RawEvent, v.RawEventSHA256, v.SnapshotPath, v.SnapshotSHA256 = nil, "", "", ""
	if _, _, err := st.InsertViolation(ctx, v); err != nil {
		t.Fatal(err)
	}
	v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "camera not connected"
	if _, err := st.SealEvidence(ctx, v, signer.SealRecord, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 9, 0, 0, 987654321, time.FixedZone("ICT", 7*3600))
	r, err := st.AddReview(ctx, defs.Review{ViolationID: v.ID, Decision: defs.ReviewConfirmed, Previous: defs.ReviewPending,
		Note: "vượt đèn đỏ", Actor: "user:thanh", Role: defs.RoleReviewer, At: at}, signer.SealReview,
		defs.AuditEntry{At: at, Actor: "user:thanh", Role: defs.RoleReviewer, Action: violations.ActionReview, Target: v.ID, Detail: "pending -> confirmed"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := st.Reviews(ctx, v.ID)
	if err != nil || len(rs) != 1 || !bytes.Equal(violations.SealedReview(rs[0]), violations.SealedReview(r)) {
		t.Errorf("review read back seals differently: %+v %v", rs, err)
	}
	if err := st.AddAudit(ctx, defs.AuditEntry{At: at.Add(time.Nanosecond), Actor: "token:7", Role: defs.RoleAdmin, Action: "token.create", Target: "8"}); err != nil {
		t.Fatal(err)
	}
	log, err := st.AuditLog(ctx)
	if err != nil || len(log) != 2 || len(audits) != 2 {
		t.Fatalf("AuditLog: want 2 entries, each sealed; got %d (%d sealed), %v", len(log), len(audits), err)
	}
	for i, a := range log {
		if sum(violations.SealedAudit(a)) != audits[i].ContentHash {
			t.Errorf("audit entry %d read back seals differently: %s", a.ID, violations.SealedAudit(a))
		}
	}
	got, err := st.GetViolation(ctx, v.ID)
	if err != nil || got.ReviewedBy != r.Actor || !got.ReviewedAt.Equal(r.At) || got.Status != defs.ReviewConfirmed {
		t.Errorf("record after review: want reviewed by %s at %v, got %q at %v (%s) %v", r.Actor, r.At, got.ReviewedBy, got.ReviewedAt, got.Status, err)
	}
	rep, err := violations.VerifyWith(ctx, st, t.TempDir(), violations.VerifyOptions{TrustedKeys: []string{signer.Fingerprint()}})
	if err != nil || !rep.OK() || rep.Entries != 5 {
		t.Errorf("verify: want OK over 5 entries (key, evidence, review, 2 audit), got %d: %+v %v", rep.Entries, rep.Problems, err)
	}
	if !reflect.DeepEqual(rep.Key, signer.Fingerprint()) {
		t.Errorf("verify: want the chain signed by %s, got %s", signer.Fingerprint(), rep.Key)
	}
}
