package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// lockChildEnv, when set to a database path, turns the test binary into a
// second process that tries to open that database (see TestOpen).
const lockChildEnv = "UTASK_SQLITE_LOCK_CHILD"

// exitLocked is the child's exit status when Open refused with ErrLocked.
const exitLocked = 3

func TestMain(m *testing.M) {
	if path := os.Getenv(lockChildEnv); path != "" {
		os.Exit(lockChild(path))
	}
	goleak.VerifyTestMain(m)
}

// lockChild opens and closes the database at path, printing Open's error.
func lockChild(path string) int {
	s, err := Open(context.Background(), Config{
		Path:   path,
		Sealer: nullSealer{},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, ErrLocked) {
			return exitLocked
		}
		return 1
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// nullSealer refuses to seal: the lock child never seals anything.
type nullSealer struct{}

func (nullSealer) Seal(_, _ []byte) ([]byte, error) { return nil, errors.New("no sealing here") }
func (nullSealer) Open(_, _ []byte) ([]byte, error) { return nil, errors.New("no sealing here") }

// testStore opens a store on path, closed at the end of the test.
func testStore(t *testing.T, path string, sealer store.Sealer, logs *bytes.Buffer) *Store {
	t.Helper()
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	s, err := Open(t.Context(), Config{
		Path:   path,
		Sealer: sealer,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// dump reads raw every file of the database of s.
func dump(t *testing.T, s *Store) []byte {
	t.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(s.path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		all = append(all, b...)
	}
	return all
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, storetest.Options{
		Open: func(t *testing.T) store.Store {
			return testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
		},
		Dump: func(t *testing.T, s store.Store) []byte {
			sq, ok := s.(*Store)
			require.True(t, ok)
			return dump(t, sq)
		},
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("RefusesSecondOpenInProcess", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "utask.db")
		testStore(t, path, storetest.NewSealer(t), nil)

		_, err := Open(t.Context(), Config{Path: path, Sealer: storetest.NewSealer(t), Logger: slog.New(slog.DiscardHandler)})
		require.ErrorIs(t, err, ErrLocked)
		require.EqualError(t, err, "database "+path+" is used by another utask process: the embedded store "+
			"serves one instance; run several instances on PostgreSQL (a postgres:// database item)")
	})

	t.Run("RefusesSecondProcess", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "utask.db")
		child := func() (int, string) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				return exitErr.ExitCode(), string(out)
			}
			require.NoError(t, err)
			return 0, string(out)
		}

		s, err := Open(t.Context(), Config{Path: path, Sealer: storetest.NewSealer(t), Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		code, out := child()
		require.Equal(t, exitLocked, code, out)
		require.Contains(t, out, "database "+path+" is used by another utask process")

		require.NoError(t, s.Close())
		code, out = child()
		require.Equal(t, 0, code, "once closed, the database opens elsewhere: %s", out)
	})

	t.Run("ReopenKeepsData", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "utask.db")
		sealer := storetest.NewSealer(t)

		s, err := Open(ctx, Config{Path: path, Sealer: sealer, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		task := fixtureTask(t, s, map[string]any{"kept": true})
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "a second Close does nothing")

		s = testStore(t, path, sealer, nil)
		got, err := s.TaskGet(ctx, task.PublicID)
		require.NoError(t, err)
		require.Equal(t, task.Input, got.Input)
		require.Equal(t, task.ID, got.ID)
	})

	t.Run("MigrationsAreIdempotent", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "utask.db")
		sealer := storetest.NewSealer(t)
		ms, err := migrations()
		require.NoError(t, err)
		require.NotEmpty(t, ms)

		var logs bytes.Buffer
		s, err := Open(ctx, Config{Path: path, Sealer: sealer, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.NoError(t, err)
		require.Equal(t, len(ms), bytes.Count(logs.Bytes(), []byte("store: migration applied")))
		task := fixtureTask(t, s, nil)

		logs.Reset()
		require.NoError(t, s.Close())
		s = testStore(t, path, sealer, &logs)
		require.NotContains(t, logs.String(), "store: migration applied")

		var versions int
		require.NoError(t, writeScan(ctx, s, `SELECT count(*) FROM schema_migration`, nil, &versions))
		require.Equal(t, len(ms), versions)
		_, err = s.TaskGet(ctx, task.PublicID)
		require.NoError(t, err)
	})

	t.Run("RefusesNewerSchema", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "utask.db")
		sealer := storetest.NewSealer(t)
		s, err := Open(ctx, Config{Path: path, Sealer: sealer, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		_, err = s.directExec(ctx, `INSERT INTO schema_migration (version, name, applied) VALUES (999, 'future', 0)`)
		require.NoError(t, err)
		require.NoError(t, s.Close())

		_, err = Open(ctx, Config{Path: path, Sealer: sealer, Logger: slog.New(slog.DiscardHandler)})
		require.ErrorContains(t, err, "database schema version 999 is newer")

		// The refusal released the lock: the file is free for a newer program.
		f, err := lock(t.Context(), path)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	})

	t.Run("CreatesPrivateFilesAndDirectory", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "a", "b", "utask.db")
		testStore(t, path, storetest.NewSealer(t), nil)
		for _, p := range []string{path, path + ".lock"} {
			info, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), p)
		}
	})

	t.Run("RequiresConfig", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "utask.db")
		logger := slog.New(slog.DiscardHandler)
		sealer := storetest.NewSealer(t)
		for name, cfg := range map[string]Config{
			"Path":   {Sealer: sealer, Logger: logger},
			"Sealer": {Path: path, Logger: logger},
			"Logger": {Path: path, Sealer: sealer},
		} {
			_, err := Open(t.Context(), cfg)
			require.ErrorContains(t, err, "is required", name)
		}
		_, err := os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist, "a refused configuration creates nothing")
	})

	t.Run("Settings", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "2", // FULL
			"foreign_keys": "1",
			"busy_timeout": "5000",
			"temp_store":   "2", // MEMORY
		} {
			var got string
			require.NoError(t, writeScan(ctx, s, `PRAGMA `+pragma, nil, &got))
			require.Equal(t, want, got, pragma)
		}
		var queryOnly string
		require.NoError(t, s.reader.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly))
		require.Equal(t, "1", queryOnly)
		_, err := s.reader.ExecContext(ctx, `INSERT INTO instance (heartbeat) VALUES (0)`)
		require.Error(t, err, "the read pool refuses writes")
	})
}

