package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the statements a stmtCache keeps; a query text
// beyond them runs unprepared.
const maxCachedStatements = 256

// stmtCache runs the reads of a pool through statements prepared once per
// query text: SQLite compiles a statement in about as much time as it runs
// a simple one, and database/sql keeps each statement compiled on every
// connection it has run on.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

var _ querier = (*stmtCache)(nil)

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the prepared statement of query, or nil when it cannot be
// prepared or the cache is full (the caller then runs it unprepared).
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts) >= maxCachedStatements {
		return nil
	}
	st, err := c.db.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil // the unprepared run reports the error
	}
	c.stmts[query] = st
	return st
}

// ExecContext runs query unprepared: reads have nothing to execute.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, query, args...) //nolint:wrapcheck // the callers wrap
}

// QueryContext runs query through its prepared statement.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...) //nolint:wrapcheck // the callers wrap
	}
	return c.db.QueryContext(ctx, query, args...) //nolint:wrapcheck // the callers wrap
}

// QueryRowContext runs query through its prepared statement.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// Close closes the prepared statements.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.stmts, q)
	}
	return first
}
