package violations

// Signing keys. Every form-2 ledger entry is signed with an Ed25519 key
// that only iocd reads (a file of mode 0600, in the data dir unless
// evidence.signing_key_file names one), so someone who can write the
// database but not read the key cannot append an entry that verifies. The
// first key is introduced by a key entry of its own; a rotation is a key
// entry endorsed by the outgoing key and signed by the incoming one, whose
// signature covers the whole chain before it.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/iocd/iocd/defs"
)

// DefaultKeyFile is the signing key's path relative to the data dir when
// evidence.signing_key_file is not set.
const DefaultKeyFile = "evidence/signing.key"

// NextKeySuffix names the file a rotation reads the next key from: the key
// file's path with ".next" appended. `iocd evidence rotate-key` writes it;
// the service endorses it with the current key and moves it into place at
// its next start.
const NextKeySuffix = ".next"

// Signer signs ledger entries with one Ed25519 key.
type Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	fpr  string
}

// NewSigner returns a Signer for priv.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	return &Signer{priv: priv, pub: pub, fpr: Fingerprint(pub)}
}

// GenerateSigner returns a Signer with a fresh key.
func GenerateSigner() (*Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	return NewSigner(priv), nil
}

// Fingerprint is how a public key is named: the hex SHA-256 of its 32
// bytes.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// Fingerprint returns the signer's key fingerprint.
func (s *Signer) Fingerprint() string { return s.fpr }

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.pub }

// finish sets a form-2 entry's key, hash and signature.
func (s *Signer) finish(e defs.LedgerEntry) defs.LedgerEntry {
	e.Form, e.KeyID = formSigned, s.fpr
	e.At = e.At.UTC()
	e.Hash = entryHash(e)
	e.Signature = b64(ed25519.Sign(s.priv, signedMessage(e.Hash)))
	return e
}

// SealRecord is the store's sealer for a record's final evidence.
func (s *Signer) SealRecord(v defs.Violation, prev string) defs.LedgerEntry {
	return s.sealRecord(v, prev, "")
}

// SealPurge is SealRecord for a retention purge.
func (s *Signer) SealPurge(v defs.Violation, prev string) defs.LedgerEntry {
	return s.sealRecord(v, prev, refPurge)
}

func (s *Signer) sealRecord(v defs.Violation, prev, ref string) defs.LedgerEntry {
	content, identity := recordHashes(formSigned, v)
	return s.finish(defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerEvidence, Ref: ref, ContentHash: content,
		IdentityHash: identity, PrevHash: prev, At: time.Now()})
}

// SealReview is the store's sealer for a review decision.
func (s *Signer) SealReview(r defs.Review, prev string) defs.LedgerEntry {
	return s.finish(defs.LedgerEntry{ViolationID: r.ViolationID, Kind: defs.LedgerReview, Ref: strconv.FormatInt(r.ID, 10),
		ContentHash: sha256Hex(SealedReview(r)), PrevHash: prev, At: time.Now()})
}

// SealAudit is the store's sealer for an audit log entry (its ID set).
func (s *Signer) SealAudit(a defs.AuditEntry, prev string) defs.LedgerEntry {
	return s.finish(defs.LedgerEntry{Kind: defs.LedgerAudit, Ref: strconv.FormatInt(a.ID, 10),
		ContentHash: sha256Hex(SealedAudit(a)), PrevHash: prev, At: time.Now()})
}

// KeyEntry returns the entry introducing s, endorsed by previous (nil: the
// first key, or a key installed without its predecessor).
func (s *Signer) KeyEntry(previous *Signer, prev string) defs.LedgerEntry {
	p := keyPayload{Algorithm: "ed25519", PublicKey: b64(s.pub), Fingerprint: s.fpr}
	if previous != nil {
		p.Previous = previous.fpr
		p.Endorsement = b64(ed25519.Sign(previous.priv, endorsementMessage(s.fpr, prev)))
	}
	payload := string(canonicalJSON(p))
	return s.finish(defs.LedgerEntry{Kind: defs.LedgerKey, Ref: s.fpr, ContentHash: sha256Hex([]byte(payload)), Payload: payload,
		PrevHash: prev, At: time.Now()})
}

// LoadKey reads an Ed25519 private key (PEM, PKCS #8) from path. The file
// must not be readable by group or others.
func LoadKey(path string) (*Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s is not a PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not an Ed25519 key", path)
	}
	return NewSigner(priv), nil
}

// WriteKey writes a fresh key to path (mode 0600), failing if the file
// exists, and returns its signer.
func WriteKey(path string) (*Signer, error) {
	s, err := GenerateSigner()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return nil, fmt.Errorf("encoding signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing signing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing signing key: %w", err)
	}
	return s, f.Close()
}

