package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/internal/testrig"
)

// runCLI runs an iocd command with input on its standard input.
func runCLI(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	d := []string{"-data_dir", data}
	cases := []struct {
		name     string
		input    string
		args     []string
		wantCode int
		wantOut  string // in stdout or stderr
	}{
		{"add", "a long enough password\n", []string{"user", "add", "-role", "reviewer", "police"}, 0, `created user "police" with role reviewer`},
		{"add twice", "another long password\n", []string{"user", "add", "-role", "viewer", "police"}, 1, `a user named "police" exists`},
		{"short password", "short\n", []string{"user", "add", "-role", "viewer", "wall"}, 1, "at least 10 characters"},
		{"no password", "", []string{"user", "add", "-role", "viewer", "wall"}, 1, "no password on standard input"},
		{"a password flag does not exist", "", []string{"user", "add", "-role", "viewer", "-password", "a long enough password", "wall"}, 2, "flag provided but not defined"},
		{"bad role", "a long enough password\n", []string{"user", "add", "-role", "boss", "wall"}, 2, "-role must be one of"},
		{"control characters", "a long enough password\n", []string{"user", "add", "-role", "viewer", "wa\x1bll"}, 1, "without control characters"},
		{"passwd", "a new long password\n", []string{"user", "passwd", "police"}, 0, "changed the password"},
		{"disable", "", []string{"user", "disable", "police"}, 0, `disabled "police"`},
		{"disable nobody", "", []string{"user", "disable", "nobody"}, 1, `no user "nobody"`},
		{"list", "", []string{"user", "list"}, 0, "police  reviewer  true"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{}, c.args[:2]...), append(append([]string{}, d...), c.args[2:]...)...)
			code, out, errOut := runCLI(t, c.input, args...)
			if code != c.wantCode || !strings.Contains(out+errOut, c.wantOut) {
				t.Errorf("want exit %d and %q, got %d:\n%s%s", c.wantCode, c.wantOut, code, out, errOut)
			}
			if strings.Contains(out+errOut, "long enough password") && !strings.Contains(strings.Join(c.args, " "), "-password") {
				t.Errorf("the output repeats the password: %s%s", out, errOut)
			}
		})
	}
}

// TestServeTLSAndLogin serves over TLS with a certificate made at test
// time, logs in a user made with `iocd user add`, gets a Secure cookie,
// and loses the session when the command line disables the user.
func TestServeTLSAndLogin(t *testing.T) {
	data := t.TempDir()
	if code, _, errOut := runCLI(t, "a long enough password\n", "user", "add", "-data_dir", data, "-role", "admin", "boss"); code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	cert, key, pool := makeCert(t, t.TempDir())
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "-http_addr", httpAddr, "-data_dir", data, "-log.level", "warn",
			"-mqtt.embedded_addr", mqttAddr, "-http.tls_cert", cert, "-http.tls_key", key}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-code:
		case <-time.After(30 * time.Second):
			t.Error("iocd serve did not stop")
		}
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	base := "https://" + httpAddr
	testrig.WaitFor(t, "iocd serve to answer /readyz over TLS", 20*time.Second, func() bool {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// Plain HTTP on the TLS port is refused.
	if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
		resp.Body.Close()
	}

	resp, err := client.Post(base+"/login", "application/json", strings.NewReader(`{"user":"boss","password":"a long enough password"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"iocd_session=", "HttpOnly", "SameSite=Strict", "Secure", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q: want %s", sc, want)
		}
	}
	cookie := resp.Cookies()[0]
	session := func(method, path string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.AddCookie(cookie)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := session("GET", "/api/v1/users"); got != http.StatusOK {
		t.Fatalf("GET /api/v1/users with the admin's cookie: %d", got)
	}
	if got := session("POST", "/api/v1/tokens"); got != http.StatusForbidden {
		t.Errorf("POST with the cookie and no CSRF token: want 403, got %d", got)
	}
	if code, _, errOut := runCLI(t, "", "user", "disable", "-data_dir", data, "boss"); code != 0 {
		t.Fatalf("user disable: %d %s", code, errOut)
	}
	if got := session("GET", "/api/v1/users"); got != http.StatusUnauthorized {
		t.Errorf("after `iocd user disable`: want 401, got %d", got)
	}
}

// makeCert writes a self-signed certificate for 127.0.0.1 and its key and
// returns their paths and a pool trusting it.
func makeCert(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iocd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	c, kp := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return c, kp, pool
}
