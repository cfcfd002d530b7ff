package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocd/iocd/internal/testrig"
)

// lockedBuffer is a log sink the service writes from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeCamera answers every RTSP request 401, asking for Basic
// credentials, so the session fails after using the URL's credentials and
// reports (and logs) why. It counts the requests that carried them.
func fakeCamera(t *testing.T) (addr string, authed *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	authed = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					cseq, auth := "0", false
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						line = strings.TrimSpace(line)
						if line == "" {
							break
						}
						if k, v, ok := strings.Cut(line, ":"); ok {
							switch strings.ToLower(strings.TrimSpace(k)) {
							case "cseq":
								cseq = strings.TrimSpace(v)
							case "authorization":
								auth = true
							}
						}
					}
					if auth {
						authed.Add(1)
					}
					fmt.Fprintf(c, "RTSP/1.0 401 Unauthorized\r\nCSeq: %s\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n", cseq)
				}
			}()
		}
	}()
	return ln.Addr().String(), authed
}

// TestCameraCredentialsNeverShown runs iocd with a camera whose RTSP URL
// holds credentials in the userinfo and in the query string, at debug
// level, and searches everything it says for them: the log, every API
// answer about the device and the cameras (errors included) and /metrics.
func TestCameraCredentialsNeverShown(t *testing.T) {
	const (
		admin     = "test-admin-token-0123456789"
		userPass  = "Zq9userinfoPASS"
		queryPass = "Zq9queryPASS"
		queryTok  = "Zq9queryTOKEN"
	)
	camAddr, authed := fakeCamera(t)
	rtsp := fmt.Sprintf("rtsp://admin:%s@%s/cam/realmonitor?channel=1&subtype=0&user=ops&password=%s&token=%s", userPass, camAddr, queryPass, queryTok)
	secrets := []string{userPass, queryPass, queryTok}

	var logs lockedBuffer
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	base, stop := startServeTo(t, &logs, "-mqtt.embedded_addr", mqttAddr, "-admin_token", admin,
		"-log.level", "debug", "-streams.backoff_min", "50ms", "-streams.backoff_max", "200ms")

	var answers []string
	call := func(method, path string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answers = append(answers, method+" "+path+": "+string(b))
		return resp.StatusCode, string(b)
	}
	cam := map[string]any{"id": "cam-1", "site": "tan-an", "kind": "camera", "name": "junction", "rtsp_url": rtsp}
	if code, body := call("POST", "/api/v1/devices", cam); code != http.StatusCreated {
		t.Fatalf("creating the camera: %d %s", code, body)
	}
	// The session must have used the credentials and failed on them.
	testrig.WaitFor(t, "the camera to be sent the URL's credentials", 20*time.Second, func() bool { return authed.Load() > 0 })
	testrig.WaitFor(t, "the camera session to fail and retry", 20*time.Second, func() bool {
		_, body := call("GET", "/api/v1/cameras", nil)
		var cs struct {
			Cameras []struct {
				Camera     string `json:"camera"`
				Reconnects int    `json:"reconnects"`
			} `json:"cameras"`
		}
		_ = json.Unmarshal([]byte(body), &cs)
		return len(cs.Cameras) == 1 && cs.Cameras[0].Reconnects >= 2
	})
	call("GET", "/api/v1/devices", nil)
	call("GET", "/api/v1/devices/cam-1", nil)
	call("GET", "/api/v1/devices?kind=camera", nil)
	call("PATCH", "/api/v1/devices/cam-1", map[string]any{"name": "junction 2"})
	// Errors that concern the URL: a bad URL, a second camera with the
	// same id, an import with a bad row.
	call("POST", "/api/v1/devices", map[string]any{"id": "cam-2", "site": "tan-an", "kind": "camera",
		"rtsp_url": "rtsp://admin:" + userPass + "@/nohost?password=" + queryPass})
	call("POST", "/api/v1/devices", cam)
	call("POST", "/api/v1/devices/import", []map[string]any{{"id": "cam-3", "site": "tan-an", "kind": "sensor", "rtsp_url": rtsp}})
	call("GET", "/api/v1/fleet", nil)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	answers = append(answers, "/metrics: "+string(metrics))

	if code := stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !strings.Contains(logs.String(), "level=DEBUG") {
		t.Fatalf("want debug logs captured, got %.500s", logs.String())
	}
	everything := logs.String() + strings.Join(answers, "\n")
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), strings.ToLower(s)} {
			if i := strings.Index(everything, form); i >= 0 {
				lo, hi := max(0, i-200), min(len(everything), i+100)
				t.Errorf("secret %q shown: ...%s...", form, everything[lo:hi])
			}
		}
	}
	// The redacted form is what a user sees.
	if !strings.Contains(strings.Join(answers, "\n"), "password=xxxxx") {
		t.Errorf("want the query password shown as xxxxx in the answers")
	}
}
