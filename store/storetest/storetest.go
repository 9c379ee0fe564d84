// Package storetest is the conformance suite of store.Store: every backend
// runs [Exercise] and must pass all of it.
//
// The suite checks behaviour only through the store.Store and store.Tx
// methods, plus an optional raw dump of what the backend stored, so that one
// suite serves SQLite and PostgreSQL alike. Checks that need to reach under
// the interface (moving a ciphertext from one row to another, say) belong to
// each backend's own tests.
package storetest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// Options tunes the suite for one backend.
type Options struct {
	// Open returns a fresh, empty, migrated store for one test (called once
	// per subtest). The backend closes it when the test ends (t.Cleanup).
	Open func(t *testing.T) store.Store
	// Dump returns every byte the backend stored for that store (e.g. the
	// database file and WAL read raw), used to check that sealed values never
	// appear in clear. nil skips those checks.
	Dump func(t *testing.T, s store.Store) []byte
}

// behaviour is one subtest of the suite.
type behaviour struct {
	name string
	run  func(t *testing.T, b *bundle)
}

// Exercise runs the conformance suite: one subtest per behaviour, all
// parallel.
func Exercise(t *testing.T, opts Options) {
	t.Helper()
	require.NotNil(t, opts.Open, "Options.Open is required")

	var all []behaviour
	for _, group := range [][]behaviour{
		miscBehaviours(), taskBehaviours(), listBehaviours(), resolutionBehaviours(),
		claimBehaviours(), stepBehaviours(), txBehaviours(), sealBehaviours(), coordinationBehaviours(),
		templateBehaviours(), createBehaviours(),
		commentBehaviours(), auditBehaviours(), batchBehaviours(), callbackBehaviours(),
	} {
		all = append(all, group...)
	}
	for _, bh := range all {
		t.Run(bh.name, func(t *testing.T) {
			t.Parallel()
			bh.run(t, setup(t, opts))
		})
	}
}

// NewSealer returns a test Sealer: AES-256-GCM from the standard library
// with a random key, a random nonce per value, and the associated data
// honoured. It takes a testing.TB so that benchmarks can use it too.
func NewSealer(t testing.TB) store.Sealer {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &gcmSealer{aead: aead}
}

// gcmSealer seals as nonce || AEAD ciphertext.
type gcmSealer struct {
	aead cipher.AEAD
}

func (s *gcmSealer) Seal(plain, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	nonce := make([]byte, n, n+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal value: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, aad), nil
}

func (s *gcmSealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("open sealed value: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	return plain, nil
}

// bundle is what one subtest works with.
type bundle struct {
	ctx     context.Context
	opts    Options
	s       store.Store
	now     time.Time // a fixed instant, UTC, whole microseconds
	version int64     // a template version for fixture tasks
}

func setup(t *testing.T, opts Options) *bundle {
	t.Helper()
	b := &bundle{
		ctx:  t.Context(),
		opts: opts,
		s:    opts.Open(t),
		now:  time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}
	var err error
	b.version, err = b.s.TemplateVersionPut(b.ctx, "fixture", []byte(`{"name":"fixture"}`))
	require.NoError(t, err)
	return b
}

// inTx runs fn in a transaction and commits it. The transaction is rolled
// back if fn stops the test.
func (b *bundle) inTx(t *testing.T, fn func(tx store.Tx)) {
	t.Helper()
	tx, err := b.s.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) }()
	fn(tx)
	require.NoError(t, tx.Commit(b.ctx))
}

// requireDeferredNotFound runs write in a transaction: it must fail with
// ErrNotFound, at once or, for a deferred write, from Commit, which then
// commits nothing.
func (b *bundle) requireDeferredNotFound(t *testing.T, write func(tx store.Tx) error, msgAndArgs ...any) {
	t.Helper()
	b.requireDeferredError(t, store.ErrNotFound, write, msgAndArgs...)
}

// requireDeferredError runs write in a transaction: it must fail with
// sentinel, at once or, for a deferred write, from a later call or from
// Commit, which then commits nothing.
func (b *bundle) requireDeferredError(t *testing.T, sentinel error, write func(tx store.Tx) error,
	msgAndArgs ...any,
) {
	t.Helper()
	tx, err := b.s.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) }()
	err = write(tx)
	if err == nil {
		err = tx.Commit(b.ctx)
	}
	require.ErrorIs(t, err, sentinel, msgAndArgs...)
}

// newTask returns a task ready to insert, changed by mods.
func (b *bundle) newTask(mods ...func(*store.Task)) *store.Task {
	t := &store.Task{
		PublicID:          uuid.NewString(),
		TemplateName:      "fixture",
		TemplateVersion:   b.version,
		Title:             "a task",
		RequesterUsername: "requester",
		Created:           b.now,
		LastActivity:      b.now,
		State:             "TODO",
		StepsTotal:        1,
	}
	for _, m := range mods {
		m(t)
	}
	return t
}

// insertTasks inserts tasks in one transaction.
func (b *bundle) insertTasks(t *testing.T, tasks ...*store.Task) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) {
		for _, task := range tasks {
			require.NoError(t, tx.TaskInsert(b.ctx, task))
			require.NotZero(t, task.ID)
		}
	})
}

// newResolution returns a resolution of task ready to insert, changed by
// mods.
func (b *bundle) newResolution(task *store.Task, mods ...func(*store.Resolution)) *store.Resolution {
	r := &store.Resolution{
		PublicID:         uuid.NewString(),
		TaskID:           task.ID,
		ResolverUsername: "resolver",
		State:            "TODO",
		Created:          b.now,
		RunMax:           10,
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

// insertResolutions inserts resolutions in one transaction.
func (b *bundle) insertResolutions(t *testing.T, rs ...*store.Resolution) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) {
		for _, r := range rs {
			require.NoError(t, tx.ResolutionInsert(b.ctx, r))
			require.NotZero(t, r.ID)
		}
	})
}

// taskWithResolution inserts a task and a resolution of it, changed by mods.
func (b *bundle) taskWithResolution(t *testing.T, mods ...func(*store.Resolution)) (*store.Task, *store.Resolution) {
	t.Helper()
	task := b.newTask()
	b.insertTasks(t, task)
	r := b.newResolution(task, mods...)
	b.insertResolutions(t, r)
	return task, r
}

// stored is the value a store must return for a time: UTC, truncated to
// the microsecond.
func stored(t time.Time) time.Time {
	return t.Truncate(time.Microsecond).UTC()
}

// storedPtr is stored for an optional time.
func storedPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := stored(*t)
	return &s
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
