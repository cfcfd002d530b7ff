package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// testDesk is the desk as serve configures it from the defaults.
func testDesk(cfg config.Config) violations.DeskConfig {
	var rs []violations.Reason
	for _, r := range cfg.Review.Reasons {
		var ds []defs.ReviewStatus
		for _, d := range r.Decisions {
			ds = append(ds, defs.ReviewStatus(d))
		}
		rs = append(rs, violations.Reason{Code: r.Code, Label: r.Label, Decisions: ds})
	}
	return violations.DeskConfig{Reasons: rs, RequireSecond: cfg.Review.RequireSecond, ClaimTTL: cfg.Review.ClaimTTL.D(),
		NotifyDays: cfg.Review.NotifyDays, PublishDays: cfg.Review.PublishDays, Location: cfg.UI.Location()}
}

// testClock is the desk's clock, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// deskRig is the API with the violations service and desk over a
// simulated camera, two reviewers (a and b) and an admin.
type deskRig struct {
	*rig
	vr       violationsRig
	a, b     string // reviewers' tokens
	aID, bID string // their subjects
	adm      string
	n        int
}

func newDeskRig(t *testing.T, desk ...func(*violations.DeskConfig)) *deskRig {
	t.Helper()
	d := &deskRig{}
	d.rig = newRig(t, withViolations(t, &d.vr, desk...))
	ctx := context.Background()
	var tok defs.Token
	var err error
	if d.a, tok, err = d.auth.CreateToken(ctx, defs.RoleReviewer, "officer-an"); err != nil {
		t.Fatal(err)
	}
	d.aID = fmt.Sprintf("token:%d", tok.ID)
	if d.b, tok, err = d.auth.CreateToken(ctx, defs.RoleReviewer, "officer-binh"); err != nil {
		t.Fatal(err)
	}
	d.bID = fmt.Sprintf("token:%d", tok.ID)
	d.adm = d.tokens[defs.RoleAdmin]
	var cams struct{ Cameras []streams.CameraStats }
	testrig.WaitFor(t, "the camera to buffer 2 s", 20*time.Second, func() bool {
		d.do("GET", "/api/v1/cameras", d.adm, nil).json(t, &cams)
		return len(cams.Cameras) == 1 && cams.Cameras[0].BufferSeconds >= 2
	})
	return d
}

