// Package store owns iocd's embedded relational store: one SQLite database
// (modernc.org/sqlite, pure Go, WAL) under the data dir, its schema
// migrations, and the SQL behind the registry, tokens, users and their
// login sessions, violations and audit log. Consumers declare the small interfaces they need next to their use;
// *SQLite satisfies them, and a PostgreSQL implementation can satisfy the
// same interfaces later without touching the consumers.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/iocd/iocd/defs"
)

// migration is one versioned schema change. Versions are global and
// ordered; each domain file registers its own range so that work on
// different domains never renumbers another's:
//
//	1-99     devices, tokens
//	100-199  violations, review, audit
//	200-299  alerts
//	300-349  users, sessions
type migration struct {
	version int
	name    string
	sql     string
}

var (
	migrationsMu sync.Mutex
	migrations   []migration
)

// register adds migrations; called from init in each domain file.
func register(ms ...migration) {
	migrationsMu.Lock()
	defer migrationsMu.Unlock()
	migrations = append(migrations, ms...)
}

// SQLite is the embedded store.
type SQLite struct {
	db     *sql.DB
	log    *slog.Logger
	closed sync.Once
	// auditSeal seals every audit entry in the ledger (SetAuditSealer).
	auditSeal atomic.Pointer[func(defs.AuditEntry, string) defs.LedgerEntry]
}

// Open opens (creating if need be) the database at path and applies every
// pending migration in one transaction each.
func Open(ctx context.Context, path string, log *slog.Logger) (*SQLite, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating store dir: %w", err)
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	s, err := openDB(path, log)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// OpenExisting opens the existing database at path for a tool that only
// reads it, such as `iocd verify`, perhaps while iocd runs: it neither
// creates the database nor applies migrations (writes a reader should not
// make), and fails if the schema lacks a migration this build expects.
func OpenExisting(ctx context.Context, path string, log *slog.Logger) (*SQLite, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s, err := openDB(path, log)
	if err != nil {
		return nil, err
	}
	if err := s.checkSchema(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// ownerOnly creates the database file mode 0600, or makes an existing one
// so: it holds the cameras' RTSP URLs with their passwords, and SQLite
// gives its -wal and -shm files the database file's mode.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("opening store: making %s owner-only: %w", path, err)
	}
	return nil
}

func openDB(path string, log *slog.Logger) (*SQLite, error) {
	// WAL lets readers proceed during writes; busy_timeout makes writers
	// queue rather than fail; _txlock=immediate takes the write lock at
	// BEGIN so two read-then-write transactions cannot deadlock.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &SQLite{db: db, log: log}, nil
}

// checkSchema fails if any registered migration has not been applied.
func (s *SQLite) checkSchema(ctx context.Context) error {
	applied := map[int]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("reading schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading schema_migrations: %w", err)
	}
	migrationsMu.Lock()
	defer migrationsMu.Unlock()
	for _, m := range migrations {
		if !applied[m.version] {
			return fmt.Errorf("store lacks migration %d (%s): run iocd serve once to migrate it", m.version, m.name)
		}
	}
	return nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	migrationsMu.Lock()
	ms := append([]migration(nil), migrations...)
	migrationsMu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return fmt.Errorf("migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	for _, m := range ms {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
			return fmt.Errorf("reading schema_migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
		s.log.Info("store migrated", "version", m.version, "name", m.name)
	}
	return nil
}

// Ping reports whether the database answers; /readyz uses it.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Close closes the database. It is idempotent.
func (s *SQLite) Close() error {
	var err error
	s.closed.Do(func() { err = s.db.Close() })
	return err
}

// DB exposes the handle for tools that inspect the store directly, such as
// tests that tamper with a record to prove `iocd verify` notices.
func (s *SQLite) DB() *sql.DB { return s.db }

// timeText and parseTime keep times in one sortable text form.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
