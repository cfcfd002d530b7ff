package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/iocd/iocd/violations"
)

const verifyCaseSummary = `Checks an evidence case package (the zip from GET /api/v1/cases/{id}/package)
with nothing but the package: no store, no network, no configuration. Every
file must be the one the manifest lists (file_changed, file_missing,
file_added), the manifest signed by the packaged key (signature_invalid), the
ledger entries must chain without a gap to a head signed by that key
(chain_broken, entry_altered, entry_signature_invalid, head_mismatch), and the
case, each record, review and custody entry must be what the chain sealed
(case_changed, record_changed, review_changed, custody_changed, ...), each
clip, snapshot and raw event what its record sealed, each record.json what its
sealed record says (record_mismatch). Prints the signing key's fingerprint:
compare it with GET /api/v1/evidence/keys, or pin the key you trust with -key
(its fingerprint must match: key_untrusted). Exits 0 when the package
verifies, 1 when anything is wrong. -json prints the report as JSON.`

func runVerifyCase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify-case", verifyCaseSummary, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: iocd verify-case [flags] CASE.zip\n\n%s\n\nFlags:\n", verifyCaseSummary)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the report as JSON")
	keyFile := fs.String("key", "", "the `file` of the key to trust (PEM public or private key, base64 public key or fingerprint)")
	// Flags may come after the file name too: iocd verify-case case.zip -key k.pem.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return parseError(err)
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		return usageError(fs, "verify-case takes one package file, got %d", len(files))
	}
	pinned := ""
	if *keyFile != "" {
		fpr, err := trustedKey(*keyFile)
		if err != nil {
			return err
		}
		pinned = fpr
	}
	f, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("opening the package: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening the package: %w", err)
	}
	rep, err := violations.VerifyCasePackage(f, st.Size(), pinned)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdout)
	}
	if !rep.OK() {
		return errMismatch
	}
	return nil
}
