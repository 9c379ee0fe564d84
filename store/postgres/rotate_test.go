package postgres

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

func TestRotationConformance(t *testing.T) {
	t.Parallel()
	databaseURL(t)
	storetest.ExerciseRotation(t, storetest.RotationOptions{
		NewDatabase: func(t *testing.T) storetest.Opener {
			u := freshSchema(t)
			return func(t *testing.T, sealer store.Sealer, compression compress.Algorithm) store.Store {
				t.Helper()
				s, err := Open(t.Context(), Config{
					URL:              u,
					Sealer:           sealer,
					Logger:           slog.New(slog.DiscardHandler),
					MaxConns:         testMaxConns,
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
		URL:              "postgres://127.0.0.1:1/none",
		Sealer:           storetest.NewSealer(t),
		Logger:           slog.New(slog.DiscardHandler),
		StepsCompression: "brotli",
	})
	require.ErrorIs(t, err, compress.ErrNotFound)
	require.ErrorContains(t, err, "brotli")
}
