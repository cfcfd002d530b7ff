package config

import (
	"strings"
	"time"
)

// Media configures the derived files made for viewing evidence: the
// H.264 viewing copy of an H.265 clip (Debian's Chromium and Firefox play
// no H.265) and the still taken from a clip when a camera sent no
// snapshot. Both are made by ffmpeg, marked derived and never replace the
// original, which is what evidence carries.
type Media struct {
	// FFmpeg is the ffmpeg binary: a path, or a name looked up on PATH.
	FFmpeg string `yaml:"ffmpeg"`
	// ViewingCopies makes the H.264 viewing copy of every H.265 clip
	// right after it is sealed, and on demand when one is missing. Off:
	// an H.265 clip is offered as it is (a browser may not play it);
	// stills are still made.
	ViewingCopies bool `yaml:"viewing_copies"`
	// MaxJobs bounds the ffmpeg runs at once: each takes a core while it
	// encodes.
	MaxJobs int `yaml:"max_jobs" range:"1,64"`
	// Timeout bounds one ffmpeg run; one that takes longer is killed and
	// the copy reported unavailable with the reason.
	Timeout Duration `yaml:"timeout" range:"1s,1h"`
}

func defaultMedia() Media {
	return Media{FFmpeg: "ffmpeg", ViewingCopies: true, MaxJobs: 1, Timeout: Duration(2 * time.Minute)}
}

func (m Media) validate(bad badFunc) {
	switch {
	case strings.TrimSpace(m.FFmpeg) == "":
		bad("media.ffmpeg", "must name the ffmpeg binary (a path, or a name on PATH)")
	case strings.ContainsAny(m.FFmpeg, "\x00\n"):
		bad("media.ffmpeg", "must be a path or a name, without NUL or newline")
	}
}
