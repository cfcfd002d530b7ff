package defs

import (
	"net/url"
	"sort"
	"strings"
)

// redacted replaces a secret wherever iocd shows a URL.
const redacted = "xxxxx"

// secretQueryKey reports whether a URL query parameter carries a
// credential. Cameras take them in the query as often as in the userinfo
// (Dahua and many NVRs: ?user=admin&password=..., others ?pwd=, ?token=,
// ?auth=, ?sig=), so the match is by name, case-insensitive and broad: a
// parameter wrongly masked costs a little legibility, one wrongly shown is
// a leaked password.
func secretQueryKey(k string) bool {
	k = strings.ToLower(k)
	switch k {
	case "u", "p", "pw", "user", "usr", "username", "login", "account":
		return true
	}
	for _, part := range []string{"pass", "pwd", "token", "secret", "auth", "key", "sig", "cred", "session", "ticket"} {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

// RedactURL masks the credentials of a URL: the password of its userinfo
// ("rtsp://u:xxxxx@h/p") and the value of every query parameter that
// carries one ("?user=xxxxx&password=xxxxx&channel=1"). A string that does
// not parse is replaced whole, since it may still hold a secret.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url redacted>"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	if u.Fragment != "" {
		// A fragment is never sent to a camera; it has no reason to hold
		// anything but it could.
		u.Fragment, u.RawFragment = "", ""
	}
	return u.String()
}

// redactQuery masks secret values in a raw query, keeping the order and
// the spelling of everything else.
func redactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if secretQueryKey(key) || (!hasValue && secretQueryKey(k)) {
			parts[i] = k + "=" + redacted
		}
	}
	return strings.Join(parts, "&")
}

// URLSecrets returns the credentials a URL holds (the userinfo's password
// and the values of secret query parameters), each in the raw and the
// decoded spelling, longest first, so that ScrubSecrets can remove them
// from text that quotes the URL in any form.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	add := func(s string) {
		// Shorter values would garble the text they are scrubbed from
		// (a password "1" matches every digit 1); RedactURL masks them
		// in the URL itself whatever their length.
		if len(s) >= 4 && s != redacted {
			seen[s] = true
		}
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.PathEscape(p))
			add(url.QueryEscape(p))
		}
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if !secretQueryKey(key) {
			continue
		}
		add(v)
		if dv, err := url.QueryUnescape(v); err == nil {
			add(dv)
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// ScrubSecrets returns text with every credential of rawURL (URLSecrets)
// replaced by xxxxx: for errors and log lines from libraries that quote
// the URL they were given.
func ScrubSecrets(text, rawURL string) string {
	for _, s := range URLSecrets(rawURL) {
		text = strings.ReplaceAll(text, s, redacted)
	}
	return text
}
