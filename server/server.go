// Package server assembles a utask server from its configuration: the
// configuration items, the store, the actions, the templates, the engine and
// the HTTP API. cmd/utask and the end-to-end tests start servers through it.
package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/batch"
	"github.com/utask/utask/action/callback"
	"github.com/utask/utask/action/echo"
	"github.com/utask/utask/action/email"
	httpaction "github.com/utask/utask/action/http"
	"github.com/utask/utask/action/ping"
	"github.com/utask/utask/action/script"
	"github.com/utask/utask/action/ssh"
	"github.com/utask/utask/action/subtask"
	"github.com/utask/utask/action/tag"
	"github.com/utask/utask/api"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/compress"
	"github.com/utask/utask/config"
	"github.com/utask/utask/crypt"
	"github.com/utask/utask/engine"
	"github.com/utask/utask/metrics"
	"github.com/utask/utask/resource"
	"github.com/utask/utask/service"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/postgres"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// Options is what a server starts from.
type Options struct {
	// Flags are the parsed process flags.
	Flags config.Flags
	// Environ is the process environment (os.Environ form); it holds
	// CONFIGURATION_FROM and the env configuration items.
	Environ []string
	// WorkDir is where relative paths and the embedded database live.
	WorkDir string
	// Logger receives every log line. Required.
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on Flags.HTTPPort.
	Listener net.Listener
	// Actions, when set, registers extra actions before templates load (a
	// build-time plugin point).
	Actions func(*action.Registry) error
	// Version and Commit identify the build (GET /meta).
	Version, Commit string
	// Tuning overrides the engine's coordination timings (its non-zero
	// fields win over the utask-cfg keys); tests shorten them.
	Tuning EngineTuning
}

// Server is a running utask server.
type Server struct {
	log      *slog.Logger
	db       store.Store
	engine   *engine.Engine
	http     *http.Server
	listener net.Listener
	served   chan error
	metrics  *metrics.Metrics
}

// DefaultDatabaseFile is the embedded database's file name under the working
// directory when no database item is configured.
const DefaultDatabaseFile = "utask.db"

