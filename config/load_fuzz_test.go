package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadFile feeds YAML files to the config loader and then Validate: no
// input may panic either, and every error must name what is wrong (the
// file, or the key).
func FuzzLoadFile(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "deploy", "iocd.example.yaml")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "http_addr: 127.0.0.1:1\n", "ingest:\n  workers: -1\n", "influx:\n  batch_size: 99999999999999999999\n",
		"violations:\n  windows:\n    speeding: {pre: 1s, post: 2s}\n", "nope: 1\n", "mqtt: [1, 2]\n",
		"fleet:\n  min_stale: 1y\n", "&a [*a]\n", "ingest: !!binary aGk=\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "iocd.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		if err := c.LoadFile(path); err != nil {
			if !strings.Contains(err.Error(), "config file") {
				t.Fatalf("load error without the file: %v", err)
			}
			return
		}
		_ = c.Validate()
	})
}

// FuzzApplyEnv sets every key from the environment to one fuzzed value: no
// value may panic the parser, and an error names the variable.
func FuzzApplyEnv(f *testing.F) {
	for _, s := range []string{"", "1", "-1", "1s", "99999999999999999999", "true", "1e9", " 5 ", "\x00", "tcp://u:p@h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c := Default()
		err := c.ApplyEnv(func(string) (string, bool) { return v, true })
		if err != nil && !strings.Contains(err.Error(), "IOCD_") {
			t.Fatalf("error without the variable: %v", err)
		}
		_ = c.Validate()
	})
}
