package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Defaults and bounds of utask-cfg.
const (
	DefaultCompletedTaskExpiration            = 720 * time.Hour
	DefaultResourceAcquireTimeout             = time.Minute
	DefaultMaxConcurrentExecutions            = 100
	DefaultMaxConcurrentExecutionsFromCrashed = 20
	DefaultDelayBetweenCrashedTasksResolution = time.Second
	// AutoMaxOpenConns is the MaxOpenConns of a configuration that does not
	// set it: the pool is then sized on the CPUs (see PoolSize).
	AutoMaxOpenConns = -1
	// DefaultMaxOpenConns bounds the pool sized on the CPUs, and is the
	// pool of an unlimited (0) one, which PostgreSQL's pool cannot be.
	DefaultMaxOpenConns           = 50
	DefaultMaxIdleConns           = 30
	DefaultConnMaxLifetimeSeconds = 60
	DefaultDatabaseConfigName     = "database"
	DefaultMaxBodyBytes           = 262144
	MinMaxBodyBytes               = 1024
	MaxMaxBodyBytes               = 10485760
)

// Step compression algorithms accepted by steps_compression_algorithm.
const (
	CompressionNoop = "noop"
	CompressionGzip = "gzip"
)

// UtaskConfigKey is the configuration item holding the utask-cfg JSON object.
const UtaskConfigKey = "utask-cfg"

// ErrCompressionNotFound is wrapped by the error of an unknown steps_compression_algorithm.
var ErrCompressionNotFound = errors.New("compression algorithm not found") //nolint:gochecknoglobals // sentinel

// Duration is a time.Duration written in JSON as a Go duration string such as "1m30s".
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns d in Go duration syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(d.String())
	if err != nil {
		return nil, fmt.Errorf("encode duration: %w", err)
	}

	return b, nil
}

// UnmarshalJSON reads a duration string; a bare number is refused, since its unit is unknown.
func (d *Duration) UnmarshalJSON(b []byte) error {
	parsed, err := parseDuration(b)
	if err != nil {
		return err
	}

	*d = Duration(parsed)

	return nil
}

// UtaskConfig is the parsed utask-cfg item with defaults applied.
type UtaskConfig struct {
	// ApplicationName is shown in the dashboard, GET /meta and the OpenAPI title.
	ApplicationName string `json:"application_name"`
	// AdminUsernames are the administrators.
	AdminUsernames []string `json:"admin_usernames"`
	// AdminGroups are the groups whose members are administrators.
	AdminGroups []string `json:"admin_groups"`
	// CompletedTaskExpiration is the age after which finished tasks are deleted. Defaults to 720h.
	CompletedTaskExpiration Duration `json:"completed_task_expiration"`
	// NotifyConfig holds the notification backends by name, each left for the notify package.
	NotifyConfig map[string]json.RawMessage `json:"notify_config"`
	// NotifyActions holds the per-event notification settings, left for the notify package.
	NotifyActions json.RawMessage `json:"notify_actions"`
	// DatabaseConfig tunes the database connection pool.
	DatabaseConfig DatabaseConfig `json:"database_config"`
	// ConcealedSecrets are the configuration keys hidden from templates.
	ConcealedSecrets []string `json:"concealed_secrets"`
	// ResourceLimits caps the concurrent users of each named resource; 0 makes it unavailable.
	ResourceLimits map[string]int `json:"resource_limits"`
	// ResourceAcquireTimeout is the longest wait for a resource slot; 0 waits without limit.
	// Defaults to 1m.
	ResourceAcquireTimeout Duration `json:"resource_acquire_timeout"`
	// ResourceAcquireTimeoutSet reports whether resource_acquire_timeout was given, which tells
	// an explicit "1m" from the default and an explicit "0s" from an absent key.
	ResourceAcquireTimeoutSet bool `json:"-"`
	// MaxConcurrentExecutions caps the resolutions running at once in this instance; 0 runs
	// nothing and a negative value is unlimited. Defaults to 100.
	MaxConcurrentExecutions int `json:"max_concurrent_executions"`
	// MaxConcurrentExecutionsFromCrashed caps the running resolutions recovered from dead
	// instances; a negative value is unlimited. Defaults to 20.
	MaxConcurrentExecutionsFromCrashed int `json:"max_concurrent_executions_from_crashed"`
	// DelayBetweenCrashedTasksResolution is the pause between two recovered resolutions.
	// Defaults to 1s.
	DelayBetweenCrashedTasksResolution Duration `json:"delay_between_crashed_tasks_resolution"`
	// BaseURL is the public base URL of the dashboard host.
	BaseURL string `json:"base_url"`
	// DashboardPathPrefix is the path prefix of the dashboard behind a reverse proxy.
	DashboardPathPrefix string `json:"dashboard_path_prefix"`
	// DashboardAPIPathPrefix is the path prefix the dashboard uses to reach the API.
	DashboardAPIPathPrefix string `json:"dashboard_api_path_prefix"`
	// DashboardSentryDSN is injected into the dashboard files.
	DashboardSentryDSN string `json:"dashboard_sentry_dsn"`
	// StepsCompressionAlgorithm compresses the steps of new resolutions: "noop" or "gzip". An
	// empty value in the item becomes "noop".
	StepsCompressionAlgorithm string `json:"steps_compression_algorithm"`
	// ServerOptions tunes the HTTP server.
	ServerOptions ServerOptions `json:"server_options"`
}

