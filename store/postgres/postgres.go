// Package postgres is the shared store: a PostgreSQL database that several
// utask instances use at once, coordinating only through it.
//
// It holds the same tables, with the same meaning, as the embedded store
// (store/sqlite), and passes the same conformance suite (store/storetest).
// What PostgreSQL adds is concurrency between processes: the Lock methods of
// a transaction take row locks, and the claims of runnable and orphaned
// resolutions skip the rows another transaction has locked, so that two
// instances never claim one resolution.
//
// The schema lives in the first schema of the connection's search_path, so
// several deployments (or tests) can share one database, each in its own
// schema: add search_path=NAME to the URL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// defaultMaxConns is the pool size when Config.MaxConns is 0: µTask's default
// number of open connections.
const defaultMaxConns = 50

// Config configures [Open].
type Config struct {
	// URL is the connection string: a postgres:// URL or key=value pairs, as
	// libpq takes them. Required.
	URL string
	// Sealer seals and opens the values that must not be stored in clear.
	// Required.
	Sealer store.Sealer
	// Logger receives the store's log lines. Required.
	Logger *slog.Logger
	// MaxConns is the most connections the store opens; 0 means 50.
	MaxConns int32
	// ConnMaxLifetime is how long a connection is used before the pool
	// replaces it (utask-cfg database_config.conn_max_lifetime), give or
	// take a fifth so that they do not all go at once; 0 means for ever.
	ConnMaxLifetime time.Duration
	// SkipMigrations opens the database as it is, without applying the
	// pending migrations (to report them: utask migrate status).
	SkipMigrations bool
	// StepsCompression compresses the data of the steps written (utask-cfg
	// steps_compression_algorithm); the zero value is compress.Noop. Reads
	// take compressed and plain data alike.
	StepsCompression compress.Algorithm
}

// Store is the PostgreSQL [store.Store]. It is safe for concurrent use.
type Store struct {
	logger *slog.Logger
	pool   *pgxpool.Pool
	target string // host, port and database, for messages (never the password)
	// channel is the notification channel of wake-ups (see listen.go).
	channel string
	// codec seals the values written and opens those read.
	codec rowcodec.Codec

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at cfg.URL and applies, in order, the
// migrations the database has not seen yet. Instances that open one database
// at the same time apply each migration once: the migrations run under a
// lock.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("open store: url is required")
	case cfg.Sealer == nil:
		return nil, errors.New("open store: sealer is required")
	case cfg.Logger == nil:
		return nil, errors.New("open store: logger is required")
	case !cfg.StepsCompression.Valid():
		return nil, fmt.Errorf("open store: %s %w", cfg.StepsCompression, compress.ErrNotFound)
	case cfg.MaxConns < 0:
		return nil, fmt.Errorf("open store: max conns %d is negative", cfg.MaxConns)
	}

	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The parser's message can quote the URL, password included.
		return nil, errors.New("open store: url is not a valid PostgreSQL connection string")
	}
	pcfg.MaxConns = cfg.MaxConns
	if pcfg.MaxConns == 0 {
		pcfg.MaxConns = defaultMaxConns
	}
	pcfg.MaxConnLifetime = time.Duration(math.MaxInt64) // the pool's default is an hour
	pcfg.MaxConnLifetimeJitter = 0
	if cfg.ConnMaxLifetime > 0 {
		pcfg.MaxConnLifetime = cfg.ConnMaxLifetime
		pcfg.MaxConnLifetimeJitter = cfg.ConnMaxLifetime / 5
	}
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "utask"
	}
	target := fmt.Sprintf("%s:%d/%s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database)

	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", target, err)
	}
	s := &Store{logger: cfg.Logger, pool: pool, target: target,
		codec: rowcodec.New(cfg.Sealer, cfg.StepsCompression)}
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store %s: read schema: %w", target, err)
	}
	if schema == nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store %s: the search path names no existing schema "+
			"(create it first: CREATE SCHEMA name)", target)
	}
	s.channel = channelName(*schema)
	if !cfg.SkipMigrations {
		if err := s.migrate(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("open store %s: %w", target, err)
		}
	}
	s.logger.DebugContext(ctx, "store: opened", "target", target, "max_conns", pcfg.MaxConns)
	return s, nil
}

// Close closes every connection, waiting for those in use to be given back.
// Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping store %s: %w", s.target, err)
	}
	return nil
}

// Begin starts a write transaction (READ COMMITTED) on a connection of its
// own. It waits, as long as ctx allows, for a free connection; BEGIN goes
// with the transaction's first statement. The transaction then lives until
// Commit or Rollback, whatever becomes of ctx.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &Tx{s: s, p: newPipeline(conn)}, nil
}
