package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	r, err := s.resolutionGet(ctx, s.pool, publicID, "")
	if err != nil {
		return nil, fmt.Errorf("get resolution %s: %w", publicID, err)
	}
	return r, nil
}

// resolutionGet reads a resolution by public id, with suffix (a locking
// clause, or "") after the query.
func (s *Store) resolutionGet(ctx context.Context, q querier, publicID, suffix string) (*store.Resolution, error) {
	var (
		r           store.Resolution
		sealedInput []byte
	)
	err := q.QueryRow(ctx, resolutionSelect+` WHERE r.public_id = $1 `+suffix, publicID).Scan(
		&r.ID, &r.PublicID, &r.TaskID, &r.TaskPublicID, &r.ResolverUsername, &r.State,
		&r.InstanceID, &r.Created, &r.LastStart, &r.LastStop, &r.NextRetry,
		&r.RunCount, &r.RunMax, &sealedInput)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.Created = r.Created.UTC()
	r.LastStart = utc(r.LastStart)
	r.LastStop = utc(r.LastStop)
	r.NextRetry = utc(r.NextRetry)
	if r.ResolverInput, err = s.codec.OpenMap(sealedInput, r.PublicID); err != nil {
		return nil, fmt.Errorf("open resolver input: %w", err)
	}
	return &r, nil
}

// The insert takes its task from the task row and does nothing on a
// conflict (a second resolution of the task, a taken public id), so that
// neither aborts the transaction; see taskInsertSQL.
const resolutionInsertSQL = `
	INSERT INTO resolution (
	    public_id, task_id, created,
	    resolver_username, state, instance_id, last_start, last_stop, next_retry,
	    run_count, run_max, sealed_resolver_input
	)
	SELECT $1, t.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
	FROM task t WHERE t.id = $2
	ON CONFLICT DO NOTHING
	RETURNING id, ` + wakeable