// Start builds the server and starts serving. Every configuration error
// stops it with a message naming the item, file or field at fault.
func Start(ctx context.Context, opts Options) (s *Server, err error) {
	log := opts.Logger
	items, err := config.LoadStore(getenv(opts.Environ, "CONFIGURATION_FROM"), opts.Environ)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	raw, _ := items.Get("utask-cfg")
	cfg, err := config.ParseUtaskConfig(raw)
	if err != nil {
		return nil, err
	}
	tuning, err := parseTuning(raw)
	if err != nil {
		return nil, err
	}
	tuning = opts.Tuning.merge(tuning)
	if len(cfg.AdminUsernames) == 0 && len(cfg.AdminGroups) == 0 {
		log.Warn("no administrator configured: set admin_usernames or admin_groups in the utask-cfg item")
	}

	// Listen first: with --http-port 0 the port is only known then, and the
	// callback URLs may be built on it.
	if opts.Listener == nil {
		ln, lerr := net.Listen("tcp", net.JoinHostPort(opts.Flags.HTTPHost, strconv.Itoa(opts.Flags.HTTPPort)))
		if lerr != nil {
			return nil, fmt.Errorf("listen: %w", lerr)
		}
		defer func() { // err is Start's result: close what Start opened if it fails
			if err != nil {
				_ = ln.Close()
			}
		}()
		opts.Listener = ln
	}

	registry, err := BuiltinActions(opts.Flags.ScriptsPath)
	if err != nil {
		return nil, err
	}
	tasks := &lateTasks{}
	if err := registry.Register(subtask.Name, subtask.New(tasks)); err != nil {
		return nil, err
	}
	batches := &lateBatches{}
	if err := registry.Register(batch.Name, batch.New(batches)); err != nil {
		return nil, err
	}
	urls, err := callbackURLs(items, cfg.BaseURL, opts, log)
	if err != nil {
		return nil, err
	}
	callbacks := &lateCallbacks{}
	if err := registry.Register(callback.Name, callback.New(callbacks, urls)); err != nil {
		return nil, err
	}
	if opts.Actions != nil {
		if err := opts.Actions(registry); err != nil {
			return nil, fmt.Errorf("register actions: %w", err)
		}
	}
	functions, err := template.LoadFunctions(opts.Flags.FunctionsPath, registry)
	if err != nil {
		return nil, fmt.Errorf("load functions: %w", err)
	}
	valuesCache := values.NewCache(4096)
	catalog := &template.Catalog{Actions: registry, Functions: functions, Templates: map[string]bool{}, Syntax: valuesCache.Check}
	tmpls, err := template.LoadDirs(opts.Flags.TemplatesPaths, catalog)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	dbKey, dbPath, pgURL, err := databaseItem(items, cfg, opts.WorkDir)
	if err != nil {
		return nil, err
	}
	var db store.Store
	var dbLabel string
	stepsCompression, err := compress.Parse(cfg.StepsCompressionAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("configuration item %q: steps_compression_algorithm: %w", config.UtaskConfigKey, err)
	}
	// poolSize sizes the API's admission limit: the embedded store has four
	// reader connections and its one writer.
	poolSize := 5
	if pgURL != "" {
		keys := items.GetAll("encryption-key")
		if len(keys) == 0 {
			return nil, errors.New(`configuration item "encryption-key": required with PostgreSQL (every instance needs the same keys)`)
		}
		keyring, err := crypt.ParseKeyring(keys)
		if err != nil {
			return nil, fmt.Errorf("configuration item \"encryption-key\": %w", err)
		}
		poolSize = cfg.DatabaseConfig.PoolSize(runtime.GOMAXPROCS(0))
		pg, err := postgres.Open(ctx, postgres.Config{URL: pgURL, Sealer: keyring, Logger: log, MaxConns: int32(poolSize), //nolint:gosec // a pool size
			ConnMaxLifetime:  time.Duration(cfg.DatabaseConfig.ConnMaxLifetime) * time.Second,
			StepsCompression: stepsCompression})
		if err != nil {
			return nil, fmt.Errorf("configuration item %q: open PostgreSQL store: %w", dbKey, err)
		}
		db, dbLabel = pg, "postgresql"
	} else {
		keyring, err := loadKeyring(items, dbPath, log)
		if err != nil {
			return nil, err
		}
		lite, err := sqlite.Open(ctx, sqlite.Config{Path: dbPath, Sealer: keyring, Logger: log, StepsCompression: stepsCompression})
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		db, dbLabel = lite, dbPath
	}
	defer func() {
		if err != nil {
			_ = db.Close()
		}
	}()
	if err := checkKeys(ctx, db); err != nil {
		return nil, err
	}

	versions := make(map[string]int64, len(tmpls))
	for _, t := range tmpls {
		doc, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("encode template %s: %w", t.Name, err)
		}
		id, err := db.TemplateVersionPut(ctx, t.Name, doc)
		if err != nil {
			return nil, fmt.Errorf("store template %s: %w", t.Name, err)
		}
		versions[t.Name] = id
		log.Info("loaded task template", "template_name", t.Name)
	}
	// A template whose file is gone while tasks still use it stays,
	// archived: readable, hidden, blocked.
	templates := service.NewTemplates(tmpls, versions)
	archived, err := templates.LoadArchived(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, a := range archived {
		log.Info("archived task template", "template_name", a.Template.Name)
	}
	templates = templates.WithArchived(archived)

	instanceID, err := db.InstanceRegister(ctx, time.Now())
	if err != nil {
		return nil, fmt.Errorf("register instance: %w", err)
	}
	valuesOpts := values.Options{Cache: valuesCache}
	templateConfig := items.TemplateConfig(concealed(cfg.ConcealedSecrets))
	limiter, err := resource.NewLimiter(cfg.ResourceLimits, cfg.ResourceAcquireTimeout.Std())
	if err != nil {
		return nil, fmt.Errorf("utask-cfg resource_limits: %w", err)
	}
	allowedGroups := func(name string) []string {
		if tt, _, ok := templates.Get(name); ok {
			return tt.AllowedResolverGroups
		}
		return nil
	}
	mx, err := metrics.New(metrics.Config{Count: metrics.GroupCounts(db.TaskCountByGroups, allowedGroups), Logger: log})
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Config{
		Events:                  mx.Observe,
		Resources:               limiter,
		Store:                   db,
		Catalog:                 catalog,
		Logger:                  log,
		InstanceID:              instanceID,
		Region:                  opts.Flags.Region,
		TemplateConfig:          templateConfig,
		ValuesOptions:           valuesOpts,
		MaxConcurrentExecutions: cfg.MaxConcurrentExecutions,
		NoExecutionSlots:        cfg.MaxConcurrentExecutions == 0,
		SingleInstance:          pgURL == "",

		HeartbeatInterval:                  tuning.HeartbeatInterval,
		DeadAfter:                          tuning.DeadAfter,
		ElectInterval:                      tuning.ElectInterval,
		LeaderTTL:                          tuning.LeaderTTL,
		MaintenanceInterval:                tuning.MaintenanceInterval,
		PollInterval:                       tuning.PollInterval,
		CompletedTaskExpiration:            cfg.CompletedTaskExpiration.Std(),
		MaxConcurrentExecutionsFromCrashed: cfg.MaxConcurrentExecutionsFromCrashed,
		DelayBetweenCrashedTasksResolution: cfg.DelayBetweenCrashedTasksResolution.Std(),
	})
	if err != nil {
		return nil, err
	}
	if opts.Flags.MaintenanceMode {
		log.Warn("maintenance mode: API writes are refused and the engine does not run")
	} else if err := eng.Start(ctx); err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	defer func() {
		if err != nil {
			eng.Stop()
		}
	}()

	basic, err := items.BasicAuth()
	if err != nil {
		return nil, err
	}
	groups, err := items.GroupsAuth()
	if err != nil {
		return nil, err
	}
	svc := service.New(service.Config{
		Store:     db,
		Runner:    runner{eng},
		Templates: templates,
		Policy:    auth.Policy{AdminUsernames: cfg.AdminUsernames, AdminGroups: cfg.AdminGroups},
		Values: func() *values.Values {
			v := values.New(valuesOpts)
			v.SetConfig(templateConfig)
			return v
		},
		Region: opts.Flags.Region,
		Now:    time.Now,
		Logger: log,
		NewID:  func() string { return uuid.NewString() },

		ApplicationName: cfg.ApplicationName,
		Version:         opts.Version,
		Commit:          opts.Commit,
		Functions:       functions,
		Catalog:         catalog,
	})
	tasks.set(svc.Subtasks())
	batches.set(svc.Batches())
	callbacks.set(svc.Callbacks())
	handler := api.New(api.Config{
		Service:      svc,
		Provider:     auth.NewDefaultProvider(basic, groups),
		MaxBodyBytes: int64(cfg.ServerOptions.MaxBodyBytes),
		Maintenance:  opts.Flags.MaintenanceMode,
		Logger:       log,
		Ping:         db.Ping,

		APIPathPrefix: cfg.DashboardAPIPathPrefix,
		Admission:     api.AdmissionFor(cfg.ServerOptions.MaxConcurrentRequests, poolSize),
		Metrics:       mx.Handler(),
	})

	ln := opts.Listener
	s = &Server{
		log:      log,
		db:       db,
		engine:   eng,
		listener: ln,
		http: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			// A request (its body included) read slowly, or an answer
			// read slowly, holds a connection and a goroutine, and an
			// answer also its admission slot: both are bounded.
			ReadTimeout:  time.Minute,
			WriteTimeout: time.Minute,
			IdleTimeout:  2 * time.Minute,
		},
		served:  make(chan error, 1),
		metrics: mx,
	}
	mx.Start(ctx)
	go func() { s.served <- s.http.Serve(ln) }()
	log.Info("utask is serving", "addr", ln.Addr().String(), "database", dbLabel, "instance_id", instanceID,
		"pid", os.Getpid())
	return s, nil
}

