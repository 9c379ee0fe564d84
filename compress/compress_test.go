package compress_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/compress"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]compress.Algorithm{
		"": compress.Noop, "noop": compress.Noop, "gzip": compress.Gzip,
	} {
		t.Run("Name"+name, func(t *testing.T) {
			t.Parallel()
			got, err := compress.Parse(name)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		_, err := compress.Parse("brotli")
		require.ErrorIs(t, err, compress.ErrNotFound)
		require.EqualError(t, err, "brotli compression algorithm not found")
	})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	plain := []byte(`{"output":{"said":"` + string(bytes.Repeat([]byte("hello "), 200)) + `"}}`)
	for _, a := range []compress.Algorithm{compress.Noop, compress.Gzip} {
		t.Run(string(a), func(t *testing.T) {
			t.Parallel()
			stored, err := a.Compress(plain)
			require.NoError(t, err)
			require.Equal(t, a == compress.Gzip, compress.IsCompressed(stored))
			if a == compress.Gzip {
				require.Less(t, len(stored), len(plain), "a repetitive text must shrink")
				require.False(t, bytes.Contains(stored, []byte("hello hello")))
			}
			back, err := compress.Decompress(stored)
			require.NoError(t, err)
			require.Equal(t, plain, back)
		})
	}
}

func TestDecompressRefusesBrokenStream(t *testing.T) {
	t.Parallel()
	stored, err := compress.Gzip.Compress([]byte(`{"output":"x"}`))
	require.NoError(t, err)
	_, err = compress.Decompress(stored[:len(stored)-4])
	require.Error(t, err)
}

func TestPlainJSONIsNotCompressed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`{}`, `{"a":1}`, " {\n}", ``} {
		require.False(t, compress.IsCompressed([]byte(s)), s)
		back, err := compress.Decompress([]byte(s))
		require.NoError(t, err)
		require.Equal(t, s, string(back))
	}
}
