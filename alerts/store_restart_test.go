//go:build alertsstore

// This test runs the restart suite against the real store. It needs the
// alertsapi branch's store/alerts.go (the Store methods on *store.SQLite),
// so it is behind a build tag until that lands; the integrator runs it
// after the merge with
//
//	go test -tags alertsstore -run RealStore ./alerts/
//
// and then removes the tag.
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
