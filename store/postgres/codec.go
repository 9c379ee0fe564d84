package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/utask/utask/store"
)

// querier is what the store's queries run on: the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PostgreSQL error codes the store maps to its own errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	// The codes of the checks of deferred writes (see utask_fail in the
	// migrations): a row not there, a taken public id, a resolution held by
	// another instance.
	codeCheckNotFound = "P0002"
	codeCheckConflict = "UT409"
	codeCheckNotHeld  = "UT423"
)

// ts is the stored form of a time: whole microseconds, as PostgreSQL keeps
// them, rounded down as the embedded store does. The driver would drop the
// nanoseconds too; doing it here makes the rule the store's own.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// optTS is the stored form of an optional time.
func optTS(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// utc gives a time read from the database in UTC; the driver gives local
// times.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// pgCode is the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// mapError turns a missing row into store.ErrNotFound and a broken
// uniqueness rule into store.ErrConflict; other errors pass unchanged.
func mapError(err error) error {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case pgCode(err) == codeUniqueViolation:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// checkError maps the failure of a deferred write (its check, or a broken
// reference) to the store's errors, keeping the server's message.
func checkError(err error) error {
	var sentinel error
	switch pgCode(err) {
	case codeCheckNotFound, codeForeignKeyViolation:
		// A row the write refers to is not there: removed by a
		// transaction that committed while the write waited for it.
		sentinel = store.ErrNotFound
	case codeCheckConflict:
		sentinel = store.ErrConflict
	case codeCheckNotHeld:
		sentinel = store.ErrNotHeld
	default:
		return mapError(err)
	}
	var pgErr *pgconn.PgError
	errors.As(err, &pgErr)
	return fmt.Errorf("%s: %w", pgErr.Message, sentinel)
}

// affectedOne checks that a write touched a row, else reports ErrNotFound.
func affectedOne(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
