package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/utask/utask/store"
)

// resolutionSelect reads resolutions with the public id of their task.
const resolutionSelect = `
	SELECT r.id, r.public_id, r.task_id, t.public_id, r.resolver_username, r.state,
	       r.instance_id, r.created, r.last_start, r.last_stop, r.next_retry,
	       r.run_count, r.run_max, r.sealed_resolver_input
	FROM resolution r JOIN task t ON t.id = r.task_id`

// ResolutionGet returns a resolution by public id.
func (s *Store) ResolutionGet(ctx context.Context, publicID string) (*store.Resolution, error) {
	r, err := s.resolutionGet(ctx, s.reads, publicID)
	if err != nil {
		return nil, fmt.Errorf("get resolution %s: %w", publicID, err)
	}
	return r, nil
}

// resolutionGet reads a resolution by public id.
func (s *Store) resolutionGet(ctx context.Context, q querier, publicID string) (*store.Resolution, error) {
	var (
		r                              store.Resolution
		instanceID                     sql.NullInt64
		created                        int64
		lastStart, lastStop, nextRetry sql.NullInt64
		sealedInput                    []byte
	)
	err := q.QueryRowContext(ctx, resolutionSelect+` WHERE r.public_id = ?`, publicID).Scan(
		&r.ID, &r.PublicID, &r.TaskID, &r.TaskPublicID, &r.ResolverUsername, &r.State,
		&instanceID, &created, &lastStart, &lastStop, &nextRetry,
		&r.RunCount, &r.RunMax, &sealedInput)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.InstanceID = fromOptInt64(instanceID)
	r.Created = fromMicros(created)
	r.LastStart = fromOptMicros(lastStart)
	r.LastStop = fromOptMicros(lastStop)
	r.NextRetry = fromOptMicros(nextRetry)
	if r.ResolverInput, err = s.codec.OpenMap(sealedInput, r.PublicID); err != nil {
		return nil, fmt.Errorf("open resolver input: %w", err)
	}
	return &r, nil
}

const resolutionInsertSQL = `
	INSERT INTO resolution (
	    public_id, task_id, created,
	    resolver_username, state, instance_id, last_start, last_stop, next_retry,
	    run_count, run_max, sealed_resolver_input
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	RETURNING id`

// resolutionInsert inserts r and sets its ID.
func (s *Store) resolutionInsert(ctx context.Context, q querier, r *store.Resolution) error {
	row, err := s.resolutionRow(r)
	if err != nil {
		return err
	}
	args := append([]any{r.PublicID, r.TaskID, micros(r.Created)}, row...)
	err = q.QueryRowContext(ctx, resolutionInsertSQL, args...).Scan(&r.ID)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("task %d: %w", r.TaskID, store.ErrNotFound)
	}
	return conflict(err)
}

// The row is found by id and public id together, as for tasks. In SET, the
// columns name the stored values: a stored next_retry after the stored
// last_start (a wake-up since the last start) is kept unless the new one is
// after that last_start and earlier; a stored run_max higher than the new
// one is kept.
const resolutionUpdateSQL = `
	UPDATE resolution SET
	    resolver_username = ?1, state = ?2, instance_id = ?3, last_start = ?4, last_stop = ?5,
	    next_retry = CASE
	        WHEN next_retry IS NOT NULL AND last_start IS NOT NULL AND next_retry > last_start
	             AND NOT (?6 IS NOT NULL AND ?6 > last_start AND ?6 < next_retry)
	        THEN next_retry
	        ELSE ?6 END,
	    run_count = ?7, run_max = max(run_max, ?8), sealed_resolver_input = ?9
	WHERE id = ?10 AND public_id = ?11`

// resolutionUpdate writes the mutable columns of r.
func (s *Store) resolutionUpdate(ctx context.Context, q querier, r *store.Resolution) error {
	row, err := s.resolutionRow(r)
	if err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, resolutionUpdateSQL, append(row, r.ID, r.PublicID)...)
	if err != nil {
		return err
	}
	return affectedOne(res)
}

// resolutionRow is the stored form of the mutable columns of a resolution,
// in their order in resolutionInsertSQL and resolutionUpdateSQL.
func (s *Store) resolutionRow(r *store.Resolution) ([]any, error) {
	input, err := s.codec.SealMap(r.ResolverInput, r.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal resolver input: %w", err)
	}
	return []any{
		r.ResolverUsername, r.State, optInt64(r.InstanceID), optMicros(r.LastStart), optMicros(r.LastStop),
		optMicros(r.NextRetry), r.RunCount, r.RunMax, input,
	}, nil
}

