// This test runs the restart suite against the real SQLite store.
package alerts

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/iocd/iocd/store"
)

func TestRestartOnTheRealStore(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	restartSuite(t, st)
}