// DatabaseConfig tunes the database connection pool. A negative value in the item means the
// default.
type DatabaseConfig struct {
	// MaxOpenConns caps the open connections; 0 is DefaultMaxOpenConns.
	// Not set (AutoMaxOpenConns): four per CPU, between 8 and
	// DefaultMaxOpenConns (see PoolSize).
	MaxOpenConns int `json:"max_open_conns"`
	// MaxIdleConns caps the idle connections. Defaults to 30.
	MaxIdleConns int `json:"max_idle_conns"`
	// ConnMaxLifetime is the lifetime of a connection in seconds; 0 is unlimited. Defaults to 60.
	ConnMaxLifetime int `json:"conn_max_lifetime"`
	// ConfigName is the configuration key of the connection string. Defaults to "database".
	ConfigName string `json:"config_name"`
}

// ServerOptions tunes the HTTP server.
type ServerOptions struct {
	// MaxBodyBytes limits request bodies, clamped to [1024, 10485760]; 0 in the item means the
	// default. Defaults to 262144.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// MaxConcurrentRequests caps the API reads served at once, and the
	// writes at half of it; the others wait a moment, then are answered 503
	// with Retry-After. 0 in the item sizes it from the database connection
	// pool; negative means no cap. Defaults to 0.
	MaxConcurrentRequests int `json:"max_concurrent_requests"`
}

// ParseUtaskConfig decodes raw (JSON; "" means all defaults), applies defaults and validates.
// Unknown keys are ignored, keys match without case when no exact match exists (as encoding/json
// does), and null counts as absent. A type mismatch is an error naming the key. Durations are Go
// duration strings; an empty string counts as absent and a negative duration is an error.
//
// This differs on purpose from µTask in one way: a negative (unlimited)
// max_concurrent_executions accepts any max_concurrent_executions_from_crashed, where µTask
// compares the two numerically and so rejects -1 with the default 20.
func ParseUtaskConfig(raw string) (UtaskConfig, error) {
	c, err := decodeUtaskConfig(raw)
	if err != nil {
		return UtaskConfig{}, fmt.Errorf("parse utask-cfg: %w", err)
	}

	if err := c.validate(); err != nil {
		return UtaskConfig{}, fmt.Errorf("parse utask-cfg: %w", err)
	}

	return c, nil
}

// IsAdmin reports whether user, or one of groups, is listed as an administrator. Empty names
// never match.
func (c UtaskConfig) IsAdmin(user string, groups []string) bool {
	if user != "" && slices.Contains(c.AdminUsernames, user) {
		return true
	}

	for _, g := range groups {
		if g != "" && slices.Contains(c.AdminGroups, g) {
			return true
		}
	}

	return false
}

