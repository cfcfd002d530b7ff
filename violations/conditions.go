package violations

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/iocd/iocd/defs"
)

// Conditions is where the service sets and clears the conditions of the
// state it owns (the clip disk low, clips removed for space, evidence that
// could not be written); *conditions.Registry is one.
type Conditions interface {
	Set(defs.Condition)
	Clear(code, subject string)
}

// noConditions keeps nothing: a service built without a registry.
type noConditions struct{}

func (noConditions) Set(defs.Condition)   {}
func (noConditions) Clear(string, string) {}

// Option configures a Service beyond New's arguments.
type Option func(*Service)

// WithConditions makes the service set and clear its conditions in c.
func WithConditions(c Conditions) Option {
	return func(s *Service) {
		if c != nil {
			s.conds.sink = c
		}
	}
}

// condState mirrors what the service has set, so each condition is
// announced on the bus once when it starts holding and once (as an info
// notice, which clears it) when it stops: the registry is the truth, the
// notices only tell the feed and older consumers.
type condState struct {
	sink Conditions
	svc  *Service

	mu  sync.Mutex
	set map[string]bool
}

func (c *condState) raise(code string, sev defs.Severity, msg string, value float64, labels map[string]string) {
	c.sink.Set(defs.Condition{Code: code, Source: "violations", Severity: sev, Message: msg, Value: value, Labels: labels})
	c.mu.Lock()
	was := c.set[code]
	c.set[code] = true
	c.mu.Unlock()
	if !was {
		c.svc.notice(code, sev, msg, labels)
	}
}

func (c *condState) clear(code, msg string) {
	c.sink.Clear(code, "")
	c.mu.Lock()
	was := c.set[code]
	delete(c.set, code)
	c.mu.Unlock()
	if was {
		c.svc.notice(code, defs.SeverityInfo, msg, nil)
	}
}

// holds reports whether the service has code set.
func (c *condState) holds(code string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set[code]
}

// diskFS is how the service reaches the clip disk: the real one, or a
// test's, which can run out of space without root or a real full disk.
type diskFS struct {
	// free returns the space available to iocd on dir's filesystem.
	free func(dir string) (int64, error)
	// create makes the temporary file a clip or snapshot is written to.
	create func(dir, pattern string) (writeFile, error)
}

// writeFile is the part of *os.File that writeAtomic uses.
type writeFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

var osDisk = diskFS{
	free:   statfsFree,
	create: func(dir, pattern string) (writeFile, error) { return os.CreateTemp(dir, pattern) },
}

// statfsFree returns the space available to iocd on dir's filesystem.
func statfsFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// evidenceWritten records the outcome of writing a clip or snapshot:
// clip_disk_full holds from a failed write until the next one succeeds.
func (s *Service) evidenceWritten(kind string, err error) {
	if err == nil {
		if s.conds.holds(defs.ConditionClipDiskFull) {
			s.conds.clear(defs.ConditionClipDiskFull, "violation evidence is being written again")
		}
		return
	}
	s.metrics.writeFailed.WithLabelValues(kind).Inc()
	msg := fmt.Sprintf("a violation %s could not be written: %v", kind, err)
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		msg = fmt.Sprintf("the clip disk is full: a violation %s could not be written (the record is kept without it)", kind)
	}
	s.conds.raise(defs.ConditionClipDiskFull, defs.SeverityCritical, msg, 0, map[string]string{"kind": kind})
	// Perhaps space is short: do not wait for the next interval to make room.
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// spaceCheckEvery bounds how long a disk condition outlives its cause:
// free space is re-read this often, even with a long retention.interval.
const spaceCheckEvery = 30 * time.Second
