package service

import (
	"context"
	"log/slog"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/store"
)

// DefaultRotationBatch is how many rows one batch of a key rotation reseals
// and commits.
const DefaultRotationBatch = 500

// RotationOptions tunes RotateKeys.
type RotationOptions struct {
	// BatchSize is how many rows of a table one transaction reseals.
	// Defaults to DefaultRotationBatch.
	BatchSize int
	// Logger receives a line per table. Defaults to discarding them.
	Logger *slog.Logger
	// Progress, when set, is called after each committed batch.
	Progress func(table string, batch store.ResealBatch)
}

// TableRotation is what a key rotation did to one table.
type TableRotation struct {
	// Rows is how many rows it read.
	Rows int
	// Resealed is how many of them it rewrote with the newest key; the
	// others held no sealed value or were sealed with it already.
	Resealed int
}

// RotateKeys seals again, with the newest key of the store's sealer, every
// sealed column of every table the store lists (Store.SealedTables), in
// batches of opts.BatchSize rows, each committed on its own. It stops at the
// first error: what was committed stays (every row opens with the old key or
// the new one), and a later call finishes the work, skipping the rows already
// sealed with the newest key when the sealer can tell (store.NewestChecker).
// It returns what it did to each table, those it finished or started.
func RotateKeys(ctx context.Context, db store.Store, opts RotationOptions) (map[string]TableRotation, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultRotationBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	done := map[string]TableRotation{}
	for _, table := range db.SealedTables() {
		var (
			tr    TableRotation
			after string
		)
		for {
			batch, err := db.Reseal(ctx, table, after, opts.BatchSize)
			if err != nil {
				done[table] = tr
				opts.Logger.ErrorContext(ctx, "key rotation stopped", "table", table, "after", after,
					"rows", tr.Rows, "resealed", tr.Resealed, "err", err)
				return done, err //nolint:wrapcheck // the store's error names the table and row
			}
			tr.Rows += batch.Rows
			tr.Resealed += batch.Resealed
			if opts.Progress != nil {
				opts.Progress(table, batch)
			}
			if batch.Done {
				break
			}
			after = batch.Next
		}
		done[table] = tr
		opts.Logger.InfoContext(ctx, "key rotation: table resealed", "table", table,
			"rows", tr.Rows, "resealed", tr.Resealed)
	}
	return done, nil
}

// ReencryptData seals again every stored secret with the newest encryption
// key (POST /key-rotate). Administrators only; it runs in maintenance mode
// too, which is where the rotation procedure calls it. On failure the
// rotation stops where it was and the error is internal; calling again
// finishes it.
func (s *Service) ReencryptData(ctx context.Context, id auth.Identity) error {
	if !s.cfg.Policy.IsAdmin(id) {
		return Errorf(KindUnauthorized, "unauthorized")
	}
	s.cfg.Logger.InfoContext(ctx, "key rotation started", "user", id.Username)
	if _, err := RotateKeys(ctx, s.cfg.Store, RotationOptions{Logger: s.cfg.Logger}); err != nil {
		return wrap(KindInternal, "Failed to re-encrypt data", err)
	}
	s.cfg.Logger.InfoContext(ctx, "key rotation done", "user", id.Username)
	return nil
}
