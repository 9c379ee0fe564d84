// Package sqlite is the embedded store: a single SQLite database file that
// one utask process owns.
//
// The database runs in WAL mode with synchronous FULL, so a committed
// transaction survives a power cut. Writes go through one connection (SQLite
// takes one writer at a time anyway, and a single connection turns lock waits
// into an orderly queue instead of SQLITE_BUSY errors); plain reads use a
// separate pool of read-only connections, which WAL lets run beside a write,
// so API reads never queue behind the engine.
//
// Because there is one write connection, a write made outside a transaction
// (a new template version, a claim, an instance heartbeat) waits for the open
// [store.Tx] to end: a goroutine holding a Tx must not make such a write.
//
// A lock file next to the database (its path plus ".lock") makes sure one
// process at a time opens it. Several instances share a PostgreSQL database
// instead.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// ErrLocked is returned (wrapped) by [Open] when another process holds the
// database.
var ErrLocked = errors.New("database is locked by another process")

// readerConns is the size of the read-only connection pool.
const readerConns = 4

// busyTimeoutMillis is how long a connection waits for a lock held by another
// connection before giving up with SQLITE_BUSY.
const busyTimeoutMillis = 5000

// Config configures [Open].
type Config struct {
	// Path is the database file. It and its directory are created if
	// missing. Required.
	Path string
	// Sealer seals and opens the values that must not be stored in clear.
	// Required.
	Sealer store.Sealer
	// Logger receives the store's log lines. Required.
	Logger *slog.Logger
	// SkipMigrations opens the database as it is, without applying the
	// pending migrations (to report them: utask migrate status).
	SkipMigrations bool
	// StepsCompression compresses the data of the steps written (utask-cfg
	// steps_compression_algorithm); the zero value is compress.Noop. Reads
	// take compressed and plain data alike.
	StepsCompression compress.Algorithm
}

// Store is the embedded [store.Store]. It is safe for concurrent use.
type Store struct {
	logger *slog.Logger
	path   string
	reader *sql.DB    // read-only pool for plain reads
	reads  *stmtCache // the reads, through prepared statements
	writer *sql.DB    // the pool of the one write connection
	// wc is the write connection, taken from writer once the migrations
	// ran: every write goes through it, a Tx (see group.go) or direct.
	wc *writeConn
	// codec seals the values written and opens those read.
	codec rowcodec.Codec

	// writers hands the write connection to one holder at a time (a Tx
	// or a direct write); group is the open group transaction, if any,
	// only touched by the goroutine holding the write connection.
	writers writerQueue
	group   *group
	// commits counts the group transactions committed.
	commits atomic.Int64

	skipMigrations bool

	lockFile  *os.File
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// lockedError is the refusal of a database another process holds.
type lockedError struct {
	path string
}

func (e *lockedError) Error() string {
	return "database " + e.path + " is used by another utask process: the embedded store serves one " +
		"instance; run several instances on PostgreSQL (a postgres:// database item)"
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// Open opens the database at cfg.Path, creating it if needed, takes the
// exclusive lock on cfg.Path+".lock" (refusing, after a grace of half a
// second, with an error that wraps [ErrLocked] when another process holds it)
// and applies, in order, the migrations the database has not seen yet.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	return open(ctx, cfg, "FULL")
}

// open is Open with a choice of PRAGMA synchronous, so that benchmarks can
// compare FULL with NORMAL.
func open(ctx context.Context, cfg Config, synchronous string) (*Store, error) {
	switch {
	case cfg.Path == "":
		return nil, errors.New("open store: path is required")
	case cfg.Sealer == nil:
		return nil, errors.New("open store: sealer is required")
	case cfg.Logger == nil:
		return nil, errors.New("open store: logger is required")
	case !cfg.StepsCompression.Valid():
		return nil, fmt.Errorf("open store: %s %w", cfg.StepsCompression, compress.ErrNotFound)
	}

	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open store %s: create directory: %w", path, err)
	}

	lockFile, err := lock(ctx, path)
	if err != nil {
		return nil, err
	}
	s := &Store{
		logger:   cfg.Logger,
		path:     path,
		codec:    rowcodec.New(cfg.Sealer, cfg.StepsCompression),
		lockFile: lockFile,

		skipMigrations: cfg.SkipMigrations,
	}
	if err := s.connect(ctx, synchronous); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.logger.DebugContext(ctx, "store: opened", "path", path, "synchronous", synchronous)
	return s, nil
}