// fire files events (plate "" for none) and waits until each one's
// clip is complete; it returns their ids in order.
func (d *deskRig) fire(t *testing.T, plates ...string) []string {
	t.Helper()
	ts := time.Now().Add(-200 * time.Millisecond)
	var evs []string
	for _, p := range plates {
		d.n++
		ev := fmt.Sprintf("desk-%d", d.n)
		evs = append(evs, ev)
		payload := fmt.Sprintf(`{"event_id":%q,"type":"red_light","ts":%q,"plate":%q}`, ev, ts.Add(time.Duration(d.n)*time.Millisecond).Format(time.RFC3339Nano), p)
		if err := d.vr.svc.HandleEvent(context.Background(), d.vr.cam, []byte(payload), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, len(evs))
	testrig.WaitFor(t, "the clips to be complete", 30*time.Second, func() bool {
		var list struct{ Violations []defs.Violation }
		d.do("GET", "/api/v1/violations?limit=1000", d.adm, nil).json(t, &list)
		done := 0
		for i, ev := range evs {
			for _, v := range list.Violations {
				if v.EventID == ev && v.ClipStatus == defs.ClipComplete {
					ids[i] = v.ID
					done++
				}
			}
		}
		return done == len(evs)
	})
	return ids
}

type openedCase struct {
	Violation  defs.Violation    `json:"violation"`
	Reviews    []defs.Review     `json:"reviews"`
	Amendments []defs.Amendment  `json:"amendments"`
	Claim      defs.ReviewClaim  `json:"claim"`
	Mine       bool              `json:"mine"`
	Version    string            `json:"version"`
	OpenedClip bool              `json:"opened_clip"`
	Custody    []defs.AuditEntry `json:"custody"`
}

func (d *deskRig) open(t *testing.T, token, id string) openedCase {
	t.Helper()
	res := d.do("POST", "/api/v1/violations/"+id+"/open", token, map[string]any{})
	wantStatus(t, res, http.StatusOK)
	var o openedCase
	res.json(t, &o)
	return o
}

func (d *deskRig) play(t *testing.T, token, id string) []byte {
	t.Helper()
	res := d.do("GET", "/api/v1/violations/"+id+"/clip", token, nil)
	wantStatus(t, res, http.StatusOK)
	return res.body
}

func (d *deskRig) decide(token, id, decision, reason, version string) response {
	return d.do("POST", "/api/v1/violations/"+id+"/review", token,
		map[string]string{"decision": decision, "reason": reason, "version": version})
}

// wantRefused checks a 409 (or other status) whose message says why.
func wantRefused(t *testing.T, got response, status int, says string) {
	t.Helper()
	wantStatus(t, got, status)
	if e := got.err(t); !strings.Contains(e.Error.Message, says) {
		t.Errorf("want the message to say %q, got %q", says, e.Error.Message)
	}
}

func TestDeskConfirmationNeedsCompleteClipPlateAndPlay(t *testing.T) {
	d := newDeskRig(t)
	ctx := context.Background()
	// A clip being cut is a state the service holds for a few seconds;
	// the record is written as the service writes one at filing, so the
	// state lasts for the test.
	now := time.Now().UTC()
	rec := defs.Violation{ID: "vrecording1", Camera: d.vr.cam.ID, Site: "hcm", EventID: "rec-1", Type: "red_light", Time: now,
		Plate: "51F-123.45", PlateRaw: "51F12345", PlateValid: true, Status: defs.ReviewPending, ClipStatus: defs.ClipRecording, CreatedAt: now, UpdatedAt: now}
	if _, _, err := d.vr.store.InsertViolation(ctx, rec); err != nil {
		t.Fatal(err)
	}
	ids := d.fire(t, "", "51F12345")
	plateless, unopened := ids[0], ids[1]

	o := d.open(t, d.a, rec.ID)
	wantRefused(t, d.decide(d.a, rec.ID, "confirmed", "violation_clear", o.Version), http.StatusConflict, "clip is not complete (recording")

	o = d.open(t, d.a, plateless)
	d.play(t, d.a, plateless)
	wantRefused(t, d.decide(d.a, plateless, "confirmed", "violation_clear", o.Version), http.StatusConflict, "has no plate")
	// Corrected, it may be confirmed: the correction's version is the
	// one to decide on.
	res := d.do("POST", "/api/v1/violations/"+plateless+"/plate", d.a, map[string]string{"plate": "30a 999 99", "version": o.Version})
	wantStatus(t, res, http.StatusOK)
	var pr struct {
		Violation defs.Violation
		Version   string
	}
	res.json(t, &pr)
	if pr.Violation.PlateCorrected != "30A-999.99" || pr.Violation.Plate != "" {
		t.Fatalf("correction: want plate as detected empty and corrected 30A-999.99, got %q / %q", pr.Violation.Plate, pr.Violation.PlateCorrected)
	}
	wantRefused(t, d.decide(d.a, plateless, "confirmed", "violation_clear", o.Version), http.StatusConflict, "changed since you opened it")
	wantStatus(t, d.decide(d.a, plateless, "confirmed", "violation_clear", pr.Version), http.StatusOK)

	o = d.open(t, d.a, unopened)
	if o.OpenedClip {
		t.Errorf("open: want opened_clip false before the clip was played")
	}
	wantRefused(t, d.decide(d.a, unopened, "confirmed", "violation_clear", o.Version), http.StatusConflict, "not opened its clip")
	// Reason codes: required, configured, and for the decision made.
	for _, c := range []struct{ decision, reason, says string }{
		{"confirmed", "", "needs a reason code"},
		{"confirmed", "no_violation", "not a reason for confirmed"},
		{"rejected", "made_up", "not a configured reason code"},
	} {
		got := d.decide(d.a, unopened, c.decision, c.reason, o.Version)
		wantRefused(t, got, http.StatusBadRequest, c.says)
		if e := got.err(t); e.Error.Field != "reason" {
			t.Errorf("want the reason named, got %+v", e.Error)
		}
	}
	d.play(t, d.a, unopened)
	if o = d.open(t, d.a, unopened); !o.OpenedClip || !o.Mine {
		t.Errorf("open after playing: want opened_clip and mine, got %+v", o)
	}
	res = d.decide(d.a, unopened, "confirmed", "violation_clear", o.Version)
	wantStatus(t, res, http.StatusOK)
	var dr struct {
		Violation defs.Violation
		Version   string
	}
	res.json(t, &dr)
	if dr.Violation.Status != defs.ReviewConfirmed || dr.Version == "" || dr.Version == o.Version {
		t.Errorf("decision: want confirmed with a new version, got %s %q", dr.Violation.Status, dr.Version)
	}
	var h struct{ Reviews []defs.Review }
	d.do("GET", "/api/v1/violations/"+unopened+"/history", d.a, nil).json(t, &h)
	if len(h.Reviews) != 1 || h.Reviews[0].Reason != "violation_clear" || h.Reviews[0].Actor != d.aID {
		t.Errorf("history: want one decision by %s with its reason, got %+v", d.aID, h.Reviews)
	}
	// The claim went with the decision.
	var q struct {
		Violations []struct{ Claim *defs.ReviewClaim }
	}
	d.do("GET", "/api/v1/review/queue?status=confirmed", d.a, nil).json(t, &q)
	for _, it := range q.Violations {
		if it.Claim != nil {
			t.Errorf("queue: a decided case keeps a claim %+v", it.Claim)
		}
	}
}

func TestDeskPlateCorrectionIsSealedAndVerified(t *testing.T) {
	d := newDeskRig(t)
	ctx := context.Background()
	id := d.fire(t, "51F12345")[0]
	o := d.open(t, d.a, id)
	res := d.do("POST", "/api/v1/violations/"+id+"/plate", d.a, map[string]string{"plate": "51f 678.90", "note": "6 read as 1", "version": o.Version})
	wantStatus(t, res, http.StatusOK)
	var pr struct {
		Violation defs.Violation
		Amendment defs.Amendment
		Version   string
	}
	res.json(t, &pr)
	if pr.Violation.Plate != "51F-123.45" || pr.Violation.PlateCorrected != "51F-678.90" {
		t.Errorf("want the detected plate kept and the correction in force, got %q / %q", pr.Violation.Plate, pr.Violation.PlateCorrected)
	}
	if a := pr.Amendment; a.ID == 0 || a.Field != "plate" || a.From != "51F-123.45" || a.To != "51F-678.90" || a.Actor != d.aID || a.Note != "6 read as 1" {
		t.Errorf("amendment: %+v", a)
	}
	// A second correction on the old version is refused.
	wantRefused(t, d.do("POST", "/api/v1/violations/"+id+"/plate", d.a, map[string]string{"plate": "51F-678.91", "version": o.Version}),
		http.StatusConflict, "changed since you opened it")
	var h struct {
		Amendments []defs.Amendment
		Custody    []defs.AuditEntry
	}
	d.do("GET", "/api/v1/violations/"+id+"/history", d.a, nil).json(t, &h)
	if len(h.Amendments) != 1 || h.Amendments[0].To != "51F-678.90" {
		t.Errorf("history: want the amendment, got %+v", h.Amendments)
	}
	amended := false
	for _, e := range h.Custody {
		amended = amended || (e.Action == violations.ActionAmend && e.Actor == d.aID)
	}
	if !amended {
		t.Errorf("custody: want a %s entry by %s, got %+v", violations.ActionAmend, d.aID, h.Custody)
	}
	// Searching by the corrected plate finds it; the plates are the
	// police's: a viewer sees neither.
	var q struct{ Violations []defs.Violation }
	d.do("GET", "/api/v1/review/queue?plate=51f67890", d.a, nil).json(t, &q)
	if len(q.Violations) != 1 || q.Violations[0].ID != id {
		t.Errorf("queue by corrected plate: want %s, got %+v", id, q.Violations)
	}
	var vv struct{ Violation map[string]any }
	d.do("GET", "/api/v1/violations/"+id, d.tokens[defs.RoleViewer], nil).json(t, &vv)
	if _, ok := vv.Violation["plate_corrected"]; ok || vv.Violation["plate"] != "" {
		t.Errorf("viewer: want no plate, got %v / %v", vv.Violation["plate"], vv.Violation["plate_corrected"])
	}
	ledger, err := d.vr.store.Ledger(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sealed := false
	for _, e := range ledger {
		sealed = sealed || (e.Kind == defs.LedgerAmendment && e.Ref == fmt.Sprint(pr.Amendment.ID))
	}
	if !sealed {
		t.Errorf("ledger: want an amendment entry for %d, got %+v", pr.Amendment.ID, ledger)
	}
	rep, err := violations.Verify(ctx, d.vr.store, d.vr.dataDir)
	if err != nil || !rep.OK() || rep.Amendments != 1 {
		t.Fatalf("verify: want OK with 1 amendment, got %d %+v %v", rep.Amendments, rep.Problems, err)
	}
	if _, err := d.vr.store.DB().Exec(`UPDATE violation_amendments SET to_value = '51F-000.00' WHERE id = ?`, pr.Amendment.ID); err != nil {
		t.Fatal(err)
	}
	rep, err = violations.Verify(ctx, d.vr.store, d.vr.dataDir)
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != "amendment_changed" || rep.Problems[0].ViolationID != id {
		t.Errorf("verify after editing the amendment: want one amendment_changed on %s, got %+v %v", id, rep.Problems, err)
	}
}

func TestDeskClipRangeAndAudit(t *testing.T) {
	d := newDeskRig(t)
	ctx := context.Background()
	id := d.fire(t, "51F12345")[0]
	v, err := d.vr.store.GetViolation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(d.vr.dataDir, v.ClipPath))
	if err != nil {
		t.Fatal(err)
	}
	plays := func() int {
		es, err := d.vr.store.AuditFor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.Action == violations.ActionClip {
				n++
			}
		}
		return n
	}
	path := "/api/v1/violations/" + id + "/clip"
	for _, c := range []struct {
		name, rng string
		status    int
		want      []byte
		audited   int // new violation.clip entries
	}{
		{"whole clip", "", http.StatusOK, file, 1},
		{"a seek", "bytes=100-199", http.StatusPartialContent, file[100:200], 0},
		{"to the end", fmt.Sprintf("bytes=%d-", len(file)-300), http.StatusPartialContent, file[len(file)-300:], 0},
		{"the last bytes", "bytes=-64", http.StatusPartialContent, file[len(file)-64:], 0},
		{"a new play from the start", "bytes=0-", http.StatusPartialContent, file, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := plays()
			var hdr []string
			if c.rng != "" {
				hdr = []string{"Range", c.rng}
			}
			got := d.do("GET", path, d.a, nil, hdr...)
			wantStatus(t, got, c.status)
			if !bytes.Equal(got.body, c.want) {
				t.Errorf("want %d bytes of the clip file, got %d other bytes", len(c.want), len(got.body))
			}
			if n := plays() - before; n != c.audited {
				t.Errorf("want %d new %s entries, got %d", c.audited, violations.ActionClip, n)
			}
		})
	}
	// A seek by someone with no play on record is a play: audited.
	before := plays()
	wantStatus(t, d.do("GET", path, d.b, nil, "Range", "bytes=100-199"), http.StatusPartialContent)
	if plays() != before+1 {
		t.Errorf("a first read by another reviewer, even past byte 0, must be audited")
	}
	// A seek is hash-checked like a play.
	os.Chmod(filepath.Join(d.vr.dataDir, v.ClipPath), 0o600)
	altered := append([]byte(nil), file...)
	altered[len(altered)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(d.vr.dataDir, v.ClipPath), altered, 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, d.do("GET", path, d.a, nil, "Range", "bytes=100-199"), http.StatusConflict, "does not match its recorded hash")
}

