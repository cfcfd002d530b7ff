package defs

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"rtsp://10.0.0.7:554/live", "rtsp://10.0.0.7:554/live"},
		{"rtsp://admin:s3cret@10.0.0.7:554/live", "rtsp://admin:xxxxx@10.0.0.7:554/live"},
		{"rtsp://10.0.0.7/cam/realmonitor?channel=1&subtype=0&user=admin&password=s3cret", "rtsp://10.0.0.7/cam/realmonitor?channel=1&subtype=0&user=xxxxx&password=xxxxx"},
		{"rtsp://h/p?PWD=s3cret&pass=a&passwd=b&token=c&auth=d&Api_Key=e&sig=f", "rtsp://h/p?PWD=xxxxx&pass=xxxxx&passwd=xxxxx&token=xxxxx&auth=xxxxx&Api_Key=xxxxx&sig=xxxxx"},
		{"rtsp://u:p@h/p?password=q#frag", "rtsp://u:xxxxx@h/p?password=xxxxx"},
		{"rtsp://h/p?pass%77ord=s3cret", "rtsp://h/p?pass%77ord=xxxxx"},
		{"rtsp://h/p?password", "rtsp://h/p?password=xxxxx"},
		{"::not a url", "<unparseable url redacted>"},
	}
	for _, c := range cases {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(RedactURL(c.in), "s3cret") {
			t.Errorf("RedactURL(%q) leaks the secret", c.in)
		}
	}
}

func TestScrubSecrets(t *testing.T) {
	raw := "rtsp://admin:p%40ss-word@10.0.0.7/live?channel=1&pwd=q%2Bsecret"
	text := `dial rtsp://admin:p%40ss-word@10.0.0.7/live?channel=1&pwd=q%2Bsecret: password p@ss-word refused; token q+secret`
	got := ScrubSecrets(text, raw)
	for _, s := range []string{"p@ss-word", "p%40ss-word", "q+secret", "q%2Bsecret"} {
		if strings.Contains(got, s) {
			t.Errorf("ScrubSecrets left %q in %q", s, got)
		}
	}
	if !strings.Contains(got, "channel=1") {
		t.Errorf("ScrubSecrets removed more than the secrets: %q", got)
	}
}

func TestUnsafeText(t *testing.T) {
	for s, want := range map[string]bool{
		"Cầu Giấy junction": false, "wall display 2": false, "": false,
		"\x1b[31mred": true, "tab\there": true, "nl\n": true, "\u0085next line": true,
		"rtl\u202eevil": true, "iso\u2066x": true, "bad\xffutf8": true, "del\x7f": true,
	} {
		if got := UnsafeText(s); got != want {
			t.Errorf("UnsafeText(%q) = %v, want %v", s, got, want)
		}
	}
}
