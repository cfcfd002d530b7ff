package violations

// The review desk: the queue of cases, opening a case (audited, and
// claimed for its reviewer), the plate amendments, each case's history,
// the deadlines every violation carries and the reviewers' statistics.
// Decisions themselves are in review.go.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iocd/iocd/defs"
)

// Audit actions of the desk.
const (
	// ActionOpen records a reviewer opening a case on the desk.
	ActionOpen = "violation.open"
	// ActionAmend records a correction of a field as detected.
	ActionAmend = "violation.amend"
)

// deskStore is what the desk needs from the store beyond the rest of
// Store; *store.SQLite is one.
type deskStore interface {
	// DecideReview is AddReview checking g in the same transaction.
	DecideReview(ctx context.Context, r defs.Review, seal func(defs.Review, string) defs.LedgerEntry, audit defs.AuditEntry, g defs.ReviewGuard) (defs.Review, error)
	AddAmendment(ctx context.Context, a defs.Amendment, seal func(defs.Amendment, string) defs.LedgerEntry, audit defs.AuditEntry, g defs.ReviewGuard) (defs.Amendment, error)
	PlateCorrections(ctx context.Context, ids []string) (map[string]string, error)
	ClaimReview(ctx context.Context, c defs.ReviewClaim, now time.Time) (defs.ReviewClaim, bool, error)
	Claims(ctx context.Context, ids []string, now time.Time) (map[string]defs.ReviewClaim, error)
	ViolationVersion(ctx context.Context, id string) (string, error)
	ReviewQueue(ctx context.Context, f defs.ReviewQueueFilter) ([]defs.Violation, string, error)
	ReviewQueueCounts(ctx context.Context, f defs.ReviewQueueFilter, b defs.ReviewDueBounds) (defs.ReviewQueueCounts, error)
	CountDetectedBetween(ctx context.Context, from, to time.Time) (int, error)
	ReviewsBetween(ctx context.Context, from, to time.Time) ([]defs.Review, error)
	AuditActions(ctx context.Context, action string, from, to time.Time) ([]defs.AuditEntry, error)
	AuditFor(ctx context.Context, target string) ([]defs.AuditEntry, error)
}

// Reason is one reason code a decision may give.
type Reason struct {
	Code      string              `json:"code"`
	Label     string              `json:"label"`
	Decisions []defs.ReviewStatus `json:"decisions"`
}

// DeskConfig is the review desk's settings (review.* and ui.timezone).
type DeskConfig struct {
	// Reasons are the codes a decision must choose from; none: no
	// decision can be made through Decide.
	Reasons []Reason
	// RequireSecond: a confirmation is final only once a second, different
	// reviewer agrees.
	RequireSecond bool
	// ClaimTTL is how long an opened case is held for its reviewer
	// (default 5m).
	ClaimTTL time.Duration
	// NotifyDays and PublishDays count the deadlines from detection
	// (defaults 10 and 20).
	NotifyDays, PublishDays int
	// Location is the zone whose days the deadlines, the due buckets and
	// the statistics count in (default UTC).
	Location *time.Location
	// Now is the desk's clock (claims, due buckets); nil: time.Now.
	Now func() time.Time
}

func (c DeskConfig) withDefaults() DeskConfig {
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = 5 * time.Minute
	}
	if c.NotifyDays <= 0 {
		c.NotifyDays = 10
	}
	if c.PublishDays <= 0 {
		c.PublishDays = 20
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c DeskConfig) now() time.Time { return c.Now().UTC() }

// WithDesk configures the review desk; serve passes review.* and
// ui.timezone.
func WithDesk(c DeskConfig) Option {
	return func(s *Service) { s.desk = c.withDefaults() }
}

func (c DeskConfig) checkReason(d defs.ReviewStatus, code string) error {
	if code == "" {
		return defs.Invalid("reason", "a decision needs a reason code (GET /api/v1/review/reasons lists them)")
	}
	for _, r := range c.Reasons {
		if r.Code == code {
			if slices.Contains(r.Decisions, d) {
				return nil
			}
			return defs.Invalid("reason", "%q is not a reason for %s", code, d)
		}
	}
	return defs.Invalid("reason", "%q is not a configured reason code", code)
}

// deskAudit is an audit entry made at the desk's clock, so that the
// reviewers' statistics time a case from the same clock as its decision.
func deskAudit(a Actor, action, target, detail string, at time.Time) defs.AuditEntry {
	e := auditEntry(a, action, target, detail)
	e.At = at
	return e
}