// BuiltinActions returns a registry holding the builtin actions that need
// nothing of the server; scriptsPath is the script action's directory.
func BuiltinActions(scriptsPath string) (*action.Registry, error) {
	registry := action.NewRegistry()
	for name, a := range map[string]action.Action{
		echo.Name:       echo.New(),
		httpaction.Name: httpaction.New(httpaction.Options{}),
		script.Name:     script.New(script.Options{ScriptsPath: scriptsPath}),
		tag.Name:        tag.New(),
		ping.Name:       ping.New(ping.Options{}),
		email.Name:      email.New(email.Options{}),
		ssh.Name:        ssh.New(ssh.Options{KnownHostsPath: knownHosts()}),
	} {
		if err := registry.Register(name, a); err != nil {
			return nil, err
		}
	}
	return registry, nil
}

// knownHosts is the known_hosts file the ssh action checks host keys
// against when a step pins none: SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts
// when it exists.
func knownHosts() string {
	if p := os.Getenv("SSH_KNOWN_HOSTS"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(home, ".ssh", "known_hosts")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Wait blocks until the HTTP server stops on its own (an error) or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return nil
	}
}

// Stop stops serving, lets the engine finish or set aside what runs, and
// closes the store.
func (s *Server) Stop(ctx context.Context) error {
	s.log.Info("shutting down")
	err := s.http.Shutdown(ctx)
	s.metrics.Stop()
	s.engine.Stop()
	if cerr := s.db.Close(); cerr != nil && err == nil {
		err = cerr
	}
	s.log.Info("bye")
	return err
}

