// Command iocd is the telemetry and camera ingest service behind a
// provincial Intelligent Operations Centre. This package only wires: it
// parses configuration, builds the components from their packages, runs
// them and shuts them down in order. The work is in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/iocd/iocd/config"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the service (the default)", runServe},
		{"demo", "run the service with a local InfluxDB and simulated devices and cameras", runDemo},
		{"token", "manage API bearer tokens (token create --role R --name N)", runToken},
		{"user", "manage users who log in with a password (user add --role R NAME)", runUser},
		{"sim", "run a simulator against a broker (sim devices)", runSim},
		{"verify", "check the violation hash chain and every evidence file", runVerify},
		{"verify-case", "check an evidence case package offline (verify-case CASE.zip)", runVerifyCase},
		{"evidence", "manage the evidence signing key (evidence rotate-key)", runEvidence},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := startCPUProfile(os.Stderr) // IOCD_CPU_PROFILE (cpuprofile.go)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			usage(stdout)
			return 0
		}
	}
	// Without a command, iocd serves: `go run ./cmd/iocd` is the service.
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, args, stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, errMismatch):
			return 1
		default:
			fmt.Fprintf(stderr, "iocd %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "iocd: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "iocd: telemetry and camera ingest for Intelligent Operations Centres\n\nUsage: iocd [command] [flags]\n\nCommands:\n")
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'iocd <command> -help' for a command's flags. Configuration: defaults, then\n-config FILE (or IOCD_CONFIG), then IOCD_* environment variables, then flags.\n")
}

// newFlags returns a flag set for a subcommand whose -help prints summary.
func newFlags(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("iocd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: iocd %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping a bad flag to errUsage (already printed).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		return errUsage
	}
	return nil
}

// parseError maps a flag parse error: -help is not a failure; anything
// else has been explained by the flag package already.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

// usageError explains a bad invocation on fs's output.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "iocd: "+format+"\n", args...)
	return errUsage
}

// day formats an optional time for listings.
func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// loadConfig binds the configuration flags to fs, parses args and loads
// the configuration from every layer.
func loadConfig(fs *flag.FlagSet, args []string) (config.Config, error) {
	ld := config.Bind(fs)
	if err := parse(fs, args); err != nil {
		return config.Config{}, err
	}
	return ld.Load(os.LookupEnv)
}

// newLogger builds the process logger from the log section.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// version is set at build time with -ldflags "-X main.version=..."; without
// it the module's build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		return v
	}
	return "unknown"
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "Prints the version of this build.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "iocd %s\n", versionString())
	return nil
}
