package store

import (
	"encoding/json"

	"github.com/iocd/iocd/defs"
)

// The evidential gate's fields of a violation (migration 150): whether it
// passed, every check with what was measured (JSON), the camera's clock
// offset and the host clock's state when the clip was cut.
func init() {
	register(migration{version: 150, name: "violation_evidence", sql: `
ALTER TABLE violations ADD COLUMN evidential INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN evidence_checks TEXT NOT NULL DEFAULT '';
ALTER TABLE violations ADD COLUMN clock_offset_ms REAL NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN host_clock_synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN host_clock_error_ms REAL NOT NULL DEFAULT 0;
`})
}

// evidenceCols are the gate's columns, in the order evidenceArgs and
// scanEvidence use.
const evidenceCols = `evidential, evidence_checks, clock_offset_ms, host_clock_synced, host_clock_error_ms`

// evidenceArgs returns v's gate fields as column values.
func evidenceArgs(v defs.Violation) []any {
	checks := ""
	if len(v.EvidenceChecks) > 0 {
		b, _ := json.Marshal(v.EvidenceChecks) // a slice of plain structs always marshals
		checks = string(b)
	}
	return []any{boolInt(v.Evidential), checks, v.ClockOffsetMs, boolInt(v.HostClockSynced), v.HostClockErrorMs}
}

// evidenceScan holds the gate's columns while a row is scanned.
type evidenceScan struct {
	evidential, hostSynced int
	checks                 string
}

func (e *evidenceScan) dest(v *defs.Violation) []any {
	return []any{&e.evidential, &e.checks, &v.ClockOffsetMs, &e.hostSynced, &v.HostClockErrorMs}
}

func (e *evidenceScan) apply(v *defs.Violation) {
	v.Evidential, v.HostClockSynced = e.evidential != 0, e.hostSynced != 0
	if e.checks != "" {
		// A column iocd wrote; an unreadable one leaves the checks empty
		// and the record not evidential rather than failing the read.
		if json.Unmarshal([]byte(e.checks), &v.EvidenceChecks) != nil {
			v.EvidenceChecks, v.Evidential = nil, false
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
