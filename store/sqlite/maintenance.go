package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/utask/utask/store"
)

// LeaderElect makes instanceID the leader if no term runs at now; see
// [store.Store]. With one writer, the removal of an expired term and the
// insert are one step.
func (s *Store) LeaderElect(ctx context.Context, instanceID int64, now time.Time, ttl time.Duration) (*store.LeaderTerm, error) {
	tx, err := s.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("elect leader: %w", err)
	}
	t := tx.(*Tx) //nolint:forcetypeassert // Begin returns *Tx
	defer func() { _ = t.Rollback(ctx) }()
	if _, err := t.tx.ExecContext(ctx,
		`DELETE FROM leader WHERE name = 'default' AND expires_at <= ?`, micros(now)); err != nil {
		return nil, fmt.Errorf("elect leader: %w", err)
	}
	term, err := scanTerm(t.tx.QueryRowContext(ctx, `
		INSERT INTO leader (name, instance_id, elected_at, expires_at)
		VALUES ('default', ?, ?, ?)
		ON CONFLICT (name) DO NOTHING
		RETURNING instance_id, elected_at, expires_at`,
		instanceID, micros(now), micros(now.Add(ttl))))
	if err != nil {
		return nil, fmt.Errorf("elect leader: %w", err)
	}
	if err := t.Commit(ctx); err != nil {
		return nil, fmt.Errorf("elect leader: %w", err)
	}
	return term, nil
}

// LeaderReelect extends term if it still runs at now; see [store.Store].
func (s *Store) LeaderReelect(ctx context.Context, term store.LeaderTerm, now time.Time, ttl time.Duration) (*store.LeaderTerm, error) {
	var t *store.LeaderTerm
	err := s.direct(ctx, func(q querier) error {
		var err error
		t, err = scanTerm(q.QueryRowContext(ctx, `
			UPDATE leader SET expires_at = ?4
			WHERE name = 'default' AND instance_id = ?1 AND elected_at = ?2 AND expires_at > ?3
			RETURNING instance_id, elected_at, expires_at`,
			term.InstanceID, micros(term.ElectedAt), micros(now), micros(now.Add(ttl))))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reelect leader: %w", err)
	}
	return t, nil
}

// LeaderResign ends term if it is still recorded.
func (s *Store) LeaderResign(ctx context.Context, term store.LeaderTerm) error {
	if _, err := s.directExec(ctx,
		`DELETE FROM leader WHERE name = 'default' AND instance_id = ? AND elected_at = ?`,
		term.InstanceID, micros(term.ElectedAt)); err != nil {
		return fmt.Errorf("resign leader: %w", err)
	}
	return nil
}

// scanTerm reads a leader row; no row is a nil term.
func scanTerm(row *sql.Row) (*store.LeaderTerm, error) {
	var (
		t                  store.LeaderTerm
		elected, expiresAt int64
	)
	err := row.Scan(&t.InstanceID, &elected, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil //nolint:nilnil // no term is an answer, not an error
	}
	if err != nil {
		return nil, err
	}
	t.ElectedAt, t.ExpiresAt = fromMicros(elected), fromMicros(expiresAt)
	return &t, nil
}

// InstanceDeleteDead removes dead instances that hold nothing; see
// [store.Store].
func (s *Store) InstanceDeleteDead(ctx context.Context, self int64, aliveSince time.Time) (int, error) {
	n, err := s.directExec(ctx, `
		DELETE FROM instance
		WHERE heartbeat <= ? AND id <> ?
		  AND NOT EXISTS (
		      SELECT 1 FROM resolution r
		      WHERE r.instance_id = instance.id AND r.state IN ('RUNNING', 'RETRY', 'AUTORUNNING', 'CRASHED'))`,
		micros(aliveSince), self)
	if err != nil {
		return 0, fmt.Errorf("delete dead instances: %w", err)
	}
	return int(n), nil
}

// gcBatch is how many tasks one statement of TaskDeleteFinished removes, so
// that a first collection over years of tasks does not hold the one writer
// for long.
const gcBatch = 1000

// TaskDeleteFinished removes old finished tasks; see [store.Store]. Their
// resolutions and steps go with them (ON DELETE CASCADE), and then the
// batches no task refers to any more.
func (s *Store) TaskDeleteFinished(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := s.directExec(ctx, `
			DELETE FROM task WHERE id IN (
			    SELECT id FROM task
			    WHERE state IN ('DONE', 'CANCELLED', 'WONTFIX') AND last_activity < ?
			    LIMIT ?)`, micros(before), gcBatch)
		if err != nil {
			return total, fmt.Errorf("delete finished tasks: %w", err)
		}
		total += int(n)
		if n < gcBatch {
			// The batches whose last task just went go with it.
			return total, s.batchDeleteUnused(ctx)
		}
	}
}

// Listen returns nil at once: one process holds the embedded store, and
// its engine wakes itself.
func (s *Store) Listen(context.Context, func()) error { return nil }