// TestDeskEveryLookIsAudited: opening a case, playing its clip, its
// snapshot and its evidence package are each in GET /api/v1/audit.
func TestDeskEveryLookIsAudited(t *testing.T) {
	d := newDeskRig(t)
	id := d.fire(t, "51F12345")[0]
	base := "/api/v1/violations/" + id
	d.open(t, d.a, id)
	d.play(t, d.a, id)
	wantStatus(t, d.do("GET", base+"/evidence", d.a, nil), http.StatusOK)
	o := d.open(t, d.a, id)
	wantStatus(t, d.decide(d.a, id, "rejected", "device_fault", o.Version), http.StatusOK)
	var audit struct{ Entries []defs.AuditEntry }
	d.do("GET", "/api/v1/audit?limit=1000", d.adm, nil).json(t, &audit)
	got := map[string]int{}
	for _, e := range audit.Entries {
		if e.Target == id && e.Actor == d.aID {
			got[e.Action]++
		}
	}
	want := map[string]int{violations.ActionOpen: 2, violations.ActionClip: 1, violations.ActionEvidence: 1, violations.ActionReview: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit of %s by %s: want %v, got %v", id, d.aID, want, got)
	}
}

// TestDeskTwoReviewersOneCase: a case open by one reviewer is taken for
// the other, whatever order their decisions arrive in; exactly one
// decision stands.
func TestDeskTwoReviewersOneCase(t *testing.T) {
	d := newDeskRig(t)
	ids := d.fire(t, "51F12345", "51F12346", "51F12347")
	type result struct {
		who    string
		status int
		msg    string
	}
	race := func(t *testing.T, id string, order string) []result {
		oa := d.open(t, d.a, id)
		ob := d.open(t, d.b, id)
		if !oa.Mine || ob.Mine || ob.Claim.Actor != d.aID || ob.Claim.Name != "officer-an" {
			t.Fatalf("open: want the case a's and shown taken to b, got a %+v / b %+v", oa.Claim, ob.Claim)
		}
		send := func(who, token, version string) result {
			res := d.decide(token, id, "rejected", "duplicate", version)
			r := result{who: who, status: res.status}
			if res.status != http.StatusOK {
				r.msg = res.err(t).Error.Message
			}
			return r
		}
		switch order {
		case "a first":
			return []result{send("a", d.a, oa.Version), send("b", d.b, ob.Version)}
		case "b first":
			return []result{send("b", d.b, ob.Version), send("a", d.a, oa.Version)}
		}
		// Together: both released at once by one channel.
		start := make(chan struct{})
		out := make([]result, 2)
		var wg sync.WaitGroup
		for i, p := range []struct{ who, tok, ver string }{{"a", d.a, oa.Version}, {"b", d.b, ob.Version}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out[i] = send(p.who, p.tok, p.ver)
			}()
		}
		close(start)
		wg.Wait()
		return out
	}
	for i, order := range []string{"a first", "b first", "together"} {
		t.Run(order, func(t *testing.T) {
			rs := race(t, ids[i], order)
			for _, r := range rs {
				switch r.who {
				case "a":
					if r.status != http.StatusOK {
						t.Errorf("a holds the case: want 200, got %d %s", r.status, r.msg)
					}
				case "b":
					if r.status != http.StatusConflict || !(strings.Contains(r.msg, "open by officer-an") || strings.Contains(r.msg, "changed since you opened it")) {
						t.Errorf("b: want 409 naming the holder or the change, got %d %q", r.status, r.msg)
					}
				}
			}
			var h struct{ Reviews []defs.Review }
			d.do("GET", "/api/v1/violations/"+ids[i]+"/history", d.a, nil).json(t, &h)
			if len(h.Reviews) != 1 || h.Reviews[0].Actor != d.aID {
				t.Errorf("want exactly a's decision, got %+v", h.Reviews)
			}
		})
	}
	// Sent in the order b then a, b is told who holds the case.
	t.Run("b is told who holds it", func(t *testing.T) {
		id := d.fire(t, "51F12348")[0]
		d.open(t, d.a, id)
		ob := d.open(t, d.b, id)
		wantRefused(t, d.decide(d.b, id, "rejected", "duplicate", ob.Version), http.StatusConflict, "open by officer-an until")
	})
}

