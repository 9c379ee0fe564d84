package postgres

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// roundTrips is a TCP proxy on loopback in front of the test server that
// counts the round trips of its clients: the times a client sends after
// the server spoke (or for the first time).
type roundTrips struct {
	ln    net.Listener
	url   string // the server's URL, through the proxy
	count atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newRoundTrips(t *testing.T, serverURL string) *roundTrips {
	t.Helper()
	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	server := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u.Host = ln.Addr().String()
	p := &roundTrips{ln: ln, url: u.String()}
	p.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			upstream, err := net.Dial("tcp", server)
			if err != nil {
				_ = client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, upstream)
			p.mu.Unlock()
			var serverSpoke atomic.Bool
			serverSpoke.Store(true)
			p.wg.Go(func() { p.pipe(upstream, client, func() { serverSpoke.Store(true) }) })
			p.wg.Go(func() {
				p.pipe(client, upstream, func() {
					if serverSpoke.Swap(false) {
						p.count.Add(1)
					}
				})
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// pipe copies from src to dst, calling seen before passing on each read.
func (p *roundTrips) pipe(dst, src net.Conn, seen func()) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = dst.Close()
			}
			return
		}
	}
}

// of returns the round trips fn made.
func (p *roundTrips) of(fn func()) int {
	before := p.count.Load()
	fn()
	return int(p.count.Load() - before)
}

// The writes of a new task and of an engine's save are deferred, checks
// included: each transaction, BEGIN and COMMIT with them, is one round
// trip.
func TestDeferredWritesTakeOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	proxy := newRoundTrips(t, freshSchema(t))
	s, err := Open(ctx, Config{
		URL:      proxy.url,
		Sealer:   storetest.NewSealer(t),
		Logger:   slog.New(slog.DiscardHandler),
		MaxConns: 1, // one connection, whose statements are prepared once
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)
	now := time.Now()
	instance := int64(42)

	create := func() (*store.Task, *store.Resolution) {
		task := &store.Task{PublicID: uuid.NewString(), TemplateName: "fixture", TemplateVersion: version,
			Created: now, LastActivity: now, State: "RUNNING", StepsTotal: 1}
		r := &store.Resolution{PublicID: uuid.NewString(), State: "RUNNING", InstanceID: &instance,
			Created: now, RunMax: 10}
		e := &store.AuditEntry{PublicID: uuid.NewString(), Time: now, Username: "u", Operation: "CreateTask"}
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.TaskCreate(ctx, task, r, e))
		require.NoError(t, tx.Commit(ctx))
		return task, r
	}
	save := func(task *store.Task, r *store.Resolution) {
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.ResolutionHold(ctx, r.ID, instance))
		require.NoError(t, tx.StepUpsert(ctx, r, []*store.Step{{Name: "a", State: "DONE"}}))
		task.State = "DONE"
		require.NoError(t, tx.TaskUpdate(ctx, task))
		r.State, r.InstanceID = "DONE", nil
		require.NoError(t, tx.ResolutionUpdate(ctx, r))
		require.NoError(t, tx.Commit(ctx))
	}

	// The first of each prepares its statements.
	save(create())

	var (
		task *store.Task
		r    *store.Resolution
	)
	require.Equal(t, 1, proxy.of(func() { task, r = create() }), "a new task")
	require.NotZero(t, task.ID)
	require.Equal(t, 1, proxy.of(func() { save(task, r) }), "a save")
	got, err := s.TaskGet(ctx, task.PublicID)
	require.NoError(t, err)
	require.Equal(t, "DONE", got.State)

	// A read waits for its answer: one round trip more.
	lockAndWrite := func() {
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		locked, err := tx.TaskLock(ctx, task.ID)
		require.NoError(t, err)
		require.NoError(t, tx.TaskUpdate(ctx, locked))
		require.NoError(t, tx.Commit(ctx))
	}
	lockAndWrite()
	require.Equal(t, 2, proxy.of(lockAndWrite), "a read, then a write")
}
