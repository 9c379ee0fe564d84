package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// StepList returns every step row of a resolution, sorted by name (byte
// order). A resolution without steps, or that does not exist, has none.
func (s *Store) StepList(ctx context.Context, resolutionID int64) ([]*store.Step, error) {
	steps, err := s.stepList(ctx, s.reads, resolutionID)
	if err != nil {
		return nil, fmt.Errorf("list steps of resolution %d: %w", resolutionID, err)
	}
	return steps, nil
}

// stepList reads the steps of a resolution. The resolution's public id comes
// along: it is part of the associated data of each step.
func (s *Store) stepList(ctx context.Context, q querier, resolutionID int64) ([]*store.Step, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT r.public_id, s.name, s.state, s.try_count, s.max_retries, s.last_run, s.sealed_data
		FROM step s JOIN resolution r ON r.id = s.resolution_id
		WHERE s.resolution_id = ?
		ORDER BY s.name`, resolutionID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()

	var steps []*store.Step
	for rows.Next() {
		var (
			st                 store.Step
			resolutionPublicID string
			lastRun            sql.NullInt64
			sealed             []byte
		)
		if err := rows.Scan(&resolutionPublicID, &st.Name, &st.State, &st.TryCount, &st.MaxRetries,
			&lastRun, &sealed); err != nil {
			return nil, err
		}
		st.LastRun = fromOptMicros(lastRun)
		if st.Data, err = s.codec.OpenStep(sealed, rowcodec.StepAAD(resolutionPublicID, st.Name)); err != nil {
			return nil, fmt.Errorf("open data of step %s: %w", st.Name, err)
		}
		steps = append(steps, &st)
	}
	return steps, rows.Err()
}

// The upsert selects from the resolution row so that a step lands only on
// the resolution whose public id sealed its data: with a wrong pair of ids
// nothing is written.
const stepUpsertSQL = `
	INSERT INTO step (resolution_id, name, state, try_count, max_retries, last_run, sealed_data)
	SELECT r.id, ?, ?, ?, ?, ?, ?
	FROM resolution r
	WHERE r.id = ? AND r.public_id = ?
	ON CONFLICT (resolution_id, name) DO UPDATE SET
	    state = excluded.state,
	    try_count = excluded.try_count,
	    max_retries = excluded.max_retries,
	    last_run = excluded.last_run,
	    sealed_data = excluded.sealed_data`

// stepUpsert writes steps of resolution r, one row each (the write
// connection compiles the statement once).
func (s *Store) stepUpsert(ctx context.Context, q querier, r *store.Resolution, steps []*store.Step) error {
	for _, st := range steps {
		data, err := s.codec.SealStep(st.Data, rowcodec.StepAAD(r.PublicID, st.Name))
		if err != nil {
			return fmt.Errorf("seal data of step %s: %w", st.Name, err)
		}
		res, err := q.ExecContext(ctx, stepUpsertSQL, st.Name, st.State, st.TryCount, st.MaxRetries, optMicros(st.LastRun), data,
			r.ID, r.PublicID)
		if err != nil {
			return fmt.Errorf("write step %s: %w", st.Name, err)
		}
		if err := affectedOne(res); err != nil {
			return fmt.Errorf("write step %s: resolution %d %s: %w", st.Name, r.ID, r.PublicID, err)
		}
	}
	return nil
}

// stepDelete removes the named steps of a resolution; names that have no row
// are ignored.
func (s *Store) stepDelete(ctx context.Context, q querier, resolutionID int64, names []string) error {
	if len(names) == 0 {
		return nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx,
		`DELETE FROM step WHERE resolution_id = ? AND name IN (SELECT value FROM json_each(?))`,
		resolutionID, string(list))
	return err
}
