package violations

import (
	"os"
	"syscall"
	"time"
)

// Exported for violations_test, which plays someone with write access to
// the database re-sealing a record the same public way iocd does.
var (
	SealEvidence = sealEvidence
	LinkHash     = linkHash
)

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
