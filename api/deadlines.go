package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/iocd/iocd/defs"
)

// Default deadlines; see Deadlines.
const (
	DefaultBodyTimeout  = 30 * time.Second
	DefaultWriteTimeout = 60 * time.Second
	DefaultStreamIdle   = 30 * time.Second
)

// Deadlines bound how long a client may hold a connection without doing
// its part. http.Server's ReadHeaderTimeout covers the headers; these
// cover the rest, per request, through http.ResponseController:
//
//   - Body: the whole request body must have arrived this long after the
//     headers. A client that announces Content-Length: 1000 and sends
//     nothing is cut then, token or not (net/http would otherwise wait
//     for that body forever, even after answering 401, to keep the
//     connection alive).
//   - Write: the answer must be written this long after the headers, and
//     a handler's context ends then at the latest.
//   - StreamIdle: routes marked streaming (clips, evidence packages) get
//     no overall bound; instead each write must complete within this, so
//     a slow reader that keeps reading is served and one that stopped is
//     cut. The websocket feed keeps its own ping/pong and write deadlines
//     (dashboard).
type Deadlines struct {
	Body       time.Duration
	Write      time.Duration
	StreamIdle time.Duration
}

func (d Deadlines) withDefaults() Deadlines {
	if d.Body <= 0 {
		d.Body = DefaultBodyTimeout
	}
	if d.Write <= 0 {
		d.Write = DefaultWriteTimeout
	}
	if d.StreamIdle <= 0 {
		d.StreamIdle = DefaultStreamIdle
	}
	return d
}

// Wrap applies the deadlines to every request h serves; serve uses it for
// the handlers outside the API (the dashboard page).
func (d Deadlines) Wrap(h http.Handler) http.Handler {
	d = d.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.apply(w, r)
		h.ServeHTTP(w, r)
	})
}

// apply sets the request's deadlines: reads until the body deadline while
// a body is expected, then (once the body is read, or at once when there
// is none) until the write deadline, so that net/http's background read
// does not cancel a handler still working within its write deadline.
// Errors are ignored: a ResponseWriter without deadlines (a test
// recorder) has nothing to bound.
func (d Deadlines) apply(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	now := time.Now()
	end := now.Add(d.Write)
	_ = rc.SetWriteDeadline(end)
	if r.Body == nil || r.Body == http.NoBody {
		_ = rc.SetReadDeadline(end)
		return
	}
	_ = rc.SetReadDeadline(now.Add(d.Body))
	r.Body = &deadlineBody{ReadCloser: r.Body, done: func() { _ = rc.SetReadDeadline(end) }}
}

// deadlineBody moves the read deadline on once the body has been read.
type deadlineBody struct {
	io.ReadCloser
	done func()
	over bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.over {
		b.over = true
		b.done()
	}
	return n, err
}

// maxStreamBody bounds what a streaming route (all GETs) reads of a body
// it has no use for, before it starts streaming.
const maxStreamBody = 64 << 10

// startStream prepares a streaming answer: it reads and drops any request
// body within the body deadline (so nothing is left for net/http to wait
// on after a long answer), lifts the read deadline (the client only
// reads from here on) and returns w with a rolling write deadline.
func (d Deadlines) startStream(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, error) {
	if r.Body != nil && r.Body != http.NoBody {
		n, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxStreamBody+1))
		if err != nil {
			return w, defs.Invalid("body", "was not sent in time")
		}
		if n > maxStreamBody {
			return w, defs.Invalid("body", "is not expected on this route")
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(d.StreamIdle))
	return &rollingWriter{ResponseWriter: w, rc: rc, idle: d.StreamIdle}, nil
}

// rollingWriter gives each write StreamIdle to complete.
type rollingWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *rollingWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	return w.ResponseWriter.Write(p)
}

func (w *rollingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data.
func (w *rollingWriter) Flush() { _ = w.rc.Flush() }