// decodeUtaskConfig decodes every known key of raw and fills the defaults.
func decodeUtaskConfig(raw string) (UtaskConfig, error) {
	c := UtaskConfig{
		MaxConcurrentExecutions:            DefaultMaxConcurrentExecutions,
		MaxConcurrentExecutionsFromCrashed: DefaultMaxConcurrentExecutionsFromCrashed,
		StepsCompressionAlgorithm:          CompressionNoop,
	}

	var root jsonObject
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &root); err != nil {
			return UtaskConfig{}, fmt.Errorf("decode JSON object: %w", err)
		}
	}

	var algorithm string

	fields := []struct {
		name string
		dst  any
	}{
		{"application_name", &c.ApplicationName},
		{"admin_usernames", &c.AdminUsernames},
		{"admin_groups", &c.AdminGroups},
		{"notify_config", &c.NotifyConfig},
		{"notify_actions", &c.NotifyActions},
		{"concealed_secrets", &c.ConcealedSecrets},
		{"resource_limits", &c.ResourceLimits},
		{"max_concurrent_executions", &c.MaxConcurrentExecutions},
		{"max_concurrent_executions_from_crashed", &c.MaxConcurrentExecutionsFromCrashed},
		{"base_url", &c.BaseURL},
		{"dashboard_path_prefix", &c.DashboardPathPrefix},
		{"dashboard_api_path_prefix", &c.DashboardAPIPathPrefix},
		{"dashboard_sentry_dsn", &c.DashboardSentryDSN},
		{"steps_compression_algorithm", &algorithm},
	}
	for _, f := range fields {
		if _, err := root.decode("", f.name, f.dst); err != nil {
			return UtaskConfig{}, err
		}
	}

	if algorithm != "" {
		c.StepsCompressionAlgorithm = algorithm
	}

	var err error

	durations := []struct {
		name string
		dst  *Duration
		set  *bool
		def  time.Duration
	}{
		{"completed_task_expiration", &c.CompletedTaskExpiration, nil, DefaultCompletedTaskExpiration},
		{"resource_acquire_timeout", &c.ResourceAcquireTimeout, &c.ResourceAcquireTimeoutSet, DefaultResourceAcquireTimeout},
		{
			"delay_between_crashed_tasks_resolution", &c.DelayBetweenCrashedTasksResolution, nil,
			DefaultDelayBetweenCrashedTasksResolution,
		},
	}
	for _, d := range durations {
		var set bool

		*d.dst, set, err = root.duration(d.name, d.def)
		if err != nil {
			return UtaskConfig{}, err
		}

		if d.set != nil {
			*d.set = set
		}
	}

	if c.DatabaseConfig, err = decodeDatabaseConfig(root); err != nil {
		return UtaskConfig{}, err
	}

	if c.ServerOptions, err = decodeServerOptions(root); err != nil {
		return UtaskConfig{}, err
	}

	return c, nil
}

// PoolSize is the number of database connections of an instance with
// procs CPUs (GOMAXPROCS) given MaxOpenConns: four per CPU, between 8 and
// DefaultMaxOpenConns, when it is not set; DefaultMaxOpenConns for 0;
// else MaxOpenConns. Every PostgreSQL connection is a server process, and
// beyond a few per core they compete for the CPU: µTask's fixed 50 per
// instance spends more CPU per task on a small database server, and a few
// instances exceed PostgreSQL's default max_connections (100).
func (d DatabaseConfig) PoolSize(procs int) int {
	switch {
	case d.MaxOpenConns < 0:
		return min(max(4*procs, 8), DefaultMaxOpenConns) //nolint:mnd // four per CPU, at least 8
	case d.MaxOpenConns == 0:
		return DefaultMaxOpenConns
	}
	return d.MaxOpenConns
}

// decodeDatabaseConfig decodes database_config and fills its defaults.
func decodeDatabaseConfig(root jsonObject) (DatabaseConfig, error) {
	var obj jsonObject
	if _, err := root.decode("", "database_config", &obj); err != nil {
		return DatabaseConfig{}, err
	}

	const path = "database_config."

	db := DatabaseConfig{
		MaxOpenConns:    AutoMaxOpenConns,
		MaxIdleConns:    DefaultMaxIdleConns,
		ConnMaxLifetime: DefaultConnMaxLifetimeSeconds,
		ConfigName:      DefaultDatabaseConfigName,
	}

	counts := []struct {
		name string
		dst  *int
		def  int
	}{
		{"max_open_conns", &db.MaxOpenConns, AutoMaxOpenConns},
		{"max_idle_conns", &db.MaxIdleConns, DefaultMaxIdleConns},
		{"conn_max_lifetime", &db.ConnMaxLifetime, DefaultConnMaxLifetimeSeconds},
	}
	for _, f := range counts {
		if _, err := obj.decode(path, f.name, f.dst); err != nil {
			return DatabaseConfig{}, err
		}

		if *f.dst < 0 {
			*f.dst = f.def
		}
	}

	if _, err := obj.decode(path, "config_name", &db.ConfigName); err != nil {
		return DatabaseConfig{}, err
	}

	if db.ConfigName == "" {
		db.ConfigName = DefaultDatabaseConfigName
	}

	return db, nil
}

