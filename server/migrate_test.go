package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, environ ...string) {
		opts := server.Options{
			Environ: append([]string{"CONFIGURATION_FROM=env:CFG"}, environ...),
			WorkDir: t.TempDir(),
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		ms, err := server.Migrate(context.Background(), opts, false)
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		for i, m := range ms {
			require.Equal(t, i+1, m.Version)
			require.Nil(t, m.Applied, "status applies nothing")
		}
		ms, err = server.Migrate(context.Background(), opts, true)
		require.NoError(t, err)
		for _, m := range ms {
			require.NotNil(t, m.Applied, "up applies %04d_%s", m.Version, m.Name)
		}
		again, err := server.Migrate(context.Background(), opts, false)
		require.NoError(t, err)
		require.Equal(t, ms, again)
	}
	t.Run("Embedded", func(t *testing.T) {
		t.Parallel()
		check(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		check(t, "CFG_DATABASE="+pgtest.FreshSchema(t))
	})
}
