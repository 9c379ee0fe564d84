package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/utask/utask/store"
)

// querier is what the store's queries run on: a pool or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a row to read: *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// textBytes is a clear text column as rowcodec reads it: nil for NULL.
func textBytes(col sql.NullString) []byte {
	if !col.Valid {
		return nil
	}
	return []byte(col.String)
}

// micros is the stored form of a time.
func micros(t time.Time) int64 { return t.UnixMicro() }

// optMicros is the stored form of an optional time.
func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros reads a stored time, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// fromOptMicros reads a stored optional time.
func fromOptMicros(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := fromMicros(us.Int64)
	return &t
}

// optInt64 is the stored form of an optional integer.
func optInt64(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// fromOptInt64 reads a stored optional integer.
func fromOptInt64(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	n := v.Int64
	return &n
}

// errorCode is the extended SQLite result code of err, or 0.
func errorCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUniqueViolation reports whether err is a broken UNIQUE or PRIMARY KEY
// constraint.
func isUniqueViolation(err error) bool {
	c := errorCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKeyViolation reports whether err is a reference to a missing row.
func isForeignKeyViolation(err error) bool {
	return errorCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// conflict wraps a unique violation so that it matches store.ErrConflict.
func conflict(err error) error {
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// affectedOne checks that a write touched a row, else reports ErrNotFound.
func affectedOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
