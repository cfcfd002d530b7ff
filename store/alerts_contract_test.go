package store_test

import (
	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/store"
)

// The store implements the alerts engine's Store.
var _ alerts.Store = (*store.SQLite)(nil)
