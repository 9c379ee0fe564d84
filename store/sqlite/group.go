package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Group commit.
//
// With synchronous FULL every COMMIT waits for the disk, and with one writer
// the transactions of concurrent callers wait for each other's fsync: the
// disk, not the CPU, bounds the throughput. So a [store.Tx] is not a SQLite
// transaction of its own but a savepoint inside a shared one, a group:
//
//   - Begin takes the write connection (one caller at a time, as before),
//     opens the group's transaction with BEGIN IMMEDIATE if no group is open,
//     and starts a savepoint.
//   - Rollback rolls the savepoint back: the work of the other members stays.
//   - Commit releases the savepoint (its work joins the group's), then, if
//     no other caller waits for the connection or the group is full, commits
//     the group and tells every member the outcome; otherwise it hands the
//     connection to the next caller and waits for the group's outcome.
//
// A Commit therefore returns only once its work is durable, or with an error
// when the group's commit failed, in which case none of the group's work was
// kept. A member may see the uncommitted work of the members before it;
// since they commit or fail together, a member that commits never keeps
// work based on work that is lost. A member that reads and then rolls back
// (a refused claim, say) may act on what it read, which is lost only if the
// group's COMMIT fails: a failing disk.

// maxGroupMembers bounds the transactions one commit makes durable, and
// maxGroupTurns the Txs (rolled back ones included) that take the write
// connection while a group is open, so that the first member's wait stays
// short under a constant load.
const (
	maxGroupMembers = 64
	maxGroupTurns   = 128
)

// savepoint is the name of the savepoint of the Tx in progress.
const savepoint = "utask_tx"

// writeConn is the store's one write connection, held from Open to Close,
// with the statements compiled on it: each query text is compiled once, on
// first use, and kept (multi-row queries excepted: see QueryContext). Only
// the goroutine holding it (see writerQueue) touches it, and Close once
// nobody uses the store.
type writeConn struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// group is one SQLite transaction shared by the Txs committed in it. Only
// the goroutine holding the write connection touches a group.
type group struct {
	w       *writeConn
	members int           // Txs whose work the group holds
	turns   int           // Txs that held the write connection in the group
	broken  error         // set when SQLite ended the transaction on its own
	done    chan struct{} // closed once the group's outcome is in err
	err     error
}

// writerQueue hands the write connection to one goroutine at a time, in
// order of arrival. Whether the holder ends the group or hands the
// connection over is decided under the same lock as a waiter giving up, so
// a group is never left open with nobody to end it.
type writerQueue struct {
	mu      sync.Mutex
	busy    bool            // a goroutine holds the write connection
	waiters []chan struct{} // closed when the connection is handed over
}

// waiting returns how many goroutines wait for the write connection.
func (q *writerQueue) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiters)
}

// acquireWriter waits, as long as ctx allows, for the write connection. It
// returns the open group, opening one if none is.
func (s *Store) acquireWriter(ctx context.Context) (*group, error) {
	if err := s.waitWriter(ctx); err != nil {
		return nil, err
	}
	if s.group != nil && s.group.broken != nil {
		s.endGroup()
	}
	if s.group == nil {
		g, err := s.openGroup(ctx)
		if err != nil {
			s.releaseWriter()
			return nil, err
		}
		s.group = g
	}
	s.group.turns++
	return s.group, nil
}

// waitWriter waits, as long as ctx allows, for the write connection.
func (s *Store) waitWriter(ctx context.Context) error {
	q := &s.writers
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
	} else {
		ch := make(chan struct{})
		q.waiters = append(q.waiters, ch)
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			q.mu.Lock()
			if i := slices.Index(q.waiters, ch); i >= 0 {
				q.waiters = slices.Delete(q.waiters, i, i+1)
				q.mu.Unlock()
				return fmt.Errorf("wait for the writer: %w", ctx.Err())
			}
			q.mu.Unlock()
			// The connection was handed over meanwhile: give it back the
			// way a holder does, which ends the group if nobody else waits.
			s.releaseWriter()
			return fmt.Errorf("wait for the writer: %w", ctx.Err())
		}
	}
	return nil
}

// direct runs fn on the write connection outside any group: its statements
// commit one by one, as they run. An open group is committed first, so that
// fn sees the work of the Txs before it, as a member would.
func (s *Store) direct(ctx context.Context, fn func(q querier) error) error {
	if err := s.waitWriter(ctx); err != nil {
		return err
	}
	defer s.releaseWriter()
	if s.group != nil {
		s.endGroup()
	}
	return fn(s.wc)
}

