package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// StepList returns every step row of a resolution, sorted by name (byte
// order). A resolution without steps, or that does not exist, has none.
func (s *Store) StepList(ctx context.Context, resolutionID int64) ([]*store.Step, error) {
	steps, err := s.stepList(ctx, s.pool, resolutionID)
	if err != nil {
		return nil, fmt.Errorf("list steps of resolution %d: %w", resolutionID, err)
	}
	return steps, nil
}

// stepList reads the steps of a resolution. The resolution's public id comes
// along: it is part of the associated data of each step. The name column
// sorts in byte order (COLLATE "C"), which is also the order of the primary
// key.
func (s *Store) stepList(ctx context.Context, q querier, resolutionID int64) ([]*store.Step, error) {
	rows, err := q.Query(ctx, `
		SELECT r.public_id, s.name, s.state, s.try_count, s.max_retries, s.last_run, s.sealed_data
		FROM step s JOIN resolution r ON r.id = s.resolution_id
		WHERE s.resolution_id = $1
		ORDER BY s.name`, resolutionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var steps []*store.Step
	for rows.Next() {
		var (
			st                 store.Step
			resolutionPublicID string
			lastRun            *time.Time
			sealed             []byte
		)
		if err := rows.Scan(&resolutionPublicID, &st.Name, &st.State, &st.TryCount, &st.MaxRetries,
			&lastRun, &sealed); err != nil {
			return nil, err
		}
		st.LastRun = utc(lastRun)
		if st.Data, err = s.codec.OpenStep(sealed, rowcodec.StepAAD(resolutionPublicID, st.Name)); err != nil {
			return nil, fmt.Errorf("open data of step %s: %w", st.Name, err)
		}
		steps = append(steps, &st)
	}
	return steps, rows.Err()
}

// stepsUpsertSQL writes several steps of one resolution in one statement:
// the columns come as arrays, one element per step. It selects from the
// resolution row so that steps land only on the resolution whose public id
// sealed their data: with a wrong pair of ids nothing is written, and the
// statement, deferred, fails on its check (see pipeline); $9 is the number
// of rows.
const stepsUpsertSQL = `
	WITH w AS (
	    INSERT INTO step (resolution_id, name, state, try_count, max_retries, last_run, sealed_data)
	    SELECT r.id, s.name, s.state, s.try_count, s.max_retries, s.last_run, s.sealed_data
	    FROM resolution r,
	         unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::timestamptz[], $6::bytea[])
	             AS s (name, state, try_count, max_retries, last_run, sealed_data)
	    WHERE r.id = $7 AND r.public_id = $8
	    ON CONFLICT (resolution_id, name) DO UPDATE SET
	        state = excluded.state,
	        try_count = excluded.try_count,
	        max_retries = excluded.max_retries,
	        last_run = excluded.last_run,
	        sealed_data = excluded.sealed_data
	    RETURNING 1)
	SELECT CASE WHEN (SELECT count(*) FROM w) = $9::bigint THEN true
	       ELSE utask_fail('P0002', 'no such resolution') END`

// stepsArgs are the arguments of stepsUpsertSQL for steps of r. A name
// given twice keeps its last row, as if the rows were written one by one
// (one statement may not write a row twice).
func (s *Store) stepsArgs(r *store.Resolution, steps []*store.Step) ([]any, error) {
	last := make(map[string]int, len(steps))
	for i, st := range steps {
		last[st.Name] = i
	}
	var (
		names, states     []string
		tries, maxRetries []int32
		lastRuns          []*time.Time
		data              [][]byte
	)
	for i, st := range steps {
		if last[st.Name] != i {
			continue
		}
		sealed, err := s.codec.SealStep(st.Data, rowcodec.StepAAD(r.PublicID, st.Name))
		if err != nil {
			return nil, fmt.Errorf("seal data of step %s: %w", st.Name, err)
		}
		names, states = append(names, st.Name), append(states, st.State)
		tries, maxRetries = append(tries, int32(st.TryCount)), append(maxRetries, int32(st.MaxRetries)) //nolint:gosec // counts, far below 2^31
		b, _ := sealed.([]byte)                                                                         // nil (NULL) when the step has no data
		lastRuns, data = append(lastRuns, optTS(st.LastRun)), append(data, b)
	}
	return []any{names, states, tries, maxRetries, lastRuns, data, r.ID, r.PublicID, len(names)}, nil
}

// stepDelete removes the named steps of a resolution; names that have no row
// are ignored.
func (s *Store) stepDelete(ctx context.Context, q querier, resolutionID int64, names []string) error {
	if len(names) == 0 {
		return nil
	}
	_, err := q.Exec(ctx,
		`DELETE FROM step WHERE resolution_id = $1 AND name = ANY ($2::text[])`, resolutionID, names)
	return err
}
