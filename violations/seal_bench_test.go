package violations

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// BenchmarkSealRecord is the cost the signature adds to every ledger
// entry (one per record, decision and audited access).
func BenchmarkSealRecord(b *testing.B) {
	s, err := GenerateSigner()
	if err != nil {
		b.Fatal(err)
	}
	v := defs.Violation{ID: "v1", Camera: "cam", Site: "hcm", Type: "speeding", Time: time.Now(), Plate: "62A-123.45",
		ClipStatus: defs.ClipComplete, CreatedAt: time.Now()}
	for b.Loop() {
		s.SealRecord(v, "prev")
	}
}

// BenchmarkSumFile is the check every clip serve pays: hashing the whole
// clip (8 MiB, about 10 s of 1080p H.264), from the page cache.
func BenchmarkSumFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "clip.mp4")
	buf := make([]byte, 8<<20)
	rand.New(rand.NewSource(1)).Read(buf)
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := sumFile(f); err != nil {
			b.Fatal(err)
		}
	}
}