// checkGuard refuses a decision or amendment on a case that changed since
// version ("" checks nothing) or, with claims, one another actor holds.
func (s *Service) checkGuard(ctx context.Context, a Actor, id, version string, claims bool, now time.Time) error {
	if version != "" {
		cur, err := s.store.ViolationVersion(ctx, id)
		if err != nil {
			return err
		}
		if cur != version {
			return defs.Errorf(defs.ECONFLICT, "violation %s changed since you opened it (a decision, a plate correction or its clip was sealed); open it again and decide on what it is now", id)
		}
	}
	if !claims {
		return nil
	}
	held, err := s.store.Claims(ctx, []string{id}, now)
	if err != nil {
		return err
	}
	if c, ok := held[id]; ok && c.Actor != a.id() {
		return defs.Errorf(defs.ECONFLICT, "violation %s is open by %s until %s; only they may decide it meanwhile", id, c.Name, c.Until.Format(time.RFC3339))
	}
	return nil
}

// Reasons returns the configured reason codes and whether a second
// reviewer is required.
func (s *Service) Reasons() ([]Reason, bool) {
	return slices.Clone(s.desk.Reasons), s.desk.RequireSecond
}

// deadlines fills v's police deadlines: the owner is notified by
// NotifyBy and the case published after PublishAfter, counted in
// calendar days of the desk's zone from the detection. A rejected
// violation has none.
func (s *Service) deadlines(v *defs.Violation) {
	if v.Status == defs.ReviewRejected || v.Time.IsZero() {
		v.NotifyBy, v.PublishAfter = time.Time{}, time.Time{}
		return
	}
	t := v.Time.In(s.desk.Location)
	v.NotifyBy = t.AddDate(0, 0, s.desk.NotifyDays).UTC()
	v.PublishAfter = t.AddDate(0, 0, s.desk.PublishDays).UTC()
}

// enrich fills, in place, what the desk derives for each violation: the
// plate in force (its latest plate amendment) and the deadlines.
func (s *Service) enrich(ctx context.Context, vs []defs.Violation) error {
	if len(vs) == 0 {
		return nil
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = vs[i].ID
	}
	plates, err := s.store.PlateCorrections(ctx, ids)
	if err != nil {
		return err
	}
	for i := range vs {
		vs[i].PlateCorrected = plates[vs[i].ID]
		s.deadlines(&vs[i])
	}
	return nil
}

// enrichForFeed is enrich for a record about to be published. A record
// just filed (never updated) has no amendment to look up, which keeps the
// filing path free of the extra read.
func (s *Service) enrichForFeed(v *defs.Violation) {
	s.deadlines(v)
	if v.UpdatedAt.Equal(v.CreatedAt) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	plates, err := s.store.PlateCorrections(ctx, []string{v.ID})
	if err != nil {
		s.log.Warn("reading the plate in force for the feed; published without it", "violation", v.ID, "err", err)
		return
	}
	v.PlateCorrected = plates[v.ID]
}

// dueBounds are the deadline buckets now, as detection times.
func (s *Service) dueBounds() defs.ReviewDueBounds {
	now := s.desk.now()
	loc := s.desk.Location
	lt := now.In(loc)
	mid := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	return defs.ReviewDueBounds{Now: s.detectedFor(now), Tomorrow: s.detectedFor(mid.AddDate(0, 0, 1)), DayAfter: s.detectedFor(mid.AddDate(0, 0, 2))}
}

// detectedFor is the detection time whose notification deadline is t.
func (s *Service) detectedFor(t time.Time) time.Time {
	return t.In(s.desk.Location).AddDate(0, 0, -s.desk.NotifyDays).UTC()
}

// DueBetween counts the violations not rejected whose notification
// deadline falls in [from, to): the wall's "due tomorrow".
func (s *Service) DueBetween(ctx context.Context, from, to time.Time) (int, error) {
	return s.store.CountDetectedBetween(ctx, s.detectedFor(from), s.detectedFor(to))
}

// Due buckets of the queue's due filter.
const (
	DueOverdue  = "overdue"
	DueToday    = "today"
	DueTomorrow = "tomorrow"
)

// QueueRequest is a queue query: the filter, and Due, one of the Due*
// buckets or "". Statuses empty means the open ones.
type QueueRequest struct {
	Filter defs.ReviewQueueFilter
	Due    string
}