// fixtureTask inserts and returns a task with input.
func fixtureTask(t *testing.T, s *Store, input map[string]any) *store.Task {
	t.Helper()
	ctx := t.Context()
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)
	task := &store.Task{
		PublicID:        uuid.NewString(),
		TemplateName:    "fixture",
		TemplateVersion: version,
		State:           "TODO",
		Input:           input,
	}
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.TaskInsert(ctx, task))
	require.NoError(t, tx.Commit(ctx))
	return task
}

// fixtureResolution inserts a resolution of task with resolver input and
// steps, and returns it.
func fixtureResolution(t *testing.T, s *Store, task *store.Task, input map[string]any, steps ...*store.Step) *store.Resolution {
	t.Helper()
	ctx := t.Context()
	r := &store.Resolution{PublicID: uuid.NewString(), TaskID: task.ID, State: "TODO", ResolverInput: input}
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.ResolutionInsert(ctx, r))
	require.NoError(t, tx.StepUpsert(ctx, r, steps))
	require.NoError(t, tx.Commit(ctx))
	return r
}

// cell is one sealed column of one row.
type cell struct {
	table, column, where string
	args                 []any
}

func (c cell) get(t *testing.T, s *Store) []byte {
	t.Helper()
	var v []byte
	require.NoError(t, writeScan(t.Context(), s,
		`SELECT `+c.column+` FROM `+c.table+` WHERE `+c.where, c.args, &v))
	return v
}

