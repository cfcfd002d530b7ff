package defs

import (
	"unicode"
	"unicode/utf8"
)

// UnsafeText reports whether s should be refused as a name, an address, a
// tag or any other label that people read in a terminal, a log or the
// dashboard: it is not valid UTF-8, or holds a control character (C0, DEL,
// C1: an ANSI escape starts with ESC) or a bidirectional override or
// isolate (U+202A-U+202E, U+2066-U+2069), which can make a name display
// as something else.
func UnsafeText(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return true
		}
	}
	return false
}