// QueueItem is one case of the queue with who has it open, if anyone.
type QueueItem struct {
	defs.Violation
	Claim *defs.ReviewClaim `json:"claim"`
}

// Queue is one page of the desk's queue and its counts.
type Queue struct {
	Violations []QueueItem            `json:"violations"`
	Counts     defs.ReviewQueueCounts `json:"counts"`
	NextCursor string                 `json:"next_cursor"`
}

// Queue returns a page of the review queue, oldest detection first, with
// each case's claim, and the counts over the whole filter (without its
// statuses, due bucket and page): by status, and not rejected by
// notification deadline (overdue: passed; due today: later today; due
// tomorrow), in the desk's zone.
func (s *Service) Queue(ctx context.Context, a Actor, q QueueRequest) (Queue, error) {
	if err := requireReviewer(a); err != nil {
		return Queue{}, err
	}
	f := q.Filter
	if len(f.Statuses) == 0 {
		f.Statuses = []defs.ReviewStatus{defs.ReviewPending, defs.ReviewAwaitingSecond, defs.ReviewDisputed}
	}
	f.Plate = searchPlate(f.Plate)
	b := s.dueBounds()
	switch q.Due {
	case "":
	case DueOverdue:
		f.TSTo = b.Now
	case DueToday:
		f.TSFrom, f.TSTo = b.Now, b.Tomorrow
	case DueTomorrow:
		f.TSFrom, f.TSTo = b.Tomorrow, b.DayAfter
	default:
		return Queue{}, defs.Invalid("due", "%q is not one of overdue, today, tomorrow", q.Due)
	}
	vs, next, err := s.store.ReviewQueue(ctx, f)
	if err != nil {
		return Queue{}, err
	}
	if err := s.enrich(ctx, vs); err != nil {
		return Queue{}, err
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = vs[i].ID
	}
	claims, err := s.store.Claims(ctx, ids, s.desk.now())
	if err != nil {
		return Queue{}, err
	}
	out := Queue{Violations: make([]QueueItem, len(vs)), NextCursor: next}
	for i, v := range vs {
		out.Violations[i] = QueueItem{Violation: v}
		if c, ok := claims[v.ID]; ok {
			out.Violations[i].Claim = &c
		}
	}
	out.Counts, err = s.store.ReviewQueueCounts(ctx, f, b)
	return out, err
}

// Opened is a case as the desk opens it.
type Opened struct {
	Violation  defs.Violation   `json:"violation"`
	Reviews    []defs.Review    `json:"reviews"`
	Amendments []defs.Amendment `json:"amendments"`
	// Claim is who holds the case now; Mine whether it is the caller.
	Claim defs.ReviewClaim `json:"claim"`
	Mine  bool             `json:"mine"`
	// Version is what the caller's decision or amendment sends back, so
	// that one made on a case that changed meanwhile is refused.
	Version string `json:"version"`
	// OpenedClip says whether the caller has played the clip (a
	// confirmation needs it).
	OpenedClip bool              `json:"opened_clip"`
	Custody    []defs.AuditEntry `json:"custody"`
}

// Open opens a case for a reviewer: the opening is audited, and the case
// claimed for them for the claim TTL unless another reviewer holds an
// unexpired claim (then that claim is returned with Mine false).
func (s *Service) Open(ctx context.Context, a Actor, id string) (Opened, error) {
	if err := requireReviewer(a); err != nil {
		return Opened{}, err
	}
	sv, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return Opened{}, err
	}
	if err := s.OpenLedger(ctx); err != nil {
		return Opened{}, err
	}
	now := s.desk.now()
	if err := s.store.AddAudit(ctx, deskAudit(a, ActionOpen, id, "", now)); err != nil {
		return Opened{}, err
	}
	s.metrics.audit.WithLabelValues(ActionOpen).Inc()
	// Only someone who may decide the case claims it: the first
	// confirmer of a case awaiting a second reviewer, or a reviewer
	// looking at a decided one, must not hold it from those who may.
	var claim defs.ReviewClaim
	mine := false
	if _, err := s.nextStatus(ctx, a, sv, defs.ReviewConfirmed); err == nil {
		claim, mine, err = s.store.ClaimReview(ctx, defs.ReviewClaim{ViolationID: id, Actor: a.id(), Name: a.Name, Until: now.Add(s.desk.ClaimTTL)}, now)
		if err != nil {
			return Opened{}, err
		}
	} else {
		held, err := s.store.Claims(ctx, []string{id}, now)
		if err != nil {
			return Opened{}, err
		}
		claim = held[id]
	}
	version, err := s.store.ViolationVersion(ctx, id)
	if err != nil {
		return Opened{}, err
	}
	h, err := s.history(ctx, id)
	if err != nil {
		return Opened{}, err
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		return Opened{}, err
	}
	o := Opened{Violation: v, Reviews: h.Reviews, Amendments: h.Amendments, Claim: claim, Mine: mine, Version: version, Custody: h.Custody}
	for _, e := range h.Custody {
		if e.Action == ActionClip && e.Actor == a.id() {
			o.OpenedClip = true
		}
	}
	return o, nil
}