// directExec runs one statement with direct and returns the number of
// rows it changed.
func (s *Store) directExec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.direct(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// openGroup opens a new group's transaction.
func (s *Store) openGroup(ctx context.Context) (*group, error) {
	if _, err := s.wc.conn.ExecContext(context.WithoutCancel(ctx), `BEGIN IMMEDIATE`); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &group{w: s.wc, done: make(chan struct{})}, nil
}

// releaseWriter gives the write connection up: to the next waiter, who will
// commit the open group or hand it on, or, when nobody waits or the group is
// full or broken, after committing the group.
func (s *Store) releaseWriter() {
	q := &s.writers
	for {
		q.mu.Lock()
		g := s.group
		if g != nil && (len(q.waiters) == 0 || g.members >= maxGroupMembers ||
			g.turns >= maxGroupTurns || g.broken != nil) {
			q.mu.Unlock()
			s.endGroup() // still holding the connection; then hand it on
			continue
		}
		if len(q.waiters) > 0 {
			ch := q.waiters[0]
			q.waiters = q.waiters[1:]
			close(ch) // busy stays set: the waiter holds it now
		} else {
			q.busy = false
		}
		q.mu.Unlock()
		return
	}
}

// endGroup commits the open group (rolls it back when it has no member or
// is broken), publishes the outcome and closes the group. The caller holds
// the write connection.
func (s *Store) endGroup() {
	g := s.group
	s.group = nil
	ctx := context.Background()
	switch {
	case g.broken != nil:
		g.err = fmt.Errorf("commit: transaction ended by the database: %w", g.broken)
		_, _ = g.w.conn.ExecContext(ctx, `ROLLBACK`)
	case g.members == 0:
		_, g.err = g.w.conn.ExecContext(ctx, `ROLLBACK`)
	default:
		if _, err := g.w.conn.ExecContext(ctx, `COMMIT`); err != nil {
			g.err = fmt.Errorf("commit: %w", err)
			// A failed COMMIT can leave the transaction open: end it before
			// the connection serves another group. With no transaction left,
			// this ROLLBACK fails, harmlessly.
			_, _ = g.w.conn.ExecContext(ctx, `ROLLBACK`)
		} else {
			s.commits.Add(1)
		}
	}
	close(g.done)
}

var _ querier = (*writeConn)(nil)

// close closes the compiled statements and gives the connection back to
// its pool.
func (w *writeConn) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	clear(w.stmts)
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

// stmt returns the compiled statement of query, compiling it on first use;
// nil when it cannot be compiled or maxCachedStatements are kept already
// (the caller then runs query as it is, which reports the error if any).
func (w *writeConn) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := w.stmts[query]; ok {
		return st
	}
	if len(w.stmts) >= maxCachedStatements {
		return nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	w.stmts[query] = st
	return st
}

// ExecContext runs query through its compiled statement.
func (w *writeConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := w.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...) //nolint:wrapcheck // the callers wrap
	}
	return w.conn.ExecContext(ctx, query, args...) //nolint:wrapcheck // the callers wrap
}

// QueryContext runs query as it is, compiled for this run only: a
// compiled statement serves one run at a time, and a caller may run a query
// while iterating the rows of the same one.
func (w *writeConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return w.conn.QueryContext(ctx, query, args...) //nolint:wrapcheck // the callers wrap
}

// QueryRowContext runs query through its compiled statement; the row is
// read (Scan) before the next statement runs.
func (w *writeConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return w.conn.QueryRowContext(ctx, query, args...)
}

// errTxDone is returned by the Tx methods after Commit or Rollback.
var errTxDone = errors.New("transaction already committed or rolled back")

// commit releases the Tx's savepoint into its group and waits for the
// group's outcome.
func (t *Tx) commit(ctx context.Context) error {
	if t.done {
		return fmt.Errorf("commit: %w", errTxDone)
	}
	t.done = true
	g, s := t.g, t.s
	if _, err := g.w.ExecContext(context.WithoutCancel(ctx), `RELEASE `+savepoint); err != nil {
		t.undo()
		s.releaseWriter()
		return fmt.Errorf("commit: %w", err)
	}
	g.members++
	s.releaseWriter()
	<-g.done
	return g.err
}

// rollback undoes the Tx's work, leaving the group's.
func (t *Tx) rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	t.undo()
	t.s.releaseWriter()
	return nil
}

// undo rolls the savepoint back and removes it. When that fails, SQLite
// ended the whole transaction (it does on some I/O and memory errors): the
// group is broken, and its members learn it when it ends.
func (t *Tx) undo() {
	ctx := context.Background()
	if _, err := t.g.w.ExecContext(ctx, `ROLLBACK TO `+savepoint); err != nil {
		t.g.broken = err
		return
	}
	if _, err := t.g.w.ExecContext(ctx, `RELEASE `+savepoint); err != nil {
		t.g.broken = err
	}
}
