package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/crypt"
	"github.com/utask/utask/store"
)

// Opener opens a store on one database with the given sealer and step
// compression. Every call reaches the same data; the suite closes the store
// a call returned before it calls again. The backend closes what it opened
// at the end of the test.
type Opener func(t *testing.T, sealer store.Sealer, compression compress.Algorithm) store.Store

// RotationOptions tunes ExerciseRotation for one backend.
type RotationOptions struct {
	// NewDatabase returns the Opener of a fresh, empty database for one
	// test (called once per subtest).
	NewDatabase func(t *testing.T) Opener
}

// ExerciseRotation runs the key rotation part of the conformance suite
// (Store.SealedTables, Store.Reseal, the compression of step data): it needs
// to reopen one database with other keys, which [Options] cannot do.
func ExerciseRotation(t *testing.T, opts RotationOptions) {
	t.Helper()
	require.NotNil(t, opts.NewDatabase, "RotationOptions.NewDatabase is required")
	for _, bh := range rotationBehaviours() {
		t.Run(bh.name, func(t *testing.T) {
			t.Parallel()
			bh.run(t, newRotationBench(t, opts.NewDatabase(t)))
		})
	}
}

// rotationBench is one database that a test reopens with other keys.
type rotationBench struct {
	*bundle
	open Opener
	keyA string // the key the database was first opened with
}

// newRotationBench opens the database with a first key and records a
// template version in it.
func newRotationBench(t *testing.T, open Opener) *rotationBench {
	t.Helper()
	rb := &rotationBench{bundle: &bundle{
		ctx: t.Context(),
		now: time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}, open: open, keyA: newKeyItem(t, 1)}
	rb.s = open(t, newKeyring(t, rb.keyA), compress.Noop)
	var err error
	rb.version, err = rb.s.TemplateVersionPut(rb.ctx, "fixture", []byte(`{"name":"fixture"}`))
	require.NoError(t, err)
	return rb
}

// reopen closes the store and opens the database again with sealer.
func (rb *rotationBench) reopen(t *testing.T, sealer store.Sealer, compression compress.Algorithm) {
	t.Helper()
	require.NoError(t, rb.s.Close())
	rb.s = rb.open(t, sealer, compression)
}

// newKeyItem returns a fresh encryption-key item with the given timestamp.
func newKeyItem(t *testing.T, timestamp int64) string {
	t.Helper()
	item, err := crypt.GenerateKeyItem(rand.Reader, timestamp)
	require.NoError(t, err)
	return item
}

// newKeyring parses encryption-key items.
func newKeyring(t *testing.T, items ...string) *crypt.Keyring {
	t.Helper()
	k, err := crypt.ParseKeyring(items)
	require.NoError(t, err)
	return k
}

// fixture is what a rotation test writes: public ids to read it back with.
type fixture struct {
	tasks       []string // public ids
	resolutions []string // public ids
	callbacks   []string // public ids
	sealedRows  map[string]int
}

// writeFixture writes tasks with and without sealed values, their
// resolutions, steps (one with no data, names with a slash) and comments. It
// returns how many rows of each table hold a sealed value.
func (rb *rotationBench) writeFixture(t *testing.T, marker string) fixture {
	t.Helper()
	f := fixture{sealedRows: map[string]int{}}
	for i := range 3 {
		task := rb.newTask(func(task *store.Task) {
			task.LastActivity = rb.now.Add(time.Duration(i) * time.Hour)
			if i != 1 {
				task.Input = map[string]any{"password": marker + "-input", "n": json.Number("12345678901234567")}
				task.Result = map[string]any{"r": []any{marker + "-result"}}
			}
		})
		rb.insertTasks(t, task)
		if i != 1 {
			f.sealedRows["task"]++
		}
		r := rb.newResolution(task, func(r *store.Resolution) {
			if i != 2 {
				r.ResolverInput = map[string]any{"answer": marker + "-resolver"}
			}
		})
		rb.insertResolutions(t, r)
		if i != 2 {
			f.sealedRows["resolution"]++
		}
		rb.upsertSteps(t, r,
			&store.Step{Name: "a/b", State: "DONE", Data: store.StepData{Output: map[string]any{"o": marker + "-output"}}},
			&store.Step{Name: "empty", State: "TODO"},
			&store.Step{Name: "z", State: "SERVER_ERROR", Data: store.StepData{Error: marker + "-error"}},
		)
		f.sealedRows["step"] += 2
		rb.insertComments(t,
			rb.newComment(task, func(c *store.Comment) { c.Content = marker + "-comment-1" }),
			rb.newComment(task, func(c *store.Comment) { c.Content = marker + "-comment-2" }),
		)
		f.sealedRows["comment"] += 2
		cb := &store.Callback{
			PublicID: uuid.NewString(), TaskID: task.ID, ResolutionID: r.ID,
			Created: rb.now, Updated: rb.now, ResolverUsername: "requester", Secret: marker + "-secret",
		}
		if i != 0 {
			cb.Schema = []byte(`{"type":"object"}`)
		}
		if i != 1 {
			cb.Body = []byte(`{"answer":"` + marker + `-body"}`)
		}
		rb.inTx(t, func(tx store.Tx) { require.NoError(t, tx.CallbackInsert(rb.ctx, cb)) })
		f.sealedRows["callback"]++
		f.callbacks = append(f.callbacks, cb.PublicID)
		entry := &store.AuditEntry{
			PublicID: uuid.NewString(), TaskID: task.ID, ResolutionPublicID: r.PublicID, Time: rb.now,
			Username: "admin", Admin: true, Operation: "EditTask",
		}
		if i != 2 {
			entry.Detail = map[string]any{"changed": marker + "-audit"}
			f.sealedRows["audit"]++
		}
		rb.inTx(t, func(tx store.Tx) { require.NoError(t, tx.AuditInsert(rb.ctx, entry)) })
		f.tasks = append(f.tasks, task.PublicID)
		f.resolutions = append(f.resolutions, r.PublicID)
	}
	return f
}

