package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// A batch removed by a transaction that commits while a task insert waits
// for it (the maintenance removes a batch no task refers to yet) breaks the
// insert's reference: TaskInsert and TaskCreate report ErrNotFound, as for
// a batch that was never there, not the database's error (a 500 in the
// API).
func TestTaskInABatchRemovedMeanwhileIsNotFound(t *testing.T) {
	t.Parallel()
	for name, insert := range map[string]func(tx store.Tx, task *store.Task) error{
		"TaskInsert": func(tx store.Tx, task *store.Task) error {
			return tx.TaskInsert(context.Background(), task)
		},
		"TaskCreate": func(tx store.Tx, task *store.Task) error {
			e := &store.AuditEntry{PublicID: uuid.NewString(), Time: task.Created, Username: "u",
				Operation: "CreateTask"}
			return tx.TaskCreate(context.Background(), task, nil, e)
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			taskInABatchRemovedMeanwhile(t, insert)
		})
	}
}

func taskInABatchRemovedMeanwhile(t *testing.T, insert func(tx store.Tx, task *store.Task) error) {
	ctx := t.Context()
	u := freshSchema(t)
	s := testStore(t, u, storetest.NewSealer(t), nil)
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)

	batch := &store.Batch{PublicID: uuid.NewString()}
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.BatchInsert(ctx, batch))
	require.NoError(t, tx.Commit(ctx))

	// A second session removes the batch and keeps its transaction open.
	remover, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer func() { _ = remover.Close(context.Background()) }()
	var removerPID int32
	require.NoError(t, remover.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&removerPID))
	_, err = remover.Exec(ctx, `BEGIN`)
	require.NoError(t, err)
	tag, err := remover.Exec(ctx, `DELETE FROM batch WHERE public_id = $1`, batch.PublicID)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())

	now := time.Now()
	task := &store.Task{
		PublicID: uuid.NewString(), TemplateName: "fixture", TemplateVersion: version,
		Created: now, LastActivity: now, State: "TODO", StepsTotal: 1, Batch: batch.PublicID,
	}
	done := make(chan error, 1)
	go func() {
		tx, err := s.Begin(context.Background())
		if err != nil {
			done <- err
			return
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit
		if err := insert(tx, task); err != nil {
			done <- err
			return
		}
		done <- tx.Commit(context.Background())
	}()

	// Once the insert waits for the remover's lock on the batch, the
	// removal commits.
	watcher, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer func() { _ = watcher.Close(context.Background()) }()
	require.Eventually(t, func() bool {
		var n int
		err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE $1 = ANY (pg_blocking_pids(pid))`, removerPID).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "the insert never waited for the batch")
	_, err = remover.Exec(ctx, `COMMIT`)
	require.NoError(t, err)

	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the insert did not end")
	}
	require.ErrorIs(t, err, store.ErrNotFound, "a task in a removed batch")
}
