package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAllowedOrigins(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"https with port", "https://wall.example.vn:8443", true},
		{"http", "http://10.0.0.5", true},
		{"path", "https://wall.example.vn/ioc", false},
		{"trailing slash", "https://wall.example.vn/", false},
		{"no scheme", "wall.example.vn", false},
		{"ws scheme", "ws://wall.example.vn", false},
		{"wildcard", "*", false},
		{"credentials", "https://u:p@wall.example.vn", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte("ui:\n  allowed_origins: [\""+tc.origin+"\"]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := load(t, []string{"-config", path}, nil)
			if tc.ok {
				if err != nil || !slices.Equal(c.UI.AllowedOrigins, []string{tc.origin}) {
					t.Fatalf("origin %q: err = %v, origins = %v; want it accepted", tc.origin, err, c.UI.AllowedOrigins)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "ui.allowed_origins") {
				t.Fatalf("origin %q: err = %v, want one naming ui.allowed_origins", tc.origin, err)
			}
		})
	}
}
