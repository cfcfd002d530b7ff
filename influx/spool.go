package influx

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// spool keeps batches on disk while InfluxDB is failing, as gzip-compressed
// line protocol, one file per batch named <seq>-<points>.lp.gz so that
// listing the directory recovers the order and the point counts after a
// restart. WAL files a crashed run left (wal.go) join it at open, as plain
// line protocol. Replay posts the file as it is with Content-Encoding: gzip, so
// the points are never decompressed in iocd. It is not safe for concurrent
// use; the writer's backlog lock guards it.
type spool struct {
	dir   string
	max   int64
	files []spoolFile // oldest first
	bytes int64
	seq   uint64
	gz    *gzip.Writer
	buf   bytes.Buffer
}

type spoolFile struct {
	name   string
	size   int64
	points int
	// plain marks a WAL file recovered from an earlier run: line
	// protocol as it is, not gzip.
	plain bool
	// first is about when the oldest point in the file was taken: the
	// file's modification time, which put sets to the batch's first point.
	first time.Time
}

const spoolSuffix = ".lp.gz"

// errBatchTooBig is put's answer to a batch larger, compressed, than the
// whole spool bound.
var errBatchTooBig = errors.New("batch exceeds the spool bound")

func openSpool(dir string, maxBytes int64, rc *receipts) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating spool dir: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading spool dir: %w", err)
	}
	s := &spool{dir: dir, max: maxBytes}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // a write cut short by a crash
			continue
		}
		if seqText, ok := strings.CutSuffix(name, walSuffix); ok {
			// A batch's write-ahead log from a run that ended before
			// InfluxDB or the spool took it: replay it as it is.
			seq, err := strconv.ParseUint(seqText, 10, 64)
			info, ierr := e.Info()
			if err != nil || ierr != nil {
				continue
			}
			size, points, err := recoverWAL(filepath.Join(dir, name), rc)
			if err != nil {
				return nil, err
			}
			s.seq = max(s.seq, seq)
			if points > 0 {
				s.files = append(s.files, spoolFile{name: name, size: size, points: points, plain: true, first: info.ModTime()})
				s.bytes += size
			}
			continue
		}
		seqText, pointsText, ok := strings.Cut(strings.TrimSuffix(name, spoolSuffix), "-")
		if !strings.HasSuffix(name, spoolSuffix) || !ok {
			continue
		}
		seq, err1 := strconv.ParseUint(seqText, 10, 64)
		points, err2 := strconv.Atoi(pointsText)
		info, err3 := e.Info()
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		s.files = append(s.files, spoolFile{name: name, size: info.Size(), points: points, first: info.ModTime()})
		s.bytes += info.Size()
		s.seq = max(s.seq, seq)
	}
	// Zero-padded sequence numbers sort by name.
	slices.SortFunc(s.files, func(a, b spoolFile) int { return strings.Compare(a.name, b.name) })
	return s, nil
}

func (s *spool) empty() bool { return len(s.files) == 0 }

// put writes one batch durably (fsync before rename). When the spool would
// exceed its bound it evicts the oldest files first and returns the points
// they held.
func (s *spool) put(body []byte, points int, first time.Time) (evicted int, err error) {
	s.buf.Reset()
	if s.gz == nil {
		s.gz, _ = gzip.NewWriterLevel(&s.buf, gzip.BestSpeed)
	} else {
		s.gz.Reset(&s.buf)
	}
	if _, err := s.gz.Write(body); err != nil {
		return 0, fmt.Errorf("compressing spool batch: %w", err)
	}
	if err := s.gz.Close(); err != nil {
		return 0, fmt.Errorf("compressing spool batch: %w", err)
	}
	size := int64(s.buf.Len())
	if size > s.max {
		// Checked before evicting: emptying the spool for a batch that
		// can never fit would lose the spooled points for nothing.
		return 0, fmt.Errorf("spooling %d bytes: %w", size, errBatchTooBig)
	}
	for len(s.files) > 0 && s.bytes+size > s.max {
		evicted += s.files[0].points
		s.remove(s.files[0])
	}
	s.seq++
	name := fmt.Sprintf("%020d-%d%s", s.seq, points, spoolSuffix)
	path := filepath.Join(s.dir, name)
	if err := writeFileSync(path+".tmp", s.buf.Bytes()); err != nil {
		return evicted, err
	}
	// The modification time carries the batch's first point across a
	// restart, for the age of the oldest unflushed reading.
	_ = os.Chtimes(path+".tmp", first, first)
	if err := os.Rename(path+".tmp", path); err != nil {
		os.Remove(path + ".tmp")
		return evicted, fmt.Errorf("renaming spool file: %w", err)
	}
	s.files = append(s.files, spoolFile{name: name, size: size, points: points, first: first})
	s.bytes += size
	return evicted, nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("creating spool file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("writing spool file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("syncing spool file: %w", err)
	}
	return f.Close()
}

// adopt takes an existing plain line-protocol file of the spool dir (a
// batch's WAL file) as a spool entry, when writing its gzip copy failed.
func (s *spool) adopt(name string, size int64, points int, first time.Time) {
	s.files = append(s.files, spoolFile{name: name, size: size, points: points, plain: true, first: first})
	s.bytes += size
}

// oldest returns the first file to replay.
func (s *spool) oldest() (spoolFile, bool) {
	if len(s.files) == 0 {
		return spoolFile{}, false
	}
	return s.files[0], true
}

// read returns f's body, gzip unless f.plain, after checking that it decompresses whole
// (gzip's CRC and length trailer): a file truncated by a full disk or
// damaged on it is an error here, not a request InfluxDB may answer with a
// 5xx that would be retried forever.
func (s *spool) read(f spoolFile) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, f.name))
	if err != nil {
		return nil, fmt.Errorf("reading spool file: %w", err)
	}
	if f.plain {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if err != nil {
		return nil, fmt.Errorf("reading spool file %s: %w", f.name, err)
	}
	return b, nil
}

// remove deletes f, which must be a file of the spool.
func (s *spool) remove(f spoolFile) {
	i := slices.IndexFunc(s.files, func(x spoolFile) bool { return x.name == f.name })
	if i < 0 {
		return
	}
	os.Remove(filepath.Join(s.dir, f.name))
	s.files = slices.Delete(s.files, i, i+1)
	s.bytes -= f.size
}
