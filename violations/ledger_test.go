package violations_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, r *rig, v defs.Violation)
		want   map[string]int
	}{
		{"nothing", func(*testing.T, *rig, defs.Violation) {}, map[string]int{}},
		{"ledger entry removed", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `DELETE FROM violation_ledger WHERE seq = 2`)
		}, map[string]int{"chain_broken": 1, "record_unsealed": 1}},
		{"key entry removed", func(t *testing.T, r *rig, v defs.Violation) {
			// Every later entry is signed by a key the chain no longer
			// introduces.
			r.exec(t, `DELETE FROM violation_ledger WHERE seq = 1`)
		}, map[string]int{"chain_broken": 1, "signature_invalid": 4}},
		{"ledger entry altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violation_ledger SET content_hash = 'ab' WHERE seq = 2`)
		}, map[string]int{"entry_altered": 1, "record_changed": 1}},
		{"review note altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violation_reviews SET note = 'nothing to see'`)
		}, map[string]int{"review_changed": 1}},
		{"review deleted", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `DELETE FROM violation_reviews`)
		}, map[string]int{"review_deleted": 1, "reviewer_changed": 1, "status_changed": 1}},
		{"decision forged and appended with recomputed hashes, no key", func(t *testing.T, r *rig, v defs.Violation) {
			forgeDecision(t, r, v, func(e defs.LedgerEntry) defs.LedgerEntry {
				// Signed with a key of the forger's own, named as iocd's.
				_, priv, _ := ed25519.GenerateKey(rand.New(rand.NewSource(1)))
				e.Form, e.KeyID = 2, r.svc.TestSigner().Fingerprint()
				e.Hash = violations.EntryHash(e)
				e.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, violations.SignedMessage(e.Hash)))
				return e
			})
		}, map[string]int{"signature_invalid": 1}},
		{"decision forged and appended unsigned (form 1)", func(t *testing.T, r *rig, v defs.Violation) {
			forgeDecision(t, r, v, func(e defs.LedgerEntry) defs.LedgerEntry {
				e.Form = 1
				e.Hash = violations.EntryHash(e)
				return e
			})
		}, map[string]int{"entry_unsigned": 1}},
		{"reviewed_by edited", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET reviewed_by = 'user:someone-else' WHERE id = '`+v.ID+`'`)
		}, map[string]int{"reviewer_changed": 1}},
		{"reviewed_at edited", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET reviewed_at = '2020-01-01T00:00:00.000000000Z' WHERE id = '`+v.ID+`'`)
		}, map[string]int{"reviewer_changed": 1}},
		{"review's reviewer edited in both tables", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violation_reviews SET actor = 'user:someone-else'`)
			r.exec(t, `UPDATE violations SET reviewed_by = 'user:someone-else' WHERE id = '`+v.ID+`'`)
		}, map[string]int{"review_changed": 1}},
		{"audit row deleted", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `DELETE FROM audit_log WHERE action = 'violation.review'`)
		}, map[string]int{"audit_deleted": 1}},
		{"audit row altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE audit_log SET actor = 'user:nobody' WHERE action = 'violation.review'`)
		}, map[string]int{"audit_changed": 1}},
		{"raw event altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET raw_event = CAST('{"event_id":"a","type":"speeding","speed_kmh":51}' AS BLOB) WHERE id = '`+v.ID+`'`)
		}, map[string]int{"raw_event_changed": 1}},
		{"place edited", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET address = 'somewhere else', lat = 10.5 WHERE id = '`+v.ID+`'`)
		}, map[string]int{"record_changed": 1}},
		{"status flipped", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET status = 'rejected' WHERE status = 'confirmed'`)
		}, map[string]int{"status_changed": 1}},
		{"snapshot deleted", func(t *testing.T, r *rig, v defs.Violation) {
			if err := os.Remove(filepath.Join(r.dataDir, v.SnapshotPath)); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"file_missing": 1}},
		{"snapshot detached", func(t *testing.T, r *rig, v defs.Violation) {
			// Clearing the path stops Verify looking for the file; the
			// sealed path must notice.
			r.exec(t, `UPDATE violations SET snapshot_path = '' WHERE id = '`+v.ID+`'`)
			if err := os.Remove(filepath.Join(r.dataDir, v.SnapshotPath)); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"record_changed": 1}},
		{"speed altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET speed_kmh = 49 WHERE id = '`+v.ID+`'`)
		}, map[string]int{"record_changed": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			ctx := context.Background()
			r.fire("dead", "a", "speeding", time.Now(), `,"speed_kmh":72,"limit_kmh":50,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
			a := r.final("dead", "a")
			r.fire("dead", "b", "red_light", time.Now(), "")
			r.final("dead", "b")
			if _, err := r.svc.Review(ctx, violations.Actor{Name: "officer", Role: defs.RoleReviewer}, a.ID, defs.ReviewConfirmed, "clear"); err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, r, a)
			rep, err := violations.Verify(ctx, r.store, r.dataDir)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, p := range rep.Problems {
				got[p.Kind]++
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("want %v, got %v: %+v", tc.want, got, rep.Problems)

			}
			var out bytes.Buffer
			rep.WriteText(&out)
			text := out.String()
			if strings.Contains(text, "\nOK:") || strings.HasPrefix(text, "OK:") != rep.OK() || strings.Count(text, "MISMATCH") != len(rep.Problems) ||
				!strings.Contains(text, "ledger head: "+rep.Head) {
				t.Errorf("report text: want the verdict, one MISMATCH line per problem and the head, got:\n%s", text)
			}
		})
	}
}

// forgeDecision plays someone who can write the database but not read the
// key: it changes a confirmed violation to rejected as an admin would,
// with a review row, the record's reviewer and a ledger entry appended with
// every hash recomputed; sign finishes the entry.
func forgeDecision(t *testing.T, r *rig, v defs.Violation, sign func(defs.LedgerEntry) defs.LedgerEntry) {
	t.Helper()
	at := time.Now().UTC()
	rv := defs.Review{ViolationID: v.ID, Decision: defs.ReviewRejected, Previous: defs.ReviewConfirmed, Note: "mistake", Actor: "user:forger",
		Role: defs.RoleAdmin, At: at}
	res, err := r.store.DB().Exec(`INSERT INTO violation_reviews (violation_id, decision, previous, note, actor, role, at) VALUES (?,?,?,?,?,?,?)`,
		rv.ViolationID, rv.Decision, rv.Previous, rv.Note, rv.Actor, rv.Role.String(), at.Format("2006-01-02T15:04:05.000000000Z"))
	if err != nil {
		t.Fatal(err)
	}
	rv.ID, _ = res.LastInsertId()
	r.exec(t, fmt.Sprintf(`UPDATE violations SET status = 'rejected', reviewed_by = 'user:forger', reviewed_at = '%s' WHERE id = '%s'`,
		at.Format("2006-01-02T15:04:05.000000000Z"), v.ID))
	sum := sha256.Sum256(violations.SealedReview(rv))
	_, err = r.store.AppendLedger(context.Background(), func(prev string) defs.LedgerEntry {
		return sign(defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerReview, Ref: fmt.Sprint(rv.ID), ContentHash: hex.EncodeToString(sum[:]),
			PrevHash: prev, At: at})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFindsReseals plays someone with write access to the database
// who changes a sealed record and appends a fresh seal computed the public
// way: comparing the record with its latest seal alone would pass it.
func TestVerifyFindsReseals(t *testing.T) {
	reseal := func(t *testing.T, r *rig, v defs.Violation, seal func(defs.Violation, string) defs.LedgerEntry) {
		t.Helper()
		if _, err := r.store.SealEvidence(context.Background(), v, seal, nil); err != nil {
			t.Fatal(err)
		}
	}
	// SealEvidence writes only the evidence columns and seals the row as
	// stored, so the change itself is an UPDATE.
	changed := func(t *testing.T, r *rig, v defs.Violation) defs.Violation {
		r.exec(t, `UPDATE violations SET plate = '51F-999.99', speed_kmh = 99 WHERE id = '`+v.ID+`'`)
		v.Plate, v.SpeedKmh = "51F-999.99", 99
		return v
	}
	tests := []struct {
		name   string
		pin    bool // verify with the head from before the tampering
		tamper func(t *testing.T, r *rig, v defs.Violation)
		want   map[string]int
	}{
		{"nothing, pinned", true, func(*testing.T, *rig, defs.Violation) {}, map[string]int{}},
		{"plate and speed changed and re-sealed", false, func(t *testing.T, r *rig, v defs.Violation) {
			reseal(t, r, changed(t, r, v), r.svc.TestSigner().SealRecord)
		}, map[string]int{"record_resealed": 1}},
		{"plate and speed changed and re-sealed, pinned", true, func(t *testing.T, r *rig, v defs.Violation) {
			reseal(t, r, changed(t, r, v), r.svc.TestSigner().SealRecord)
		}, map[string]int{"record_resealed": 1, "resealed_after_head": 1}},
		{"re-sealed copying the first identity", false, func(t *testing.T, r *rig, v defs.Violation) {
			l, err := r.store.Ledger(context.Background(), v.ID)
			if err != nil || len(l) == 0 {
				t.Fatalf("ledger of %s: %v %v", v.ID, l, err)
			}
			reseal(t, r, changed(t, r, v), func(v defs.Violation, prev string) defs.LedgerEntry {
				e := r.svc.TestSigner().SealRecord(v, prev)
				e.IdentityHash = l[0].IdentityHash
				return r.svc.TestSigner().Finish(e)
			})
		}, map[string]int{"record_resealed": 1}},
		{"reason changed and re-sealed, pinned", true, func(t *testing.T, r *rig, v defs.Violation) {
			v.ClipReason = "camera was pointed elsewhere"
			reseal(t, r, v, r.svc.TestSigner().SealRecord)
		}, map[string]int{"resealed_after_head": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			ctx := context.Background()
			r.fire("dead", "a", "speeding", time.Now(), `,"speed_kmh":72,"limit_kmh":50,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
			a := r.final("dead", "a")
			head := ""
			if tc.pin {
				rep, err := violations.Verify(ctx, r.store, r.dataDir)
				if err != nil || !rep.OK() {
					t.Fatalf("verify before tampering: want OK, got %+v %v", rep.Problems, err)
				}
				head = rep.Head
			}
			// A later record, so the pinned head is not the last entry.
			r.fire("dead", "b", "red_light", time.Now(), "")
			r.final("dead", "b")
			tc.tamper(t, r, a)
			rep, err := violations.VerifyPinned(ctx, r.store, r.dataDir, head)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, p := range rep.Problems {
				got[p.Kind]++
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("want %v, got %v: %+v", tc.want, got, rep.Problems)
			}
		})
	}
	t.Run("unknown head", func(t *testing.T) {
		r := newRig(t, nil)
		r.fire("dead", "a", "red_light", time.Now(), "")
		r.final("dead", "a")
		rep, err := violations.VerifyPinned(context.Background(), r.store, r.dataDir, strings.Repeat("ab", 32))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || rep.Problems[0].Kind != "head_missing" {
			t.Errorf("want one head_missing, got %+v", rep.Problems)
		}
		var out bytes.Buffer
		rep.WriteText(&out)
		if !strings.Contains(out.String(), "MISMATCH head_missing     ledger: ") || !strings.Contains(out.String(), "pinned head: "+rep.PinnedHead) {
			t.Errorf("report text: want the head_missing line and the pinned head, got:\n%s", out.String())
		}
	})
}