// connect opens the writer, migrates, then opens the readers.
func (s *Store) connect(ctx context.Context, synchronous string) error {
	// SQLite creates the file with the process umask; make it private first,
	// since titles and usernames are in clear. The -wal and -shm files copy
	// the mode of the database file.
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("open store %s: %w", s.path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("open store %s: create file: %w", s.path, err)
	}

	s.writer, err = sql.Open("sqlite", dsn(s.path, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
			"journal_mode(WAL)",
			"synchronous(" + synchronous + ")",
			"foreign_keys(1)",
			// The savepoints of group commit keep their undo journals in
			// memory rather than in temporary files.
			"temp_store(MEMORY)",
		},
		// BEGIN IMMEDIATE takes the write lock when the transaction starts,
		// rather than failing to upgrade a read lock halfway through.
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	s.writer.SetConnMaxLifetime(0)
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}

	if !s.skipMigrations {
		if err := s.migrate(ctx); err != nil {
			return fmt.Errorf("open store %s: %w", s.path, err)
		}
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open store %s: take write connection: %w", s.path, err)
	}
	s.wc = &writeConn{conn: conn, stmts: map[string]*sql.Stmt{}}

	s.reader, err = sql.Open("sqlite", dsn(s.path, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
			"foreign_keys(1)",
			"query_only(1)",
		},
	}))
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	s.reads = newStmtCache(s.reader)
	s.reader.SetMaxOpenConns(readerConns)
	s.reader.SetMaxIdleConns(readerConns)
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	return nil
}

// dsn is the driver's URI for the database file at path.
func dsn(path string, params url.Values) string {
	return (&url.URL{Scheme: "file", Path: path, RawQuery: params.Encode()}).String()
}

// lockGrace is how long Open keeps trying a lock held elsewhere before it
// refuses. A child process forked by this one holds a copy of the lock file's
// descriptor, hence the lock, until it execs (a few milliseconds): a store
// closed and reopened while the process runs commands can find its own lock
// still held for that long. Another utask process holds it for good.
const lockGrace = 500 * time.Millisecond

// lockRetry is the pause between two tries of the lock.
const lockRetry = 5 * time.Millisecond

// lock takes the process lock of the database at path.
func lock(ctx context.Context, path string) (*os.File, error) {
	lockPath := path + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: open lock file: %w", path, err)
	}
	deadline := time.Now().Add(lockGrace)
	for {
		// The descriptor fits an int on every platform with flock.
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) //nolint:gosec // see above
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("open store %s: lock %s: %w", path, lockPath, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, &lockedError{path: path}
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("open store %s: lock %s: %w", path, lockPath, ctx.Err())
		case <-time.After(lockRetry):
		}
	}
}

// Close closes the database and releases the lock. Calling it again does
// nothing and returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		// The writer closes last: the last connection to close checkpoints
		// the WAL into the database file.
		if s.reads != nil {
			errs = append(errs, s.reads.Close())
		}
		if s.reader != nil {
			errs = append(errs, s.reader.Close())
		}
		if s.wc != nil {
			errs = append(errs, s.wc.close())
		}
		if s.writer != nil {
			errs = append(errs, s.writer.Close())
		}
		if s.lockFile != nil {
			// Closing the descriptor releases the flock.
			errs = append(errs, s.lockFile.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Ping checks that the database answers a read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping store %s: %w", s.path, err)
	}
	return nil
}

// Begin starts a write transaction. It waits, as long as ctx allows, for the
// transaction in progress to end: there is one writer. The transaction then
// lives until Commit or Rollback, whatever becomes of ctx.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	g, err := s.acquireWriter(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := g.w.ExecContext(context.WithoutCancel(ctx), `SAVEPOINT `+savepoint); err != nil {
		g.broken = err
		s.releaseWriter()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &Tx{s: s, g: g, tx: g.w}, nil
}
