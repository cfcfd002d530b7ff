package violations

import (
	"strings"
	"unicode"
)

// Vietnamese licence plates. The national formats (Circular 58/2020 and
// its successors) that ANPR units read:
//
//	car, truck, bus:  29A-123.45   51LD-123.45   29A-1234 (older, 4 digits)
//	motorbike:        29-B1 123.45 59-X1 234.56  29-AA 123.45  29-MĐ1 123.45
//
// Two digits for the province (11-99), a series (one or two letters, or a
// letter and a digit, or MĐ and a digit for electric motorbikes), and a
// 4- or 5-digit number, written NNN.NN when it has five. ANPR output varies
// in case, separators and spacing; Normalize reduces it to those canonical
// forms. A read that fits none (military, diplomatic, a misread) is kept as
// read, upper-cased, and flagged: a reviewer decides, nothing is dropped.

// Plate is the outcome of normalising a plate read.
type Plate struct {
	// Text is the canonical form when Valid, else the read upper-cased and
	// trimmed.
	Text  string
	Valid bool
	// Flag says why a plate is not Valid: "missing" or "unknown_format".
	Flag string
}

// seriesLetters are the letters used in plate series: Vietnamese plates do
// not use I, J, O, Q, R or W, which read like digits or each other.
const seriesLetters = "ABCDEFGHKLMNPSTUVXYZ"

// NormalizePlate normalises a plate read; motorbike says the vehicle is a
// motorbike, which decides the layout of two-letter series (29-AA 123.45).
func NormalizePlate(raw string, motorbike bool) Plate {
	trimmed := strings.ToUpper(strings.TrimSpace(raw))
	if trimmed == "" {
		return Plate{Flag: "missing"}
	}
	// Compact form: only letters and digits; Đ and a lower-case đ both
	// upper-case to Đ; D after M in an electric series is also read as Đ.
	// firstSep is how many letters and digits precede the first separator:
	// it tells "62A-123456" (a car plate with a digit too many) from
	// "62-A1 234.56" (a motorbike), which compact to the same string.
	var b strings.Builder
	firstSep, n := -1, 0
	for _, r := range trimmed {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z', r == 'Đ':
			b.WriteRune(r)
			n++
		case r == ' ', r == '-', r == '.', r == '_', r == '/':
			if firstSep < 0 {
				firstSep = n
			}
		default:
			if !unicode.IsSpace(r) {
				return Plate{Text: trimmed, Flag: "unknown_format"}
			}
		}
	}
	c := []rune(b.String())
	if len(c) < 7 || len(c) > 10 || !isDigit(c[0]) || !isDigit(c[1]) || (c[0] == '0' || (c[0] == '1' && c[1] == '0')) {
		return Plate{Text: trimmed, Flag: "unknown_format"}
	}
	province, rest := string(c[:2]), c[2:]
	// The number is the trailing 4 or 5 digits; the series is what is
	// between. Try five digits first: "59X123456" is X1 + 23456.
	for _, n := range []int{5, 4} {
		if len(rest) <= n {
			continue
		}
		series, num := rest[:len(rest)-n], rest[len(rest)-n:]
		if !allDigits(num) {
			continue
		}
		kind, ok := seriesKind(series, motorbike)
		if !ok {
			continue
		}
		if firstSep >= 0 && firstSep != 2 && firstSep != 2+len(series) {
			continue
		}
		if firstSep == 2 && kind != "motorbike" {
			continue
		}
		number := string(num)
		if n == 5 {
			number = number[:3] + "." + number[3:]
		}
		if kind == "motorbike" {
			return Plate{Text: province + "-" + string(series) + " " + number, Valid: true}
		}
		return Plate{Text: province + string(series) + "-" + number, Valid: true}
	}
	return Plate{Text: trimmed, Flag: "unknown_format"}
}

// seriesKind classifies a series: "car" for one or two letters (two only
// when not a motorbike), "motorbike" for letter+digit, two letters on a
// motorbike, or MĐ+digit.
func seriesKind(s []rune, motorbike bool) (string, bool) {
	switch len(s) {
	case 1:
		if isSeriesLetter(s[0]) && !motorbike {
			return "car", true
		}
	case 2:
		if isSeriesLetter(s[0]) && isDigit(s[1]) {
			return "motorbike", true
		}
		if isSeriesLetter(s[0]) && isSeriesLetter(s[1]) {
			if motorbike {
				return "motorbike", true
			}
			return "car", true
		}
	case 3:
		if s[0] == 'M' && (s[1] == 'Đ' || s[1] == 'D') && isDigit(s[2]) {
			s[1] = 'Đ'
			return "motorbike", true
		}
	}
	return "", false
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isSeriesLetter(r rune) bool { return r < 128 && strings.ContainsRune(seriesLetters, r) }

func allDigits(rs []rune) bool {
	for _, r := range rs {
		if !isDigit(r) {
			return false
		}
	}
	return true
}