// History is a case's record of decisions, amendments and custody (every
// audit entry on it, oldest first).
type History struct {
	Reviews    []defs.Review     `json:"reviews"`
	Amendments []defs.Amendment  `json:"amendments"`
	Custody    []defs.AuditEntry `json:"custody"`
}

// History returns a case's history, for reviewers.
func (s *Service) History(ctx context.Context, a Actor, id string) (History, error) {
	if err := requireReviewer(a); err != nil {
		return History{}, err
	}
	if _, err := s.store.GetViolation(ctx, id); err != nil {
		return History{}, err
	}
	return s.history(ctx, id)
}

func (s *Service) history(ctx context.Context, id string) (History, error) {
	rs, err := s.store.Reviews(ctx, id)
	if err != nil {
		return History{}, err
	}
	as, err := s.store.Amendments(ctx, id)
	if err != nil {
		return History{}, err
	}
	cs, err := s.store.AuditFor(ctx, id)
	if err != nil {
		return History{}, err
	}
	h := History{Reviews: rs, Amendments: as, Custody: cs}
	if h.Reviews == nil {
		h.Reviews = []defs.Review{}
	}
	if h.Amendments == nil {
		h.Amendments = []defs.Amendment{}
	}
	if h.Custody == nil {
		h.Custody = []defs.AuditEntry{}
	}
	return h, nil
}

// openedClip reports whether a has played (or downloaded) the clip of
// violation id: an audit entry violation.clip by them on it.
func (s *Service) openedClip(ctx context.Context, a Actor, id string) (bool, error) {
	es, err := s.store.AuditFor(ctx, id)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Action == ActionClip && e.Actor == a.id() {
			return true, nil
		}
	}
	return false, nil
}

// SeekClip is OpenClip for a Range request past the clip's first byte:
// a player seeking within a play already on record. The clip is checked
// against its hash as always; the access is audited only if the caller
// has no play of this clip on record yet.
func (s *Service) SeekClip(ctx context.Context, a Actor, id string) (f *os.File, v defs.Violation, err error) {
	if err := requireReviewer(a); err != nil {
		return nil, defs.Violation{}, err
	}
	opened, err := s.openedClip(ctx, a, id)
	if err != nil {
		return nil, defs.Violation{}, err
	}
	if !opened {
		return s.OpenClip(ctx, a, id)
	}
	v, err = s.store.GetViolation(ctx, id)
	if err != nil {
		return nil, v, err
	}
	if v.ClipPath == "" {
		return nil, v, defs.NotFound("violation %s has no clip (%s)", id, v.ClipStatus)
	}
	f, err = s.openChecked(ctx, a, v, "clip", v.ClipPath, v.ClipSHA256)
	return f, v, err
}