// snapshot is everything the fixture's rows read as.
type snapshot struct {
	Tasks       []*store.Task
	Resolutions []*store.Resolution
	Steps       [][]*store.Step
	Comments    [][]*store.Comment
	Callbacks   []*store.Callback
	Audits      [][]*store.AuditEntry
}

// read reads every row of f, failing the test if one does not open.
func (rb *rotationBench) read(t *testing.T, f fixture) snapshot {
	t.Helper()
	snap, err := rb.tryRead(f)
	require.NoError(t, err)
	return snap
}

// tryRead reads every row of f.
func (rb *rotationBench) tryRead(f fixture) (snapshot, error) {
	var snap snapshot
	for _, id := range f.tasks {
		task, err := rb.s.TaskGet(rb.ctx, id)
		if err != nil {
			return snapshot{}, err
		}
		comments, err := rb.s.CommentList(rb.ctx, task.ID)
		if err != nil {
			return snapshot{}, err
		}
		audits, err := rb.s.AuditList(rb.ctx, store.AuditFilter{TaskID: task.ID, Limit: 100})
		if err != nil {
			return snapshot{}, err
		}
		snap.Tasks = append(snap.Tasks, task)
		snap.Comments = append(snap.Comments, comments)
		snap.Audits = append(snap.Audits, audits)
	}
	for _, id := range f.callbacks {
		c, err := rb.callback(id)
		if err != nil {
			return snapshot{}, err
		}
		snap.Callbacks = append(snap.Callbacks, c)
	}
	for _, id := range f.resolutions {
		r, err := rb.s.ResolutionGet(rb.ctx, id)
		if err != nil {
			return snapshot{}, err
		}
		steps, err := rb.s.StepList(rb.ctx, r.ID)
		if err != nil {
			return snapshot{}, err
		}
		snap.Resolutions = append(snap.Resolutions, r)
		snap.Steps = append(snap.Steps, steps)
	}
	return snap, nil
}

// callback reads a callback in a transaction (the store has no other read
// of it).
func (rb *rotationBench) callback(publicID string) (*store.Callback, error) {
	tx, err := rb.s.Begin(rb.ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(rb.ctx)) }()
	return tx.CallbackLock(rb.ctx, publicID)
}

// rotation is the outcome of a rotation over every sealed table.
type rotation struct {
	rows, resealed map[string]int
	batches        int
}

// rotate reseals every sealed table in batches of limit rows, stopping at
// the first error.
func (rb *rotationBench) rotate(ctx context.Context, limit int) (rotation, error) {
	out := rotation{rows: map[string]int{}, resealed: map[string]int{}}
	for _, table := range rb.s.SealedTables() {
		after := ""
		for {
			batch, err := rb.s.Reseal(ctx, table, after, limit)
			if err != nil {
				return out, err
			}
			out.batches++
			out.rows[table] += batch.Rows
			out.resealed[table] += batch.Resealed
			if batch.Done {
				break
			}
			after = batch.Next
		}
	}
	return out, nil
}

