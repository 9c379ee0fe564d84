package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/utask/utask/config"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/postgres"
	"github.com/utask/utask/store/sqlite"
)

// Migrate opens the configured store, applies its pending migrations when
// apply is set, and lists them with when each was applied (utask migrate
// up|status). The server applies them at every start too, under a lock.
func Migrate(ctx context.Context, opts Options, apply bool) ([]store.Migration, error) {
	items, err := config.LoadStore(getenv(opts.Environ, "CONFIGURATION_FROM"), opts.Environ)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	raw, _ := items.Get("utask-cfg")
	cfg, err := config.ParseUtaskConfig(raw)
	if err != nil {
		return nil, err
	}
	key, path, pgURL, err := databaseItem(items, cfg, opts.WorkDir)
	if err != nil {
		return nil, err
	}
	type migrator interface {
		Migrations(ctx context.Context) ([]store.Migration, error)
		Close() error
	}
	var db migrator
	if pgURL != "" {
		pg, err := postgres.Open(ctx, postgres.Config{URL: pgURL, Sealer: noSealer{}, Logger: opts.Logger, SkipMigrations: !apply})
		if err != nil {
			return nil, fmt.Errorf("configuration item %q: %w", key, err)
		}
		db = pg
	} else {
		lite, err := sqlite.Open(ctx, sqlite.Config{Path: path, Sealer: noSealer{}, Logger: opts.Logger, SkipMigrations: !apply})
		if err != nil {
			return nil, err
		}
		db = lite
	}
	defer db.Close()
	return db.Migrations(ctx)
}

// noSealer stands in for the keys when only the schema is touched.
type noSealer struct{}

var errNoKeys = errors.New("no keys: the store is open for its schema only")

func (noSealer) Seal([]byte, []byte) ([]byte, error) { return nil, errNoKeys }
func (noSealer) Open([]byte, []byte) ([]byte, error) { return nil, errNoKeys }
