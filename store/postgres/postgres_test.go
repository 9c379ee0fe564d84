package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/postgres/pgtest"
	"github.com/utask/utask/store/storetest"
)

// testMaxConns bounds the pool of each test's store: the suite runs many
// stores at once on one server.
const testMaxConns = 10

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// databaseURL returns the test database's URL, or skips the test (fails it
// when PostgreSQL is required).
func databaseURL(t testing.TB) string {
	t.Helper()
	return pgtest.URL(t)
}

// freshSchema returns the URL of a new, empty schema of the test database,
// dropped at the end of the test.
func freshSchema(t testing.TB) string {
	t.Helper()
	return pgtest.FreshSchema(t)
}

// testStore opens a store on url, closed at the end of the test. Its log
// lines go to logs when not nil.
func testStore(t testing.TB, u string, sealer store.Sealer, logs *syncBuffer) *Store {
	t.Helper()
	if logs == nil {
		logs = &syncBuffer{}
	}
	s, err := Open(t.Context(), Config{
		URL:      u,
		Sealer:   sealer,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxConns: testMaxConns,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// syncBuffer is a bytes.Buffer that several goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// dump returns what the store's schema holds: every row of every table,
// each column as PostgreSQL stores it (COPY's binary format gives bytea and
// text raw, not escaped). When the role may read the server's files, it
// adds the files of every table and index of the schema after a
// checkpoint, which hold the dead versions of updated rows too.
func dump(t *testing.T, s *Store) []byte {
	t.Helper()
	ctx := t.Context()
	conn, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()

	rows, err := conn.Query(ctx, `
		SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r'
		ORDER BY c.relname`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, currentSchema(t, s)+".task", "the dump covers the store's schema")

	var all bytes.Buffer
	for _, table := range tables {
		_, err := conn.Conn().PgConn().CopyTo(ctx, &all,
			`COPY (SELECT * FROM `+table+`) TO STDOUT (FORMAT binary)`)
		require.NoError(t, err, table)
	}

	var super bool
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super))
	if !super {
		t.Logf("dump: not a superuser, so only the live rows are dumped")
		return all.Bytes()
	}
	_, err = conn.Exec(ctx, `CHECKPOINT`)
	require.NoError(t, err)
	rows, err = conn.Query(ctx, `
		WITH rel AS (
		    SELECT c.oid, c.reltoastrelid
		    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i'))
		SELECT pg_read_binary_file(pg_relation_filepath(oid)) FROM (
		    SELECT oid FROM rel
		    UNION SELECT reltoastrelid FROM rel WHERE reltoastrelid <> 0
		    UNION SELECT i.indexrelid FROM pg_index i JOIN rel ON i.indrelid = rel.reltoastrelid) AS files`)
	require.NoError(t, err)
	files, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	for _, f := range files {
		all.Write(f)
	}
	return all.Bytes()
}

// currentSchema is the schema the store's tables live in.
func currentSchema(t *testing.T, s *Store) string {
	t.Helper()
	var schema string
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema))
	return schema
}

func TestConformance(t *testing.T) {
	t.Parallel()
	databaseURL(t)
	storetest.Exercise(t, storetest.Options{
		Open: func(t *testing.T) store.Store {
			return testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
		},
		Dump: func(t *testing.T, s store.Store) []byte {
			pg, ok := s.(*Store)
			require.True(t, ok)
			return dump(t, pg)
		},
	})
}

func TestOpenRefusesBadConfig(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	sealer := storetest.NewSealer(t)
	// Nothing listens there, and nothing is dialled: each config is refused
	// before any connection.
	const u = "postgres://utask@127.0.0.1:1/utask"
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"URL", Config{Sealer: sealer, Logger: logger}, "url is required"},
		{"Sealer", Config{URL: u, Logger: logger}, "sealer is required"},
		{"Logger", Config{URL: u, Sealer: sealer}, "logger is required"},
		{"NegativeMaxConns", Config{URL: u, Sealer: sealer, Logger: logger, MaxConns: -1},
			"max conns -1 is negative"},
		{"BadURL", Config{URL: "postgres://utask:s3cr3t-pw@127.0.0.1:port/utask", Sealer: sealer,
			Logger: logger},
			"url is not a valid PostgreSQL connection string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(t.Context(), tc.cfg)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cr3t-pw", "a refusal never quotes the password")
		})
	}
}