// resolutionInsert inserts r and sets its ID. due says whether the new
// resolution is runnable or will become so.
func (s *Store) resolutionInsert(ctx context.Context, q querier, r *store.Resolution) (due bool, err error) {
	row, err := s.resolutionRow(r)
	if err != nil {
		return false, err
	}
	args := append([]any{r.PublicID, r.TaskID, ts(r.Created)}, row...)
	var wake *bool
	err = q.QueryRow(ctx, resolutionInsertSQL, args...).Scan(&r.ID, &wake)
	if !errors.Is(err, pgx.ErrNoRows) {
		return wake != nil && *wake, insertError(err, "task", r.TaskID)
	}
	var known bool
	if err := q.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM task WHERE id = $1)`, r.TaskID).Scan(&known); err != nil {
		return false, err
	}
	if !known {
		return false, fmt.Errorf("task %d: %w", r.TaskID, store.ErrNotFound)
	}
	return false, fmt.Errorf("task %d has a resolution, or public id is taken: %w", r.TaskID, store.ErrConflict)
}

// The row is found by id and public id together, as for tasks. In SET, the
// columns name the stored values: a stored next_retry after the stored
// last_start (a wake-up since the last start) is kept unless the new one is
// after that last_start and earlier; a stored run_max higher than the new
// one is kept. The update is deferred, hence checks itself (see pipeline),
// and sends the wake-up ($12 is the channel) when the row, as written, is
// runnable or will become so.
const resolutionUpdateSQL = `
	WITH u AS (
	    UPDATE resolution SET
	        resolver_username = $1, state = $2, instance_id = $3, last_start = $4, last_stop = $5,
	        next_retry = CASE
	            WHEN next_retry IS NOT NULL AND last_start IS NOT NULL AND next_retry > last_start
	                 AND NOT ($6::timestamptz IS NOT NULL AND $6::timestamptz > last_start
	                          AND $6::timestamptz < next_retry)
	            THEN next_retry
	            ELSE $6::timestamptz END,
	        run_count = $7, run_max = GREATEST(run_max, $8), sealed_resolver_input = $9
	    WHERE id = $10 AND public_id = $11
	    RETURNING public_id, ` + wakeable + ` AS wake)
	SELECT CASE WHEN u.public_id IS NULL THEN utask_fail('P0002', 'no such resolution')
	            WHEN u.wake THEN pg_notify($12, u.public_id) IS NULL
	            ELSE false END
	FROM (SELECT) one LEFT JOIN u ON true`

// resolutionHoldSQL locks a resolution ($1) and requires that the instance
// $2 hold it. It is deferred, hence checks itself (see pipeline).
const resolutionHoldSQL = `
	SELECT CASE WHEN h.id IS NULL THEN utask_fail('P0002', 'no such resolution')
	            WHEN h.instance_id IS DISTINCT FROM $2 THEN utask_fail('UT423', 'held by another instance')
	            ELSE true END
	FROM (SELECT) one
	LEFT JOIN (SELECT id, instance_id FROM resolution WHERE id = $1 FOR NO KEY UPDATE) h ON true`

// resolutionRow is the stored form of the mutable columns of a resolution,
// in their order in resolutionInsertSQL and resolutionUpdateSQL.
func (s *Store) resolutionRow(r *store.Resolution) ([]any, error) {
	input, err := s.codec.SealMap(r.ResolverInput, r.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal resolver input: %w", err)
	}
	var instance *int64 // a copy: a deferred update is encoded when it is sent
	if r.InstanceID != nil {
		v := *r.InstanceID
		instance = &v
	}
	return []any{
		r.ResolverUsername, r.State, instance, optTS(r.LastStart), optTS(r.LastStop),
		optTS(r.NextRetry), r.RunCount, r.RunMax, input,
	}, nil
}

// dueAt is the time from which a resolution that will become runnable is
// runnable: at once (-infinity) for TO_AUTORUN, next_retry for the others.
// wakeable says which resolutions will become runnable, now or later. Both
// are the expression and the predicate of the index resolution_due (see the
// first migration), so that the planner matches them with it: a claim reads
// the first rows of that index, however many resolutions are finished or
// idle.
const (
	dueAt    = `(CASE WHEN state = 'TO_AUTORUN' THEN '-infinity'::timestamptz ELSE next_retry END)`
	wakeable = `(state = 'TO_AUTORUN'
	       OR (state IN ('ERROR', 'TO_AUTORUN_DELAYED') AND next_retry IS NOT NULL)
	       OR (state = 'WAITING' AND next_retry > last_start))`
)

// The claim of runnable resolutions. $1 is the claiming instance, $2 now,
// $3 the limit. "Has come" includes now itself, so that a claim made at the
// time ResolutionNextWakeup announced finds the resolution. The longest due
// are claimed first (TO_AUTORUN ones before all, oldest first). SKIP LOCKED
// passes over the rows another transaction holds, a concurrent claim's
// included, so that two claims never take one row and neither waits; a row
// that a concurrent claim took and committed is checked again against the
// condition, which it no longer meets.
const claimRunnableSQL = `
	UPDATE resolution
	SET instance_id = $1,
	    state = CASE WHEN state = 'TO_AUTORUN' THEN 'AUTORUNNING' ELSE 'RETRY' END
	WHERE id IN (
	    SELECT id FROM resolution
	    WHERE ` + wakeable + `
	      AND ` + dueAt + ` <= $2
	    ORDER BY ` + dueAt + `, created, id
	    LIMIT $3
	    FOR UPDATE SKIP LOCKED)
	RETURNING public_id`

// ResolutionClaimRunnable claims up to limit resolutions that are due at
// now; see [store.Store].
func (s *Store) ResolutionClaimRunnable(ctx context.Context, instanceID int64, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := s.claim(ctx, claimRunnableSQL, instanceID, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim runnable resolutions: %w", err)
	}
	return ids, nil
}

// The claim of orphans. $1 is the claiming instance, $2 the time after
// which a heartbeat proves its instance alive. A resolution whose instance
// row is gone counts as orphaned too.
const claimOrphansSQL = `
	UPDATE resolution
	SET instance_id = $1, state = 'CRASHED'
	WHERE id IN (
	    SELECT r.id FROM resolution r
	    WHERE r.state IN ('RUNNING', 'RETRY', 'AUTORUNNING', 'CRASHED')
	      AND r.instance_id IS NOT NULL
	      AND r.instance_id <> $1
	      AND NOT EXISTS (
	          SELECT 1 FROM instance i WHERE i.id = r.instance_id AND i.heartbeat > $2)
	    FOR UPDATE OF r SKIP LOCKED)
	RETURNING public_id`

// ResolutionClaimOrphans claims the resolutions that dead instances held;
// see [store.Store].
func (s *Store) ResolutionClaimOrphans(ctx context.Context, instanceID int64, aliveSince time.Time) ([]string, error) {
	ids, err := s.claim(ctx, claimOrphansSQL, instanceID, ts(aliveSince))
	if err != nil {
		return nil, fmt.Errorf("claim orphaned resolutions: %w", err)
	}
	return ids, nil
}

// The release of the resolutions an instance ($1) claimed and did not
// start, with their wake-up ($2 is the channel).
const releaseSQL = `
	WITH r AS (
	    UPDATE resolution SET state = 'TO_AUTORUN', instance_id = NULL
	    WHERE instance_id = $1 AND state = 'AUTORUNNING'
	    RETURNING public_id)
	SELECT r.public_id FROM r CROSS JOIN LATERAL pg_notify($2, r.public_id) n`

// ResolutionRelease hands back the resolutions instanceID claimed and did
// not start; see [store.Store].
func (s *Store) ResolutionRelease(ctx context.Context, instanceID int64) ([]string, error) {
	ids, err := s.claim(ctx, releaseSQL, instanceID, s.channel)
	if err != nil {
		return nil, fmt.Errorf("release resolutions: %w", err)
	}
	return ids, nil
}

// claim runs an UPDATE ... RETURNING public_id, a transaction of its own,
// and collects the ids.
func (s *Store) claim(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// The earliest due time among the resolutions claimRunnableSQL would take,
// were it run late enough. A TO_AUTORUN resolution is due from its creation.
// Each half reads one row of resolution_due.
const nextWakeupSQL = `
	SELECT least(
	    (SELECT created FROM resolution
	     WHERE ` + wakeable + ` AND ` + dueAt + ` = '-infinity'
	     ORDER BY created LIMIT 1),
	    (SELECT ` + dueAt + ` FROM resolution
	     WHERE ` + wakeable + ` AND ` + dueAt + ` > '-infinity'
	     ORDER BY ` + dueAt + ` LIMIT 1))`

// ResolutionNextWakeup returns the earliest time at which a resolution is
// due; a TO_AUTORUN resolution is due from its creation, so a time in the
// past means "now".
func (s *Store) ResolutionNextWakeup(ctx context.Context) (*time.Time, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, nextWakeupSQL).Scan(&at); err != nil {
		return nil, fmt.Errorf("get next wakeup: %w", err)
	}
	return utc(at), nil
}
