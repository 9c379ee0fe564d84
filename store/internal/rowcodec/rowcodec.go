// Package rowcodec is the stored form of rows that the embedded store
// (store/sqlite) and the PostgreSQL store (store/postgres) have in common:
// the sealing of the values that are kept under a key, the JSON of the clear
// list and tag columns, and the values of the rows whose columns both stores
// lay out alike.
//
// It runs no SQL and knows no driver. Each store keeps its SQL text, its
// driver calls, the stored form of its times and its error mapping, and
// passes what it scanned to this package and what this package returns to its
// queries.
//
// A value that is NULL in the database is nil here, on the way in (an
// argument) and out (a scanned []byte). A NULL argument is an untyped nil,
// so that no driver is left to tell a nil []byte from an empty one.
package rowcodec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
)

// Codec seals and opens the values of rows. The zero value is not usable:
// make one with [New].
type Codec struct {
	sealer          store.Sealer
	stepCompression compress.Algorithm
}

// New returns a Codec that seals with sealer and compresses the data of the
// steps it seals with stepCompression (compress.Noop or "" for none). Opening
// takes compressed and plain step data alike, whatever stepCompression is.
func New(sealer store.Sealer, stepCompression compress.Algorithm) Codec {
	return Codec{sealer: sealer, stepCompression: stepCompression}
}

// Sealer returns the sealer of c.
func (c Codec) Sealer() store.Sealer { return c.sealer }

// Seal seals plain bound to aad.
func (c Codec) Seal(plain []byte, aad string) ([]byte, error) {
	return c.sealer.Seal(plain, []byte(aad))
}

// Open opens a ciphertext made by Seal with the same aad.
func (c Codec) Open(sealed []byte, aad string) ([]byte, error) {
	return c.sealer.Open(sealed, []byte(aad))
}

// SealOptional is the argument of an optional sealed column: plain sealed
// bound to aad, or NULL (nil) when plain is nil.
func (c Codec) SealOptional(plain []byte, aad string) (any, error) {
	if plain == nil {
		return nil, nil
	}
	return c.Seal(plain, aad)
}

// SealMap is the argument of a sealed JSON object column: the JSON form of m
// sealed bound to aad, or NULL (nil) for a nil map.
func (c Codec) SealMap(m map[string]any, aad string) (any, error) {
	if m == nil {
		return nil, nil
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return c.Seal(plain, aad)
}

// OpenMap opens a column written with SealMap; NULL (nil) gives a nil map.
// Numbers come back as json.Number, so that none loses precision.
func (c Codec) OpenMap(sealed []byte, aad string) (map[string]any, error) {
	if sealed == nil {
		return nil, nil
	}
	plain, err := c.Open(sealed, aad)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := decodeJSON(plain, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// SealStep is the argument of the sealed data column of a step: its JSON
// form, compressed with the codec's step compression, sealed bound to aad
// (see [StepAAD]). Data with no field set is NULL (nil).
func (c Codec) SealStep(d store.StepData, aad string) (any, error) {
	plain, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if string(plain) == "{}" {
		return nil, nil
	}
	if plain, err = c.stepCompression.Compress(plain); err != nil {
		return nil, err
	}
	return c.Seal(plain, aad)
}

// OpenStep opens a column written with SealStep; NULL (nil) gives empty
// data.
func (c Codec) OpenStep(sealed []byte, aad string) (store.StepData, error) {
	var d store.StepData
	if sealed == nil {
		return d, nil
	}
	plain, err := c.Open(sealed, aad)
	if err != nil {
		return d, err
	}
	// The data may have been compressed when it was written, by this
	// process or by one configured otherwise; a compressed value tells
	// itself apart from JSON.
	if plain, err = compress.Decompress(plain); err != nil {
		return d, err
	}
	err = decodeJSON(plain, &d)
	return d, err
}

// StepAAD is the associated data of a step row: the public id of its
// resolution and its name.
func StepAAD(resolutionPublicID, name string) string {
	return resolutionPublicID + "/" + name
}

// decodeJSON decodes plain into v, numbers as json.Number.
func decodeJSON(plain []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	return dec.Decode(v)
}

// JSON is the argument of a clear JSON column: the JSON text of v, or NULL
// (nil) when isNil.
func JSON[T any](v T, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// List is JSON for a list of names: NULL for a nil list.
func List(l []string) (any, error) { return JSON(l, l == nil) }

// Tags is JSON for a tag map: NULL for a nil map.
func Tags(m map[string]string) (any, error) { return JSON(m, m == nil) }

// Bytes is the argument of a column holding b: NULL (nil) for a nil b.
func Bytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// TemplateHash is the stored hash of a template document: the hex SHA-256 of
// its bytes.
func TemplateHash(document []byte) string {
	sum := sha256.Sum256(document)
	return hex.EncodeToString(sum[:])
}
