package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// DeskService is the review desk as the API uses it: the queue, opening a
// case, plate corrections, a case's history, the reason codes and the
// reviewers' statistics (decisions are ViolationService.Decide).
// *violations.Service satisfies it; it checks roles and audits itself.
type DeskService interface {
	Reasons() ([]violations.Reason, bool)
	Queue(ctx context.Context, a violations.Actor, q violations.QueueRequest) (violations.Queue, error)
	Open(ctx context.Context, a violations.Actor, id string) (violations.Opened, error)
	CorrectPlate(ctx context.Context, a violations.Actor, id, plate, note, version string) (defs.Violation, defs.Amendment, string, error)
	History(ctx context.Context, a violations.Actor, id string) (violations.History, error)
	Stats(ctx context.Context, a violations.Actor, from, to time.Time) (violations.Stats, error)
}

var _ DeskService = (*violations.Service)(nil)

func (s *Server) deskRoutes() {
	d := s.domain("review desk", s.opts.Desk != nil)
	d.route("GET", "/api/v1/review/reasons", defs.RoleReviewer, s.reviewReasons)
	d.route("GET", "/api/v1/review/queue", defs.RoleReviewer, s.reviewQueue,
		"status", "type", "camera", "site", "plate", "clip", "from", "to", "due", "limit", "cursor")
	d.route("GET", "/api/v1/review/stats", defs.RoleAdmin, s.reviewStats, "from", "to")
	d.route("POST", "/api/v1/violations/{id}/open", defs.RoleReviewer, s.openCase)
	d.route("POST", "/api/v1/violations/{id}/plate", defs.RoleReviewer, s.correctPlate)
	d.route("GET", "/api/v1/violations/{id}/history", defs.RoleReviewer, s.caseHistory)
}

type reasonsResponse struct {
	Reasons       []violations.Reason `json:"reasons"`
	RequireSecond bool                `json:"require_second"`
}

func (s *Server) reviewReasons(w http.ResponseWriter, r *http.Request) error {
	rs, second := s.opts.Desk.Reasons()
	if rs == nil {
		rs = []violations.Reason{}
	}
	writeJSON(w, http.StatusOK, reasonsResponse{Reasons: rs, RequireSecond: second})
	return nil
}

// reviewQueue answers the queue, oldest detection first: status is a
// comma-separated list (default the open ones: pending, awaiting_second,
// disputed), clip a clip status, due a notification deadline bucket.
func (s *Server) reviewQueue(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := defs.ReviewQueueFilter{Type: q.Get("type"), Camera: defs.DeviceID(q.Get("camera")), Site: q.Get("site"),
		Plate: q.Get("plate"), Cursor: q.Get("cursor")}
	if st := q.Get("status"); st != "" {
		for _, one := range strings.Split(st, ",") {
			switch v := defs.ReviewStatus(strings.TrimSpace(one)); v {
			case defs.ReviewPending, defs.ReviewAwaitingSecond, defs.ReviewDisputed, defs.ReviewConfirmed, defs.ReviewRejected:
				f.Statuses = append(f.Statuses, v)
			default:
				return defs.Invalid("status", "%q is not one of pending, awaiting_second, disputed, confirmed, rejected", v)
			}
		}
	}
	switch c := defs.ClipStatus(q.Get("clip")); c {
	case "", defs.ClipRecording, defs.ClipComplete, defs.ClipPartial, defs.ClipNoVideo, defs.ClipPurged:
		f.Clip = c
	default:
		return defs.Invalid("clip", "%q is not one of recording, complete, partial, no_video, purged", c)
	}
	var err error
	if f.From, err = queryTime(q.Get("from"), "from"); err != nil {
		return err
	}
	if f.To, err = queryTime(q.Get("to"), "to"); err != nil {
		return err
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return defs.Invalid("limit", "must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	out, err := s.opts.Desk.Queue(r.Context(), actor(r), violations.QueueRequest{Filter: f, Due: q.Get("due")})
	if err != nil {
		return err
	}
	if out.Violations == nil {
		out.Violations = []violations.QueueItem{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) reviewStats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, err := queryTime(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := queryTime(q.Get("to"), "to")
	if err != nil {
		return err
	}
	st, err := s.opts.Desk.Stats(r.Context(), actor(r), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) openCase(w http.ResponseWriter, r *http.Request) error {
	a := actor(r)
	o, err := s.opts.Desk.Open(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	o.Violation = violations.ForRole(o.Violation, a.Role)
	writeJSON(w, http.StatusOK, o)
	return nil
}

type plateRequest struct {
	Plate   string `json:"plate"`
	Note    string `json:"note"`
	Version string `json:"version"`
}

type plateResponse struct {
	Violation defs.Violation `json:"violation"`
	Amendment defs.Amendment `json:"amendment"`
	Version   string         `json:"version"`
}

func (s *Server) correctPlate(w http.ResponseWriter, r *http.Request) error {
	var req plateRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	a := actor(r)
	v, am, version, err := s.opts.Desk.CorrectPlate(r.Context(), a, r.PathValue("id"), req.Plate, req.Note, req.Version)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, plateResponse{Violation: violations.ForRole(v, a.Role), Amendment: am, Version: version})
	return nil
}

func (s *Server) caseHistory(w http.ResponseWriter, r *http.Request) error {
	h, err := s.opts.Desk.History(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}
