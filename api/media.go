package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// MediaService serves what a reviewer's player needs: which file is the
// original and which the viewing copy, and the viewing copy itself (the
// H.264 copy of an H.265 clip, derived; the original for H.264).
// *violations.Service satisfies it.
type MediaService interface {
	Media(ctx context.Context, a violations.Actor, id string) (violations.MediaInfo, error)
	OpenView(ctx context.Context, a violations.Actor, id string, continued bool) (violations.View, error)
}

var _ MediaService = (*violations.Service)(nil)

func (s *Server) mediaRoutes() {
	d := s.domain("media", s.opts.Media != nil)
	d.route("GET", "/api/v1/violations/{id}/media", defs.RoleReviewer, s.violationMedia)
	d.route("GET", "/api/v1/violations/{id}/clip/view", defs.RoleReviewer, s.violationView).streaming()
}

// mediaAnswer is violations.MediaInfo with the URLs to fetch each file.
type mediaAnswer struct {
	Clip               clipMedia      `json:"clip"`
	View               viewMedia      `json:"view"`
	Snapshot           *snapshotMedia `json:"snapshot"`
	EventOffsetSeconds float64        `json:"event_offset_seconds"`
}

type clipMedia struct {
	URL string `json:"url"`
	violations.ClipMedia
}

type viewMedia struct {
	URL string `json:"url"`
	violations.ViewMedia
}

type snapshotMedia struct {
	URL string `json:"url"`
	violations.SnapshotMedia
}

// violationMedia answers the clip's codec and hash, the viewing copy's
// state (ready, making, unavailable with the reason), the snapshot and
// where in the clip the event is.
func (s *Server) violationMedia(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	m, err := s.opts.Media.Media(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	base := "/api/v1/violations/" + id
	out := mediaAnswer{
		Clip:               clipMedia{URL: base + "/clip", ClipMedia: m.Clip},
		View:               viewMedia{URL: base + "/clip/view", ViewMedia: m.View},
		EventOffsetSeconds: m.EventOffsetSeconds,
	}
	if m.Snapshot != nil {
		out.Snapshot = &snapshotMedia{URL: base + "/snapshot", SnapshotMedia: *m.Snapshot}
	}
	w.Header().Set("Cache-Control", "private, no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// violationView serves the viewing copy with Range support. A Range
// request that starts past the first byte is a player fetching more of a
// clip it opened: not audited again once the opening is on record.
func (s *Server) violationView(w http.ResponseWriter, r *http.Request) error {
	v, err := s.opts.Media.OpenView(r.Context(), actor(r), r.PathValue("id"), rangePastStart(r.Header.Get("Range")))
	if err != nil {
		return err
	}
	defer v.File.Close()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("ETag", `"`+v.SHA256+`"`)
	w.Header().Set("X-Iocd-Derived", strconv.FormatBool(v.Derived))
	http.ServeContent(w, r, v.Violation.ID+".mp4", v.Violation.UpdatedAt, v.File)
	return nil
}

// rangePastStart reports whether a Range header asks only for bytes past
// the first: every range has a start above 0, or is a suffix (the tail).
func rangePastStart(h string) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok {
		return false
	}
	for _, part := range strings.Split(spec, ",") {
		start, _, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return false
		}
		if start == "" {
			continue // a suffix range: the file's tail
		}
		n, err := strconv.ParseInt(start, 10, 64)
		if err != nil || n <= 0 {
			return false
		}
	}
	return true
}
