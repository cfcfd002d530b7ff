package violations

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/iocd/iocd/defs"
)

// maxFileHashes bounds the hash cache; past it the cache starts afresh
// (a miss costs one read of the file, not a wrong answer).
const maxFileHashes = 1024

// fileHashes remembers evidence files' SHA-256 by path, size and
// modification time, so the many Range requests a video player makes for
// one clip hash it once. A change that keeps both size and mtime (a
// deliberate `touch -d`) is not seen until the entry is dropped; Verify
// always rehashes.
type fileHashes struct {
	mu sync.Mutex
	m  map[fileKey]string
}

type fileKey struct {
	path  string
	size  int64
	mtime int64
}

func newFileHashes() *fileHashes { return &fileHashes{m: map[fileKey]string{}} }

// sum returns the SHA-256 of the open file f (read with ReadAt, so f's
// offset is left at the start for serving).
func (c *fileHashes) sum(f *os.File) (string, error) {
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	k := fileKey{f.Name(), st.Size(), st.ModTime().UnixNano()}
	c.mu.Lock()
	h, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	hs := newHasher()
	if _, err := io.Copy(hs, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return "", err
	}
	h = hs.hex()
	c.mu.Lock()
	if len(c.m) >= maxFileHashes {
		clear(c.m)
	}
	c.m[k] = h
	c.mu.Unlock()
	return h, nil
}

// openChecked opens a record's evidence file and checks it against the
// recorded SHA-256. A file that does not match is never served as
// evidence: the refusal is audited and the error is a defs ECONFLICT.
func (s *Service) openChecked(ctx context.Context, a Actor, v defs.Violation, what, rel, recorded string) (*os.File, error) {
	if _, err := evidencePath(s.dataDir, rel); err != nil {
		return nil, err
	}
	f, err := openEvidence(s.dataDir, rel)
	if os.IsNotExist(err) {
		return nil, defs.NotFound("violation %s's %s file is missing", v.ID, what)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", what, err)
	}
	got, err := s.hashes.sum(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hashing %s: %w", what, err)
	}
	if got == recorded {
		return f, nil
	}
	f.Close()
	detail := fmt.Sprintf("%s %s has SHA-256 %s, recorded %s", what, rel, got, recorded)
	if err := s.audit(ctx, a, ActionRefused, v.ID, detail); err != nil {
		return nil, err
	}
	s.log.Warn("evidence file does not match its recorded hash", "violation", v.ID, "file", what)
	return nil, defs.Errorf(defs.ECONFLICT, "violation %s's %s file does not match its recorded hash; it may have been altered (run iocd verify)", v.ID, what)
}
