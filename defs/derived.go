package defs

import "time"

// DerivedKind says what a derived file is.
type DerivedKind string

// Derived file kinds.
const (
	// DerivedView is the H.264 viewing copy of an H.265 clip, for
	// browsers that play no H.265.
	DerivedView DerivedKind = "view"
	// DerivedStill is a picture taken from the clip at the event's moment,
	// for a violation whose camera sent no snapshot.
	DerivedStill DerivedKind = "still"
)

// DerivedFile is a file iocd made from a violation's evidence for viewing
// it. It is never evidence itself: the original it was made from
// (SourceSHA256, the sealed clip's hash) is what evidence carries.
type DerivedFile struct {
	ViolationID string      `json:"violation_id"`
	Kind        DerivedKind `json:"kind"`
	// Path is the file, relative to the data dir; internal.
	Path         string `json:"-"`
	SHA256       string `json:"sha256"`
	Bytes        int64  `json:"bytes"`
	SourceSHA256 string `json:"source_sha256"`
	// Tool is the version line of the ffmpeg that made it.
	Tool   string    `json:"tool"`
	MadeAt time.Time `json:"made_at"`
}
