package alerts

import "time"

// DryRunResult is what a rule would have raised over a stretch of history.
// (Shared contract: the alertsengine branch defines these too; the
// integrator keeps one copy.)
type DryRunResult struct {
	Alerts   int             `json:"alerts"`
	Subjects []DryRunSubject `json:"subjects"`
}

// DryRunSubject is when one subject's alert would have fired and resolved.
type DryRunSubject struct {
	Subject  string      `json:"subject"`
	Fired    []time.Time `json:"fired"`
	Resolved []time.Time `json:"resolved,omitempty"`
}
