package testrig

import (
	"testing"
)

func TestRequireServers(t *testing.T) {
	tests := []struct {
		name    string
		ci      string
		require string
		want    bool
	}{
		{name: "unset", want: false},
		{name: "ci true", ci: "true", want: true},
		{name: "ci false", ci: "false", want: false},
		{name: "require 1", require: "1", want: true},
		{name: "require 0", require: "0", want: false},
		{name: "garbage is not true", ci: "yes please", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv("IOCD_REQUIRE_SERVERS", tt.require)
			if got := RequireServers(); got != tt.want {
				t.Errorf("RequireServers() with CI=%q IOCD_REQUIRE_SERVERS=%q = %v, want %v",
					tt.ci, tt.require, got, tt.want)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct{ in, want string }{
		{`cpu`, `"cpu"`},
		{`a.b-c d`, `"a.b-c d"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
	}
	for _, tt := range tests {
		if got := quoteIdent(tt.in); got != tt.want {
			t.Errorf("quoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFreePortIsBindable(t *testing.T) {
	a, b := FreePort(t), FreePort(t)
	if a <= 0 || b <= 0 {
		t.Fatalf("FreePort returned %d and %d, want positive ports", a, b)
	}
}
