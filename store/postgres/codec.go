package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
)

// querier is what the store's queries run on: the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// PostgreSQL error codes the store maps to its own errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// sealMap seals the JSON form of m bound to aad. A nil map has no
// ciphertext: it is stored as NULL.
func (s *Store) sealMap(m map[string]any, aad string) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return s.sealer.Seal(plain, []byte(aad))
}

// sealStep seals the data of a step bound to its row, compressed first when
// the store compresses step data. Data with no field set is stored as NULL.
func (s *Store) sealStep(d store.StepData, aad string) ([]byte, error) {
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

// jsonValue is the JSON text of a list or tag map for a jsonb column; a nil
// value is NULL.
func jsonValue[T any](v T, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// listValue is jsonValue for a list of names.
func listValue(l []string) (any, error) { return jsonValue(l, l == nil) }

// tagsValue is jsonValue for a tag map.
func tagsValue(m map[string]string) (any, error) { return jsonValue(m, m == nil) }

// fromJSON decodes a jsonb column read as bytes into v; NULL (nil) leaves v
// at its zero value.
func fromJSON(col []byte, v any) error {
	if col == nil {
		return nil
	}
	return json.Unmarshal(col, v)
}

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

// affectedOne checks that a write touched a row, else reports ErrNotFound.
func affectedOne(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
