package config_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

// decodeLines decodes every line of out as a JSON object, numbers kept as json.Number.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()

	var lines []map[string]any

	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()

		var m map[string]any
		require.NoError(t, dec.Decode(&m), sc.Text())

		lines = append(lines, m)
	}

	require.NoError(t, sc.Err())

	return lines
}

func TestNewLogger(t *testing.T) {
	t.Parallel()

	t.Run("Text", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "text", false)
		require.NoError(t, err)

		logger.Debug("hidden")
		logger.Info("shown", "task_id", "t1")

		out := buf.String()
		require.NotContains(t, out, "hidden")
		require.Contains(t, out, "level=INFO msg=shown task_id=t1")
		require.Regexp(t, `^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`, out)
	})

	t.Run("TextDebug", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "text", true)
		require.NoError(t, err)

		logger.Debug("visible")
		require.Contains(t, buf.String(), "level=DEBUG msg=visible")
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "json", false)
		require.NoError(t, err)

		logger.Info("started", "http_port", 8081)

		lines := decodeLines(t, buf.String())
		require.Len(t, lines, 1)
		require.Equal(t, "started", lines[0]["msg"])
		require.Equal(t, json.Number("8081"), lines[0]["http_port"])
	})

	t.Run("UnknownFormat", func(t *testing.T) {
		t.Parallel()

		_, err := config.NewLogger(&bytes.Buffer{}, "logfmt", false)
		require.ErrorContains(t, err, `unknown logs format "logfmt"`)
	})
}

type point struct {
	X int `json:"x"`
}

func TestGELFLogger(t *testing.T) {
	t.Parallel()

	host, err := os.Hostname()
	require.NoError(t, err)

	t.Run("Fields", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "gelf", false)
		require.NoError(t, err)

		logger = logger.With("log_type", "api").WithGroup("req").With("id", "r1")

		at := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
		r := slog.NewRecord(at, slog.LevelInfo, "success", 0)
		r.AddAttrs(
			slog.Int("status", 200),
			slog.Bool("success", true),
			slog.Float64("duration", 0.25),
			slog.Duration("wait", 1500*time.Millisecond),
			slog.Time("at", at),
			slog.Any("err", errors.New("boom")),
			slog.Any("pt", point{X: 3}),
			slog.Group("user", slog.String("name", "alice"), slog.Group("", slog.String("inlined", "yes"))),
			slog.String("weird key!", "v"),
			slog.Group("empty"),
		)
		require.NoError(t, logger.Handler().Handle(context.Background(), r))

		lines := decodeLines(t, buf.String())
		require.Len(t, lines, 1)
		require.Equal(t, map[string]any{
			"version":           "1.1",
			"host":              host,
			"short_message":     "success",
			"timestamp":         json.Number("1709294400.123456"),
			"level":             json.Number("6"),
			"_level_name":       "info",
			"_log_type":         "api",
			"_req_id":           "r1",
			"_req_status":       json.Number("200"),
			"_req_success":      true,
			"_req_duration":     json.Number("0.25"),
			"_req_wait":         "1.5s",
			"_req_at":           "2024-03-01T12:00:00.123456789Z",
			"_req_err":          "boom",
			"_req_pt":           `{"x":3}`,
			"_req_user_name":    "alice",
			"_req_user_inlined": "yes",
			"_req_weird_key_":   "v",
		}, lines[0])
	})

	t.Run("ReservedID", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "gelf", false)
		require.NoError(t, err)

		logger.Info("m", "id", 7)

		lines := decodeLines(t, buf.String())
		require.Len(t, lines, 1)
		require.NotContains(t, lines[0], "_id")
		require.Equal(t, json.Number("7"), lines[0]["_id_"])
	})

	t.Run("Levels", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			level slog.Level
			want  string
			name  string
		}{
			{slog.LevelDebug, "7", "debug"},
			{slog.LevelInfo, "6", "info"},
			{slog.LevelWarn, "4", "warn"},
			{slog.LevelError, "3", "error"},
		}
		for _, tt := range tests {
			var buf bytes.Buffer

			logger, err := config.NewLogger(&buf, "gelf", true)
			require.NoError(t, err)

			logger.Log(context.Background(), tt.level, "m")

			lines := decodeLines(t, buf.String())
			require.Len(t, lines, 1)
			require.Equal(t, json.Number(tt.want), lines[0]["level"])
			require.Equal(t, tt.name, lines[0]["_level_name"])
		}
	})

	t.Run("InfoLevelHidesDebug", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "gelf", false)
		require.NoError(t, err)

		logger.Debug("hidden")
		require.Empty(t, buf.String())
		require.False(t, logger.Enabled(context.Background(), slog.LevelDebug))
	})

	t.Run("ConcurrentLinesStayWhole", func(t *testing.T) {
		t.Parallel()

		var buf bytes.Buffer

		logger, err := config.NewLogger(&buf, "gelf", false)
		require.NoError(t, err)

		var wg sync.WaitGroup

		for g := range 8 {
			child := logger.With("worker", g)

			wg.Go(func() {
				for i := range 50 {
					child.Info("tick", "i", i)
				}
			})
		}

		wg.Wait()
		require.Len(t, decodeLines(t, buf.String()), 400)
	})
}
