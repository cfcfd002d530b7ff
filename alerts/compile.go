package alerts

import (
	"slices"

	"github.com/iocd/iocd/defs"
)

// rule is a validated rule prepared for evaluation: its severity levels
// sorted from least to most severe, its operator decoded, its timings.
type rule struct {
	defs.AlertRule
	op     op
	levels []level
}

// level is one severity step of a threshold rule: the condition is on
// while the value passes value, and once on stays on until it no longer
// passes clear (the hysteresis band; clear = value without one).
type level struct {
	value, clear float64
	sev          defs.Severity
}

type op uint8

const (
	opGT op = iota + 1
	opGE
	opLT
	opLE
	opEQ
	opNE
)

var ops = map[string]op{">": opGT, ">=": opGE, "<": opLT, "<=": opLE, "==": opEQ, "!=": opNE}

// pass reports whether v passes the operator against x; NaN never does.
func (o op) pass(v, x float64) bool {
	switch o {
	case opGT:
		return v > x
	case opGE:
		return v >= x
	case opLT:
		return v < x
	case opLE:
		return v <= x
	case opEQ:
		return v == x
	case opNE:
		return v != x && v == v
	}
	return false
}

// compile prepares r (already validated). A threshold rule with levels
// uses them; without, its value, clear and severity are its one level.
func compile(r defs.AlertRule) *rule {
	c := &rule{AlertRule: r, op: ops[r.Op]}
	if r.Kind != defs.RuleThreshold {
		c.levels = []level{{sev: r.Severity}}
		return c
	}
	mk := func(v float64, clr *float64, sev defs.Severity) level {
		l := level{value: v, clear: v, sev: sev}
		if clr != nil && c.op != opEQ && c.op != opNE {
			l.clear = *clr
		}
		return l
	}
	if len(r.Levels) == 0 {
		c.levels = []level{mk(r.Value, r.Clear, r.Severity)}
		return c
	}
	for _, l := range r.Levels {
		c.levels = append(c.levels, mk(l.Value, l.Clear, l.Severity))
	}
	slices.SortStableFunc(c.levels, func(a, b level) int { return a.sev.Rank() - b.sev.Rank() })
	return c
}

// levelFor is the hysteresis of a threshold rule: given value v and the
// current level cur (-1: the condition is off), it returns the new level,
// the most severe one that v passes, or that was on and v has not
// cleared. It allocates nothing: it runs for every reading.
func (c *rule) levelFor(v float64, cur int32) int32 {
	for i := len(c.levels) - 1; i >= 0; i-- {
		l := &c.levels[i]
		if c.op.pass(v, l.value) || (cur >= int32(i) && c.op.pass(v, l.clear)) {
			return int32(i)
		}
	}
	return -1
}

// levelOf returns the index of the level of severity sev, or the last.
func (c *rule) levelOf(sev defs.Severity) int32 {
	for i, l := range c.levels {
		if l.sev == sev {
			return int32(i)
		}
	}
	return int32(len(c.levels) - 1)
}

// timing is what the state machine needs of a rule.
func (c *rule) timing() timing {
	return timing{forD: c.For.D(), keep: c.KeepFiringFor.D()}
}

// forState is the machine's `for` of state rules. An absence rule's
// condition already includes its duration (no reading for `for`), so it
// fires as soon as it holds.
func (c *rule) machineTiming() timing {
	t := c.timing()
	if c.Kind == defs.RuleAbsence {
		t.forD = 0
	}
	return t
}

// readingRule reports whether the rule is evaluated on readings.
func (c *rule) readingRule() bool {
	return c.Kind == defs.RuleThreshold || (c.Kind == defs.RuleAbsence && c.Field != "")
}