// alwaysConcealed are the items templates never read: the keys and the
// passwords of the server itself.
var alwaysConcealed = []string{"encryption-key", "basic-auth"} //nolint:gochecknoglobals // constant list

// concealedByDefault are also hidden from templates when utask-cfg sets no
// concealed_secrets.
var concealedByDefault = []string{"database", "utask-cfg", "groups-auth"} //nolint:gochecknoglobals // constant list

// concealed returns the items hidden from templates' .config: those the
// configuration lists, the server's own keys and passwords always, and the
// database, utask-cfg and groups-auth items unless concealed_secrets is set.
func concealed(configured []string) []string {
	out := append([]string(nil), alwaysConcealed...)
	if configured == nil {
		out = append(out, concealedByDefault...)
	}
	return append(out, configured...)
}

// databaseItem reads the database item (its key is database_config's
// config_name): a postgres:// URL (or key=value connection string) selects
// PostgreSQL; a file (sqlite:PATH or a plain path), or no item, the embedded
// store, by default utask.db in workDir.
func databaseItem(items *config.Store, cfg config.UtaskConfig, workDir string) (key, path, pgURL string, err error) {
	key = cfg.DatabaseConfig.ConfigName
	if key == "" {
		key = "database"
	}
	v, ok := items.Get(key)
	v = strings.TrimSpace(v)
	switch {
	case !ok || v == "":
		return key, filepath.Join(workDir, DefaultDatabaseFile), "", nil
	case strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") || strings.Contains(v, "host="):
		return key, "", v, nil
	}
	path = strings.TrimPrefix(strings.TrimPrefix(v, "sqlite://"), "sqlite:")
	if !filepath.IsAbs(path) {
		path = filepath.Join(workDir, path)
	}
	return key, path, "", nil
}

// checkKeys refuses a start whose encryption keys cannot open what the
// store holds: a server started so would answer 500 for every old task and
// seal new ones with keys that disagree with the old ones. It opens the
// sealed values of the newest task, if there is one.
func checkKeys(ctx context.Context, db store.Store) error {
	newest, err := db.TaskList(ctx, store.TaskFilter{Visibility: store.VisibleAll, Limit: 1})
	if err != nil {
		return fmt.Errorf("check encryption keys: %w", err)
	}
	if len(newest) == 0 {
		return nil
	}
	if _, err := db.TaskGet(ctx, newest[0].PublicID); err != nil {
		if errors.Is(err, crypt.ErrDecrypt) {
			return fmt.Errorf("configuration item \"encryption-key\": no key opens the stored data (task %s); "+
				"give every key the data was sealed with (the embedded store's generated key file is not read "+
				"once encryption-key items are given): %w", newest[0].PublicID, err)
		}
		return fmt.Errorf("check encryption keys: %w", err)
	}
	return nil
}