// The claim of runnable resolutions. ?1 is the claiming instance, ?2 now,
// ?3 the limit. "Has come" includes now itself, so that a claim made at the
// time ResolutionNextWakeup announced finds the resolution.
const claimRunnableSQL = `
	UPDATE resolution
	SET instance_id = ?1,
	    state = CASE WHEN state = 'TO_AUTORUN' THEN 'AUTORUNNING' ELSE 'RETRY' END
	WHERE id IN (
	    SELECT id FROM resolution
	    WHERE state = 'TO_AUTORUN'
	       OR (state IN ('ERROR', 'TO_AUTORUN_DELAYED') AND next_retry <= ?2)
	       OR (state = 'WAITING' AND next_retry > last_start AND next_retry <= ?2)
	    ORDER BY id
	    LIMIT ?3)
	RETURNING public_id`

// ResolutionClaimRunnable claims up to limit resolutions that are due at
// now; see [store.Store].
func (s *Store) ResolutionClaimRunnable(ctx context.Context, instanceID int64, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := s.claim(ctx, claimRunnableSQL, instanceID, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim runnable resolutions: %w", err)
	}
	return ids, nil
}

// The claim of orphans. ?1 is the claiming instance, ?2 the time after
// which a heartbeat proves its instance alive. A resolution whose instance
// row is gone counts as orphaned too.
const claimOrphansSQL = `
	UPDATE resolution
	SET instance_id = ?1, state = 'CRASHED'
	WHERE id IN (
	    SELECT r.id FROM resolution r
	    WHERE r.state IN ('RUNNING', 'RETRY', 'AUTORUNNING', 'CRASHED')
	      AND r.instance_id IS NOT NULL
	      AND r.instance_id <> ?1
	      AND NOT EXISTS (
	          SELECT 1 FROM instance i WHERE i.id = r.instance_id AND i.heartbeat > ?2))
	RETURNING public_id`

// ResolutionClaimOrphans claims the resolutions that dead instances held;
// see [store.Store].
func (s *Store) ResolutionClaimOrphans(ctx context.Context, instanceID int64, aliveSince time.Time) ([]string, error) {
	ids, err := s.claim(ctx, claimOrphansSQL, instanceID, micros(aliveSince))
	if err != nil {
		return nil, fmt.Errorf("claim orphaned resolutions: %w", err)
	}
	return ids, nil
}

// ResolutionRelease hands back the resolutions instanceID claimed and did
// not start; see [store.Store].
func (s *Store) ResolutionRelease(ctx context.Context, instanceID int64) ([]string, error) {
	ids, err := s.claim(ctx, `
		UPDATE resolution SET state = 'TO_AUTORUN', instance_id = NULL
		WHERE instance_id = ?1 AND state = 'AUTORUNNING'
		RETURNING public_id`, instanceID)
	if err != nil {
		return nil, fmt.Errorf("release resolutions: %w", err)
	}
	return ids, nil
}

// claim runs an UPDATE ... RETURNING public_id and collects the ids.
func (s *Store) claim(ctx context.Context, query string, args ...any) ([]string, error) {
	var ids []string
	err := s.direct(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// The statement commits when its rows are closed.
		return rows.Close()
	})
	return ids, err
}

// The earliest due time among the resolutions claimRunnableSQL would take,
// were it run late enough. A TO_AUTORUN resolution is due from its creation.
const nextWakeupSQL = `
	SELECT min(CASE WHEN state = 'TO_AUTORUN' THEN created ELSE next_retry END)
	FROM resolution
	WHERE state = 'TO_AUTORUN'
	   OR (state IN ('ERROR', 'TO_AUTORUN_DELAYED') AND next_retry IS NOT NULL)
	   OR (state = 'WAITING' AND next_retry > last_start)`

// ResolutionNextWakeup returns the earliest time at which a resolution is
// due; a TO_AUTORUN resolution is due from its creation, so a time in the
// past means "now".
func (s *Store) ResolutionNextWakeup(ctx context.Context) (*time.Time, error) {
	var at sql.NullInt64
	if err := s.reads.QueryRowContext(ctx, nextWakeupSQL).Scan(&at); err != nil {
		return nil, fmt.Errorf("get next wakeup: %w", err)
	}
	return fromOptMicros(at), nil
}
