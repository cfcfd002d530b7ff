package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

const tokenSummary = `Manages API bearer tokens in the store under data_dir:
  iocd token create --role viewer|operator|reviewer|admin --name NAME
  iocd token list
  iocd token revoke ID
The token is printed once, at creation; the store keeps only its hash.
` + dataDirHelp

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintf(stderr, "Usage: iocd token create|list|revoke [flags]\n\n%s\n", tokenSummary)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb, args := args[0], args[1:]
	fs := newFlags("token "+verb, tokenSummary, stderr)
	var role, name *string
	if verb == "create" {
		role = fs.String("role", "", "the token's `role`: viewer, operator, reviewer or admin")
		name = fs.String("name", "", "a `name` saying who or what holds the token (shown in the audit log)")
	}
	ld := config.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	_, st, err := openCLIStore(ctx, fs, ld, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	// Quiet: the store's notes would mix with the command's output.
	log := slog.New(slog.DiscardHandler)
	a := auth.New(st, "", log)

	switch verb {
	case "create":
		if fs.NArg() > 0 {
			return usageError(fs, "unexpected arguments: %q", fs.Args())
		}
		r, ok := defs.ParseRole(*role)
		if !ok {
			return usageError(fs, "-role must be one of viewer, operator, reviewer, admin (got %q)", *role)
		}
		if *name == "" {
			return usageError(fs, "-name is required")
		}
		plain, tok, err := a.CreateToken(ctx, r, *name)
		if err != nil {
			return fmt.Errorf("creating token: %w", err)
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "created token %d %q with role %s; it is not shown again\n", tok.ID, tok.Name, tok.Role)
	case "list":
		toks, err := a.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tREVOKED")
		for _, t := range toks {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, day(t.CreatedAt), day(t.LastUsedAt), day(t.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageError(fs, "revoke takes one token ID")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return usageError(fs, "%q is not a token ID", fs.Arg(0))
		}
		if err := a.RevokeToken(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked token %d\n", id)
	default:
		fmt.Fprintf(stderr, "iocd token: unknown verb %q\n\nUsage: iocd token create|list|revoke [flags]\n", verb)
		return errUsage
	}
	return nil
}
