// Package compress compresses step data before it is sealed, as the
// steps_compression_algorithm setting of utask-cfg asks.
//
// A compressed value tells itself apart from a plain one: the JSON text of
// step data begins with "{", a gzip stream with its two magic bytes. Readers
// call [Decompress] on whatever they open, so that one database may hold
// both kinds, and changing the setting affects only what is written next.
package compress

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// Algorithm is a compression of step data.
type Algorithm string

// The algorithms of steps_compression_algorithm.
const (
	// Noop stores step data as it is.
	Noop Algorithm = "noop"
	// Gzip stores step data as a gzip stream at the default level.
	Gzip Algorithm = "gzip"
)

// ErrNotFound is wrapped by the error of Parse for an unknown name.
var ErrNotFound = errors.New("compression algorithm not found") //nolint:gochecknoglobals // sentinel

// gzipMagic begins every gzip stream (RFC 1952: ID1, ID2).
var gzipMagic = []byte{0x1f, 0x8b} //nolint:gochecknoglobals // constant bytes

// Parse returns the algorithm of a steps_compression_algorithm value: "" and
// "noop" are Noop, "gzip" is Gzip; any other name gives an error wrapping
// ErrNotFound that names it.
func Parse(name string) (Algorithm, error) {
	switch Algorithm(name) {
	case "", Noop:
		return Noop, nil
	case Gzip:
		return Gzip, nil
	}
	return "", fmt.Errorf("%s %w", name, ErrNotFound)
}

// Valid reports whether a is an algorithm of this package; the zero
// Algorithm is Noop.
func (a Algorithm) Valid() bool {
	return a == "" || a == Noop || a == Gzip
}

// Compress returns plain compressed with a. Noop (and the zero Algorithm)
// returns plain itself.
func (a Algorithm) Compress(plain []byte) ([]byte, error) {
	switch a {
	case "", Noop:
		return plain, nil
	case Gzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(plain); err != nil {
			return nil, fmt.Errorf("compress with gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress with gzip: %w", err)
		}
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("compress: %s %w", string(a), ErrNotFound)
}

// IsCompressed reports whether b is a compressed value rather than plain
// JSON text.
func IsCompressed(b []byte) bool {
	return bytes.HasPrefix(b, gzipMagic)
}

// Decompress returns b decompressed when it is a gzip stream, and b itself
// otherwise.
func Decompress(b []byte) ([]byte, error) {
	if !IsCompressed(b) {
		return b, nil
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompress gzip: %w", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decompress gzip: %w", err)
	}
	if err := r.Close(); err != nil {
		return nil, fmt.Errorf("decompress gzip: %w", err)
	}
	return plain, nil
}
