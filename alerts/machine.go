package alerts

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// The state machine of one (rule, subject), shared by live evaluation and
// the dry run so that both fire and resolve at the same moments. It knows
// nothing of alert records, acknowledgements or notifications: it turns a
// verdict (does the condition hold now, at which severity) into at most
// one event per step.

// phase is where a (rule, subject) is in the machine.
type phase uint8

const (
	phaseIdle    phase = iota // condition off, nothing open
	phasePending              // condition on, waiting for `for`
	phaseFiring               // fired; acknowledgement is an overlay kept on the alert
)

// mstate is the machine's memory for one (rule, subject).
type mstate struct {
	phase     phase
	since     time.Time     // when the condition came on (pending since)
	clearedAt time.Time     // firing: when the condition went off, for keep_firing_for
	sev       defs.Severity // severity of the current level
}

// verdict is one evaluation of a rule's condition for a subject.
type verdict struct {
	holds bool
	sev   defs.Severity
	value float64
}

// timing is a rule's `for` and `keep_firing_for`.
type timing struct {
	forD, keep time.Duration
}

// event is what a step did.
type event uint8

const (
	evNone event = iota
	evPending
	evFired
	evEscalated
	evDeescalated
	evResolved
	evCancelled // pending that went off before `for`
)

// step advances s by verdict v at now and reports what happened.
func step(s *mstate, v verdict, now time.Time, t timing) event {
	switch s.phase {
	case phaseIdle:
		if !v.holds {
			return evNone
		}
		s.since, s.clearedAt, s.sev = now, time.Time{}, v.sev
		if t.forD <= 0 {
			s.phase = phaseFiring
			return evFired
		}
		s.phase = phasePending
		return evPending
	case phasePending:
		if !v.holds {
			s.phase = phaseIdle
			return evCancelled
		}
		s.sev = v.sev
		if now.Sub(s.since) >= t.forD {
			s.phase = phaseFiring
			return evFired
		}
		return evNone
	case phaseFiring:
		if v.holds {
			s.clearedAt = time.Time{}
			old := s.sev
			s.sev = v.sev
			switch {
			case v.sev.Rank() > old.Rank():
				return evEscalated
			case v.sev.Rank() < old.Rank():
				return evDeescalated
			}
			return evNone
		}
		if t.keep > 0 {
			if s.clearedAt.IsZero() {
				s.clearedAt = now
			}
			if now.Sub(s.clearedAt) < t.keep {
				return evNone
			}
		}
		s.phase, s.clearedAt = phaseIdle, time.Time{}
		return evResolved
	}
	return evNone
}

// deadline is when s changes with no new verdict (pending reaching `for`,
// keep_firing_for running out), zero if never.
func (s *mstate) deadline(t timing) time.Time {
	switch {
	case s.phase == phasePending:
		return s.since.Add(t.forD)
	case s.phase == phaseFiring && !s.clearedAt.IsZero():
		return s.clearedAt.Add(t.keep)
	}
	return time.Time{}
}