func TestDeskSecondReview(t *testing.T) {
	d := newDeskRig(t, func(c *violations.DeskConfig) { c.RequireSecond = true })
	ids := d.fire(t, "51F12345", "51F12346")
	agreed, disputed := ids[0], ids[1]
	var rs struct {
		Reasons       []violations.Reason
		RequireSecond bool `json:"require_second"`
	}
	d.do("GET", "/api/v1/review/reasons", d.a, nil).json(t, &rs)
	if !rs.RequireSecond || len(rs.Reasons) != 6 {
		t.Errorf("reasons: want six and require_second, got %+v", rs)
	}
	confirm := func(token, id string) response {
		t.Helper()
		o := d.open(t, token, id)
		d.play(t, token, id)
		return d.decide(token, id, "confirmed", "violation_clear", o.Version)
	}
	status := func(id string) defs.ReviewStatus {
		var v struct{ Violation defs.Violation }
		d.do("GET", "/api/v1/violations/"+id, d.a, nil).json(t, &v)
		return v.Violation.Status
	}
	for _, id := range ids {
		wantStatus(t, confirm(d.a, id), http.StatusOK)
		if s := status(id); s != defs.ReviewAwaitingSecond {
			t.Fatalf("one confirmation: want awaiting_second, got %s", s)
		}
	}
	// The first confirmer cannot be the second, and opening it does not
	// hold it from the one who can.
	wantRefused(t, confirm(d.a, agreed), http.StatusForbidden, "a second, different reviewer")
	var q struct {
		Counts defs.ReviewQueueCounts
	}
	d.do("GET", "/api/v1/review/queue", d.b, nil).json(t, &q)
	if q.Counts.AwaitingSecond != 2 {
		t.Errorf("queue counts: want 2 awaiting_second, got %+v", q.Counts)
	}
	wantStatus(t, confirm(d.b, agreed), http.StatusOK)
	if s := status(agreed); s != defs.ReviewConfirmed {
		t.Errorf("second confirmation: want confirmed, got %s", s)
	}
	// A disagreement goes to an admin.
	o := d.open(t, d.b, disputed)
	wantStatus(t, d.decide(d.b, disputed, "rejected", "no_violation", o.Version), http.StatusOK)
	if s := status(disputed); s != defs.ReviewDisputed {
		t.Fatalf("disagreement: want disputed, got %s", s)
	}
	wantRefused(t, confirm(d.a, disputed), http.StatusForbidden, "an admin decides")
	wantRefused(t, confirm(d.b, disputed), http.StatusForbidden, "an admin decides")
	wantStatus(t, confirm(d.adm, disputed), http.StatusOK)
	if s := status(disputed); s != defs.ReviewConfirmed {
		t.Errorf("admin's decision: want confirmed, got %s", s)
	}
	// The whole history verifies.
	rep, err := violations.Verify(context.Background(), d.vr.store, d.vr.dataDir)
	if err != nil || !rep.OK() {
		t.Errorf("verify: %+v %v", rep.Problems, err)
	}
}