func TestOpenReportsUnreachableServer(t *testing.T) {
	t.Parallel()
	// A server that hangs up on every connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener is closed
			}
			_ = conn.Close()
		}
	})
	defer wg.Wait()
	defer func() { require.NoError(t, ln.Close()) }()

	addr := ln.Addr().String()
	_, err = Open(t.Context(), Config{
		URL:    "postgres://utask:s3cr3t-pw@" + addr + "/utask?connect_timeout=30",
		Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.ErrorContains(t, err, "open store "+addr+"/utask: ")
	require.NotContains(t, err.Error(), "s3cr3t-pw", "a failure never quotes the password")
}

func TestOpen(t *testing.T) {
	t.Parallel()
	databaseURL(t)

	t.Run("ConcurrentOpensMigrateOnce", func(t *testing.T) {
		t.Parallel()
		u := freshSchema(t)
		ms, err := migrations()
		require.NoError(t, err)
		require.NotEmpty(t, ms)

		const instances = 4
		var (
			logs   syncBuffer
			wg     sync.WaitGroup
			start  = make(chan struct{})
			stores = make([]*Store, instances)
			errs   = make([]error, instances)
		)
		for i := range instances {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(t.Context(), Config{
					URL:      u,
					Sealer:   storetest.NewSealer(t),
					Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
					MaxConns: testMaxConns,
				})
			})
		}
		close(start)
		wg.Wait()
		for i := range instances {
			require.NoError(t, errs[i])
			t.Cleanup(func() { require.NoError(t, stores[i].Close()) })
		}
		require.Equal(t, len(ms), strings.Count(logs.String(), "store: migration applied"),
			"each migration applied by one of the instances")
		var versions int
		require.NoError(t, stores[0].pool.QueryRow(t.Context(),
			`SELECT count(*) FROM schema_migration`).Scan(&versions))
		require.Equal(t, len(ms), versions)
		for _, s := range stores {
			require.NoError(t, s.Ping(t.Context()))
		}
	})

	t.Run("MigrationsAreIdempotent", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := freshSchema(t)
		sealer := storetest.NewSealer(t)
		ms, err := migrations()
		require.NoError(t, err)

		var logs syncBuffer
		s := testStore(t, u, sealer, &logs)
		require.Equal(t, len(ms), strings.Count(logs.String(), "store: migration applied"))
		task := fixtureTask(t, s, map[string]any{"kept": true})

		logs.Reset()
		require.NoError(t, s.migrate(ctx), "migrating a migrated database")
		again := testStore(t, u, sealer, &logs)
		require.NotContains(t, logs.String(), "store: migration applied")

		got, err := again.TaskGet(ctx, task.PublicID)
		require.NoError(t, err)
		require.Equal(t, task.Input, got.Input)
	})

	t.Run("RefusesNewerSchema", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := freshSchema(t)
		s := testStore(t, u, storetest.NewSealer(t), nil)
		_, err := s.pool.Exec(ctx,
			`INSERT INTO schema_migration (version, name, applied) VALUES (999, 'future', now())`)
		require.NoError(t, err)

		_, err = Open(ctx, Config{URL: u, Sealer: storetest.NewSealer(t),
			Logger: slog.New(slog.DiscardHandler)})
		require.ErrorContains(t, err, "database schema version 999 is newer")
	})

	t.Run("PoolSize", func(t *testing.T) {
		t.Parallel()
		u := freshSchema(t)
		for _, tc := range []struct {
			set, want int32
		}{{0, 50}, {3, 3}} {
			s, err := Open(t.Context(), Config{
				URL: u, Sealer: storetest.NewSealer(t), Logger: slog.New(slog.DiscardHandler), MaxConns: tc.set,
			})
			require.NoError(t, err)
			require.Equal(t, tc.want, s.pool.Config().MaxConns, "MaxConns %d", tc.set)
			require.NoError(t, s.Close())
			require.NoError(t, s.Close(), "a second Close does nothing")
		}
	})

	t.Run("MissingSchema", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(databaseURL(t))
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", "no_such_schema_"+strings.ReplaceAll(uuid.NewString(), "-", ""))
		u.RawQuery = q.Encode()
		_, err = Open(t.Context(), Config{URL: u.String(), Sealer: storetest.NewSealer(t),
			Logger: slog.New(slog.DiscardHandler)})
		require.ErrorContains(t, err, "the search path names no existing schema")
		require.ErrorContains(t, err, "CREATE SCHEMA")
	})

	t.Run("ConnMaxLifetime", func(t *testing.T) {
		t.Parallel()
		u := freshSchema(t)
		backend := func(s *Store) int32 {
			var pid int32
			require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&pid))
			return pid
		}
		forever, err := Open(t.Context(), Config{URL: u, Sealer: storetest.NewSealer(t),
			Logger: slog.New(slog.DiscardHandler), MaxConns: 1})
		require.NoError(t, err)
		defer func() { require.NoError(t, forever.Close()) }()
		short, err := Open(t.Context(), Config{URL: u, Sealer: storetest.NewSealer(t),
			Logger: slog.New(slog.DiscardHandler), MaxConns: 1, ConnMaxLifetime: 100 * time.Millisecond})
		require.NoError(t, err)
		defer func() { require.NoError(t, short.Close()) }()

		keptPID, shortPID := backend(forever), backend(short)
		time.Sleep(300 * time.Millisecond) // past the lifetime and its jitter
		// The expired connection serves once more and is dropped when it
		// is given back; the next query has a new one.
		backend(short)
		require.NotEqual(t, shortPID, backend(short), "the connection outlived its lifetime")
		backend(forever)
		require.Equal(t, keptPID, backend(forever), "without a lifetime the connection stays")
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

