package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// localInflux is the InfluxDB 1.8 that `iocd demo` runs under ./var, so the
// demo has real metrics history without any setup beyond scripts/setup.sh.
type localInflux struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

// findInfluxd looks for the influxd binary where scripts/setup.sh puts it.
func findInfluxd() (string, error) {
	if p, err := exec.LookPath("influxd"); err == nil {
		return p, nil
	}
	dirs := []string{os.Getenv("IOCD_TOOLS")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "iocd-tools"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "bin", "influxd")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("influxd not found on PATH or in $IOCD_TOOLS/bin or ~/.cache/iocd-tools/bin: run scripts/setup.sh")
}

// startLocalInflux starts influxd with its data in dir, its HTTP API on a
// free loopback port, and creates database db.
func startLocalInflux(ctx context.Context, dir, db string, logTo io.Writer) (*localInflux, error) {
	bin, err := findInfluxd()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating influx dir: %w", err)
	}
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true
[logging]
  level = "warn"
[monitor]
  store-enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	confPath := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o640); err != nil {
		return nil, fmt.Errorf("writing influx config: %w", err)
	}
	cmd := exec.Command(bin, "-config", confPath)
	cmd.Stdout, cmd.Stderr = logTo, logTo
	// Its own process group, so a Ctrl-C to the demo reaches it only
	// through our orderly Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting influxd: %w", err)
	}
	li := &localInflux{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", httpPort), done: make(chan error, 1)}
	go func() { li.done <- cmd.Wait() }()
	if err := li.waitReady(ctx, 30*time.Second); err != nil {
		li.Stop()
		return nil, err
	}
	if err := li.createDB(ctx, db); err != nil {
		li.Stop()
		return nil, err
	}
	return li, nil
}

func (li *localInflux) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-li.done:
			li.done <- err
			return fmt.Errorf("influxd exited during start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(li.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
	}
	return fmt.Errorf("influxd did not answer /ping within %s", limit)
}

func (li *localInflux) createDB(ctx context.Context, db string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, li.url+"/query",
		strings.NewReader(url.Values{"q": {"CREATE DATABASE " + quoteIdent(db)}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating database %s: %w", db, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("creating database %s: %s: %s", db, resp.Status, b)
	}
	return nil
}

// Stop asks influxd to exit and waits up to 10 s before killing it.
func (li *localInflux) Stop() {
	if li.cmd.Process == nil {
		return
	}
	li.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-li.done:
		li.done <- err
	case <-time.After(10 * time.Second):
		li.cmd.Process.Kill()
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