// TestDeskQueueDeadlinesAndStats runs the desk on a clock of its own: the
// deadline buckets and the reviewers' times are then exact.
func TestDeskQueueDeadlinesAndStats(t *testing.T) {
	clock := &testClock{t: time.Now()}
	d := newDeskRig(t, func(c *violations.DeskConfig) { c.Now = clock.Now })
	ids := d.fire(t, "51F12345", "51F12346", "51F12347")
	loc := config.Default().UI.Location()

	var q struct {
		Violations []struct {
			defs.Violation
			Claim *defs.ReviewClaim
		}
		Counts     defs.ReviewQueueCounts
		NextCursor string `json:"next_cursor"`
	}
	d.do("GET", "/api/v1/review/queue?limit=2", d.a, nil).json(t, &q)
	if len(q.Violations) != 2 || q.Violations[0].ID != ids[0] || q.Violations[1].ID != ids[1] || q.NextCursor == "" || q.Counts.Pending != 3 {
		t.Fatalf("queue: want the two oldest of three pending first and a cursor, got %+v", q)
	}
	first := q.Violations[0].Violation
	notify := first.Time.In(loc).AddDate(0, 0, 10)
	if !first.NotifyBy.Equal(notify) || !first.PublishAfter.Equal(first.Time.In(loc).AddDate(0, 0, 20)) {
		t.Errorf("deadlines: want notify_by %v and publish_after 20 days on, got %v / %v", notify, first.NotifyBy, first.PublishAfter)
	}
	day := func(t time.Time) time.Time {
		lt := t.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	}
	for _, c := range []struct {
		due string
		at  time.Time
	}{
		{"overdue", notify.Add(time.Second)},
		{"today", day(notify)},
		{"tomorrow", day(notify).AddDate(0, 0, -1)},
	} {
		clock.Set(c.at)
		d.do("GET", "/api/v1/review/queue?due="+c.due, d.a, nil).json(t, &q)
		n := map[string]int{"overdue": q.Counts.Overdue, "today": q.Counts.DueToday, "tomorrow": q.Counts.DueTomorrow}
		if len(q.Violations) != 3 || n[c.due] != 3 {
			t.Errorf("due=%s at %v: want all three listed and counted, got %d listed, counts %+v", c.due, c.at, len(q.Violations), q.Counts)
		}
	}
	wantRefused(t, d.do("GET", "/api/v1/review/queue?due=someday", d.a, nil), http.StatusBadRequest, "not one of overdue")

	// a: two rejections, 30 s and 90 s after opening; b: one
	// confirmation 40 s after, the next day.
	t0 := time.Date(2031, 5, 6, 9, 0, 0, 0, loc)
	step := func(at time.Time, f func()) { clock.Set(at); f() }
	var oa1, oa2, ob openedCase
	step(t0, func() { oa1 = d.open(t, d.a, ids[0]) })
	step(t0.Add(30*time.Second), func() { wantStatus(t, d.decide(d.a, ids[0], "rejected", "duplicate", oa1.Version), http.StatusOK) })
	step(t0.Add(60*time.Second), func() { oa2 = d.open(t, d.a, ids[1]) })
	step(t0.Add(150*time.Second), func() { wantStatus(t, d.decide(d.a, ids[1], "rejected", "device_fault", oa2.Version), http.StatusOK) })
	t1 := t0.AddDate(0, 0, 1)
	step(t1, func() { ob = d.open(t, d.b, ids[2]); d.play(t, d.b, ids[2]) })
	step(t1.Add(40*time.Second), func() {
		wantStatus(t, d.decide(d.b, ids[2], "confirmed", "violation_clear", ob.Version), http.StatusOK)
	})

	wantStatus(t, d.do("GET", "/api/v1/review/stats", d.a, nil), http.StatusForbidden)
	var st violations.Stats
	res := d.do("GET", "/api/v1/review/stats?from="+url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))+"&to="+url.QueryEscape(t1.AddDate(0, 0, 1).Format(time.RFC3339)), d.adm, nil)
	wantStatus(t, res, http.StatusOK)
	res.json(t, &st)
	got := map[string]string{}
	for _, r := range st.Reviewers {
		line := fmt.Sprintf("%s decided=%d confirmed=%d rejected=%d rate=%.2f median=%v days=", r.Name, r.Decided, r.Confirmed, r.Rejected, r.AcceptRate, deref(r.MedianSeconds))
		for _, dd := range r.Days {
			line += fmt.Sprintf("[%s %d %.2f %v]", dd.Day, dd.Decided, dd.AcceptRate, deref(dd.MedianSeconds))
		}
		got[r.Actor] = line
	}
	// Decisions name the principal's subject; a token's subject is its
	// display name too (a user's would be the user name).
	want := map[string]string{
		d.aID: d.aID + " decided=2 confirmed=0 rejected=2 rate=0.00 median=60 days=[2031-05-06 2 0.00 60]",
		d.bID: d.bID + " decided=1 confirmed=1 rejected=0 rate=1.00 median=40 days=[2031-05-07 1 1.00 40]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stats:\n got %v\nwant %v", got, want)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
