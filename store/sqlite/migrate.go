package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/migration"
)

// migrationFiles holds the schema changes, numbered 0001_name.sql onwards.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS //nolint:gochecknoglobals // read-only files compiled into the binary

// migrations returns the embedded migrations in order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrate applies, each in its own transaction, the migrations the database
// has not recorded in schema_migration. It refuses a database that records a
// migration this program does not know (made by a newer version). It runs
// at Open, on the write pool, before the write connection is taken from it.
func (s *Store) migrate(ctx context.Context) error {
	if s.wc != nil {
		return errors.New("migrate: the write connection is taken: migrations run at Open only")
	}
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
	if err := migration.CheckLatest(latest, ms); err != nil {
		return err
	}

	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return migration.ApplyError(m, err)
		}
	}
	return nil
}

// apply runs one migration unless it is recorded already. The write lock
// taken by the transaction (BEGIN IMMEDIATE) makes the check and the change
// one step.
func (s *Store) apply(ctx context.Context, m migration.Migration) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // does nothing once committed

	var applied int
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM schema_migration WHERE version = ?`, m.Version).Scan(&applied); err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migration (version, name, applied) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixMicro()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "store: migration applied", "version", m.Version, "name", m.Name)
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
	if err := s.reader.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if exists > 0 {
		rows, err := s.reader.QueryContext(ctx, `SELECT version, applied FROM schema_migration`)
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
	return migration.Status(ms, applied), nil
}
