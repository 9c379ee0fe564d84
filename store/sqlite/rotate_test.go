package sqlite

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

func TestRotationConformance(t *testing.T) {
	t.Parallel()
	storetest.ExerciseRotation(t, storetest.RotationOptions{
		NewDatabase: func(t *testing.T) storetest.Opener {
			path := filepath.Join(t.TempDir(), "utask.db")
			return func(t *testing.T, sealer store.Sealer, compression compress.Algorithm) store.Store {
				t.Helper()
				s, err := Open(t.Context(), Config{
					Path:             path,
					Sealer:           sealer,
					Logger:           slog.New(slog.DiscardHandler),
					StepsCompression: compression,
				})
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, s.Close()) })
				return s
			}
		},
	})
}

func TestOpenRefusesUnknownCompression(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), Config{
		Path:             filepath.Join(t.TempDir(), "utask.db"),
		Sealer:           storetest.NewSealer(t),
		Logger:           slog.New(slog.DiscardHandler),
		StepsCompression: "brotli",
	})
	require.ErrorIs(t, err, compress.ErrNotFound)
	require.ErrorContains(t, err, "brotli")
}
