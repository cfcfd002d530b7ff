package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// DryRunResult is what a rule would have raised over a stretch of history.
type DryRunResult struct {
	Alerts   int             `json:"alerts"`
	Subjects []DryRunSubject `json:"subjects"`
}

// DryRunSubject is one subject's fired and resolved times in a dry run.
type DryRunSubject struct {
	Subject  string      `json:"subject"`
	Fired    []time.Time `json:"fired"`
	Resolved []time.Time `json:"resolved,omitempty"`
}

// DryRun replays r over the stored history of its field in [from, to),
// for the registered devices its selector picks, through the same state
// machine as live evaluation (for, clear, keep_firing_for), and reports
// what it would have raised. Threshold and absence rules of a field are
// supported; absence is judged at each stored point and at to. Every
// fired transition counts as one alert (a re-open is an alert an
// operator would have seen again).
func (e *Engine) DryRun(ctx context.Context, r defs.AlertRule, from, to time.Time) (DryRunResult, error) {
	if e.d.History == nil {
		return DryRunResult{}, defs.Errorf(defs.EUNAVAILABLE, "no metrics history is configured (influx.url)")
	}
	v, err := ValidateRule(r)
	if err != nil {
		return DryRunResult{}, err
	}
	if (v.Kind != defs.RuleThreshold && v.Kind != defs.RuleAbsence) || v.Field == "" {
		return DryRunResult{}, defs.Invalid("kind", "dry run supports threshold and absence rules of a field")
	}
	if !to.After(from) {
		return DryRunResult{}, defs.Invalid("to", "must be after from")
	}
	c := compile(v)
	var devs []defs.DeviceID
	e.d.Fleet.EachDevice(func(d defs.Device, _ defs.Health, _ time.Time) {
		if d.Status == defs.StatusActive && c.Selector.Matches(d) {
			devs = append(devs, d.ID)
		}
	})
	res := DryRunResult{Subjects: []DryRunSubject{}}
	if len(devs) == 0 {
		return res, nil
	}
	pts, err := e.d.History.FieldHistory(ctx, v.Field, devs, from, to)
	if err != nil {
		return DryRunResult{}, fmt.Errorf("reading history: %w", err)
	}
	for i := 0; i < len(pts); {
		j := i
		for j < len(pts) && pts[j].Device == pts[i].Device {
			j++
		}
		if s := replay(c, pts[i:j], from, to); len(s.Fired) > 0 {
			s.Subject = string(pts[i].Device)
			res.Alerts += len(s.Fired)
			res.Subjects = append(res.Subjects, s)
		}
		i = j
	}
	return res, nil
}

// replay runs one device's points through the machine.
func replay(c *rule, pts []defs.FieldPoint, from, to time.Time) DryRunSubject {
	var s DryRunSubject
	var ms mstate
	tm := c.machineTiming()
	lvl := int32(-1)
	apply := func(v verdict, at time.Time) {
		// The deadline first: a pending `for` or keep_firing_for that ran
		// out between two points fires or resolves at its own time.
		if dl := ms.deadline(tm); !dl.IsZero() && dl.Before(at) {
			record(&s, step(&ms, prev(c, lvl, ms), dl, tm), dl)
		}
		record(&s, step(&ms, v, at, tm), at)
	}
	last := from
	for _, p := range pts {
		if c.Kind == defs.RuleAbsence {
			gap := p.Time.Sub(last) >= c.For.D()
			if gap {
				at := last.Add(c.For.D())
				apply(verdict{holds: true, sev: c.Severity}, at)
			}
			apply(verdict{sev: c.Severity}, p.Time)
			last = p.Time
			continue
		}
		lvl = c.levelFor(p.Value, lvl)
		apply(c.verdictAt(lvl, p.Value), p.Time)
	}
	if c.Kind == defs.RuleAbsence && to.Sub(last) >= c.For.D() {
		apply(verdict{holds: true, sev: c.Severity}, last.Add(c.For.D()))
	}
	if dl := ms.deadline(tm); !dl.IsZero() && dl.Before(to) {
		record(&s, step(&ms, prev(c, lvl, ms), dl, tm), dl)
	}
	return s
}

// prev is the verdict that held since the last point.
func prev(c *rule, lvl int32, ms mstate) verdict {
	if c.Kind == defs.RuleAbsence {
		return verdict{holds: ms.phase != phaseIdle && ms.clearedAt.IsZero(), sev: c.Severity}
	}
	return c.verdictAt(lvl, 0)
}

func record(s *DryRunSubject, ev event, at time.Time) {
	switch ev {
	case evFired:
		s.Fired = append(s.Fired, at)
	case evResolved:
		s.Resolved = append(s.Resolved, at)
	}
}
