package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Every numeric key carries its bounds in a `range:"min,max"` tag, which
// Validate enforces and names the key of; TestEveryNumericKeyHasARange
// fails for a numeric key without one. Integers take plain numbers
// (underscores allowed: 1_000_000), durations Go durations (100ms, 24h).
// The upper bounds are what keeps a typo from becoming an out-of-memory
// start (a queue of 10^12 slots) or an overflow (10^6 days is past what
// time.Duration can hold).

// checkRanges reports every numeric key outside its range.
func checkRanges(c *Config, bad badFunc) {
	for _, l := range leaves(c) {
		if l.rng == "" {
			continue
		}
		lo, hi, ok := strings.Cut(l.rng, ",")
		if !ok {
			panic(fmt.Sprintf("config: key %s has a malformed range tag %q", l.key, l.rng))
		}
		switch v := l.v.Interface().(type) {
		case Duration:
			min, max := mustDuration(l.key, lo), mustDuration(l.key, hi)
			if v.D() < min || v.D() > max {
				bad(l.key, "must be between %s and %s, got %s", min, max, v.D())
			}
			continue
		}
		switch l.v.Kind() {
		case reflect.Int, reflect.Int64:
			min, max := mustInt(l.key, lo), mustInt(l.key, hi)
			if n := l.v.Int(); n < min || n > max {
				bad(l.key, "must be between %d and %d, got %d", min, max, n)
			}
		case reflect.Float64:
			min, max := mustFloat(l.key, lo), mustFloat(l.key, hi)
			if f := l.v.Float(); !(f >= min && f <= max) {
				bad(l.key, "must be between %g and %g, got %g", min, max, f)
			}
		default:
			panic(fmt.Sprintf("config: key %s of kind %s has a range tag", l.key, l.v.Kind()))
		}
	}
}

// numeric reports whether a leaf is a number or a duration.
func (l leaf) numeric() bool {
	if _, ok := l.v.Interface().(Duration); ok {
		return true
	}
	switch l.v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func mustDuration(key, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("config: key %s: range bound %q: %v", key, s, err))
	}
	return d
}

func mustInt(key, s string) int64 {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		panic(fmt.Sprintf("config: key %s: range bound %q: %v", key, s, err))
	}
	return n
}

func mustFloat(key, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(fmt.Sprintf("config: key %s: range bound %q: %v", key, s, err))
	}
	return f
}