// loadKeyring reads the encryption-key items; with none, the embedded store
// uses a key kept beside its database file, generated on first start.
func loadKeyring(items *config.Store, dbPath string, log *slog.Logger) (*crypt.Keyring, error) {
	keys := items.GetAll("encryption-key")
	if len(keys) == 0 {
		keyPath := dbPath + ".key"
		b, err := os.ReadFile(keyPath)
		switch {
		case err == nil:
			keys = []string{string(b)}
		case errors.Is(err, os.ErrNotExist):
			item, err := crypt.GenerateKeyItem(rand.Reader, time.Now().Unix())
			if err != nil {
				return nil, fmt.Errorf("generate encryption key: %w", err)
			}
			if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
				return nil, fmt.Errorf("write encryption key: %w", err)
			}
			if err := os.WriteFile(keyPath, []byte(item), 0o600); err != nil {
				return nil, fmt.Errorf("write encryption key: %w", err)
			}
			log.Warn("no encryption-key item: generated one and kept it beside the database; back it up, without it the data cannot be read", "key_file", keyPath)
			keys = []string{item}
		default:
			return nil, fmt.Errorf("read encryption key %s: %w", keyPath, err)
		}
	}
	k, err := crypt.ParseKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("configuration item \"encryption-key\": %w", err)
	}
	return k, nil
}

func getenv(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// callbackURLs returns where the URLs of callbacks point: the
// callback-config item, else the base_url of utask-cfg. With neither, a
// server set up with nothing still works for callers on its own host: the
// URLs point at the loopback address (or the one address it listens on) on
// the port it listens on, and a warning says to configure the public one.
func callbackURLs(items *config.Store, baseURL string, opts Options, log *slog.Logger) (callback.URLs, error) {
	cc, err := items.CallbackConfig()
	if err != nil {
		return callback.URLs{}, err
	}
	if cc != nil {
		return callback.URLs{BaseURL: cc.BaseURL, PathPrefix: cc.PathPrefix}, nil
	}
	if baseURL != "" {
		return callback.URLs{BaseURL: strings.TrimSuffix(baseURL, "/")}, nil
	}
	host, port := "127.0.0.1", strconv.Itoa(opts.Flags.HTTPPort)
	if opts.Listener != nil {
		if h, p, err := net.SplitHostPort(opts.Listener.Addr().String()); err == nil {
			port = p
			if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
				host = h // --http-host named one address
			}
		}
	}
	local := "http://" + net.JoinHostPort(host, port)
	log.Warn("callback URLs point at this host only: set base_url in the callback-config or utask-cfg item",
		"callback_base_url", local)
	return callback.URLs{BaseURL: local}, nil
}

// lateBatches is the batch action's access to tasks, plugged in once the
// service exists (see lateTasks).
type lateBatches struct {
	mu    sync.RWMutex
	tasks batch.Tasks
}

func (l *lateBatches) set(t batch.Tasks) {
	l.mu.Lock()
	l.tasks = t
	l.mu.Unlock()
}

func (l *lateBatches) get() (batch.Tasks, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.tasks == nil {
		return nil, errNotReady
	}
	return l.tasks, nil
}

func (l *lateBatches) PopulateBatch(ctx context.Context, req batch.PopulateRequest) error {
	t, err := l.get()
	if err != nil {
		return err
	}
	return t.PopulateBatch(ctx, req)
}

func (l *lateBatches) RunningTasks(ctx context.Context, batchID string) (int, error) {
	t, err := l.get()
	if err != nil {
		return 0, err
	}
	return t.RunningTasks(ctx, batchID)
}

func (l *lateBatches) ExtendRunMax(ctx context.Context, resolutionID, stepName string) error {
	t, err := l.get()
	if err != nil {
		return err
	}
	return t.ExtendRunMax(ctx, resolutionID, stepName)
}

// lateCallbacks is the callback action's access to callbacks, plugged in
// once the service exists (see lateTasks).
type lateCallbacks struct {
	mu    sync.RWMutex
	store callback.Store
}

func (l *lateCallbacks) set(s callback.Store) {
	l.mu.Lock()
	l.store = s
	l.mu.Unlock()
}

func (l *lateCallbacks) get() (callback.Store, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.store == nil {
		return nil, errNotReady
	}
	return l.store, nil
}

func (l *lateCallbacks) CreateCallback(ctx context.Context, taskID string, schema []byte) (*callback.Callback, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.CreateCallback(ctx, taskID, schema)
}

func (l *lateCallbacks) Callback(ctx context.Context, id string) (*callback.Callback, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.Callback(ctx, id)
}
