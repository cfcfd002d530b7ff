package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/iocd/iocd/defs"
)

// The demo's terminal shows what a newcomer needs and keeps it on screen:
// a box with the wall's address and the accounts' passwords, a few lines
// on the rest, then one status line. iocd, InfluxDB and the simulators log
// to files in the demo's var dir instead: a screenful of simulator lines
// would push the passwords out of sight within seconds, and reprinting the
// box between log lines would still leave it scrolling. Warnings are not
// hidden: the status line counts them and names the log (`-log-file -`
// brings the log back to the terminal).

// demoBanner is what the demo prints once it serves.
type demoBanner struct {
	HTTPAddr   string
	Creds      demoCredentials
	CredsPath  string
	UsersError error    // non-nil: the accounts could not be created
	LogPath    string   // "": the log is on the terminal
	Details    []string // "MQTT broker: ...", one per line, below the box
}

// write prints the box and the lines below it.
func (b demoBanner) write(w io.Writer) {
	lines := []string{
		fmt.Sprintf("iocd demo: open http://%s/ and log in", b.HTTPAddr),
		"",
	}
	nameW, roleW, pwW := 0, 0, 0
	for _, a := range b.Creds.Accounts {
		nameW = max(nameW, len(a.Name))
		roleW = max(roleW, len(a.Role.String()))
		pwW = max(pwW, len(a.Password))
	}
	lines = append(lines, fmt.Sprintf("  %-*s  %-*s  %-*s  %s", nameW, "user", roleW, "role", pwW, "password", "for"))
	for _, a := range b.Creds.Accounts {
		lines = append(lines, fmt.Sprintf("  %-*s  %-*s  %-*s  %s", nameW, a.Name, roleW, a.Role, pwW, a.Password, a.For))
	}
	lines = append(lines, "", "Kept in "+b.CredsPath+" (mode 0600),", "the same after a restart. The wall: tick \"keep this screen logged in\".")
	if b.UsersError != nil {
		lines = append(lines, "NOT CREATED YET: "+b.UsersError.Error())
	}
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(l))
	}
	bar := strings.Repeat("─", width+2)
	fmt.Fprintf(w, "\n┌%s┐\n", bar)
	for _, l := range lines {
		fmt.Fprintf(w, "│ %s%s │\n", l, strings.Repeat(" ", width-utf8.RuneCountInString(l)))
	}
	fmt.Fprintf(w, "└%s┘\n\n", bar)
	fmt.Fprintf(w, "API (admin bearer token):\n  curl -H 'Authorization: Bearer %s' http://%s/api/v1/fleet\n\n", b.Creds.APIToken, b.HTTPAddr)
	for _, d := range b.Details {
		fmt.Fprintf(w, "  %s\n", d)
	}
	if b.LogPath != "" {
		fmt.Fprintf(w, "\nLogs: %s (tail -f it). Stop with Ctrl-C.\n\n", b.LogPath)
	} else {
		fmt.Fprintf(w, "\nStop with Ctrl-C.\n\n")
	}
}

// demoStatus is the one line the demo keeps up to date below the box.
type demoStatus struct {
	counts   func() []defs.FleetCount
	cameras  func() []defs.CameraState
	warnings *atomic.Int64
}

// line says how the fleet is doing now.
func (s demoStatus) line(now time.Time) string {
	health := map[defs.Health]int{}
	for _, c := range s.counts() {
		health[c.Health] += c.Count
	}
	streaming, cams := 0, 0
	for _, c := range s.cameras() {
		cams++
		if c.State == defs.CameraStreaming {
			streaming++
		}
	}
	// Short enough for an 80-column terminal, where a wrapped line would
	// leave a copy behind at every update; the box names the log.
	line := fmt.Sprintf("%s  devices %d online, %d stale, %d offline  cameras %d/%d",
		now.Format("15:04:05"), health[defs.HealthOnline], health[defs.HealthStale], health[defs.HealthOffline], streaming, cams)
	if n := s.warnings.Load(); n > 0 {
		line += fmt.Sprintf("  warnings %d", n)
	}
	return line
}

// run updates the status line every `every` until ctx ends: in place on
// a terminal, else as a new line each time (a file or a pipe).
func (s demoStatus) run(ctx context.Context, w io.Writer, tty bool, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for first := true; ; first = false {
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", s.line(time.Now()))
		} else if !first { // at once, it would only say the fleet is not heard yet
			fmt.Fprintln(w, s.line(time.Now()))
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return nil
		case <-t.C:
		}
	}
}

// writerIsTerminal reports whether w is a terminal (see isTerminal).
func writerIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// warnCounter is a slog.Handler that counts the records at Warn and above
// before handing them on, for the status line.
type warnCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h warnCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h warnCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return warnCounter{h.Handler.WithAttrs(as), h.n}
}

func (h warnCounter) WithGroup(name string) slog.Handler {
	return warnCounter{h.Handler.WithGroup(name), h.n}
}