// fixtureResolution inserts a resolution of task, changed by mod, with
// steps, and returns it.
func fixtureResolution(t *testing.T, s *Store, task *store.Task, mod func(*store.Resolution),
	steps ...*store.Step) *store.Resolution {
	t.Helper()
	ctx := t.Context()
	r := &store.Resolution{PublicID: uuid.NewString(), TaskID: task.ID, State: "TODO"}
	if mod != nil {
		mod(r)
	}
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
	require.NoError(t, s.pool.QueryRow(t.Context(),
		`SELECT `+c.column+` FROM `+c.table+` WHERE `+c.where, c.args...).Scan(&v))
	return v
}

func (c cell) set(t *testing.T, s *Store, v []byte) {
	t.Helper()
	where := strings.NewReplacer("$1", "$2", "$2", "$3").Replace(c.where)
	tag, err := s.pool.Exec(t.Context(),
		`UPDATE `+c.table+` SET `+c.column+` = $1 WHERE `+where, append([]any{v}, c.args...)...)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
}

func TestSealedValuesAreBoundToTheirRow(t *testing.T) {
	t.Parallel()
	databaseURL(t)

	type bundle struct {
		s      *Store
		a, b   *store.Task
		ra, rb *store.Resolution
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
		bd := &bundle{s: s}
		bd.a = fixtureTask(t, s, map[string]any{"who": "a"})
		bd.b = fixtureTask(t, s, map[string]any{"who": "b"})
		step := func(name string) *store.Step {
			return &store.Step{Name: name, State: "DONE", Data: store.StepData{Output: name}}
		}
		input := func(who string) func(*store.Resolution) {
			return func(r *store.Resolution) { r.ResolverInput = map[string]any{"who": who} }
		}
		bd.ra = fixtureResolution(t, s, bd.a, input("ra"), step("x"), step("y"))
		bd.rb = fixtureResolution(t, s, bd.b, input("rb"), step("x"))
		return bd
	}
	taskCell := func(column string, task *store.Task) cell {
		return cell{"task", column, "public_id = $1", []any{task.PublicID}}
	}
	stepCell := func(r *store.Resolution, name string) cell {
		return cell{"step", "sealed_data", "resolution_id = $1 AND name = $2", []any{r.ID, name}}
	}
	readTaskB := func(t *testing.T, bd *bundle) error {
		_, err := bd.s.TaskGet(t.Context(), bd.b.PublicID)
		return err
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
			read: readTaskB,
		},
		{
			name: "TaskInputOntoAnotherTaskResult",
			from: func(bd *bundle) cell { return taskCell("sealed_input", bd.a) },
			to:   func(bd *bundle) cell { return taskCell("sealed_result", bd.b) },
			read: readTaskB,
		},
		{
			name: "ResolverInputOntoAnotherResolution",
			from: func(bd *bundle) cell {
				return cell{"resolution", "sealed_resolver_input", "public_id = $1", []any{bd.ra.PublicID}}
			},
			to: func(bd *bundle) cell {
				return cell{"resolution", "sealed_resolver_input", "public_id = $1", []any{bd.rb.PublicID}}
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
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	r := fixtureResolution(t, s, task, nil, &store.Step{Name: "a", State: "TODO"})
	kept := fixtureTask(t, s, nil)
	keptRes := fixtureResolution(t, s, kept, nil, &store.Step{Name: "a", State: "TODO"})

	_, err := s.pool.Exec(ctx, `DELETE FROM task WHERE id = $1`, task.ID)
	require.NoError(t, err)

	_, err = s.ResolutionGet(ctx, r.PublicID)
	require.ErrorIs(t, err, store.ErrNotFound)
	var steps int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM step WHERE resolution_id = $1`,
		r.ID).Scan(&steps))
	require.Zero(t, steps)

	_, err = s.ResolutionGet(ctx, keptRes.PublicID)
	require.NoError(t, err)
	left, err := s.StepList(ctx, keptRes.ID)
	require.NoError(t, err)
	require.Len(t, left, 1)
}

// A task insert takes no lock on its template version's row, which every
// task of the template shares (the hottest row under load), and still
// refuses a version that does not exist.
func TestTaskInsertDoesNotLockItsTemplateVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)

	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	require.NoError(t, tx.TaskInsert(ctx, &store.Task{PublicID: uuid.NewString(), TemplateName: "fixture",
		TemplateVersion: task.TemplateVersion, Created: time.Now(), LastActivity: time.Now(), State: "TODO"}))
	err = tx.TaskInsert(ctx, &store.Task{PublicID: uuid.NewString(), TemplateName: "fixture",
		TemplateVersion: task.TemplateVersion + 1000, Created: time.Now(), LastActivity: time.Now(), State: "TODO"})
	require.ErrorIs(t, err, store.ErrNotFound, "an unknown version is refused")

	// With the insert still uncommitted, the version row can be locked
	// exclusively at once: the insert holds no lock on it.
	other, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = other.Rollback(ctx) }()
	_, err = other.Exec(ctx, `SELECT 1 FROM template_version WHERE id = $1 FOR UPDATE NOWAIT`,
		task.TemplateVersion)
	require.NoError(t, err)
}

func TestRefusedInsertKeepsTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	taken := fixtureTask(t, s, nil)
	takenRes := fixtureResolution(t, s, taken, nil)

	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()

	dup := &store.Task{PublicID: taken.PublicID, TemplateName: "fixture",
		TemplateVersion: taken.TemplateVersion}
	require.ErrorIs(t, tx.TaskInsert(ctx, dup), store.ErrConflict)
	orphan := &store.Task{PublicID: uuid.NewString(), TemplateName: "fixture",
		TemplateVersion: taken.TemplateVersion + 1000}
	require.ErrorIs(t, tx.TaskInsert(ctx, orphan), store.ErrNotFound)
	require.ErrorIs(t, tx.ResolutionInsert(ctx, &store.Resolution{PublicID: uuid.NewString(),
		TaskID: taken.ID}),
		store.ErrConflict, "a second resolution of the task")
	require.ErrorIs(t, tx.ResolutionInsert(ctx, &store.Resolution{PublicID: uuid.NewString(),
		TaskID: taken.ID + 1000}),
		store.ErrNotFound)

	task := &store.Task{PublicID: uuid.NewString(), TemplateName: "fixture",
		TemplateVersion: taken.TemplateVersion}
	require.NoError(t, tx.TaskInsert(ctx, task), "the transaction goes on after refused inserts")
	r := &store.Resolution{PublicID: takenRes.PublicID, TaskID: task.ID}
	require.ErrorIs(t, tx.ResolutionInsert(ctx, r), store.ErrConflict, "a taken public id")
	r.PublicID = uuid.NewString()
	require.NoError(t, tx.ResolutionInsert(ctx, r))
	require.NoError(t, tx.Commit(ctx))

	got, err := s.ResolutionGet(ctx, r.PublicID)
	require.NoError(t, err)
	require.Equal(t, task.PublicID, got.TaskPublicID)
}

func TestStepUpsertRepeatedNameKeepsTheLast(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	r := fixtureResolution(t, s, fixtureTask(t, s, nil), nil)

	last := &store.Step{Name: "a", State: "DONE", TryCount: 2, Data: store.StepData{Output: "second"}}
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.StepUpsert(ctx, r, []*store.Step{
		{Name: "a", State: "RUNNING", TryCount: 1, Data: store.StepData{Output: "first"}},
		{Name: "b", State: "TODO"},
		last,
	}))
	require.NoError(t, tx.Commit(ctx))

	got, err := s.StepList(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, []*store.Step{last, {Name: "b", State: "TODO"}}, got)
}

func TestClaimsSkipLockedRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	me, err := s.InstanceRegister(ctx, now)
	require.NoError(t, err)
	dead := me + 1000 // no such instance: its resolutions are orphans

	runnable := func() *store.Resolution {
		return fixtureResolution(t, s, fixtureTask(t, s, nil),
			func(r *store.Resolution) { r.State = "TO_AUTORUN" })
	}
	orphan := func() *store.Resolution {
		return fixtureResolution(t, s, fixtureTask(t, s, nil), func(r *store.Resolution) {
			r.State, r.InstanceID = "RUNNING", &dead
		})
	}
	lockedRunnable, freeRunnable := runnable(), runnable()
	lockedOrphan, freeOrphan := orphan(), orphan()

	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	for _, r := range []*store.Resolution{lockedRunnable, lockedOrphan} {
		_, err := tx.ResolutionLock(ctx, r.PublicID)
		require.NoError(t, err)
	}

	// Were the locked rows waited for, the claims would hang until the
	// deadline, the transaction holding them being the test's own.
	claimCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	claimed, err := s.ResolutionClaimRunnable(claimCtx, me, now, 10)
	require.NoError(t, err)
	require.Equal(t, []string{freeRunnable.PublicID}, claimed)
	claimed, err = s.ResolutionClaimOrphans(claimCtx, me, now.Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, []string{freeOrphan.PublicID}, claimed)

	require.NoError(t, tx.Rollback(ctx))
	claimed, err = s.ResolutionClaimRunnable(claimCtx, me, now, 10)
	require.NoError(t, err)
	require.Equal(t, []string{lockedRunnable.PublicID}, claimed, "released, the row is claimed")
	claimed, err = s.ResolutionClaimOrphans(claimCtx, me, now.Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, []string{lockedOrphan.PublicID}, claimed)
}

func TestLockLetsOthersReferToTheRow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	r := fixtureResolution(t, s, fixtureTask(t, s, nil), nil)

	holder, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, holder.Rollback(ctx)) }()
	_, err = holder.TaskLock(ctx, task.ID)
	require.NoError(t, err)
	_, err = holder.ResolutionLock(ctx, r.PublicID)
	require.NoError(t, err)

	// Inserting rows that refer to a locked row checks the reference with a
	// share lock of its key, which the lock of the holder lets through: the
	// other transaction does not wait for the holder to end.
	other, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, other.Rollback(ctx)) }()
	otherCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, other.ResolutionInsert(otherCtx,
		&store.Resolution{PublicID: uuid.NewString(), TaskID: task.ID}))
	require.NoError(t, other.StepUpsert(otherCtx, r, []*store.Step{{Name: "a", State: "TODO"}}))
	require.NoError(t, other.Commit(ctx))
}

func TestClaimAndWakeupReadTheDueIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	// Many finished and idle resolutions, a few due ones.
	_, err := s.pool.Exec(ctx, `
		WITH tasks AS (
		    INSERT INTO task (public_id, template_name, template_version_id, title, requester_username,
		                      created, last_activity, state, steps_done, steps_total)
		    SELECT gen_random_uuid()::text, 'fixture', $1, '', '', now(), now(), 'DONE', 0, 0
		    FROM generate_series(1, 5000)
		    RETURNING id)
		INSERT INTO resolution (public_id, task_id, resolver_username, state, created, next_retry, last_start,
		                        run_count, run_max)
		SELECT gen_random_uuid()::text, id, '',
		       CASE WHEN id % 1000 = 0 THEN 'TO_AUTORUN' WHEN id % 10 = 0 THEN 'WAITING' ELSE 'DONE' END,
		       now(), now() - interval '1 hour', now(), 0, 0
		FROM tasks`, task.TemplateVersion)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `ANALYZE resolution`)
	require.NoError(t, err)

	plan := func(query string, args ...any) string {
		t.Helper()
		var p string
		require.NoError(t, s.pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+query, args...).Scan(&p))
		return p
	}
	// Each reads the first rows of resolution_due, in its order: no sort,
	// no aggregate over many rows, no table scan.
	now := time.Now()
	for name, tc := range map[string]struct {
		plan   string
		absent []string
	}{
		"ClaimRunnable": {plan(claimRunnableSQL, int64(1), now, 10), []string{`"Sort"`, `"Seq Scan"`}},
		"NextWakeup":    {plan(nextWakeupSQL), []string{`"Sort"`, `"Seq Scan"`, `"Aggregate"`}},
	} {
		require.Contains(t, tc.plan, `"Index Name": "resolution_due"`, "%s: %s", name, tc.plan)
		for _, node := range tc.absent {
			require.NotContains(t, tc.plan, `"Node Type": `+node, "%s: %s", name, tc.plan)
		}
	}
}

func TestListFiltersReadThePartialListIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	// Many tasks without lists (not in the partial indexes), a few with.
	_, err := s.pool.Exec(ctx, `
		INSERT INTO task (public_id, template_name, template_version_id, title, requester_username,
		                  created, last_activity, state, steps_done, steps_total,
		                  watcher_usernames, resolver_usernames, watcher_groups, resolver_groups, tags)
		SELECT gen_random_uuid()::text, 'fixture', $1, '', '', now(), now(), 'DONE', 0, 0,
		       l, l, l, l, CASE WHEN l IS NULL THEN NULL ELSE '{"k": "v"}'::jsonb END
		FROM (SELECT CASE WHEN i % 500 = 0 THEN jsonb_build_array('u' || i) END AS l
		      FROM generate_series(1, 5000) AS i) AS lists`, task.TemplateVersion)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `ANALYZE task`)
	require.NoError(t, err)

	for cond, index := range map[string]string{
		hasWatcherUsername: "task_watcher_usernames",
		hasResolverUser:    "task_resolver_usernames",
		meetsWatcherGroup:  "task_watcher_groups",
		meetsResolverGroup: "task_resolver_groups",
		hasTags:            "task_tags",
	} {
		var arg any = "u500"
		switch cond {
		case meetsWatcherGroup, meetsResolverGroup:
			arg = []string{"u500"}
		case hasTags:
			arg = `{"k": "v"}`
		}
		query := `EXPLAIN (FORMAT JSON) SELECT t.id FROM task t WHERE ` + strings.Replace(cond, "$?", "$1", 1)
		var p string
		require.NoError(t, s.pool.QueryRow(ctx, query, arg).Scan(&p))
		require.Contains(t, p, `"Index Name": "`+index+`"`, "%s: %s", cond, p)
		require.NotContains(t, p, `"Node Type": "Seq Scan"`, "%s: %s", cond, p)
	}
	// NULL lists have no entry: the partial indexes hold only the listed tasks.
	var entries int
	require.NoError(t, s.pool.QueryRow(ctx,
		`SELECT count(*) FROM task WHERE watcher_usernames IS NOT NULL`).Scan(&entries))
	require.Equal(t, 10, entries)
	var pred string
	require.NoError(t, s.pool.QueryRow(ctx,
		`SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'task_tags'::regclass`).Scan(&pred))
	require.Contains(t, pred, "IS NOT NULL")
}

// Two transactions writing the trail of one task commit in the order of
// their entries' ids: the second waits for the first, so a client paging
// the trail past the second entry cannot have missed the first.
func TestAuditEntriesOfATaskCommitInIDOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := testStore(t, freshSchema(t), storetest.NewSealer(t), nil)
	task := fixtureTask(t, s, nil)
	entry := func() *store.AuditEntry {
		return &store.AuditEntry{PublicID: uuid.NewString(), TaskID: task.ID, Time: time.Now(),
			Username: "bob", Operation: "AddTaskComment"}
	}
	first, second := entry(), entry()

	tx1, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx1.Rollback(ctx) }()
	require.NoError(t, tx1.AuditInsert(ctx, first))

	done := make(chan error, 1)
	go func() {
		tx2, err := s.Begin(ctx)
		if err == nil {
			if err = tx2.AuditInsert(ctx, second); err == nil {
				err = tx2.Commit(ctx)
			}
			_ = tx2.Rollback(ctx)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the second writer did not wait for the first: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	page, err := s.AuditList(ctx, store.AuditFilter{TaskID: task.ID, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, page)

	require.NoError(t, tx1.Commit(ctx))
	require.NoError(t, <-done)
	page, err = s.AuditList(ctx, store.AuditFilter{TaskID: task.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, []string{first.PublicID, second.PublicID}, []string{page[0].PublicID, page[1].PublicID})
	require.Less(t, first.ID, second.ID)
}