// CorrectPlate records a reviewer's correction of a violation's plate: the
// text is normalised as a detected plate is (a read that fits no national
// format is kept upper-cased), the plate as detected stays in the sealed
// record, and the correction is an amendment sealed in the ledger and
// audited in one transaction. Reviewers correct open cases; a decided one
// takes an admin. Version and claims refuse it as they refuse a decision.
func (s *Service) CorrectPlate(ctx context.Context, a Actor, id, plate, note, version string) (defs.Violation, defs.Amendment, string, error) {
	if err := requireReviewer(a); err != nil {
		return defs.Violation{}, defs.Amendment{}, "", err
	}
	plate = strings.TrimSpace(plate)
	if plate == "" || len(plate) > maxPlateLen || !utf8.ValidString(plate) {
		return defs.Violation{}, defs.Amendment{}, "", defs.Invalid("plate", "must be a plate of 1 to %d bytes", maxPlateLen)
	}
	if len(note) > maxNoteLen || !utf8.ValidString(note) {
		return defs.Violation{}, defs.Amendment{}, "", defs.Invalid("note", "must be text of at most %d bytes", maxNoteLen)
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		return v, defs.Amendment{}, "", err
	}
	if !v.Status.Open() && !a.Role.Allows(defs.RoleAdmin) {
		return v, defs.Amendment{}, "", defs.Errorf(defs.EFORBIDDEN, "violation %s is already %s; only an admin may correct it", id, v.Status)
	}
	p := NormalizePlate(plate, v.Vehicle == "motorbike")
	if !p.Valid {
		if other := NormalizePlate(plate, v.Vehicle != "motorbike"); other.Valid {
			p = other
		}
	}
	inForce := v.Plate
	if v.PlateCorrected != "" {
		inForce = v.PlateCorrected
	}
	if p.Text == inForce {
		return v, defs.Amendment{}, "", defs.Invalid("plate", "%s is already the plate in force", p.Text)
	}
	now := s.desk.now()
	if err := s.checkGuard(ctx, a, id, version, true, now); err != nil {
		return v, defs.Amendment{}, "", err
	}
	if err := s.OpenLedger(ctx); err != nil {
		return v, defs.Amendment{}, "", err
	}
	am := defs.Amendment{ViolationID: id, Field: "plate", From: inForce, To: p.Text, Note: note, Actor: a.id(), Role: a.Role, At: now}
	am, err = s.store.AddAmendment(ctx, am, func(am defs.Amendment, prev string) defs.LedgerEntry { return s.signer.Load().SealAmendment(am, prev) },
		deskAudit(a, ActionAmend, id, fmt.Sprintf("plate %q -> %q", inForce, p.Text), now), defs.ReviewGuard{Version: version, Actor: a.id(), Now: now})
	if err != nil {
		return v, am, "", err
	}
	s.metrics.audit.WithLabelValues(ActionAmend).Inc()
	v, ver, err := s.current(ctx, id)
	return v, am, ver, err
}

// SealAmendment is the store's sealer for an amendment (its ID set).
func (s *Signer) SealAmendment(a defs.Amendment, prev string) defs.LedgerEntry {
	return s.finish(defs.LedgerEntry{ViolationID: a.ViolationID, Kind: defs.LedgerAmendment, Ref: strconv.FormatInt(a.ID, 10),
		ContentHash: sha256Hex(SealedAmendment(a)), PrevHash: prev, At: time.Now()})
}

// verifyAmendments checks every amendment row against the entry that
// sealed it, and every amendment entry against its row.
func verifyAmendments(ctx context.Context, st LedgerStore, sealed map[string]defs.LedgerEntry, rep *Report,
	add func(kind, id string, seq int64, format string, args ...any)) error {
	rows, err := st.Amendments(ctx, "")
	if err != nil {
		return err
	}
	rep.Amendments = len(rows)
	seen := map[string]bool{}
	for _, a := range rows {
		ref := strconv.FormatInt(a.ID, 10)
		seen[ref] = true
		e, ok := sealed[ref]
		switch {
		case !ok:
			add("amendment_unsealed", a.ViolationID, 0, "amendment %d (%s %q -> %q by %s) has no ledger entry", a.ID, a.Field, a.From, a.To, a.Actor)
		case e.ViolationID != a.ViolationID || sha256Hex(SealedAmendment(a)) != e.ContentHash:
			add("amendment_changed", a.ViolationID, e.Seq, "amendment %d differs from what entry %d sealed", a.ID, e.Seq)
		}
	}
	for ref, e := range sealed {
		if !seen[ref] {
			add("amendment_deleted", e.ViolationID, e.Seq, "amendment %s sealed by entry %d is missing", ref, e.Seq)
		}
	}
	return nil
}

// DayStats are one reviewer's figures over one day (or the whole range).
type DayStats struct {
	Day       string `json:"day,omitempty"`
	Decided   int    `json:"decided"`
	Confirmed int    `json:"confirmed"`
	Rejected  int    `json:"rejected"`
	// AcceptRate is confirmed / decided.
	AcceptRate float64 `json:"accept_rate"`
	// MedianSeconds is the median time from the reviewer opening a case
	// to their decision on it; null when no decision had an opening to
	// time it from.
	MedianSeconds *float64 `json:"median_seconds"`
	times         []float64
}