func (c cell) set(t *testing.T, s *Store, v []byte) {
	t.Helper()
	n, err := s.directExec(t.Context(),
		`UPDATE `+c.table+` SET `+c.column+` = ? WHERE `+c.where, append([]any{v}, c.args...)...)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

func TestSealedValuesAreBoundToTheirRow(t *testing.T) {
	t.Parallel()

	type bundle struct {
		s      *Store
		a, b   *store.Task
		ra, rb *store.Resolution
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
		bd := &bundle{s: s}
		bd.a = fixtureTask(t, s, map[string]any{"who": "a"})
		bd.b = fixtureTask(t, s, map[string]any{"who": "b"})
		step := func(name string) *store.Step {
			return &store.Step{Name: name, State: "DONE", Data: store.StepData{Output: name}}
		}
		bd.ra = fixtureResolution(t, s, bd.a, map[string]any{"who": "ra"}, step("x"), step("y"))
		bd.rb = fixtureResolution(t, s, bd.b, map[string]any{"who": "rb"}, step("x"))
		return bd
	}
	taskCell := func(column string, task *store.Task) cell {
		return cell{"task", column, "public_id = ?", []any{task.PublicID}}
	}
	stepCell := func(r *store.Resolution, name string) cell {
		return cell{"step", "sealed_data", "resolution_id = ? AND name = ?", []any{r.ID, name}}
	}

	for _, tc := range []struct {
		name     string
		from, to func(bd *bundle) cell
		read     func(t *testing.T, bd *bundle) error // reads the row of to
	}{
		{
			name: "TaskInputOntoAnotherTask",
			from: func(bd *bundle) cell { return taskCell("sealed_input", bd.a) },
			to:   func(bd *bundle) cell { return taskCell("sealed_input", bd.b) },
			read: func(t *testing.T, bd *bundle) error {
				_, err := bd.s.TaskGet(t.Context(), bd.b.PublicID)
				return err
			},
		},
		{
			name: "TaskInputOntoAnotherTaskResult",
			from: func(bd *bundle) cell { return taskCell("sealed_input", bd.a) },
			to:   func(bd *bundle) cell { return taskCell("sealed_result", bd.b) },
			read: func(t *testing.T, bd *bundle) error {
				_, err := bd.s.TaskGet(t.Context(), bd.b.PublicID)
				return err
			},
		},
		{
			name: "ResolverInputOntoAnotherResolution",
			from: func(bd *bundle) cell {
				return cell{"resolution", "sealed_resolver_input", "public_id = ?", []any{bd.ra.PublicID}}
			},
			to: func(bd *bundle) cell {
				return cell{"resolution", "sealed_resolver_input", "public_id = ?", []any{bd.rb.PublicID}}
			},
			read: func(t *testing.T, bd *bundle) error {
				_, err := bd.s.ResolutionGet(t.Context(), bd.rb.PublicID)
				return err
			},
		},
		{
			name: "StepDataOntoSameNameInAnotherResolution",
			from: func(bd *bundle) cell { return stepCell(bd.ra, "x") },
			to:   func(bd *bundle) cell { return stepCell(bd.rb, "x") },
			read: func(t *testing.T, bd *bundle) error {
				_, err := bd.s.StepList(t.Context(), bd.rb.ID)
				return err
			},
		},
		{
			name: "StepDataOntoAnotherStepOfTheResolution",
			from: func(bd *bundle) cell { return stepCell(bd.ra, "x") },
			to:   func(bd *bundle) cell { return stepCell(bd.ra, "y") },
			read: func(t *testing.T, bd *bundle) error {
				_, err := bd.s.StepList(t.Context(), bd.ra.ID)
				return err
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bd := setup(t)
			from, to := tc.from(bd), tc.to(bd)
			require.NoError(t, tc.read(t, bd), "the row reads before the copy")

			own := to.get(t, bd.s)
			moved := from.get(t, bd.s)
			require.NotEmpty(t, moved)
			to.set(t, bd.s, moved)
			require.Error(t, tc.read(t, bd), "a ciphertext moved to another row must not open")

			to.set(t, bd.s, own)
			require.NoError(t, tc.read(t, bd), "the row's own ciphertext opens again")
		})
	}
}

func TestDeletingATaskRemovesItsResolutionAndSteps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	r := fixtureResolution(t, s, task, nil, &store.Step{Name: "a", State: "TODO"})
	kept := fixtureTask(t, s, nil)
	keptRes := fixtureResolution(t, s, kept, nil, &store.Step{Name: "a", State: "TODO"})

	_, err := s.directExec(ctx, `DELETE FROM task WHERE id = ?`, task.ID)
	require.NoError(t, err)

	_, err = s.ResolutionGet(ctx, r.PublicID)
	require.ErrorIs(t, err, store.ErrNotFound)
	var steps int
	require.NoError(t, writeScan(ctx, s, `SELECT count(*) FROM step WHERE resolution_id = ?`, []any{r.ID}, &steps))
	require.Zero(t, steps)

	_, err = s.ResolutionGet(ctx, keptRes.PublicID)
	require.NoError(t, err)
	left, err := s.StepList(ctx, keptRes.ID)
	require.NoError(t, err)
	require.Len(t, left, 1)
}

func TestTemplateVersionInUseCannotBeDeleted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	_, err := s.directExec(ctx, `DELETE FROM template_version WHERE id = ?`, task.TemplateVersion)
	require.True(t, isForeignKeyViolation(err), "got %v", err)
}

// writeScan reads one row on the store's write connection, in its turn.
func writeScan(ctx context.Context, s *Store, query string, args []any, dest ...any) error {
	return s.direct(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, query, args...).Scan(dest...)
	})
}
