package config_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

func TestStoreTemplateConfig(t *testing.T) {
	t.Parallel()

	s := config.NewStore(
		config.Item{Key: "utask-cfg", Value: `{"admin_usernames": ["admin"], "max_concurrent_executions": 100}`},
		config.Item{Key: "ENCRYPTION_KEY", Value: `{"identifier":"storage"}`},
		config.Item{Key: "database", Value: "postgres://user:pass@db/utask?sslmode=disable"},
		config.Item{Key: "empty", Value: ""},
		config.Item{Key: "count", Value: "42"},
		config.Item{Key: "big", Value: "12345678901234567890"},
		config.Item{Key: "json-big", Value: `{"id": 9007199254740993}`},
		config.Item{Key: "ratio", Value: "0.1"},
		config.Item{Key: "flag", Value: "yes"},
		config.Item{Key: "octal", Value: "010"},
		config.Item{Key: "list", Value: "- a\n- b"},
		config.Item{Key: "mapping", Value: "region: eu\nweight: 3"},
		config.Item{Key: "broken", Value: `{"unclosed": [`},
		config.Item{Key: "colons", Value: "a: b: c"},
		config.Item{Key: "null", Value: "~"},
		config.Item{Key: "apiovh", Value: "first", Priority: 1},
		config.Item{Key: "apiovh", Value: "second", Priority: 1},
	)

	got := s.TemplateConfig([]string{"encryption-key", "DATABASE", "not-there"})
	require.Equal(t, map[string]any{
		"utask-cfg": map[string]any{
			"admin_usernames":           []any{"admin"},
			"max_concurrent_executions": json.Number("100"),
		},
		"count":    json.Number("42"),
		"big":      json.Number("12345678901234567890"),
		"json-big": map[string]any{"id": json.Number("9007199254740993")},
		"ratio":    json.Number("0.1"),
		"flag":     true,
		"octal":    json.Number("8"),
		"list":     []any{"a", "b"},
		"mapping":  map[string]any{"region": "eu", "weight": json.Number("3")},
		"broken":   `{"unclosed": [`,
		"colons":   "a: b: c",
		"null":     nil,
		"apiovh":   "first",
	}, got)

	t.Run("ConcealedKeysAreNormalised", func(t *testing.T) {
		t.Parallel()

		got := s.TemplateConfig([]string{"UTASK_CFG", "Encryption_Key"})
		require.NotContains(t, got, "utask-cfg")
		require.NotContains(t, got, "encryption-key")
		require.Contains(t, got, "database")
	})

	t.Run("NothingConcealedByDefault", func(t *testing.T) {
		t.Parallel()

		got := s.TemplateConfig(nil)
		require.Contains(t, got, "encryption-key")
		require.Contains(t, got, "database")
		require.NotContains(t, got, "empty")
	})

	t.Run("SnapshotIsIndependent", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(config.Item{Key: "k", Value: "v"})
		snap := s.TemplateConfig(nil)
		s.Set(config.Item{Key: "k", Value: "changed", Priority: 1})
		require.Equal(t, "v", snap["k"])
	})
}

func TestStoreAuthItems(t *testing.T) {
	t.Parallel()

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(config.Item{Key: "groups-auth", Value: "  \n"})

		basic, err := s.BasicAuth()
		require.NoError(t, err)
		require.Nil(t, basic)

		groups, err := s.GroupsAuth()
		require.NoError(t, err)
		require.Nil(t, groups)
	})

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(
			config.Item{Key: "BASIC_AUTH", Value: `{"admin":"1234","resolver":"3456"}`},
			config.Item{Key: "groups-auth", Value: `{"admins":["admin"],"resolvers":["admin","resolver"]}`},
		)

		basic, err := s.BasicAuth()
		require.NoError(t, err)
		require.Equal(t, map[string]string{"admin": "1234", "resolver": "3456"}, basic)

		groups, err := s.GroupsAuth()
		require.NoError(t, err)
		require.Equal(t, map[string][]string{"admins": {"admin"}, "resolvers": {"admin", "resolver"}}, groups)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		s := config.NewStore(
			config.Item{Key: "basic-auth", Value: `{"admin": 1234}`},
			config.Item{Key: "groups-auth", Value: `admins: [admin]`},
		)

		_, err := s.BasicAuth()
		require.ErrorContains(t, err, "basic-auth")

		_, err = s.GroupsAuth()
		require.ErrorContains(t, err, "groups-auth")
	})
}
