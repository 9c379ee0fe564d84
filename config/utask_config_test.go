package config_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

func TestParseUtaskConfig(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()

		want := config.UtaskConfig{
			CompletedTaskExpiration: config.Duration(720 * time.Hour),
			DatabaseConfig: config.DatabaseConfig{
				MaxOpenConns: config.AutoMaxOpenConns, MaxIdleConns: 30, ConnMaxLifetime: 60, ConfigName: "database",
			},
			ResourceAcquireTimeout:             config.Duration(time.Minute),
			MaxConcurrentExecutions:            100,
			MaxConcurrentExecutionsFromCrashed: 20,
			DelayBetweenCrashedTasksResolution: config.Duration(time.Second),
			StepsCompressionAlgorithm:          "noop",
			ServerOptions:                      config.ServerOptions{MaxBodyBytes: 262144},
		}

		for _, raw := range []string{"", "  \n", "{}", "null", `{"admin_usernames": null, "database_config": null}`} {
			c, err := config.ParseUtaskConfig(raw)
			require.NoError(t, err, raw)
			require.Equal(t, want, c, raw)
		}
	})

	t.Run("FullExample", func(t *testing.T) {
		t.Parallel()

		c, err := config.ParseUtaskConfig(`{
		  "application_name": "µTask",
		  "admin_usernames": ["admin"],
		  "admin_groups": ["admins"],
		  "completed_task_expiration": "48h",
		  "concealed_secrets": ["database", "encryption-key", "utask-cfg", "basic-auth"],
		  "resource_limits": {"socket": 1024, "fork": 50, "url:example.org": 0},
		  "resource_acquire_timeout": "30s",
		  "max_concurrent_executions": 10,
		  "max_concurrent_executions_from_crashed": 5,
		  "delay_between_crashed_tasks_resolution": "250ms",
		  "base_url": "https://utask.example.org",
		  "dashboard_path_prefix": "/ui",
		  "dashboard_api_path_prefix": "/api",
		  "dashboard_sentry_dsn": "dsn",
		  "steps_compression_algorithm": "gzip",
		  "server_options": {"max_body_bytes": 4096},
		  "database_config": {"max_open_conns": 5, "max_idle_conns": 0, "conn_max_lifetime": 0, "config_name": "db"},
		  "notify_config": {"tat": {"type": "tat", "config": {"url": "http://127.0.0.1"}}},
		  "notify_actions": {"task_state_action": {"disabled": true}},
		  "unknown_key": {"ignored": true}
		}`)
		require.NoError(t, err)

		require.Equal(t, "µTask", c.ApplicationName)
		require.Equal(t, []string{"admin"}, c.AdminUsernames)
		require.Equal(t, []string{"admins"}, c.AdminGroups)
		require.Equal(t, 48*time.Hour, c.CompletedTaskExpiration.Std())
		require.Equal(t, []string{"database", "encryption-key", "utask-cfg", "basic-auth"}, c.ConcealedSecrets)
		require.Equal(t, map[string]int{"socket": 1024, "fork": 50, "url:example.org": 0}, c.ResourceLimits)
		require.Equal(t, 30*time.Second, c.ResourceAcquireTimeout.Std())
		require.True(t, c.ResourceAcquireTimeoutSet)
		require.Equal(t, 10, c.MaxConcurrentExecutions)
		require.Equal(t, 5, c.MaxConcurrentExecutionsFromCrashed)
		require.Equal(t, 250*time.Millisecond, c.DelayBetweenCrashedTasksResolution.Std())
		require.Equal(t, "https://utask.example.org", c.BaseURL)
		require.Equal(t, "/ui", c.DashboardPathPrefix)
		require.Equal(t, "/api", c.DashboardAPIPathPrefix)
		require.Equal(t, "dsn", c.DashboardSentryDSN)
		require.Equal(t, "gzip", c.StepsCompressionAlgorithm)
		require.Equal(t, int64(4096), c.ServerOptions.MaxBodyBytes)
		require.Equal(t, config.DatabaseConfig{MaxOpenConns: 5, ConfigName: "db"}, c.DatabaseConfig)
		require.Len(t, c.NotifyConfig, 1)
		require.JSONEq(t, `{"type": "tat", "config": {"url": "http://127.0.0.1"}}`, string(c.NotifyConfig["tat"]))
		require.JSONEq(t, `{"task_state_action": {"disabled": true}}`, string(c.NotifyActions))
	})

	t.Run("KeysMatchWithoutCase", func(t *testing.T) {
		t.Parallel()

		c, err := config.ParseUtaskConfig(`{"Application_Name": "folded", "DATABASE_CONFIG": {"Max_Open_Conns": 7}}`)
		require.NoError(t, err)
		require.Equal(t, "folded", c.ApplicationName)
		require.Equal(t, 7, c.DatabaseConfig.MaxOpenConns)
	})

	t.Run("ResourceAcquireTimeout", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name    string
			raw     string
			want    time.Duration
			wantSet bool
		}{
			{"Absent", `{}`, time.Minute, false},
			{"EmptyString", `{"resource_acquire_timeout": ""}`, time.Minute, false},
			{"ExplicitZero", `{"resource_acquire_timeout": "0s"}`, 0, true},
			{"ExplicitDefault", `{"resource_acquire_timeout": "1m"}`, time.Minute, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				c, err := config.ParseUtaskConfig(tt.raw)
				require.NoError(t, err)
				require.Equal(t, tt.want, c.ResourceAcquireTimeout.Std())
				require.Equal(t, tt.wantSet, c.ResourceAcquireTimeoutSet)
			})
		}
	})

	t.Run("DatabaseConfigNegativesMeanDefault", func(t *testing.T) {
		t.Parallel()

		c, err := config.ParseUtaskConfig(
			`{"database_config": {"max_open_conns": -1, "max_idle_conns": -5, "conn_max_lifetime": -60, "config_name": ""}}`)
		require.NoError(t, err)
		require.Equal(t, config.DatabaseConfig{
			MaxOpenConns: config.AutoMaxOpenConns, MaxIdleConns: 30, ConnMaxLifetime: 60, ConfigName: "database",
		}, c.DatabaseConfig)
	})

	t.Run("PoolSize", func(t *testing.T) {
		t.Parallel()

		for _, tc := range []struct {
			conns, procs, want int
		}{
			{config.AutoMaxOpenConns, 1, 8},
			{config.AutoMaxOpenConns, 2, 8},
			{config.AutoMaxOpenConns, 4, 16},
			{config.AutoMaxOpenConns, 64, 50},
			{0, 2, 50},
			{5, 2, 5},
			{200, 2, 200},
		} {
			require.Equal(t, tc.want, config.DatabaseConfig{MaxOpenConns: tc.conns}.PoolSize(tc.procs), "%d conns, %d CPUs", tc.conns, tc.procs)
		}
	})

	t.Run("MaxBodyBytes", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			value string
			want  int64
		}{
			{"0", 262144}, {"1", 1024}, {"-5", 1024}, {"1024", 1024}, {"5000", 5000},
			{"10485760", 10485760}, {"10485761", 10485760}, {"1073741824", 10485760},
		}
		for _, tt := range tests {
			c, err := config.ParseUtaskConfig(`{"server_options": {"max_body_bytes": ` + tt.value + `}}`)
			require.NoError(t, err, tt.value)
			require.Equal(t, tt.want, c.ServerOptions.MaxBodyBytes, tt.value)
		}
	})

	t.Run("ConcurrencyCaps", func(t *testing.T) {
		t.Parallel()

		const tooMany = "max_concurrent_executions_from_crashed can't be greater than max_concurrent_executions"

		tests := []struct {
			name        string
			raw         string
			wantGlobal  int
			wantCrashed int
			wantErr     string
		}{
			{name: "Defaults", raw: `{}`, wantGlobal: 100, wantCrashed: 20},
			{name: "Equal", raw: `{"max_concurrent_executions": 20}`, wantGlobal: 20, wantCrashed: 20},
			{name: "DefaultCrashedAboveCap", raw: `{"max_concurrent_executions": 10}`, wantErr: tooMany},
			{name: "CrashedAboveDefaultCap", raw: `{"max_concurrent_executions_from_crashed": 101}`, wantErr: tooMany},
			{name: "ZeroBlocksEverything", raw: `{"max_concurrent_executions": 0, "max_concurrent_executions_from_crashed": 0}`},
			{name: "ZeroWithDefaultCrashed", raw: `{"max_concurrent_executions": 0}`, wantErr: tooMany},
			{
				name: "UnlimitedGlobalAcceptsDefaultCrashed", raw: `{"max_concurrent_executions": -1}`,
				wantGlobal: -1, wantCrashed: 20,
			},
			{
				name:       "UnlimitedGlobalAcceptsAnyCrashed",
				raw:        `{"max_concurrent_executions": -1, "max_concurrent_executions_from_crashed": 5000}`,
				wantGlobal: -1, wantCrashed: 5000,
			},
			{
				name: "UnlimitedCrashedUnderCap", raw: `{"max_concurrent_executions_from_crashed": -1}`,
				wantGlobal: 100, wantCrashed: -1,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				c, err := config.ParseUtaskConfig(tt.raw)
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)

					return
				}

				require.NoError(t, err)
				require.Equal(t, tt.wantGlobal, c.MaxConcurrentExecutions)
				require.Equal(t, tt.wantCrashed, c.MaxConcurrentExecutionsFromCrashed)
			})
		}
	})

	t.Run("StepsCompression", func(t *testing.T) {
		t.Parallel()

		for raw, want := range map[string]string{
			`{}`: "noop", `{"steps_compression_algorithm": ""}`: "noop",
			`{"steps_compression_algorithm": "noop"}`: "noop", `{"steps_compression_algorithm": "gzip"}`: "gzip",
		} {
			c, err := config.ParseUtaskConfig(raw)
			require.NoError(t, err, raw)
			require.Equal(t, want, c.StepsCompressionAlgorithm, raw)
		}

		_, err := config.ParseUtaskConfig(`{"steps_compression_algorithm": "brotli"}`)
		require.ErrorContains(t, err, "brotli compression algorithm not found")
		require.ErrorIs(t, err, config.ErrCompressionNotFound)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name    string
			raw     string
			wantErr []string
		}{
			{"NotJSON", `{"admin_usernames": [`, []string{"parse utask-cfg"}},
			{"NotAnObject", `["admin"]`, []string{"parse utask-cfg"}},
			{"StringForInt", `{"max_concurrent_executions": "10"}`, []string{"max_concurrent_executions:", "string"}},
			{"StringForList", `{"admin_usernames": "admin"}`, []string{"admin_usernames:"}},
			{"NumberForString", `{"application_name": 3}`, []string{"application_name:"}},
			{"FloatForInt", `{"max_concurrent_executions_from_crashed": 1.5}`, []string{"max_concurrent_executions_from_crashed:"}},
			{"NestedMismatch", `{"database_config": {"max_open_conns": "many"}}`, []string{"database_config.max_open_conns:"}},
			{"NestedNotAnObject", `{"server_options": 12}`, []string{"server_options:"}},
			{"NestedBodyMismatch", `{"server_options": {"max_body_bytes": "1MB"}}`, []string{"server_options.max_body_bytes:"}},
			{"NotifyConfigNotAnObject", `{"notify_config": []}`, []string{"notify_config:"}},
			{"ResourceLimitNotANumber", `{"resource_limits": {"socket": "many"}}`, []string{"resource_limits:"}},
			{"NegativeResourceLimit", `{"resource_limits": {"socket": 1, "fork": -1}}`, []string{"resource_limits:", `"fork"`, "-1"}},
			{
				"BareNumberDuration", `{"delay_between_crashed_tasks_resolution": 1}`,
				[]string{"delay_between_crashed_tasks_resolution:", `a duration string such as "1s" is expected, got 1`},
			},
			{"ObjectDuration", `{"completed_task_expiration": {}}`, []string{"completed_task_expiration:", `"1s"`}},
			{"BadDuration", `{"completed_task_expiration": "30 days"}`, []string{"completed_task_expiration:", "30 days"}},
			{"NegativeDuration", `{"resource_acquire_timeout": "-1m"}`, []string{"resource_acquire_timeout:", "negative"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				_, err := config.ParseUtaskConfig(tt.raw)
				require.Error(t, err)

				for _, want := range tt.wantErr {
					require.ErrorContains(t, err, want)
				}
			})
		}
	})

	t.Run("MarshalRoundTrip", func(t *testing.T) {
		t.Parallel()

		c, err := config.ParseUtaskConfig(`{"application_name": "rt", "admin_groups": ["g"],
			"completed_task_expiration": "90m", "resource_limits": {"fork": 2}, "max_concurrent_executions": -1,
			"notify_actions": {"a":1}, "server_options": {"max_body_bytes": 2048}}`)
		require.NoError(t, err)

		b, err := json.Marshal(c)
		require.NoError(t, err)
		require.Contains(t, string(b), `"completed_task_expiration":"1h30m0s"`)

		again, err := config.ParseUtaskConfig(string(b))
		require.NoError(t, err)

		c.ResourceAcquireTimeoutSet = true // the marshalled form states the default explicitly
		require.Equal(t, c, again)
	})
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()

	var d config.Duration
	require.NoError(t, json.Unmarshal([]byte(`"2h45m"`), &d))
	require.Equal(t, 2*time.Hour+45*time.Minute, d.Std())
	require.Equal(t, "2h45m0s", d.String())

	require.ErrorContains(t, json.Unmarshal([]byte(`60`), &d), `"1s"`)
	require.Error(t, json.Unmarshal([]byte(`"sixty"`), &d))
}

func TestUtaskConfigIsAdmin(t *testing.T) {
	t.Parallel()

	c := config.UtaskConfig{AdminUsernames: []string{"alice"}, AdminGroups: []string{"admins", "ops"}}

	tests := []struct {
		name   string
		user   string
		groups []string
		want   bool
	}{
		{"ListedUser", "alice", nil, true},
		{"OtherUser", "bob", []string{"devs"}, false},
		{"UserInAdminGroup", "bob", []string{"devs", "ops"}, true},
		{"UserNameIsNotAGroup", "admins", nil, false},
		{"EmptyUser", "", nil, false},
		{"CaseMatters", "Alice", []string{"ADMINS"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, c.IsAdmin(tt.user, tt.groups))
		})
	}

	t.Run("EmptyNamesNeverMatch", func(t *testing.T) {
		t.Parallel()

		odd := config.UtaskConfig{AdminUsernames: []string{""}, AdminGroups: []string{""}}
		require.False(t, odd.IsAdmin("", []string{""}))
	})
}
