package testrig

import (
	"context"
	"net"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// port is released before returning so a child process can bind it; another
// process could take it in between, which the kernel's ephemeral port
// rotation makes rare enough for tests.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("releasing free port %d: %v", port, err)
	}
	return port
}

// waitReady polls ready until it returns nil, the process exits, or the
// timeout passes; the returned error says which.
func waitReady(p *process, timeout time.Duration, ready func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-p.done():
			return p.exitError()
		case <-ctx.Done():
			return &notReadyError{timeout: timeout, last: last}
		case <-tick.C:
		}
	}
}

type notReadyError struct {
	timeout time.Duration
	last    error
}

func (e *notReadyError) Error() string {
	return "not ready after " + e.timeout.String() + ": " + e.last.Error()
}

func (e *notReadyError) Unwrap() error { return e.last }

// dialReady is a readiness check for servers that are ready once their TCP
// port accepts connections.
func dialReady(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
