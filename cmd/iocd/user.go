package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

const userSummary = `Manages the users who log in with a password, in the store under data_dir:
  iocd user add --role viewer|operator|reviewer|admin NAME
  iocd user passwd NAME
  iocd user disable NAME     (ends its sessions at once)
  iocd user enable NAME
  iocd user list
The password is read from standard input when it is not a terminal (one
line), else prompted for twice without echo; never from a flag, which would
leave it in the shell history and the process list. At least 10 characters.
` + dataDirHelp

// stdin is where `iocd user` reads passwords; tests replace it.
var stdin io.Reader = os.Stdin

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintf(stderr, "Usage: iocd user add|passwd|disable|enable|list [flags]\n\n%s\n", userSummary)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb, args := args[0], args[1:]
	fs := newFlags("user "+verb, userSummary, stderr)
	var role *string
	if verb == "add" {
		role = fs.String("role", "", "the user's `role`: viewer, operator, reviewer or admin")
	}
	ld := config.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	wantArgs := 1
	if verb == "list" {
		wantArgs = 0
	}
	switch verb {
	case "add", "passwd", "disable", "enable", "list":
	default:
		fmt.Fprintf(stderr, "iocd user: unknown verb %q\n\nUsage: iocd user add|passwd|disable|enable|list [flags]\n", verb)
		return errUsage
	}
	if fs.NArg() != wantArgs {
		if wantArgs == 0 {
			return usageError(fs, "list takes no arguments")
		}
		return usageError(fs, "%s takes one user NAME (flags go before it)", verb)
	}
	var r defs.Role
	if verb == "add" {
		var ok bool
		if r, ok = defs.ParseRole(*role); !ok {
			return usageError(fs, "-role must be one of viewer, operator, reviewer, admin (got %q)", *role)
		}
	}
	name := fs.Arg(0)
	if name != "" {
		if err := auth.CheckUserName(name); err != nil {
			return err
		}
	}
	_, st, err := openCLIStore(ctx, fs, ld, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	// Quiet: the store's notes would mix with the command's output.
	log := slog.New(slog.DiscardHandler)
	users := auth.NewUsers(st, log)

	switch verb {
	case "add":
		pw, err := readPassword(stdin, stderr, "Password for "+name)
		if err != nil {
			return err
		}
		u, err := users.Create(ctx, name, r, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "created user %q with role %s\n", u.Name, u.Role)
	case "passwd":
		pw, err := readPassword(stdin, stderr, "New password for "+name)
		if err != nil {
			return err
		}
		if _, err := users.SetPassword(ctx, name, pw); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "changed the password of %q; its sessions have ended\n", name)
	case "disable":
		if _, err := users.Disable(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "disabled %q; its sessions have ended (open feeds close within 15 s)\n", name)
	case "enable":
		if _, err := users.Enable(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "enabled %q\n", name)
	case "list":
		us, err := users.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tDISABLED\tCREATED\tUPDATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\t%s\n", u.ID, u.Name, u.Role, u.Disabled, day(u.CreatedAt), day(u.UpdatedAt))
		}
		return tw.Flush()
	}
	return nil
}

// readPassword reads a new password: prompted for twice without echo on a
// terminal, else the first line of in.
func readPassword(in io.Reader, stderr io.Writer, prompt string) (string, error) {
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(stderr, "%s: ", prompt)
		pw, err := readNoEcho(f)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprintf(stderr, "Again: ")
		again, err := readNoEcho(f)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if pw != again {
			return "", errors.New("the two passwords differ")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on standard input (give it as one line, e.g. from a file or a pipe)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
