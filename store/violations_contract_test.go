package store_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/violations"
	"github.com/iocd/iocd/violations/storetest"
)

var _ violations.Store = (*store.SQLite)(nil)

// TestViolationsStoreContract: what SQLite gives back seals to the same
// bytes as what it was given.
func TestViolationsStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) violations.Store {
		st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iocd.db"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