// watchSealer calls onSeal before each Seal of the sealer it wraps, and
// passes SealedByNewest through.
type watchSealer struct {
	sealer *crypt.Keyring
	mu     sync.Mutex
	onSeal func(plain, aad []byte)
}

func (w *watchSealer) Seal(plain, aad []byte) ([]byte, error) {
	w.mu.Lock()
	w.onSeal(plain, aad)
	w.mu.Unlock()
	return w.sealer.Seal(plain, aad) //nolint:wrapcheck // the wrapped sealer's error as is
}

func (w *watchSealer) Open(sealed, aad []byte) ([]byte, error) {
	return w.sealer.Open(sealed, aad) //nolint:wrapcheck // the wrapped sealer's error as is
}

func (w *watchSealer) SealedByNewest(sealed, aad []byte) bool {
	return w.sealer.SealedByNewest(sealed, aad)
}

// rotationBehaviour is one subtest of ExerciseRotation.
type rotationBehaviour struct {
	name string
	run  func(t *testing.T, rb *rotationBench)
}

// sum adds the counts of every table.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func rotationBehaviours() []rotationBehaviour {
	return []rotationBehaviour{
		{"RotationTables", func(t *testing.T, rb *rotationBench) {
			tables := rb.s.SealedTables()
			for _, want := range []string{"callback", "task", "resolution", "step", "comment", "audit"} {
				require.Contains(t, tables, want)
			}
			_, err := rb.s.Reseal(rb.ctx, "no_such_table", "", 10)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = rb.s.Reseal(rb.ctx, "task", "", 0)
			require.Error(t, err)
			_, err = rb.s.Reseal(rb.ctx, "task", "not-a-cursor", 10)
			require.Error(t, err)

			empty, err := rb.s.Reseal(rb.ctx, "task", "", 10)
			require.NoError(t, err)
			require.Equal(t, store.ResealBatch{Done: true}, empty)
		}},
		{"RotationKeepsEveryValue", func(t *testing.T, rb *rotationBench) {
			f := rb.writeFixture(t, uuid.NewString())
			before := rb.read(t, f)

			keyB := newKeyItem(t, 2)
			rb.reopen(t, newKeyring(t, rb.keyA, keyB), compress.Noop)
			got, err := rb.rotate(rb.ctx, 2)
			require.NoError(t, err)
			require.Equal(t, f.sealedRows["task"], got.resealed["task"])
			require.Equal(t, f.sealedRows["resolution"], got.resealed["resolution"])
			require.Equal(t, f.sealedRows["step"], got.resealed["step"])
			require.Equal(t, f.sealedRows["comment"], got.resealed["comment"])
			require.Equal(t, f.sealedRows["callback"], got.resealed["callback"])
			require.Equal(t, f.sealedRows["audit"], got.resealed["audit"])
			require.Equal(t, 3, got.rows["audit"], "every audit row is read, the one without detail too")
			require.Equal(t, 9, got.rows["step"], "every step row is read, the empty ones too")
			require.Equal(t, before, rb.read(t, f), "a rotation changes no value, last_activity included")

			// Everything is sealed with the newest key now: a second pass reads
			// every row and writes none.
			again, err := rb.rotate(rb.ctx, 2)
			require.NoError(t, err)
			require.Equal(t, got.rows, again.rows)
			require.Zero(t, sum(again.resealed))

			rb.reopen(t, newKeyring(t, keyB), compress.Noop)
			require.Equal(t, before, rb.read(t, f), "with only the new key every value still reads")

			rb.reopen(t, newKeyring(t, rb.keyA), compress.Noop)
			_, err = rb.tryRead(f)
			require.Error(t, err, "the old key alone opens nothing any more")
		}},
		{"RotationInterruptedResumes", func(t *testing.T, rb *rotationBench) {
			f := rb.writeFixture(t, uuid.NewString())
			before := rb.read(t, f)
			keyB := newKeyItem(t, 2)

			// The context is cancelled during the fifth seal: that row's batch
			// fails and rolls back, the batches before it are committed.
			ctx, cancel := context.WithCancel(rb.ctx)
			defer cancel()
			seals := 0
			rb.reopen(t, &watchSealer{sealer: newKeyring(t, rb.keyA, keyB), onSeal: func(_, _ []byte) {
				seals++
				if seals == 5 {
					cancel()
				}
			}}, compress.Noop)
			first, err := rb.rotate(ctx, 1)
			require.ErrorIs(t, err, context.Canceled)
			require.Positive(t, sum(first.resealed))
			require.Less(t, sum(first.resealed), sum(f.sealedRows))
			require.Equal(t, before, rb.read(t, f), "mid-way, every row reads with the old or the new key")

			rb.reopen(t, newKeyring(t, rb.keyA, keyB), compress.Noop)
			second, err := rb.rotate(rb.ctx, 1)
			require.NoError(t, err)
			require.Equal(t, sum(f.sealedRows), sum(first.resealed)+sum(second.resealed),
				"the second run reseals exactly the rows the first did not commit")

			rb.reopen(t, newKeyring(t, keyB), compress.Noop)
			require.Equal(t, before, rb.read(t, f))
		}},
		{"RotationStopsAtUnreadableRow", func(t *testing.T, rb *rotationBench) {
			first := rb.newTask(func(task *store.Task) { task.Input = map[string]any{"k": "first"} })
			rb.insertTasks(t, first)
			keyC := newKeyItem(t, 3)
			rb.reopen(t, newKeyring(t, keyC), compress.Noop)
			foreign := rb.newTask(func(task *store.Task) { task.Input = map[string]any{"k": "foreign"} })
			rb.insertTasks(t, foreign)

			keyB := newKeyItem(t, 2)
			rb.reopen(t, newKeyring(t, rb.keyA, keyB), compress.Noop)
			_, err := rb.s.Reseal(rb.ctx, "task", "", 10)
			require.ErrorIs(t, err, crypt.ErrDecrypt)

			// The batch was one transaction: the first task, resealed before
			// the failure, is still sealed with its old key.
			rb.reopen(t, newKeyring(t, rb.keyA), compress.Noop)
			got, err := rb.s.TaskGet(rb.ctx, first.PublicID)
			require.NoError(t, err)
			require.Equal(t, map[string]any{"k": "first"}, got.Input)
		}},
		{"RotationOfCompressedSteps", func(t *testing.T, rb *rotationBench) {
			_, r := rb.taskWithResolution(t)
			var (
				sealedSteps = map[string][]byte{} // step name → last plaintext sealed
				keyB        = newKeyItem(t, 2)
			)
			stepName := func(aad []byte) (string, bool) {
				prefix := []byte(r.PublicID + "/")
				if !bytes.HasPrefix(aad, prefix) {
					return "", false
				}
				return string(aad[len(prefix):]), true
			}
			watch := func(items ...string) *watchSealer {
				return &watchSealer{sealer: newKeyring(t, items...), onSeal: func(plain, aad []byte) {
					if name, ok := stepName(aad); ok {
						sealedSteps[name] = slices.Clone(plain)
					}
				}}
			}
			big := map[string]any{"o": string(bytes.Repeat([]byte("compressible "), 100))}

			rb.reopen(t, watch(rb.keyA), compress.Gzip)
			rb.upsertSteps(t, r, &store.Step{Name: "gz", State: "DONE", Data: store.StepData{Output: big}})
			require.True(t, compress.IsCompressed(sealedSteps["gz"]), "with gzip, step data is compressed before sealing")
			require.False(t, bytes.Contains(sealedSteps["gz"], []byte("compressible compressible")))

			rb.reopen(t, watch(rb.keyA), compress.Noop)
			rb.upsertSteps(t, r, &store.Step{Name: "plain", State: "DONE", Data: store.StepData{Output: big}})
			require.False(t, compress.IsCompressed(sealedSteps["plain"]))
			require.True(t, json.Valid(sealedSteps["plain"]))

			steps := rb.requireSteps(t, r.ID, big)

			clear(sealedSteps)
			rb.reopen(t, watch(rb.keyA, keyB), compress.Noop)
			_, err := rb.rotate(rb.ctx, 1)
			require.NoError(t, err)
			require.True(t, compress.IsCompressed(sealedSteps["gz"]), "a rotation keeps compressed data compressed")
			require.False(t, compress.IsCompressed(sealedSteps["plain"]))

			rb.reopen(t, newKeyring(t, keyB), compress.Gzip)
			require.Equal(t, steps, rb.requireSteps(t, r.ID, big))
		}},
	}
}

// requireSteps checks that every step of a resolution has output want and
// returns them.
func (rb *rotationBench) requireSteps(t *testing.T, resolutionID int64, want map[string]any) []*store.Step {
	t.Helper()
	steps, err := rb.s.StepList(rb.ctx, resolutionID)
	require.NoError(t, err)
	require.Len(t, steps, 2)
	for _, st := range steps {
		require.Equal(t, want, st.Data.Output, st.Name)
	}
	return steps
}
