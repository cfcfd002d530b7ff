package testrig

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a server gets to shut down cleanly on SIGTERM.
// Mosquitto writes its persistence file then, so it must not be cut short
// in the normal case, but a wedged server must not hang the test.
const stopGrace = 15 * time.Second

// process is one external server binary that can be started, stopped and
// started again with the same arguments. It is used from the test goroutine
// only; the goroutine per run just reaps the child.
type process struct {
	name    string
	path    string
	args    []string
	logPath string
	cur     *run
}

// run is one lifetime of the child process.
type run struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // set before exited is closed
}

// start launches the process in its own process group, appending its output
// to logPath, so that stop can signal it and anything it spawned together.
func (p *process) start() error {
	if p.cur != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s log: %w", p.name, err)
	}
	// The child gets its own copy of the descriptor; ours is not needed
	// after Start either way.
	defer logf.Close()

	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	r := &run{cmd: cmd, exited: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	p.cur = r
	return nil
}

// done is closed when the current run exits; it is nil when not running,
// which blocks forever in a select, as a stopped server never exits again.
func (p *process) done() <-chan struct{} {
	if p.cur == nil {
		return nil
	}
	return p.cur.exited
}

// exitError describes how the current run ended.
func (p *process) exitError() error {
	if p.cur == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	select {
	case <-p.cur.exited:
	default:
		return fmt.Errorf("%s is still running", p.name)
	}
	if p.cur.err == nil {
		return fmt.Errorf("%s exited early with status 0", p.name)
	}
	return fmt.Errorf("%s exited early: %w", p.name, p.cur.err)
}

// stop sends SIGTERM to the process group and waits, escalating to SIGKILL
// after stopGrace. It is a no-op when not running.
func (p *process) stop() {
	p.signalAndWait(syscall.SIGTERM, stopGrace)
}

// kill ends the process group at once with SIGKILL, as a crash would.
func (p *process) kill() {
	p.signalAndWait(syscall.SIGKILL, stopGrace)
}

func (p *process) signalAndWait(sig syscall.Signal, grace time.Duration) {
	r := p.cur
	if r == nil {
		return
	}
	p.cur = nil
	pgid := -r.cmd.Process.Pid
	_ = syscall.Kill(pgid, sig)
	select {
	case <-r.exited:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-r.exited
	}
	// Kill anything the server forked that outlived it; usually the group
	// is already gone and this fails with ESRCH, which is fine.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// logTail returns the last part of the process log, for failure messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const limit = 8 << 10
	if len(b) > limit {
		b = b[len(b)-limit:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
