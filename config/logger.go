package config

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NewLogger builds the process logger: format "text" → slog.TextHandler, "json" → slog.JSONHandler,
// "gelf" → a GELF 1.1 JSON-lines handler. Level debug when debug is true, else info.
//
// A GELF line holds version "1.1", host (the host name), short_message, timestamp (seconds since the
// epoch with microseconds), level (the syslog number: debug 7, info 6, warn 4, error 3, above error
// 2), _level_name, and every attribute as an additional field: its name is prefixed with "_", groups
// are flattened with "_" ("req" then "id" gives "_req_id"), characters GELF does not allow in a name
// become "_", and the reserved "_id" is written "_id_". Values are JSON strings, numbers or booleans;
// durations and times are written as strings, and structured values as their JSON text.
func NewLogger(w io.Writer, format string, debug bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}

	opts := &slog.HandlerOptions{Level: level}

	switch format {
	case LogsFormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case LogsFormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case LogsFormatGELF:
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}

		return slog.New(newGELFHandler(w, level, host)), nil
	default:
		return nil, fmt.Errorf("build logger: unknown logs format %q (want text, json or gelf)", format)
	}
}

// gelfHandler writes one GELF 1.1 JSON object per line. Handlers derived by WithAttrs and WithGroup
// share the writer's mutex, so lines never interleave.
type gelfHandler struct {
	attrs  []byte // pre-encoded `,"_name":value` fields added by WithAttrs
	host   string
	level  slog.Leveler
	mu     *sync.Mutex
	prefix string // group names joined and ended by "_", for fields added later
	w      io.Writer
}

func newGELFHandler(w io.Writer, level slog.Leveler, host string) *gelfHandler {
	return &gelfHandler{host: host, level: level, mu: &sync.Mutex{}, w: w}
}

// Enabled reports whether a record at level is written.
func (h *gelfHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle writes r as one line.
func (h *gelfHandler) Handle(_ context.Context, r slog.Record) error {
	buf := make([]byte, 0, 256) //nolint:mnd // a typical line fits

	buf = append(buf, `{"version":"1.1","host":`...)
	buf = appendJSONString(buf, h.host)
	buf = append(buf, `,"short_message":`...)
	buf = appendJSONString(buf, r.Message)

	if !r.Time.IsZero() {
		buf = append(buf, `,"timestamp":`...)
		buf = appendTimestamp(buf, r.Time)
	}

	buf = append(buf, `,"level":`...)
	buf = strconv.AppendInt(buf, int64(syslogLevel(r.Level)), 10)
	buf = append(buf, `,"_level_name":`...)
	buf = appendJSONString(buf, strings.ToLower(r.Level.String()))
	buf = append(buf, h.attrs...)

	r.Attrs(func(a slog.Attr) bool {
		buf = appendGELFAttr(buf, h.prefix, a)

		return true
	})

	buf = append(buf, "}\n"...)

	h.mu.Lock()
	defer h.mu.Unlock()

	_, err := h.w.Write(buf)
	if err != nil {
		return fmt.Errorf("write log line: %w", err)
	}

	return nil
}

// WithAttrs returns a handler that adds attrs, under the current groups, to every line.
func (h *gelfHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}

	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)

	for _, a := range attrs {
		h2.attrs = appendGELFAttr(h2.attrs, h.prefix, a)
	}

	return &h2
}

// WithGroup returns a handler that puts later attributes under the group name.
func (h *gelfHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}

	h2 := *h
	h2.prefix = h.prefix + name + "_"

	return &h2
}

// syslogLevel maps a slog level to the syslog severity GELF expects.
func syslogLevel(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 7 //nolint:mnd // syslog debug
	case l < slog.LevelWarn:
		return 6 //nolint:mnd // syslog informational
	case l < slog.LevelError:
		return 4 //nolint:mnd // syslog warning
	case l < slog.LevelError+4:
		return 3 //nolint:mnd // syslog error
	default:
		return 2 //nolint:mnd // syslog critical
	}
}

// appendTimestamp writes t as decimal seconds since the epoch with six fraction digits, without
// going through a float so that no precision is lost.
func appendTimestamp(buf []byte, t time.Time) []byte {
	micros := t.UnixMicro()
	sec, frac := micros/1_000_000, micros%1_000_000

	if frac < 0 {
		sec, frac = sec-1, frac+1_000_000
	}

	buf = strconv.AppendInt(buf, sec, 10)

	return fmt.Appendf(buf, ".%06d", frac)
}

// appendGELFAttr writes a as additional fields named "_"+prefix+key, flattening groups.
func appendGELFAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}

	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "_"
		}

		for _, ga := range a.Value.Group() {
			buf = appendGELFAttr(buf, p, ga)
		}

		return buf
	}

	if a.Key == "" {
		return buf
	}

	buf = append(buf, ',')
	buf = appendJSONString(buf, gelfFieldName(prefix+a.Key))
	buf = append(buf, ':')

	return appendGELFValue(buf, a.Value)
}

// gelfFieldName turns key into a GELF additional field name.
func gelfFieldName(key string) string {
	name := "_" + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		default:
			return '_'
		}
	}, key)

	if name == "_id" {
		return "_id_"
	}

	return name
}

// appendGELFValue writes v as a JSON string, number or boolean.
func appendGELFValue(buf []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(buf, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(buf, strconv.FormatFloat(f, 'g', -1, 64))
		}

		return strconv.AppendFloat(buf, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(buf, v.Bool())
	case slog.KindDuration:
		return appendJSONString(buf, v.Duration().String())
	case slog.KindTime:
		return appendJSONString(buf, v.Time().Format(time.RFC3339Nano))
	default:
		return appendGELFAny(buf, v.Any())
	}
}

// appendGELFAny writes an arbitrary value: errors as their message, scalars as JSON, and objects
// and arrays as a string holding their JSON text, since GELF fields cannot nest.
func appendGELFAny(buf []byte, x any) []byte {
	if err, ok := x.(error); ok {
		return appendJSONString(buf, err.Error())
	}

	b, err := json.Marshal(x)
	if err != nil {
		return appendJSONString(buf, fmt.Sprintf("%+v", x))
	}

	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return appendJSONString(buf, string(b))
	}

	return append(buf, b...)
}

// appendJSONString writes s as a JSON string literal.
func appendJSONString(buf []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		// A string always marshals; keep the line valid should that ever change.
		return append(buf, `""`...)
	}

	return append(buf, b...)
}
