package api

// DeskService is filled in by its branch; see /work/wt/CONTRACT.md.
type DeskService interface{}
