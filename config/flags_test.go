package config_test

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

// envFunc returns a getenv reading from m.
func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseFlags(t *testing.T) {
	t.Parallel()

	const wd = "/srv/utask"

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()

		f, err := config.ParseFlags("utask", nil, envFunc(nil), wd)
		require.NoError(t, err)
		require.Equal(t, config.Flags{
			InitPath:       "/srv/utask/init",
			PluginsPath:    "/srv/utask/plugins",
			TemplatesPaths: []string{"/srv/utask/templates"},
			FunctionsPath:  "/srv/utask/functions",
			ScriptsPath:    "/srv/utask/scripts",
			Region:         "default",
			HTTPPort:       8081,
			LogsFormat:     "text",
		}, f)
	})

	t.Run("EnvironmentFallbacks", func(t *testing.T) {
		t.Parallel()

		f, err := config.ParseFlags("utask", nil, envFunc(map[string]string{
			"INIT":             "/opt/init",
			"PLUGINS":          "plug",
			"TEMPLATES":        "tpl:/abs/tpl::../up",
			"FUNCTIONS":        "fn",
			"SCRIPTS":          "/opt/scripts/",
			"REGION":           "eu-west",
			"SERVER_PORT":      "9000",
			"SERVER_HOST":      "127.0.0.1",
			"DEBUG":            "true",
			"MAINTENANCE_MODE": "1",
			"LOGS_FORMAT":      "gelf",
		}), wd)
		require.NoError(t, err)
		require.Equal(t, config.Flags{
			InitPath:        "/opt/init",
			PluginsPath:     "/srv/utask/plug",
			TemplatesPaths:  []string{"/srv/utask/tpl", "/abs/tpl", "/srv/up"},
			FunctionsPath:   "/srv/utask/fn",
			ScriptsPath:     "/opt/scripts",
			Region:          "eu-west",
			HTTPPort:        9000,
			HTTPHost:        "127.0.0.1",
			Debug:           true,
			MaintenanceMode: true,
			LogsFormat:      "gelf",
		}, f)
	})

	t.Run("FlagsBeatEnvironment", func(t *testing.T) {
		t.Parallel()

		env := envFunc(map[string]string{
			"INIT": "/env/init", "TEMPLATES": "/env/tpl", "FUNCTIONS": "/env/fn", "REGION": "env",
			"SERVER_PORT": "9000", "DEBUG": "true", "MAINTENANCE_MODE": "true", "LOGS_FORMAT": "gelf",
			"SERVER_HOST": "0.0.0.0",
		})
		args := []string{
			"--init-path", "/flag/init", "-templates-path=a:b", "--functions-path=/flag/fn",
			"-region", "flag", "--http-port=0", "--debug=false", "-maintenance-mode=false",
			"--logs-format", "json", "--http-host", "::1",
		}

		f, err := config.ParseFlags("utask", args, env, wd)
		require.NoError(t, err)
		require.Equal(t, "/flag/init", f.InitPath)
		require.Equal(t, []string{"/srv/utask/a", "/srv/utask/b"}, f.TemplatesPaths)
		require.Equal(t, "/flag/fn", f.FunctionsPath)
		require.Equal(t, "flag", f.Region)
		require.Equal(t, 0, f.HTTPPort)
		require.Equal(t, "::1", f.HTTPHost)
		require.False(t, f.Debug)
		require.False(t, f.MaintenanceMode)
		require.Equal(t, "json", f.LogsFormat)
	})

	t.Run("BooleanForms", func(t *testing.T) {
		t.Parallel()

		for _, args := range [][]string{{"-debug"}, {"--debug"}, {"--debug=true"}, {"-debug=1"}} {
			f, err := config.ParseFlags("utask", args, envFunc(nil), wd)
			require.NoError(t, err, args)
			require.True(t, f.Debug, args)
		}
	})

	t.Run("EnvironmentBooleans", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			value string
			want  bool
		}{
			{"true", true}, {"1", true}, {"t", true}, {"T", true}, {"TRUE", true}, {"True", true},
			{"false", false}, {"0", false}, {"yes", false}, {"on", false}, {"garbage", false}, {"", false},
		}
		for _, tt := range tests {
			f, err := config.ParseFlags("utask", nil, envFunc(map[string]string{"DEBUG": tt.value}), wd)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.Debug, "DEBUG=%q", tt.value)
		}
	})

	t.Run("EmptyValuesCountAsUnset", func(t *testing.T) {
		t.Parallel()

		f, err := config.ParseFlags("utask", []string{"--region=", "--templates-path=::"},
			envFunc(map[string]string{"REGION": "", "TEMPLATES": ""}), wd)
		require.NoError(t, err)
		require.Equal(t, "default", f.Region)
		require.Equal(t, []string{"/srv/utask/templates"}, f.TemplatesPaths)
	})

	t.Run("PortRange", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name    string
			args    []string
			env     map[string]string
			want    int
			wantErr string
		}{
			{name: "Zero", args: []string{"--http-port", "0"}, want: 0},
			{name: "Highest", args: []string{"--http-port", "65535"}, want: 65535},
			{name: "TooHigh", args: []string{"--http-port", "65536"}, wantErr: "incorrect HTTP port range: 65536"},
			{name: "Negative", args: []string{"--http-port=-1"}, wantErr: "incorrect HTTP port range: -1"},
			{name: "EnvTooHigh", env: map[string]string{"SERVER_PORT": "70000"}, wantErr: "incorrect HTTP port range: 70000"},
			{name: "EnvZero", env: map[string]string{"SERVER_PORT": "0"}, want: 0},
			{name: "EnvNotANumber", env: map[string]string{"SERVER_PORT": "http"}, wantErr: `parse SERVER_PORT "http"`},
			{name: "FlagNotANumber", args: []string{"--http-port", "http"}, wantErr: "invalid value"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				f, err := config.ParseFlags("utask", tt.args, envFunc(tt.env), wd)
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)

					return
				}

				require.NoError(t, err)
				require.Equal(t, tt.want, f.HTTPPort)
			})
		}
	})

	t.Run("PortRangeSentinel", func(t *testing.T) {
		t.Parallel()

		_, err := config.ParseFlags("utask", []string{"--http-port=99999"}, envFunc(nil), wd)
		require.ErrorIs(t, err, config.ErrPortRange)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name    string
			args    []string
			env     map[string]string
			wd      string
			wantErr string
		}{
			{name: "UnknownFlag", args: []string{"--nope"}, wd: wd, wantErr: "flag provided but not defined: -nope"},
			{name: "UnknownLogsFormat", args: []string{"--logs-format=xml"}, wd: wd, wantErr: `unknown logs format "xml"`},
			{name: "UnknownLogsFormatFromEnv", env: map[string]string{"LOGS_FORMAT": "TEXT"}, wd: wd, wantErr: `"TEXT"`},
			{name: "PositionalArgument", args: []string{"serve"}, wd: wd, wantErr: `unexpected argument "serve"`},
			{name: "MissingValue", args: []string{"--region"}, wd: wd, wantErr: "flag needs an argument"},
			{name: "RelativeWorkingDirectory", wd: "srv", wantErr: "not absolute"},
			{name: "EmptyWorkingDirectory", wd: "", wantErr: "not absolute"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				_, err := config.ParseFlags("utask", tt.args, envFunc(tt.env), tt.wd)
				require.ErrorContains(t, err, tt.wantErr)
			})
		}
	})

	t.Run("Help", func(t *testing.T) {
		t.Parallel()

		_, err := config.ParseFlags("utask", []string{"--help"}, envFunc(nil), wd)
		require.ErrorIs(t, err, flag.ErrHelp)
	})

	t.Run("NilGetenv", func(t *testing.T) {
		t.Parallel()

		f, err := config.ParseFlags("utask", nil, nil, wd)
		require.NoError(t, err)
		require.Equal(t, filepath.Join(wd, "init"), f.InitPath)
	})
}

func TestFlagsUsage(t *testing.T) {
	t.Parallel()

	usage := config.FlagsUsage("utask")
	for _, want := range []string{
		"Usage of utask:", "-init-path", "-plugins-path", "-templates-path", "-functions-path",
		"-scripts-path", "-region", "-http-port", "-debug", "-maintenance-mode", "-logs-format",
		"SERVER_PORT", "FUNCTIONS",
	} {
		require.Contains(t, usage, want)
	}
}
