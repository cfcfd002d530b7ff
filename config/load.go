package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iocd/iocd/defs"
)

// Duration is a time.Duration written as "1.5s" or "2m" in YAML, the
// environment and flags.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 5s or 1m30s", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats d like time.Duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// EnvName returns the environment variable for a YAML key path.
func EnvName(key string) string {
	return "IOCD_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// leaf is one settable key.
type leaf struct {
	key    string
	secret bool
	// urlSecret: a URL whose userinfo may hold a password; shown redacted.
	urlSecret bool
	help      string
	// rng is the `range:"min,max"` tag: the bounds Validate enforces
	// (ranges.go). Every numeric key has one.
	rng string
	// envAlias is the `env` tag: a shorter variable also accepted (the
	// derived one wins when both are set).
	envAlias string
	v        reflect.Value
}

// leaves walks c and returns every scalar key, in declaration order. Maps
// are left to the YAML file.
func leaves(c *Config) []leaf {
	var out []leaf
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			fv := v.Field(i)
			l := leaf{key: key, secret: f.Tag.Get("secret") == "true", urlSecret: f.Tag.Get("secret") == "url", rng: f.Tag.Get("range"), envAlias: f.Tag.Get("env"), v: fv}
			switch {
			case f.Type == reflect.TypeOf(Duration(0)):
				out = append(out, l)
			case fv.Kind() == reflect.Struct:
				walk(key, fv)
			case fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice:
				// YAML only.
			default:
				out = append(out, l)
			}
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

func (l leaf) set(s string) error {
	switch l.v.Interface().(type) {
	case Duration:
		var d Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			return err
		}
		l.v.Set(reflect.ValueOf(d))
		return nil
	}
	switch l.v.Kind() {
	case reflect.String:
		l.v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		l.v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		l.v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		l.v.SetFloat(f)
	default:
		return fmt.Errorf("key of type %s cannot be set from text", l.v.Type())
	}
	return nil
}

func (l leaf) String() string {
	if d, ok := l.v.Interface().(Duration); ok {
		return d.String()
	}
	return fmt.Sprint(l.v.Interface())
}

// LoadFile merges a YAML file into c. Unknown keys are errors, so that a
// misspelt key is not silently ignored.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it sets nothing, which is fine.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// ApplyEnv sets every key whose IOCD_* variable is set, as lookup reports it.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	var errs []error
	for _, l := range leaves(c) {
		for _, name := range []string{l.envAlias, EnvName(l.key)} {
			if name == "" {
				continue
			}
			if v, ok := lookup(name); ok {
				if err := l.set(v); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Loader binds the configuration flags to a FlagSet and, once it is parsed,
// builds the Config from all layers.
type Loader struct {
	path      *string
	overrides []func(*Config) error
}

// Bind registers -config and one flag per key on fs.
func Bind(fs *flag.FlagSet) *Loader {
	ld := &Loader{path: fs.String("config", "", "YAML configuration `file` (also IOCD_CONFIG)")}
	def := Default()
	for _, l := range leaves(&def) {
		key := l.key
		usage := fmt.Sprintf("sets %s (env %s)", key, EnvName(key))
		fs.Func(key, usage+", default "+quoteDefault(l), func(s string) error {
			ld.overrides = append(ld.overrides, func(c *Config) error {
				for _, x := range leaves(c) {
					if x.key == key {
						return x.set(s)
					}
				}
				return nil
			})
			// Validate the text now so the flag error is immediate.
			probe := Default()
			for _, x := range leaves(&probe) {
				if x.key == key {
					return x.set(s)
				}
			}
			return nil
		})
	}
	return ld
}

func quoteDefault(l leaf) string {
	if l.secret {
		return "none"
	}
	s := l.String()
	if s == "" {
		return `""`
	}
	return s
}

// Load builds the Config: defaults, the file from -config or IOCD_CONFIG,
// the environment as lookup reports it, then the flags; and validates it.
func (ld *Loader) Load(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	path := *ld.path
	if path == "" {
		path, _ = lookup("IOCD_CONFIG")
	}
	if path != "" {
		if err := c.LoadFile(path); err != nil {
			return c, err
		}
	}
	if err := c.ApplyEnv(lookup); err != nil {
		return c, fmt.Errorf("environment: %w", err)
	}
	for _, o := range ld.overrides {
		if err := o(&c); err != nil {
			return c, fmt.Errorf("flags: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

// Describe returns every key and its value for the start-up log, with
// secrets shown only as set or unset.
func (c *Config) Describe() []any {
	var out []any
	for _, l := range leaves(c) {
		v := l.String()
		if l.urlSecret {
			v = defs.RedactURL(v)
		}
		if l.secret {
			if v == "" {
				v = "(unset)"
			} else {
				v = "(set)"
			}
		}
		out = append(out, l.key, v)
	}
	return out
}
