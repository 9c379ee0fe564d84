package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/utask/utask/store"
)

// pipeline is the connection of a Tx. It sends statements in batches, so
// that a transaction costs fewer round trips:
//
//   - BEGIN is not sent alone: it goes with the transaction's first
//     statement.
//   - A write whose caller needs nothing back but success (a step upsert, a
//     task or resolution update, the engine's hold of a resolution, a new
//     task) is deferred: queued, and sent with the next statement the
//     transaction runs, or with COMMIT.
//   - Any other single statement (a read of one row, an insert that
//     returns an id) is sent with the deferred writes queued before it, and
//     waited for. A multi-row read waits for the queued writes first, then
//     runs.
//
// A deferred write checks itself on the server: one that finds nothing to
// write fails there (see utask_fail in the migrations), and the server
// skips the rest of the round trip, COMMIT included. The call that sent it
// then reports errTxFailed (with the write's error in its message), and so
// does every later call; Commit reports the write's error itself and
// commits nothing. A transaction whose writes are all deferred thus costs
// one round trip: BEGIN, the writes and COMMIT.
//
// A pipeline is used by one goroutine at a time, as a pgx.Tx is.
type pipeline struct {
	conn *pgxpool.Conn
	next pgx.Batch // the statements of the next round trip
	// begun: BEGIN was sent; failed: a statement or check failed, and the
	// transaction can only be rolled back.
	begun  bool
	failed error
	closed bool // released: committed or rolled back
}

var _ querier = (*pipeline)(nil)

// errTxFailed is the error of the calls of a transaction after a statement
// of it failed.
var errTxFailed = errors.New("transaction failed earlier")

func newPipeline(conn *pgxpool.Conn) *pipeline {
	p := &pipeline{conn: conn}
	p.next.Queue(`BEGIN`)
	return p
}

// flush sends the queued statements and runs their callbacks, in order. It
// returns the error of the first deferred write that failed (or of BEGIN);
// the statement a caller queued last reports its own error through its
// callback, which never fails the batch.
func (p *pipeline) flush(ctx context.Context) error {
	switch {
	case p.closed:
		return pgx.ErrTxClosed
	case p.failed != nil:
		return p.failed
	case p.begun && p.conn.Conn().PgConn().TxStatus() == 'E':
		// A statement failed on the server without the pipeline seeing
		// it (an error met while reading the rows of Query).
		p.failed = errors.New("the server aborted the transaction")
		return p.failed
	case p.next.Len() == 0:
		return nil
	}
	b := p.next
	p.next = pgx.Batch{}
	p.begun = true
	if err := p.conn.SendBatch(ctx, &b).Close(); err != nil {
		p.failed = err
		return err
	}
	return nil
}

// failedCall is the error a call reports when the transaction failed
// before or with its statement: errTxFailed, naming the cause without
// wrapping it, so that a sentinel of an earlier write (a row not found) is
// not taken for the call's own; ErrNotHeld alone is wrapped, since a
// write that required a resolution not held by its instance is the reason
// every later call fails.
func failedCall(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	if errors.Is(err, store.ErrNotHeld) {
		// A resolution the transaction's writes required is held by
		// another instance: every later call fails for that reason.
		return fmt.Errorf("%w: %w", errTxFailed, err)
	}
	return fmt.Errorf("%w: %v", errTxFailed, err) //nolint:errorlint // the cause is named, not wrapped, on purpose
}

// deferExec queues a write that checks itself on the server (it returns
// at most one row, which is not read). Its errors are prefixed with what.
func (p *pipeline) deferExec(what, sql string, args ...any) {
	p.next.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("%s: %w", what, checkError(err))
		}
		return nil
	}
}

// deferQueryRow queues a write that checks itself on the server and
// returns one row, which scan reads when it is sent. Its errors are
// prefixed with what.
func (p *pipeline) deferQueryRow(what string, scan func(pgx.Row) error, sql string, args ...any) {
	p.next.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		if err := scan(row); err != nil {
			return fmt.Errorf("%s: %w", what, checkError(err))
		}
		return nil
	})
}

// Exec sends the queued statements and sql, and waits for them.
func (p *pipeline) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var (
		tag     pgconn.CommandTag
		execErr error
	)
	p.next.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		tag, execErr = br.Exec()
		return nil
	}
	if err := p.flush(ctx); err != nil {
		return pgconn.CommandTag{}, ownError(execErr, err)
	}
	if execErr != nil {
		p.failed = execErr
	}
	return tag, execErr
}

// ownError is the error a call reports when flush failed with err: the
// call's own statement's error (ran, failed on the server) when it has
// one, so that the caller can judge it (a broken reference, say), else
// failedCall's.
func ownError(own, err error) error {
	if pgCode(own) != "" {
		return own
	}
	return failedCall(err)
}

// QueryRow returns a row whose Scan sends the queued statements and sql.
func (p *pipeline) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return &pipelineRow{p: p, ctx: ctx, sql: sql, args: args}
}

// Query sends the queued statements, then runs sql, whose rows the caller
// reads (and closes) before the transaction's next call.
func (p *pipeline) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, failedCall(err)
	}
	rows, err := p.conn.Query(ctx, sql, args...)
	if err != nil {
		p.failed = err
	}
	return rows, err //nolint:wrapcheck // the callers wrap
}

// pipelineRow is the row of QueryRow, read with the queued statements.
type pipelineRow struct {
	p    *pipeline
	ctx  context.Context //nolint:containedctx // the context of the QueryRow call, used at Scan
	sql  string
	args []any
}

// Scan sends the queued statements and the row's, and scans the row. A row
// that is not there (pgx.ErrNoRows) or does not scan leaves the transaction
// usable; a statement that fails on the server does not.
func (r *pipelineRow) Scan(dest ...any) error {
	var scanErr error
	r.p.next.Queue(r.sql, r.args...).QueryRow(func(row pgx.Row) error {
		scanErr = row.Scan(dest...)
		return nil
	})
	if err := r.p.flush(r.ctx); err != nil {
		return ownError(scanErr, err)
	}
	if pgCode(scanErr) != "" {
		r.p.failed = scanErr
	}
	return scanErr
}

// commit sends the deferred writes, the statements last queues (the
// wake-up, if any) and COMMIT, in one round trip. A deferred write that
// fails on the server makes it skip the rest: nothing is committed.
func (p *pipeline) commit(ctx context.Context, last func(*pgx.Batch)) error {
	if !p.begun && p.failed == nil && p.next.Len() == 1 {
		// Only BEGIN is queued: nothing ran, there is nothing to commit.
		p.next = pgx.Batch{}
		return nil
	}
	if last != nil {
		last(&p.next)
	}
	// Inside a transaction the server aborted, COMMIT rolls back and says
	// so in its tag rather than in an error.
	p.next.Queue(`COMMIT`).Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	return p.flush(ctx)
}

// release ends the transaction if the server still has one open (after a
// failure), and gives the connection back to the pool, which drops it if it
// is in a bad state. Later calls fail with pgx.ErrTxClosed.
func (p *pipeline) release(ctx context.Context) error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.next = pgx.Batch{}
	defer p.conn.Release()
	if p.conn.Conn().IsClosed() || p.conn.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	if _, err := p.conn.Exec(ctx, `ROLLBACK`); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
