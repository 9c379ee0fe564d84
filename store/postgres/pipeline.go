package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipeline is the connection of a Tx. It sends statements in batches, so
// that a transaction costs fewer round trips:
//
//   - BEGIN is not sent alone: it goes with the transaction's first
//     statement.
//   - A write whose caller needs nothing back but success (a step upsert, a
//     task or resolution update) is deferred: queued with a check of its
//     result, and sent with the next statement the transaction runs, or at
//     Commit. A deferred write that fails, or whose check fails, fails the
//     transaction: the call that sent it reports the error, and so does every
//     later call.
//   - Any other statement (a read, an insert that returns an id) is sent
//     with the deferred writes before it and waited for.
//
// COMMIT is sent on its own, once every deferred write was checked: a check
// that fails must keep the transaction from committing.
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

// errTxFailed wraps the error of an earlier statement, for the calls after it.
var errTxFailed = errors.New("transaction failed earlier")

func newPipeline(conn *pgxpool.Conn) *pipeline {
	p := &pipeline{conn: conn}
	p.next.Queue(`BEGIN`)
	return p
}

// flush sends the queued statements and runs their callbacks, in order.
func (p *pipeline) flush(ctx context.Context) error {
	if p.closed {
		return pgx.ErrTxClosed
	}
	if p.failed != nil {
		return fmt.Errorf("%w: %w", errTxFailed, p.failed)
	}
	if p.next.Len() == 0 {
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

// deferExec queues a write; check, if not nil, judges its command tag when
// it is sent.
func (p *pipeline) deferExec(check func(pgconn.CommandTag) error, sql string, args ...any) {
	q := p.next.Queue(sql, args...)
	if check != nil {
		q.Exec(check)
	}
}

// deferQueryRow queues a write that returns one row, which scan reads when
// it is sent.
func (p *pipeline) deferQueryRow(scan func(pgx.Row) error, sql string, args ...any) {
	p.next.Queue(sql, args...).QueryRow(scan)
}

// Exec sends the queued statements and sql, and waits for them.
func (p *pipeline) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	p.next.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error {
		tag = ct
		return nil
	})
	if err := p.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return tag, nil
}

// QueryRow returns a row whose Scan sends the queued statements and sql.
func (p *pipeline) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return &pipelineRow{p: p, ctx: ctx, sql: sql, args: args}
}

// Query sends the queued statements, then runs sql, whose rows the caller
// reads (and closes) before the transaction's next call.
func (p *pipeline) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := p.conn.Query(ctx, sql, args...)
	if err != nil {
		p.failed = err
	}
	return rows, err //nolint:wrapcheck // the callers wrap
}

// SendBatch sends the queued statements, then b.
func (p *pipeline) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := p.flush(ctx); err != nil {
		return failedBatch{err: err}
	}
	return p.conn.SendBatch(ctx, b)
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
// usable; a statement that fails does not.
func (r *pipelineRow) Scan(dest ...any) error {
	var scanErr error
	r.p.next.Queue(r.sql, r.args...).QueryRow(func(row pgx.Row) error {
		scanErr = row.Scan(dest...)
		if pgCode(scanErr) != "" {
			return scanErr
		}
		return nil
	})
	if err := r.p.flush(r.ctx); err != nil {
		return err
	}
	return scanErr
}

// failedBatch is the answer of SendBatch on a failed transaction.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return errRow{f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }

// errRow is a row that only fails.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// commit sends the deferred writes, then, once they all passed, the
// statements last queues (the wake-up, if any) and COMMIT.
func (p *pipeline) commit(ctx context.Context, last func(*pgx.Batch)) error {
	if !p.begun && p.failed == nil && p.next.Len() == 1 {
		// Only BEGIN is queued: nothing ran, there is nothing to commit.
		p.next = pgx.Batch{}
		return nil
	}
	if err := p.flush(ctx); err != nil {
		return err
	}
	if last != nil {
		last(&p.next)
	}
	p.next.Queue(`COMMIT`)
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
	p.failed = pgx.ErrTxClosed
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
