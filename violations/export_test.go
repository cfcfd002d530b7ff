package violations

import (
	"context"
	"os"

	"github.com/iocd/iocd/defs"
	"syscall"
	"time"
)

// Exported for violations_test, which plays someone with write access to
// the database re-sealing a record the public (form 1) way, or iocd's key
// holder re-sealing it.
var (
	SealEvidenceUnsigned = func(v defs.Violation, prev string) defs.LedgerEntry {
		e := defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerEvidence, ContentHash: evidenceHash(v), IdentityHash: identityHash(v),
			PrevHash: prev, At: time.Now().UTC(), Form: 1}
		e.Hash = linkHash(prev, e)
		return e
	}
	EntryHash      = entryHash
	SignedMessage  = signedMessage
	SealedRecordV2 = SealedRecord
)

// TestSigner returns the key the service signs with.
func (s *Service) TestSigner() *Signer { return s.signer.Load() }

// Finish signs e (form 2) as iocd does.
func (s *Signer) Finish(e defs.LedgerEntry) defs.LedgerEntry { return s.finish(e) }

// WithDisk makes the service see free bytes free on the clip disk and, while
// full reports true, fail every clip and snapshot write with ENOSPC, as a
// full disk would, without root or a real full filesystem.
func WithDisk(free func() int64, full func() bool) Option {
	return func(s *Service) {
		s.disk = diskFS{
			free: func(string) (int64, error) { return free(), nil },
			create: func(dir, pattern string) (writeFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				return &fullFile{File: f, full: full}, nil
			},
		}
	}
}

type fullFile struct {
	*os.File
	full func() bool
}

func (f *fullFile) Write(p []byte) (int, error) {
	if f.full() {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

// WithSealRetry bounds how long a clip's seal is retried.
func WithSealRetry(d time.Duration) Option {
	return func(s *Service) { s.sealRetry = d }
}

// WithStoreTimeout bounds one store write of an arriving event.
func WithStoreTimeout(d time.Duration) Option {
	return func(s *Service) { s.storeTimeout = d }
}

// WithStampEvery sets how often the ledger head is checked for a stamp.
func WithStampEvery(d time.Duration) Option {
	return func(s *Service) { s.stampEvery = d }
}

// StampHead runs one stamping try.
func (s *Service) StampHead(ctx context.Context) error { return s.stampHead(ctx, s.store) }

// Review records a decision through the service's rules of who may
// decide what, without the desk's reason code, confirmation and claim
// checks: for tests of what follows a decision (retention, the ledger),
// whose records have no clip a reviewer could have played.
func (s *Service) Review(ctx context.Context, a Actor, id string, decision defs.ReviewStatus, note string) (defs.Violation, error) {
	v, _, err := s.decide(ctx, a, id, Decision{Decision: decision, Note: note}, false)
	return v, err
}
