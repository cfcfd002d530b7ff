package api

// MediaService is filled in by its branch; see /work/wt/CONTRACT.md.
type MediaService interface{}
