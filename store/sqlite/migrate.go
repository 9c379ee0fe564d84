package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/utask/utask/store"
)

// migrationFiles holds the schema changes, numbered 0001_name.sql onwards.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS //nolint:gochecknoglobals // read-only files compiled into the binary

// migration is one schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Their numbers must run
// 1, 2, 3... without a gap or a repeat.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name, hence by number
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || name == "" {
			return nil, fmt.Errorf("read migrations: %s is not named NNNN_name.sql", e.Name())
		}
		if want := len(ms) + 1; version != want {
			return nil, fmt.Errorf("read migrations: %s has number %d, want %d", e.Name(), version, want)
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migrations: %w", err)
		}
		ms = append(ms, migration{version: version, name: name, sql: string(body)})
	}
	return ms, nil
}

// migrate applies, each in its own transaction, the migrations the database
// has not recorded in schema_migration. It refuses a database that records a
// migration this program does not know (made by a newer version).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.writer.ExecContext(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migration (
		    version INTEGER PRIMARY KEY,
		    name    TEXT    NOT NULL,
		    applied INTEGER NOT NULL
		) STRICT`); err != nil {
		return fmt.Errorf("create schema_migration: %w", err)
	}

	var latest int
	if err := s.writer.QueryRowContext(ctx,
		`SELECT coalesce(max(version), 0) FROM schema_migration`).Scan(&latest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this program's (%d): run a newer utask",
			latest, len(ms))
	}

	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// apply runs one migration unless it is recorded already. The write lock
// taken by the transaction (BEGIN IMMEDIATE) makes the check and the change
// one step.
func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // does nothing once committed

	var applied int
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM schema_migration WHERE version = ?`, m.version).Scan(&applied); err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migration (version, name, applied) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixMicro()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "store: migration applied", "version", m.version, "name", m.name)
	return nil
}

// Migrations lists the embedded migrations and when each was applied (nil
// when it was not).
func (s *Store) Migrations(ctx context.Context) ([]store.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	var exists int
	if err := s.writer.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if exists > 0 {
		rows, err := s.writer.QueryContext(ctx, `SELECT version, applied FROM schema_migration`)
		if err != nil {
			return nil, fmt.Errorf("read schema version: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var at int64
			if err := rows.Scan(&v, &at); err != nil {
				return nil, fmt.Errorf("read schema version: %w", err)
			}
			applied[v] = fromMicros(at)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema version: %w", err)
		}
	}
	out := make([]store.Migration, 0, len(ms))
	for _, m := range ms {
		mi := store.Migration{Version: m.version, Name: m.name}
		if at, ok := applied[m.version]; ok {
			mi.Applied = &at
		}
		out = append(out, mi)
	}
	return out, nil
}