// decodeServerOptions decodes server_options and clamps max_body_bytes.
func decodeServerOptions(root jsonObject) (ServerOptions, error) {
	var obj jsonObject
	if _, err := root.decode("", "server_options", &obj); err != nil {
		return ServerOptions{}, err
	}

	var opts ServerOptions
	if _, err := obj.decode("server_options.", "max_body_bytes", &opts.MaxBodyBytes); err != nil {
		return ServerOptions{}, err
	}

	if _, err := obj.decode("server_options.", "max_concurrent_requests", &opts.MaxConcurrentRequests); err != nil {
		return ServerOptions{}, err
	}

	switch {
	case opts.MaxBodyBytes == 0:
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	case opts.MaxBodyBytes < MinMaxBodyBytes:
		opts.MaxBodyBytes = MinMaxBodyBytes
	case opts.MaxBodyBytes > MaxMaxBodyBytes:
		opts.MaxBodyBytes = MaxMaxBodyBytes
	}

	return opts, nil
}

// validate checks the values decoding cannot.
func (c UtaskConfig) validate() error {
	for _, name := range slices.Sorted(maps.Keys(c.ResourceLimits)) {
		if n := c.ResourceLimits[name]; n < 0 {
			return fmt.Errorf("resource_limits: negative limit %d for resource %q", n, name)
		}
	}

	switch c.StepsCompressionAlgorithm {
	case CompressionNoop, CompressionGzip:
	default:
		return fmt.Errorf("steps_compression_algorithm: %s %w", c.StepsCompressionAlgorithm, ErrCompressionNotFound)
	}

	if c.MaxConcurrentExecutions >= 0 && c.MaxConcurrentExecutionsFromCrashed >= 0 &&
		c.MaxConcurrentExecutionsFromCrashed > c.MaxConcurrentExecutions {
		return errors.New("max_concurrent_executions_from_crashed can't be greater than max_concurrent_executions")
	}

	return nil
}

// jsonObject is a decoded JSON object whose values are decoded one key at a time, so that an
// error can name its key.
type jsonObject map[string]json.RawMessage

// field returns the raw value of name, matched exactly or else without case; null is absent.
func (o jsonObject) field(name string) (json.RawMessage, bool) {
	raw, ok := o[name]
	if !ok {
		for k, v := range o {
			if strings.EqualFold(k, name) {
				raw, ok = v, true

				break
			}
		}
	}

	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}

	return raw, true
}

// decode decodes the value of name into dst and reports whether it was present.
func (o jsonObject) decode(path, name string, dst any) (bool, error) {
	raw, ok := o.field(name)
	if !ok {
		return false, nil
	}

	if err := json.Unmarshal(raw, dst); err != nil {
		return false, fmt.Errorf("%s%s: %w", path, name, err)
	}

	return true, nil
}

// duration decodes the duration string of name, def when absent or empty, and reports whether it
// was given.
func (o jsonObject) duration(name string, def time.Duration) (Duration, bool, error) {
	raw, ok := o.field(name)
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte(`""`)) {
		return Duration(def), false, nil
	}

	d, err := parseDuration(raw)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", name, err)
	}

	if d < 0 {
		return 0, false, fmt.Errorf("%s: negative duration %s", name, d)
	}

	return Duration(d), true, nil
}

// parseDuration reads a JSON string holding a Go duration.
func parseDuration(raw []byte) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("a duration string such as \"1s\" is expected, got %s", bytes.TrimSpace(raw))
	}

	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration: %w", err)
	}

	return d, nil
}