// Keyring is the signing key file and the next key waiting to replace it.
type Keyring struct {
	path    string
	current *Signer
	next    *Signer // nil: no rotation pending
}

// OpenKeyring reads the key at path, creating it if create is set and it
// does not exist (the data dir's default key is created at first start;
// a configured evidence.signing_key_file must exist), and the next key at
// path+NextKeySuffix if there is one.
func OpenKeyring(path string, create bool) (*Keyring, error) {
	cur, err := LoadKey(path)
	if errors.Is(err, os.ErrNotExist) && create {
		cur, err = WriteKey(path)
	}
	if err != nil {
		return nil, err
	}
	k := &Keyring{path: path, current: cur}
	next, err := LoadKey(path + NextKeySuffix)
	switch {
	case err == nil:
		k.next = next
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	return k, nil
}

// memoryKeyring is a keyring with a key that lives only in memory, for a
// service built without one (tests).
func memoryKeyring() *Keyring {
	s, err := GenerateSigner()
	if err != nil {
		panic(err) // crypto/rand failing: nothing can be sealed
	}
	return &Keyring{current: s}
}

// Signer returns the key that signs now.
func (k *Keyring) Signer() *Signer { return k.current }

// keyStore is what opening the ledger needs from the store.
type keyStore interface {
	KeyEntries(ctx context.Context) ([]defs.LedgerEntry, error)
	AppendLedger(ctx context.Context, entry func(prev string) defs.LedgerEntry) (defs.LedgerEntry, error)
}

// open brings the ledger's key up to the keyring's: it introduces the
// first key, applies a pending rotation (endorsed by the current key, then
// moves the next key file into place), or, when the key file holds a key
// the ledger does not know and no endorsement is possible, introduces it
// unendorsed (Verify reports key_unendorsed) and says so in the error.
func (k *Keyring) open(ctx context.Context, st keyStore) (warn error, err error) {
	entries, err := st.KeyEntries(ctx)
	if err != nil {
		return nil, err
	}
	chain := ""
	if len(entries) > 0 {
		chain = entries[len(entries)-1].Ref
	}
	switch {
	case k.next != nil && chain == k.next.fpr:
		// The rotation was sealed but the file not yet moved.
	case chain == k.current.fpr && k.next != nil:
		if _, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return k.next.KeyEntry(k.current, prev) }); err != nil {
			return nil, fmt.Errorf("sealing the key rotation: %w", err)
		}
	case chain == k.current.fpr:
		return nil, nil
	case chain == "":
		if _, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return k.current.KeyEntry(nil, prev) }); err != nil {
			return nil, fmt.Errorf("sealing the signing key: %w", err)
		}
		if k.next == nil {
			return nil, nil
		}
		if _, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return k.next.KeyEntry(k.current, prev) }); err != nil {
			return nil, fmt.Errorf("sealing the key rotation: %w", err)
		}
	default:
		if _, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return k.current.KeyEntry(nil, prev) }); err != nil {
			return nil, fmt.Errorf("sealing the signing key: %w", err)
		}
		return fmt.Errorf("the signing key %s is not the ledger's key %s and was not rotated in (put the new key at %s%s beside the old one to rotate): it is sealed unendorsed, and iocd verify reports it",
			k.current.fpr, chain, k.path, NextKeySuffix), nil
	}
	// A rotation is sealed: the next key takes over.
	if k.path != "" {
		if err := os.Rename(k.path+NextKeySuffix, k.path); err != nil {
			return nil, fmt.Errorf("moving the next signing key into place: %w", err)
		}
	}
	k.current, k.next = k.next, nil
	return nil, nil
}

// AuditSealer returns the sealer a command-line tool installs with the
// store's SetAuditSealer, so the audit rows it writes are sealed as iocd
// serve's are (Verify reports unsealed ones). It introduces the key if the
// ledger has none yet; it applies no rotation (iocd serve does, at start)
// and refuses if the ledger's key is not the keyring's.
func (k *Keyring) AuditSealer(ctx context.Context, st keyStore) (func(defs.AuditEntry, string) defs.LedgerEntry, error) {
	entries, err := st.KeyEntries(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case len(entries) == 0:
		if _, err := st.AppendLedger(ctx, func(prev string) defs.LedgerEntry { return k.current.KeyEntry(nil, prev) }); err != nil {
			return nil, fmt.Errorf("sealing the signing key: %w", err)
		}
	case entries[len(entries)-1].Ref != k.current.fpr:
		return nil, fmt.Errorf("the ledger is signed by key %s, not the key file's %s: start iocd serve once to seal the rotation",
			entries[len(entries)-1].Ref, k.current.fpr)
	}
	return k.current.SealAudit, nil
}
