package config_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

func TestNormaliseKey(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"UTASK_CFG":      "utask-cfg",
		"Encryption_Key": "encryption-key",
		"basic-auth":     "basic-auth",
		"a_b-C":          "a-b-c",
	}
	for in, want := range tests {
		require.Equal(t, want, config.NormaliseKey(in), in)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()

	t.Run("SquashKeepsHighestPriority", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(
			config.Item{Key: "database", Value: "low", Priority: 1},
			config.Item{Key: "DATABASE", Value: "high", Priority: 20},
			config.Item{Key: "database", Value: "mid", Priority: 10},
		)

		v, ok := s.Get("database")
		require.True(t, ok)
		require.Equal(t, "high", v)
		require.Equal(t, []string{"high"}, s.GetAll("Database"))
	})

	t.Run("SharedTopPriorityKeepsEveryValueInOrder", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(
			config.Item{Key: "encryption_key", Value: "k1", Priority: 15},
			config.Item{Key: "encryption-key", Value: "old", Priority: 5},
			config.Item{Key: "ENCRYPTION-KEY", Value: "k2", Priority: 15},
		)

		v, ok := s.Get("encryption-key")
		require.True(t, ok)
		require.Equal(t, "k1", v)
		require.Equal(t, []string{"k1", "k2"}, s.GetAll("ENCRYPTION_KEY"))
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore()

		v, ok := s.Get("nope")
		require.False(t, ok)
		require.Empty(t, v)
		require.Nil(t, s.GetAll("nope"))
		require.Empty(t, s.Keys())
	})

	t.Run("EmptyValueExists", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(config.Item{Key: "blank"})

		v, ok := s.Get("blank")
		require.True(t, ok)
		require.Empty(t, v)
	})

	t.Run("KeysSortedAndNormalised", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(
			config.Item{Key: "UTASK_CFG"}, config.Item{Key: "basic-auth"},
			config.Item{Key: "Database"}, config.Item{Key: "utask-cfg"},
		)
		require.Equal(t, []string{"basic-auth", "database", "utask-cfg"}, s.Keys())
	})

	t.Run("Set", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(config.Item{Key: "k", Value: "a", Priority: 10})

		s.Set(config.Item{Key: "k", Value: "lower", Priority: 9})
		require.Equal(t, []string{"a"}, s.GetAll("k"))

		s.Set(config.Item{Key: "K", Value: "b", Priority: 10})
		require.Equal(t, []string{"a", "b"}, s.GetAll("k"))

		s.Set(config.Item{Key: "k", Value: "c", Priority: 11})
		require.Equal(t, []string{"c"}, s.GetAll("k"))

		s.Set(config.Item{Key: "NEW_KEY", Value: "generated"})
		v, ok := s.Get("new-key")
		require.True(t, ok)
		require.Equal(t, "generated", v)
	})

	t.Run("GetAllReturnsACopy", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(config.Item{Key: "k", Value: "a"})
		s.GetAll("k")[0] = "changed"
		require.Equal(t, []string{"a"}, s.GetAll("k"))
	})

	t.Run("ConcurrentUse", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore()

		var wg sync.WaitGroup

		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					s.Set(config.Item{Key: fmt.Sprintf("k%d-%d", g, i), Value: "v"})
					s.Get("k0-0")
					s.Keys()
					s.TemplateConfig(nil)
				}
			})
		}

		wg.Wait()
		require.Len(t, s.Keys(), 400)
	})
}
