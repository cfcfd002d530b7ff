package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, args []string, vars map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	ld := Bind(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return ld.Load(env(vars))
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := load(t, []string{"-config", "../deploy/iocd.example.yaml"}, nil)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := Default()
	if c.HTTPAddr != want.HTTPAddr || c.MQTT.TopicPrefix != "ioc" || c.Influx.BatchSize != 5000 {
		t.Errorf("example config differs from defaults: http_addr=%q topic_prefix=%q batch=%d", c.HTTPAddr, c.MQTT.TopicPrefix, c.Influx.BatchSize)
	}
	if w := c.Violations.WindowFor("speeding"); w.Pre.D() != 8*time.Second || w.Post.D() != 4*time.Second {
		t.Errorf("speeding window = %v/%v, want 8s/4s", w.Pre, w.Post)
	}
	if w := c.Violations.WindowFor("red_light"); w.Pre.D() != 5*time.Second {
		t.Errorf("red_light window pre = %v, want default 5s", w.Pre)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("http_addr: 127.0.0.1:9000\nmqtt:\n  topic_prefix: file\n  share_group: g1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"-config", path, "-mqtt.share_group", "flag"}, map[string]string{
		"IOCD_MQTT_TOPIC_PREFIX": "env",
		"IOCD_MQTT_SHARE_GROUP":  "env",
		"IOCD_INFLUX_URL":        "http://127.0.0.1:8086",
		"IOCD_INFLUX_BUCKET":     "iocd/autogen",
		"IOCD_FLEET_MIN_STALE":   "45s",
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ key, got, want string }{
		{"http_addr (file over default)", c.HTTPAddr, "127.0.0.1:9000"},
		{"mqtt.topic_prefix (env over file)", c.MQTT.TopicPrefix, "env"},
		{"mqtt.share_group (flag over env)", c.MQTT.ShareGroup, "flag"},
		{"influx.bucket", c.Influx.Bucket, "iocd/autogen"},
		{"fleet.min_stale", c.Fleet.MinStale.String(), "45s"},
		{"data_dir (default)", c.DataDir, "./data"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.key, ch.got, ch.want)
		}
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	cases := []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"bad unknown policy", nil, map[string]string{"IOCD_UNKNOWN_DEVICES": "maybe"}, "unknown_devices (IOCD_UNKNOWN_DEVICES)"},
		{"bad mqtt scheme", nil, map[string]string{"IOCD_MQTT_URL": "http://x:1883"}, "mqtt.url (IOCD_MQTT_URL)"},
		{"bad http addr", []string{"-http_addr", "nope"}, nil, "http_addr (IOCD_HTTP_ADDR)"},
		{"short admin token", nil, map[string]string{"IOCD_ADMIN_TOKEN": "short"}, "admin_token (IOCD_ADMIN_TOKEN)"},
		{"wildcard prefix", nil, map[string]string{"IOCD_MQTT_TOPIC_PREFIX": "ioc/#"}, "mqtt.topic_prefix"},
		{"bad share group", nil, map[string]string{"IOCD_MQTT_SHARE_GROUP": "a/b"}, "mqtt.share_group"},
		{"influx bucket", nil, map[string]string{"IOCD_INFLUX_URL": "http://h:8086", "IOCD_INFLUX_BUCKET": "a/b/c"}, "influx.bucket"},
		{"zero workers", nil, map[string]string{"IOCD_INGEST_WORKERS": "0"}, "ingest.workers"},
		{"bad transport", nil, map[string]string{"IOCD_STREAMS_TRANSPORT": "sctp"}, "streams.transport"},
		{"unparseable duration", nil, map[string]string{"IOCD_FLEET_MIN_STALE": "soon"}, "IOCD_FLEET_MIN_STALE"},
		{"unparseable int", nil, map[string]string{"IOCD_INGEST_QUEUE_SIZE": "lots"}, "IOCD_INGEST_QUEUE_SIZE"},
		{"unknown time zone", nil, map[string]string{"IOCD_UI_TIMEZONE": "Asia/Saigonn"}, "ui.timezone (IOCD_UI_TIMEZONE)"},
		{"empty time zone", nil, map[string]string{"IOCD_UI_TIMEZONE": ""}, "ui.timezone (IOCD_UI_TIMEZONE)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestUnknownFileKeyIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("mqtt:\n  urll: tcp://x:1883\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := load(t, []string{"-config", path}, nil)
	if err == nil || !strings.Contains(err.Error(), "urll") {
		t.Fatalf("error = %v, want one naming the misspelt key urll", err)
	}
}

func TestDescribeHidesSecrets(t *testing.T) {
	c := Default()
	c.AdminToken = "supersecret-admin-token"
	c.MQTT.Password = "mqtt-pass"
	c.Influx.Token = "user:influx-pass"
	c.MQTT.URL = "ssl://iocd:mqtt-url-pass@broker.ioc.local:8883"
	c.Influx.URL = "https://iocd:influx-url-pass@influx.ioc.local:8086"
	s := fmtAll(c.Describe())
	for _, secret := range []string{"supersecret", "mqtt-pass", "influx-pass", "mqtt-url-pass", "influx-url-pass"} {
		if strings.Contains(s, secret) {
			t.Errorf("Describe leaks %q: %s", secret, s)
		}
	}
	if !strings.Contains(s, "mqtt.url ssl://iocd:xxxxx@broker.ioc.local:8883") {
		t.Errorf("Describe should show the MQTT URL with its password masked: %s", s)
	}
	if !strings.Contains(s, "admin_token (set)") {
		t.Errorf("Describe should say the admin token is set: %s", s)
	}
}

func fmtAll(kv []any) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i].(string) + " " + kv[i+1].(string) + "\n")
	}
	return b.String()
}

