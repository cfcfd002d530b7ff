package api

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// allowAll lets every request in as an admin.
type allowAll struct{}

func (allowAll) AuthorizeRequest(*http.Request, defs.Role) (auth.Principal, error) {
	return auth.Principal{Name: "test", Role: defs.RoleAdmin}, nil
}

// TestStreamingDeadlines: a streamed answer that takes longer than the
// write deadline is served to a client that keeps reading, the same
// answer on an ordinary route is cut at the write deadline, and a
// streaming client that stops reading is cut after stream_idle.
func TestStreamingDeadlines(t *testing.T) {
	const write = 150 * time.Millisecond
	s := New(Options{Logger: slog.New(slog.DiscardHandler), Auth: allowAll{},
		Deadlines: Deadlines{Body: time.Second, Write: write, StreamIdle: 300 * time.Millisecond}})
	slow := func(w http.ResponseWriter, r *http.Request) error {
		start := time.Now()
		if _, err := io.WriteString(w, "first;"); err != nil {
			return err
		}
		http.NewResponseController(w).Flush()
		// Real time must pass: net/http's write deadline is wall-clock.
		time.Sleep(3*write - time.Since(start))
		_, err := io.WriteString(w, "last")
		return err
	}
	stalled := make(chan error, 1)
	flood := func(w http.ResponseWriter, r *http.Request) error {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				stalled <- err
				return err
			}
		}
	}
	s.route("GET", "/api/v1/test/stream", defs.RoleViewer, slow).streaming()
	s.route("GET", "/api/v1/test/plain", defs.RoleViewer, slow)
	s.route("GET", "/api/v1/test/flood", defs.RoleViewer, flood).streaming()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	get := func(path string) (string, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get("/api/v1/test/stream"); err != nil || body != "first;last" {
		t.Errorf("streaming route past the write deadline: want the whole answer, got %q, %v", body, err)
	}
	if body, err := get("/api/v1/test/plain"); err == nil && strings.HasSuffix(body, "last") {
		t.Errorf("ordinary route past the write deadline: want it cut, got the whole answer %q", body)
	}

	// A client that asks for a stream and never reads.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /api/v1/test/flood HTTP/1.1\r\nHost: iocd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stalled:
		if err == nil {
			t.Error("want a write error for the stalled reader")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a streaming client that stopped reading was never cut")
	}
}
