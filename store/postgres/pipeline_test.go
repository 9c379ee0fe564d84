package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

func TestDeferredWriteFailureFailsTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	r := fixtureResolution(t, s, task, nil)

	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	changed := *task
	changed.Title = "changed"
	require.NoError(t, tx.TaskUpdate(ctx, &changed))
	missing := *task
	missing.ID += 1000
	require.NoError(t, tx.TaskUpdate(ctx, &missing), "deferred: reported by the next call")

	_, err = tx.ResolutionLock(ctx, r.PublicID)
	require.ErrorIs(t, err, errTxFailed)
	require.NotErrorIs(t, err, store.ErrNotFound, "the write's sentinel is not the read's")
	require.ErrorContains(t, err, "update task "+task.PublicID)
	_, err = tx.TaskLock(ctx, task.ID)
	require.ErrorIs(t, err, errTxFailed, "every later call fails")
	require.ErrorIs(t, tx.Commit(ctx), store.ErrNotFound, "Commit reports the write's error")
	require.NoError(t, tx.Rollback(ctx))

	got, err := s.TaskGet(ctx, task.PublicID)
	require.NoError(t, err)
	require.Equal(t, task.Title, got.Title, "the update before the failure is not committed")
}

func TestServerAbortedTransactionDoesNotCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)

	for name, fail := range map[string]func(p *pipeline) error{
		// The statement fails as it runs.
		"Exec": func(p *pipeline) error {
			_, err := p.Exec(ctx, `SELECT 1 / (SELECT count(*) - count(*) FROM task)`)
			return err
		},
		// The statement fails on its second row, while the caller reads.
		"RowsRead": func(p *pipeline) error {
			rows, err := p.Query(ctx, `SELECT 1 / (2 - x) FROM generate_series(1, 3) x`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tx, err := s.Begin(ctx)
			require.NoError(t, err)
			changed := *task
			changed.Title = "changed by " + name
			require.NoError(t, tx.TaskUpdate(ctx, &changed))
			require.Error(t, fail(tx.(*Tx).p))
			require.Error(t, tx.Commit(ctx), "an aborted transaction does not commit")
			require.NoError(t, tx.Rollback(ctx))

			got, err := s.TaskGet(ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, task.Title, got.Title)
		})
	}
}

func TestDeferredWritesCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	r := fixtureResolution(t, s, task, nil)

	// Only deferred writes: sent with BEGIN at Commit.
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	changed := *task
	changed.Title = "changed"
	require.NoError(t, tx.TaskUpdate(ctx, &changed))
	instance := int64(7)
	changedRes := *r
	changedRes.InstanceID = &instance
	changedRes.RunCount = 3
	require.NoError(t, tx.ResolutionUpdate(ctx, &changedRes))
	instance = 8 // the value written is the one given at the call
	require.NoError(t, tx.StepUpsert(ctx, r, []*store.Step{{Name: "a", State: "DONE"}}))
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, tx.Rollback(ctx), "after Commit, Rollback does nothing")
	_, err = tx.TaskLock(ctx, task.ID)
	require.Error(t, err, "a committed transaction takes no more calls")

	gotTask, err := s.TaskGet(ctx, task.PublicID)
	require.NoError(t, err)
	require.Equal(t, "changed", gotTask.Title)
	gotRes, err := s.ResolutionGet(ctx, r.PublicID)
	require.NoError(t, err)
	require.Equal(t, 3, gotRes.RunCount)
	require.Equal(t, int64(7), *gotRes.InstanceID)
	steps, err := s.StepList(ctx, r.ID)
	require.NoError(t, err)
	require.Len(t, steps, 1)

	// A transaction that ran nothing commits nothing, without a round trip.
	tx, err = s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}
