package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
)

// querier is what the store's queries run on: a pool or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// preparer is a querier that prepares statements for repeated use.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// scanner is a row to read: *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// sealMap seals the JSON form of m bound to aad. A nil map has no
// ciphertext: it is stored as NULL.
func (s *Store) sealMap(m map[string]any, aad string) (any, error) {
	if m == nil {
		return nil, nil
	}
	return s.seal(m, aad)
}

// sealStep seals the data of a step bound to its row, compressed first when
// the store compresses step data. Data with no field set is stored as NULL.
func (s *Store) sealStep(d store.StepData, aad string) (any, error) {
	plain, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if string(plain) == "{}" {
		return nil, nil
	}
	if plain, err = s.stepCompression.Compress(plain); err != nil {
		return nil, err
	}
	return s.sealer.Seal(plain, []byte(aad))
}

// seal seals the JSON form of v bound to aad.
func (s *Store) seal(v any, aad string) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.sealer.Seal(plain, []byte(aad))
}

// openMap opens a ciphertext made by sealMap; NULL gives a nil map.
func (s *Store) openMap(sealed []byte, aad string) (map[string]any, error) {
	if sealed == nil {
		return nil, nil
	}
	var m map[string]any
	if err := s.open(sealed, aad, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// openStep opens a ciphertext made by sealStep; NULL gives empty data.
func (s *Store) openStep(sealed []byte, aad string) (store.StepData, error) {
	var d store.StepData
	if sealed == nil {
		return d, nil
	}
	plain, err := s.sealer.Open(sealed, []byte(aad))
	if err != nil {
		return d, err
	}
	// Step data may have been compressed (steps_compression_algorithm) when
	// it was written; a compressed value tells itself apart.
	if plain, err = compress.Decompress(plain); err != nil {
		return d, err
	}
	err = decodeJSON(plain, &d)
	return d, err
}

// open opens sealed bound to aad and decodes its JSON into v, numbers as
// json.Number so that none loses precision.
func (s *Store) open(sealed []byte, aad string, v any) error {
	plain, err := s.sealer.Open(sealed, []byte(aad))
	if err != nil {
		return err
	}
	return decodeJSON(plain, v)
}

// decodeJSON decodes plain into v, numbers as json.Number.
func decodeJSON(plain []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	return dec.Decode(v)
}

// stepAAD is the associated data of a step row.
func stepAAD(resolutionPublicID, name string) string {
	return resolutionPublicID + "/" + name
}

// jsonText is the JSON text of a list or tag map for a clear column; a nil
// value is NULL.
func jsonText[T any](v T, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// listText is jsonText for a list of names.
func listText(l []string) (any, error) { return jsonText(l, l == nil) }

// tagsText is jsonText for a tag map.
func tagsText(m map[string]string) (any, error) { return jsonText(m, m == nil) }

// fromJSONText decodes a column written by jsonText into v; NULL leaves v
// at its zero value.
func fromJSONText(col sql.NullString, v any) error {
	if !col.Valid {
		return nil
	}
	return json.Unmarshal([]byte(col.String), v)
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
