package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/violations"
)

const verifySummary = `Checks the violation evidence under data_dir: walks the hash chain link by
link, compares every record and review with what the chain sealed, checks
that no record was re-sealed with a different identity (plate, speed, time,
file hashes), and hashes every clip and snapshot file. Prints each mismatch
(chain_broken, record_changed, record_resealed, record_deleted,
file_changed, file_missing, ...) and the chain's head hash: keep it
elsewhere. -head H checks that a head kept earlier is still in the chain
(head_missing if not) and that nothing after it re-sealed a record other
than a retention purge (resealed_after_head). Every entry's signature is
checked (signature_invalid, entry_unsigned), and the key signing the head
against the signing key file when it is readable, or the key -key names
(key_untrusted); the report prints that key's fingerprint. Reviewers and
review times are checked against the sealed decisions (reviewer_changed),
audit rows and TSA timestamps against their seals (audit_changed,
audit_deleted, timestamp_invalid, timestamp_deleted, ...), raw events
against their hashes (raw_event_changed). It reads the store in one
snapshot, so it may run beside iocd serve; afterwards it records the check
in the audit log (evidence.verify, sealed like every audit row: who checks
the evidence is part of its custody), or says on stderr why it could not
(a read-only copy, no signing key). Exits 0 when all is intact, 1 when
anything is not. -json prints the report as JSON.
` + dataDirHelp

var _ violations.LedgerStore = (*store.Snapshot)(nil)

// errMismatch makes verify exit 1 without a second message: the report
// has said what is wrong.
var errMismatch = errors.New("evidence does not verify")

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", verifySummary, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	head := fs.String("head", "", "a ledger head hash recorded earlier, to check the chain still holds it")
	keyFile := fs.String("key", "", "the `file` of the key to trust (PEM public or private key, base64 public key or fingerprint); default: the signing key file, if readable")
	ld := config.Bind(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := cliConfig(fs, ld, stderr)
	if err != nil {
		return err
	}
	dbPath := filepath.Join(cfg.DataDir, "iocd.db")
	if _, err := os.Stat(dbPath); err != nil {
		// Opening would create an empty store, which verifies trivially.
		return fmt.Errorf("no store at %s (data_dir): %w", dbPath, err)
	}
	// OpenExisting writes nothing (no migrations), and the snapshot makes
	// every read see one moment, so verify may run beside a running iocd
	// without reporting a review or purge that lands mid-check.
	st, err := store.OpenExisting(ctx, dbPath, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	opts := violations.VerifyOptions{Head: strings.TrimSpace(*head)}
	if *keyFile != "" {
		fpr, err := trustedKey(*keyFile)
		if err != nil {
			return err
		}
		opts.TrustedKeys = []string{fpr}
	} else {
		// The key iocd signs with, and one waiting to be rotated in
		// (sealed but not yet moved into place if iocd stopped between).
		path, _ := evidenceKeyPath(cfg)
		for _, p := range []string{path, path + violations.NextKeySuffix} {
			if k, err := violations.LoadKey(p); err == nil {
				opts.TrustedKeys = append(opts.TrustedKeys, k.Fingerprint())
			}
		}
	}
	var rep violations.Report
	err = st.ReadSnapshot(ctx, func(snap *store.Snapshot) error {
		var err error
		rep, err = violations.VerifyWith(ctx, snap, cfg.DataDir, opts)
		return err
	})
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	if err := recordVerification(ctx, cfg, st, rep); err != nil {
		fmt.Fprintf(stderr, "iocd verify: the check is not in the audit log: %v\n", err)
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

// recordVerification appends the check to the audit log, sealed with the
// signing key like every audit row, after the check has read its
// snapshot: the verified head is the one printed, and the record chains
// after it. It never creates a key: without one the check stays unrecorded.
func recordVerification(ctx context.Context, cfg config.Config, st *store.SQLite, rep violations.Report) error {
	path, _ := evidenceKeyPath(cfg)
	k, err := violations.OpenKeyring(path, false)
	if err != nil {
		return fmt.Errorf("evidence signing key: %w", err)
	}
	seal, err := k.AuditSealer(ctx, st)
	if err != nil {
		return err
	}
	st.SetAuditSealer(seal)
	verdict := "intact"
	if !rep.OK() {
		verdict = fmt.Sprintf("%d mismatches", len(rep.Problems))
	}
	return st.AddAudit(ctx, defs.AuditEntry{At: time.Now().UTC(), Actor: "cli", Role: defs.RoleAdmin, Action: violations.ActionVerify,
		Target: "ledger", Detail: fmt.Sprintf("%s; head %s; %d entries, %d violations, %d files", verdict, rep.Head, rep.Entries, rep.Violations, rep.Files)})
}
