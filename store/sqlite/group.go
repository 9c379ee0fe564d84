package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// since they commit or fail together, it never acts on work that is lost
// while its own is kept.

// maxGroupMembers bounds the transactions one commit makes durable, so that
// the first member's wait stays short under a constant load.
const maxGroupMembers = 64

// savepoint is the name of the savepoint of the Tx in progress.
const savepoint = "utask_tx"

// group is one SQLite transaction shared by the Txs committed in it.
type group struct {
	conn    *sql.Conn
	members int           // Txs whose work the group holds
	broken  error         // set when SQLite ended the transaction on its own
	done    chan struct{} // closed once the group's outcome is in err
	err     error
}

// acquireWriter waits, as long as ctx allows, for the write connection's
// turn. It returns the open group, opening one if none is.
func (s *Store) acquireWriter(ctx context.Context) (*group, error) {
	s.waiting.Add(1)
	select {
	case s.turn <- struct{}{}:
		s.waiting.Add(-1)
	case <-ctx.Done():
		s.abandonWait()
		return nil, fmt.Errorf("wait for the writer: %w", ctx.Err())
	}
	if s.group != nil && s.group.broken != nil {
		s.endGroup()
	}
	if s.group == nil {
		g, err := s.openGroup(ctx)
		if err != nil {
			<-s.turn
			return nil, err
		}
		s.group = g
	}
	return s.group, nil
}

// abandonWait is how a caller counted in waiting gives up. The holder may
// have handed the turn over, with the group open, while this caller was
// giving up: it takes the turn if it is free and releases it at once, so
// that the group is not left waiting for a caller who is gone.
func (s *Store) abandonWait() {
	s.waiting.Add(-1)
	select {
	case s.turn <- struct{}{}:
		s.releaseWriter()
	default:
	}
}

// openGroup opens a new group's transaction.
func (s *Store) openGroup(ctx context.Context) (*group, error) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open write connection: %w", err)
	}
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), `BEGIN IMMEDIATE`); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &group{conn: conn, done: make(chan struct{})}, nil
}

// releaseWriter gives the turn up. The group is committed first unless
// another caller waits for the turn, who will then commit it or hand it on,
// and unless the group is empty and someone waits (an empty group costs
// nothing to keep open).
func (s *Store) releaseWriter() {
	if g := s.group; g != nil {
		if s.waiting.Load() == 0 || g.members >= maxGroupMembers || g.broken != nil {
			s.endGroup()
		}
	}
	<-s.turn
}

// endGroup commits the open group (rolls it back when it has no member or
// is broken), publishes the outcome and closes the group. The caller holds
// the turn.
func (s *Store) endGroup() {
	g := s.group
	s.group = nil
	ctx := context.Background()
	switch {
	case g.broken != nil:
		g.err = fmt.Errorf("commit: transaction ended by the database: %w", g.broken)
		_, _ = g.conn.ExecContext(ctx, `ROLLBACK`)
	case g.members == 0:
		_, g.err = g.conn.ExecContext(ctx, `ROLLBACK`)
	default:
		if _, err := g.conn.ExecContext(ctx, `COMMIT`); err != nil {
			g.err = fmt.Errorf("commit: %w", err)
			// A failed COMMIT can leave the transaction open: end it before
			// the connection serves another group. With no transaction left,
			// this ROLLBACK fails, harmlessly.
			_, _ = g.conn.ExecContext(ctx, `ROLLBACK`)
		} else {
			s.commits.Add(1)
		}
	}
	if err := g.conn.Close(); err != nil && g.err == nil {
		g.err = fmt.Errorf("release write connection: %w", err)
	}
	close(g.done)
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
	if _, err := g.conn.ExecContext(context.WithoutCancel(ctx), `RELEASE `+savepoint); err != nil {
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
	if _, err := t.g.conn.ExecContext(ctx, `ROLLBACK TO `+savepoint); err != nil {
		t.g.broken = err
		return
	}
	if _, err := t.g.conn.ExecContext(ctx, `RELEASE `+savepoint); err != nil {
		t.g.broken = err
	}
}
