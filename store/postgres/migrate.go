package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/migration"
)

// migrationFiles holds the schema changes, numbered 0001_name.sql onwards.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS //nolint:gochecknoglobals // read-only files compiled into the binary

// migrationLock is the key of the transaction-scoped advisory lock taken
// while migrating: "utaskmig" in ASCII. It is one key for the whole
// database, so deployments in different schemas of one database migrate one
// after the other, which costs nothing but a short wait.
const migrationLock int64 = 0x757461736b6d6967

// migrations returns the embedded migrations in order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrate applies the migrations the database has not recorded in
// schema_migration, all in one transaction that first takes the migration
// lock: an instance that starts while another migrates waits for it, then
// finds the work done. It refuses a database that records a migration this
// program does not know (made by a newer version).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // does nothing once committed

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migration (
		    version integer     PRIMARY KEY,
		    name    text        NOT NULL,
		    applied timestamptz NOT NULL
		)`); err != nil {
		return fmt.Errorf("create schema_migration: %w", err)
	}

	var latest int
	if err := tx.QueryRow(ctx,
		`SELECT coalesce(max(version), 0) FROM schema_migration`).Scan(&latest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := migration.CheckLatest(latest, ms); err != nil {
		return err
	}

	var applied []migration.Migration
	for _, m := range ms {
		done, err := apply(ctx, tx, m)
		if err != nil {
			return migration.ApplyError(m, err)
		}
		if done {
			applied = append(applied, m)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	for _, m := range applied {
		s.logger.InfoContext(ctx, "store: migration applied", "version", m.Version, "name", m.Name)
	}
	return nil
}

// apply runs one migration in tx unless it is recorded already, and reports
// whether it ran.
func apply(ctx context.Context, tx pgx.Tx, m migration.Migration) (bool, error) {
	var recorded bool
	if err := tx.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM schema_migration WHERE version = $1)`, m.Version).Scan(&recorded); err != nil {
		return false, err
	}
	if recorded {
		return false, nil
	}
	// Without arguments, Exec sends the file as one simple query, which may
	// hold several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO schema_migration (version, name, applied) VALUES ($1, $2, $3)`,
		m.Version, m.Name, time.Now().UTC().Truncate(time.Microsecond)); err != nil {
		return false, err
	}
	return true, nil
}

// Migrations lists the embedded migrations and when each was applied (nil
// when it was not).
func (s *Store) Migrations(ctx context.Context) ([]store.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migration') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if exists {
		rows, err := s.pool.Query(ctx, `SELECT version, applied FROM schema_migration`)
		if err != nil {
			return nil, fmt.Errorf("read schema version: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var at time.Time
			if err := rows.Scan(&v, &at); err != nil {
				return nil, fmt.Errorf("read schema version: %w", err)
			}
			applied[v] = at.UTC()
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema version: %w", err)
		}
	}
	return migration.Status(ms, applied), nil
}