func TestEnvNames(t *testing.T) {
	c := Default()
	want := []string{"IOCD_HTTP_ADDR", "IOCD_DATA_DIR", "IOCD_MQTT_URL", "IOCD_MQTT_EMBEDDED_ADDR", "IOCD_MQTT_CLIENT_ID",
		"IOCD_MQTT_USERNAME", "IOCD_MQTT_PASSWORD", "IOCD_MQTT_TOPIC_PREFIX", "IOCD_MQTT_SHARE_GROUP", "IOCD_INFLUX_URL",
		"IOCD_INFLUX_TOKEN", "IOCD_INFLUX_ORG", "IOCD_INFLUX_BUCKET", "IOCD_ADMIN_TOKEN", "IOCD_UNKNOWN_DEVICES", "IOCD_DEVICES_SEED_FILE"}
	have := map[string]bool{}
	for _, l := range leaves(&c) {
		have[EnvName(l.key)] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("no key maps to %s", w)
		}
	}
}

// TestREADMEListsEveryKey keeps the README true for a newcomer: every key
// that can be set by environment must appear there.
func TestREADMEListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	for _, l := range leaves(&c) {
		if !strings.Contains(string(b), "`"+EnvName(l.key)+"`") {
			t.Errorf("README.md does not list %s (%s)", l.key, EnvName(l.key))
		}
	}
}

func TestHTTPTLSKeys(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	cases := []struct {
		name    string
		vars    map[string]string
		wantErr string
		wantTLS bool
	}{
		{"neither", nil, "", false},
		{"both by the short variables", map[string]string{"IOCD_TLS_CERT": cert, "IOCD_TLS_KEY": key}, "", true},
		{"both by the derived variables", map[string]string{"IOCD_HTTP_TLS_CERT": cert, "IOCD_HTTP_TLS_KEY": key}, "", true},
		{"cert without key", map[string]string{"IOCD_TLS_CERT": cert}, "http.tls_key (IOCD_HTTP_TLS_KEY): http.tls_cert and http.tls_key must be set together", false},
		{"key without cert", map[string]string{"IOCD_TLS_KEY": key}, "http.tls_cert (IOCD_HTTP_TLS_CERT): http.tls_cert and http.tls_key must be set together", false},
		{"unreadable file", map[string]string{"IOCD_TLS_CERT": filepath.Join(dir, "nope.pem"), "IOCD_TLS_KEY": key}, "http.tls_cert (IOCD_HTTP_TLS_CERT): cannot load", false},
		{"key of another certificate", map[string]string{"IOCD_TLS_CERT": cert, "IOCD_TLS_KEY": cert}, "cannot load", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, nil, c.vars)
			if c.wantErr == "" {
				if err != nil || cfg.HTTP.TLS() != c.wantTLS {
					t.Fatalf("want TLS %t and no error, got %t, %v", c.wantTLS, cfg.HTTP.TLS(), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("want an error with %q, got %v", c.wantErr, err)
			}
		})
	}
}
