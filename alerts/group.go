package alerts

import (
	"context"
	"slices"
	"time"

	"github.com/iocd/iocd/defs"
)

// groupSites is the storm rule of an offline rule: when more than
// GroupThreshold devices of one site went offline or stale within
// GroupWindow, one site alert (subject "site:<site>", Members the
// devices) fires, and the devices' own alerts are recorded suppressed by
// it (not notified). It stays firing while more than GroupThreshold
// devices of the site are still down. It runs before the devices' own
// verdicts, so that their alerts are born suppressed.
func (e *Engine) groupSites(ctx context.Context, r *rule, devs []devState, now time.Time, epoch uint64) {
	type count struct {
		down   []string
		recent int
	}
	sites := map[string]*count{}
	for _, d := range devs {
		if d.dev.Status != defs.StatusActive || !r.Selector.Matches(d.dev) {
			continue
		}
		down := offlineHolds(r.Condition, d.health)
		if d.health == defs.HealthUnknown {
			// No news since a restart: a device whose alert was loaded
			// open is still down, as its own alert is.
			t := e.existing(r.ID, string(d.dev.ID))
			down = t != nil && t.open()
		}
		if !down {
			continue
		}
		c := sites[d.dev.Site]
		if c == nil {
			c = &count{}
			sites[d.dev.Site] = c
		}
		c.down = append(c.down, string(d.dev.ID))
		onset := now
		if t := e.existing(r.ID, string(d.dev.ID)); t != nil && t.ms.phase != phaseIdle {
			onset = t.ms.since
		}
		if now.Sub(onset) <= e.cfg.GroupWindow {
			c.recent++
		}
	}
	for k, g := range e.groups {
		if k.rule == r.ID && sites[k.subject] == nil && g.ms.phase != phaseIdle {
			sites[k.subject] = &count{}
		}
	}
	for site, c := range sites {
		k := tkey{r.ID, site}
		g := e.groups[k]
		var holds bool
		if g != nil && g.ms.phase == phaseFiring {
			holds = len(c.down) > e.cfg.GroupThreshold
		} else {
			holds = c.recent > e.cfg.GroupThreshold
		}
		if g == nil {
			if !holds {
				continue
			}
			g = e.trackFor(r.ID, "site:"+site)
			g.group, g.site = true, site
			e.groups[k] = g
		}
		g.epoch = epoch
		if !holds && g.restored && e.settling(now) {
			continue
		}
		slices.Sort(c.down)
		changed := !slices.Equal(g.members, c.down)
		if holds {
			g.members = c.down
		}
		before := g.seq
		e.stepLocked(ctx, g, r, verdict{holds: holds, sev: r.Severity, value: float64(len(c.down))}, now)
		if holds && changed && g.open() && g.seq == before {
			// Members changed with no transition: keep the list current.
			g.alert.Members = g.members
			e.saveLocked(ctx, g)
		}
	}
}