// ReviewerStats are one reviewer's figures.
type ReviewerStats struct {
	Actor string `json:"actor"`
	Name  string `json:"name"`
	DayStats
	Days []DayStats `json:"days"`
}

// Stats are the reviewers' figures over a time range.
type Stats struct {
	From      time.Time       `json:"from"`
	To        time.Time       `json:"to"`
	Reviewers []ReviewerStats `json:"reviewers"`
}

// statsOpenWindow is how long before a decision its reviewer's opening of
// the case is looked for: a decision a day after the opening is not
// timed (the case was left open, not worked on).
const statsOpenWindow = 24 * time.Hour

// Stats returns, for admins, each reviewer's decisions in [from, to): how
// many, confirmed (a confirmation, first or second) and rejected (a
// rejection, or a disagreement that made a case disputed), the accept
// rate and the median time from their latest opening of the case to the
// decision, in total and by day in the desk's zone. Zero from or to: the
// last 30 days up to now.
func (s *Service) Stats(ctx context.Context, a Actor, from, to time.Time) (Stats, error) {
	if !a.Role.Allows(defs.RoleAdmin) {
		return Stats{}, defs.Errorf(defs.EFORBIDDEN, "reviewer statistics are for admins")
	}
	if to.IsZero() {
		to = s.desk.now()
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	if !from.Before(to) {
		return Stats{}, defs.Invalid("from", "must be before to")
	}
	rs, err := s.store.ReviewsBetween(ctx, from, to)
	if err != nil {
		return Stats{}, err
	}
	opens, err := s.store.AuditActions(ctx, ActionOpen, from.Add(-statsOpenWindow), to)
	if err != nil {
		return Stats{}, err
	}
	openAt := map[string][]time.Time{} // actor|violation -> opening times, in order
	for _, e := range opens {
		k := e.Actor + "|" + e.Target
		openAt[k] = append(openAt[k], e.At)
	}
	type acc struct {
		total DayStats
		days  map[string]*DayStats
	}
	by := map[string]*acc{}
	for _, r := range rs {
		ac := by[r.Actor]
		if ac == nil {
			ac = &acc{days: map[string]*DayStats{}}
			by[r.Actor] = ac
		}
		day := r.At.In(s.desk.Location).Format("2006-01-02")
		d := ac.days[day]
		if d == nil {
			d = &DayStats{Day: day}
			ac.days[day] = d
		}
		var secs *float64
		for _, t := range slices.Backward(openAt[r.Actor+"|"+r.ViolationID]) {
			if !t.After(r.At) {
				if r.At.Sub(t) <= statsOpenWindow {
					x := r.At.Sub(t).Seconds()
					secs = &x
				}
				break
			}
		}
		for _, st := range []*DayStats{&ac.total, d} {
			st.Decided++
			switch r.Decision {
			case defs.ReviewConfirmed, defs.ReviewAwaitingSecond:
				st.Confirmed++
			default:
				st.Rejected++
			}
			if secs != nil {
				st.times = append(st.times, *secs)
			}
		}
	}
	out := Stats{From: from.UTC(), To: to.UTC(), Reviewers: []ReviewerStats{}}
	for actor, ac := range by {
		rs := ReviewerStats{Actor: actor, Name: displayName(actor), DayStats: ac.total.finish(), Days: []DayStats{}}
		rs.Day = ""
		for _, d := range ac.days {
			rs.Days = append(rs.Days, d.finish())
		}
		sort.Slice(rs.Days, func(i, j int) bool { return rs.Days[i].Day < rs.Days[j].Day })
		out.Reviewers = append(out.Reviewers, rs)
	}
	sort.Slice(out.Reviewers, func(i, j int) bool { return out.Reviewers[i].Actor < out.Reviewers[j].Actor })
	return out, nil
}

func (d DayStats) finish() DayStats {
	if d.Decided > 0 {
		d.AcceptRate = float64(d.Confirmed) / float64(d.Decided)
	}
	if n := len(d.times); n > 0 {
		ts := slices.Clone(d.times)
		slices.Sort(ts)
		m := ts[n/2]
		if n%2 == 0 {
			m = (ts[n/2-1] + ts[n/2]) / 2
		}
		d.MedianSeconds = &m
	}
	d.times = nil
	return d
}

// displayName is a subject as a person reads it: a user's name
// ("user:thanh" is thanh), else the subject itself.
func displayName(subject string) string {
	if n, ok := strings.CutPrefix(subject, "user:"); ok {
		return n
	}
	return subject
}
