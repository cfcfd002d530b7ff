package violations

// The reviewers' statistics for the unit's commander.

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

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
