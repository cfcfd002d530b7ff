package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/violations"
)

const evidenceSummary = `Manages the key that signs the evidence ledger:
  iocd evidence rotate-key   write a new key beside the current one (its
                             file + ".next", mode 0600); at its next start
                             iocd serve seals the rotation in the ledger,
                             endorsed by the current key, and moves the new
                             key into place
  iocd evidence key          print the current key's fingerprint (compare it
                             with GET /api/v1/evidence/keys)
The key is evidence.signing_key_file, or data_dir/evidence/signing.key.`

// evidenceKeyPath returns the signing key's path, and whether iocd may
// create it (only the data dir's default; a configured file must exist).
func evidenceKeyPath(cfg config.Config) (string, bool) {
	if cfg.Evidence.SigningKeyFile != "" {
		return cfg.Evidence.SigningKeyFile, false
	}
	return filepath.Join(cfg.DataDir, violations.DefaultKeyFile), true
}

func runEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintf(stderr, "Usage: iocd evidence rotate-key|key [flags]\n\n%s\n", evidenceSummary)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb, args := args[0], args[1:]
	fs := newFlags("evidence "+verb, evidenceSummary, stderr)
	ld := config.Bind(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := ld.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	path, _ := evidenceKeyPath(cfg)
	cur, err := violations.LoadKey(path)
	if err != nil {
		return fmt.Errorf("the current signing key (start iocd serve once to create it): %w", err)
	}
	switch verb {
	case "key":
		fmt.Fprintf(stdout, "signing key: %s\nfile: %s\n", cur.Fingerprint(), path)
		return nil
	case "rotate-key":
		next, err := violations.WriteKey(path + violations.NextKeySuffix)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("a rotation is already pending (%s%s): restart iocd serve to seal it", path, violations.NextKeySuffix)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "current key: %s\nnext key:    %s (%s%s)\nRestart iocd serve: it seals the rotation, endorsed by the current key, and moves the next key into place.\n",
			cur.Fingerprint(), next.Fingerprint(), path, violations.NextKeySuffix)
		return nil
	default:
		return usageError(fs, "unknown evidence command %q: want rotate-key or key", verb)
	}
}

// sealAuditRows makes the audit rows a command writes to st sealed with
// the evidence key, as iocd serve's are; without it `iocd verify` reports
// them as audit_unsealed. Commands that write the audit log (token and
// user management) call it after opening the store.
func sealAuditRows(ctx context.Context, cfg config.Config, st *store.SQLite) error {
	path, create := evidenceKeyPath(cfg)
	k, err := violations.OpenKeyring(path, create)
	if err != nil {
		return fmt.Errorf("evidence signing key: %w", err)
	}
	seal, err := k.AuditSealer(ctx, st)
	if err != nil {
		return err
	}
	st.SetAuditSealer(seal)
	return nil
}

// trustedKey reads the key `iocd verify -key` pins: a PEM public or
// private key, the base64 public key /api/v1/evidence/keys publishes, or
// a fingerprint (64 hex digits). It returns its fingerprint.
func trustedKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading -key: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		switch blk.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if pub, ok := k.(ed25519.PublicKey); err == nil && ok {
				return violations.Fingerprint(pub), nil
			}
			return "", fmt.Errorf("-key %s: not an Ed25519 public key", path)
		case "PRIVATE KEY":
			s, err := violations.LoadKey(path)
			if err != nil {
				return "", err
			}
			return s.Fingerprint(), nil
		}
		return "", fmt.Errorf("-key %s: a PEM %s is not a key iocd signs with", path, blk.Type)
	}
	text := strings.TrimSpace(string(b))
	if raw, err := hex.DecodeString(text); err == nil && len(raw) == 32 {
		return strings.ToLower(text), nil
	}
	if raw, err := base64.StdEncoding.DecodeString(text); err == nil && len(raw) == ed25519.PublicKeySize {
		return violations.Fingerprint(raw), nil
	}
	return "", fmt.Errorf("-key %s: want a PEM key, a base64 Ed25519 public key or a 64-hex-digit fingerprint", path)
}
