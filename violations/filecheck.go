package violations

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/iocd/iocd/defs"
)

// Every time a clip or snapshot is served or packaged, the whole file is
// hashed and compared with its sealed SHA-256 before the first byte goes
// out. No cache by path, size and modification time: a file altered in
// place with both kept (a deliberate `touch -d`) would pass such a cache.
// Hashing while streaming would find the alteration only after the
// headers (200 and the file's start) were sent, when the answer can no
// longer be a 409. The cost is one read of the file per request (a 10 s
// clip of a few MB hashes in milliseconds, from the page cache after the
// first); a video player's Range requests each pay it.

// sumFile returns the SHA-256 of the open file f (read with ReadAt, so f's
// offset is left at the start for serving).
func sumFile(f *os.File) (string, error) {
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	hs := newHasher()
	if _, err := io.Copy(hs, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return "", err
	}
	return hs.hex(), nil
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
	got, err := sumFile(f)
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
