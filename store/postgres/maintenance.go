package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
)

// LeaderElect makes instanceID the leader if no term runs at now; see
// [store.Store]. The expired term is removed and the new one inserted in one
// transaction; of two instances electing at once, the second insert waits
// for the first and then does nothing.
func (s *Store) LeaderElect(ctx context.Context, instanceID int64, now time.Time, ttl time.Duration) (*store.LeaderTerm, error) {
	var term *store.LeaderTerm
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`DELETE FROM leader WHERE name = 'default' AND expires_at <= $1`, ts(now)); err != nil {
			return err
		}
		var err error
		term, err = scanTerm(tx.QueryRow(ctx, `
			INSERT INTO leader (name, instance_id, elected_at, expires_at)
			VALUES ('default', $1, $2, $3)
			ON CONFLICT (name) DO NOTHING
			RETURNING instance_id, elected_at, expires_at`,
			instanceID, ts(now), ts(now.Add(ttl))))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("elect leader: %w", err)
	}
	return term, nil
}

// LeaderReelect extends term if it still runs at now; see [store.Store].
func (s *Store) LeaderReelect(ctx context.Context, term store.LeaderTerm, now time.Time, ttl time.Duration) (*store.LeaderTerm, error) {
	t, err := scanTerm(s.pool.QueryRow(ctx, `
		UPDATE leader SET expires_at = $4
		WHERE name = 'default' AND instance_id = $1 AND elected_at = $2 AND expires_at > $3
		RETURNING instance_id, elected_at, expires_at`,
		term.InstanceID, ts(term.ElectedAt), ts(now), ts(now.Add(ttl))))
	if err != nil {
		return nil, fmt.Errorf("reelect leader: %w", err)
	}
	return t, nil
}

// LeaderResign ends term if it is still recorded.
func (s *Store) LeaderResign(ctx context.Context, term store.LeaderTerm) error {
	if _, err := s.pool.Exec(ctx,
		`DELETE FROM leader WHERE name = 'default' AND instance_id = $1 AND elected_at = $2`,
		term.InstanceID, ts(term.ElectedAt)); err != nil {
		return fmt.Errorf("resign leader: %w", err)
	}
	return nil
}

// scanTerm reads a leader row; no row is a nil term.
func scanTerm(row pgx.Row) (*store.LeaderTerm, error) {
	var t store.LeaderTerm
	err := row.Scan(&t.InstanceID, &t.ElectedAt, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil //nolint:nilnil // no term is an answer, not an error
	}
	if err != nil {
		return nil, err
	}
	t.ElectedAt, t.ExpiresAt = t.ElectedAt.UTC(), t.ExpiresAt.UTC()
	return &t, nil
}

// InstanceDeleteDead removes dead instances that hold nothing; see
// [store.Store].
func (s *Store) InstanceDeleteDead(ctx context.Context, self int64, aliveSince time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM instance i
		WHERE i.heartbeat <= $1 AND i.id <> $2
		  AND NOT EXISTS (
		      SELECT 1 FROM resolution r
		      WHERE r.instance_id = i.id AND r.state IN ('RUNNING', 'RETRY', 'AUTORUNNING', 'CRASHED'))`,
		ts(aliveSince), self)
	if err != nil {
		return 0, fmt.Errorf("delete dead instances: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// gcBatch is how many tasks one statement of TaskDeleteFinished removes, so
// that a first collection over years of tasks does not hold locks on all of
// them in one transaction.
const gcBatch = 1000

// TaskDeleteFinished removes old finished tasks; see [store.Store]. Their
// resolutions and steps go with them (ON DELETE CASCADE), and then the
// batches no task refers to any more.
func (s *Store) TaskDeleteFinished(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, `
			DELETE FROM task WHERE id IN (
			    SELECT id FROM task
			    WHERE state IN ('DONE', 'CANCELLED', 'WONTFIX') AND last_activity < $1
			    LIMIT $2
			    FOR UPDATE SKIP LOCKED)`, ts(before), gcBatch)
		if err != nil {
			return total, fmt.Errorf("delete finished tasks: %w", err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < gcBatch {
			// The batches whose last task just went go with it.
			return total, s.batchDeleteUnused(ctx)
		}
	}
}
