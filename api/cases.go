package api

// CaseService is filled in by its branch; see /work/wt/CONTRACT.md.
type CaseService interface{}
