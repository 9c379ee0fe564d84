// Package store defines where tasks, resolutions and step states live.
//
// Store is the one interface the engine and the API use; store/sqlite (the
// embedded default) and store/postgres implement it, and store/storetest is
// the conformance suite both must pass.
//
// Every value a user submits or a step produces (inputs, resolver inputs,
// results, step outputs, metadata, errors) is sealed with the Keyring at this
// boundary: callers see plain values, the database sees ciphertext bound to
// its row. Times are stored in UTC, truncated to microseconds, so that both
// backends return the same values.
//
// A step's state is its own row: changing one step writes one row, whatever
// the size of its resolution.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound is returned when the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write breaks a uniqueness rule, e.g. a
	// second resolution for one task.
	ErrConflict = errors.New("conflict")
)

// Store is a handle on the database.
type Store interface {
	// Begin starts a write transaction. Locks taken by its Lock methods are
	// held until Commit or Rollback.
	Begin(ctx context.Context) (Tx, error)
	// Close releases the database.
	Close() error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// TemplateVersionPut records a template document (its JSON form) and
	// returns the id of that exact version, creating it if it is new.
	TemplateVersionPut(ctx context.Context, name string, document []byte) (int64, error)
	// TemplateVersionGet returns the document of a template version.
	TemplateVersionGet(ctx context.Context, id int64) ([]byte, error)

	// TaskGet returns a task by public id.
	TaskGet(ctx context.Context, publicID string) (*Task, error)
	// TaskList returns one page of tasks, newest last_activity first.
	TaskList(ctx context.Context, f TaskFilter) ([]*Task, error)

	// ResolutionGet returns a resolution by public id.
	ResolutionGet(ctx context.Context, publicID string) (*Resolution, error)
	// StepList returns every step row of a resolution, sorted by name.
	StepList(ctx context.Context, resolutionID int64) ([]*Step, error)

	// TaskCountByState counts the tasks in each state, only those carrying
	// every pair of tags when tags is not empty. States without a task are
	// absent from the map.
	TaskCountByState(ctx context.Context, tags map[string]string) (map[string]int, error)

	// CommentList returns the comments of a task (by internal id), oldest
	// created first, then in insertion order.
	CommentList(ctx context.Context, taskID int64) ([]*Comment, error)
	// CommentGet returns a comment by public id.
	CommentGet(ctx context.Context, publicID string) (*Comment, error)

	// ResolutionClaimRunnable claims up to limit resolutions that are due to
	// run at now: TO_AUTORUN; ERROR and TO_AUTORUN_DELAYED whose next_retry
	// has come; WAITING whose next_retry was moved after its last start and
	// has come. Claimed ones get instance_id = instanceID and state
	// AUTORUNNING (from TO_AUTORUN) or RETRY (the others). It returns their
	// public ids.
	ResolutionClaimRunnable(ctx context.Context, instanceID int64, now time.Time, limit int) ([]string, error)
	// ResolutionClaimOrphans claims every resolution held by an instance
	// other than instanceID (and not alive) in RUNNING, RETRY, AUTORUNNING or
	// CRASHED: each gets state CRASHED and instance_id = instanceID. An
	// instance is alive when its heartbeat is after aliveSince.
	ResolutionClaimOrphans(ctx context.Context, instanceID int64, aliveSince time.Time) ([]string, error)
	// ResolutionNextWakeup returns the earliest time at which a resolution
	// will become runnable by ResolutionClaimRunnable, or nil if none waits.
	ResolutionNextWakeup(ctx context.Context) (*time.Time, error)

	// InstanceRegister records a new engine instance and returns its id.
	InstanceRegister(ctx context.Context, now time.Time) (int64, error)
	// InstanceHeartbeat records that the instance is alive at now.
	InstanceHeartbeat(ctx context.Context, instanceID int64, now time.Time) error
	// InstanceDeleteDead removes the rows of the instances whose heartbeat
	// is not after aliveSince and that hold no resolution in RUNNING, RETRY,
	// AUTORUNNING or CRASHED. It returns how many it removed.
	InstanceDeleteDead(ctx context.Context, aliveSince time.Time) (int, error)

	// LeaderElect makes instanceID the leader from now until now+ttl if no
	// term is running at now (an expired one is removed first). It returns
	// the new term, or nil when another term runs.
	LeaderElect(ctx context.Context, instanceID int64, now time.Time, ttl time.Duration) (*LeaderTerm, error)
	// LeaderReelect extends term until now+ttl if it is still the running
	// term at now (same leader, same election time, not expired). It returns
	// the extended term, or nil when term is over: an old term never extends
	// a newer one.
	LeaderReelect(ctx context.Context, term LeaderTerm, now time.Time, ttl time.Duration) (*LeaderTerm, error)
	// LeaderResign ends term if it is still recorded; resigning a term that
	// is over does nothing.
	LeaderResign(ctx context.Context, term LeaderTerm) error

	// TaskDeleteFinished removes the tasks in DONE, CANCELLED or WONTFIX
	// whose last activity is before before, with their resolutions and
	// steps. It returns how many tasks it removed.
	TaskDeleteFinished(ctx context.Context, before time.Time) (int, error)

	// Listen calls wake each time another transaction committed a
	// resolution that is runnable or will become runnable (created, made
	// due, or moved earlier), until ctx is done; then it returns nil. It may
	// miss notifications (while it reconnects, for instance): callers keep
	// polling. A store that cannot tell returns nil at once.
	Listen(ctx context.Context, wake func()) error
}

// LeaderTerm is one term of leadership: the instance that leads and the
// times it was elected and its lease expires.
type LeaderTerm struct {
	InstanceID int64
	ElectedAt  time.Time
	ExpiresAt  time.Time
}

// Tx is a write transaction. A Tx is used by one goroutine.
type Tx interface {
	// Commit makes the transaction's writes durable.
	Commit(ctx context.Context) error
	// Rollback abandons the transaction; after Commit it does nothing.
	Rollback(ctx context.Context) error

	// TaskInsert inserts a task and sets its ID.
	TaskInsert(ctx context.Context, t *Task) error
	// TaskLock reads a task by internal id and locks it.
	TaskLock(ctx context.Context, id int64) (*Task, error)
	// TaskUpdate writes every mutable field of a task (all but ID, PublicID,
	// TemplateName, TemplateVersion, Created).
	TaskUpdate(ctx context.Context, t *Task) error

	// ResolutionInsert inserts a resolution and sets its ID. Its task may
	// have no other resolution (ErrConflict).
	ResolutionInsert(ctx context.Context, r *Resolution) error
	// ResolutionLock reads a resolution by public id and locks it.
	ResolutionLock(ctx context.Context, publicID string) (*Resolution, error)
	// ResolutionHolder locks a resolution by internal id, like
	// ResolutionLock, but reads only the instance that holds it (nil when
	// none): the cheap ownership check of an engine's every write.
	ResolutionHolder(ctx context.Context, id int64) (*int64, error)
	// ResolutionUpdate writes every mutable field of a resolution (all but
	// ID, PublicID, TaskID, Created), with one exception that keeps wake-ups
	// from being lost: when the stored next_retry is after the stored
	// last_start (someone made the resolution due since its last start), it
	// is kept unless r.NextRetry is both after that last_start and earlier
	// than it. A next_retry can thus be moved earlier by any writer, but
	// never later nor cleared until the next start moves last_start past
	// it. r itself is not changed.
	ResolutionUpdate(ctx context.Context, r *Resolution) error

	// StepList returns every step row of a resolution, sorted by name.
	StepList(ctx context.Context, resolutionID int64) ([]*Step, error)
	// StepUpsert writes the given step rows of resolution r, inserting or
	// replacing each by name.
	StepUpsert(ctx context.Context, r *Resolution, steps []*Step) error
	// StepDelete removes step rows of a resolution by name.
	StepDelete(ctx context.Context, resolutionID int64, names []string) error

	// TaskDelete removes a task by internal id, with its comments, its
	// resolution and the resolution's steps (ErrNotFound if there is no
	// such task).
	TaskDelete(ctx context.Context, id int64) error

	// CommentInsert inserts a comment of the task c.TaskID and sets its ID
	// (ErrNotFound if the task does not exist, ErrConflict if the public id
	// is taken).
	CommentInsert(ctx context.Context, c *Comment) error
	// CommentList returns the comments of a task as this transaction sees
	// them, in the order of Store.CommentList.
	CommentList(ctx context.Context, taskID int64) ([]*Comment, error)
	// CommentGet returns a comment by public id as this transaction sees
	// it.
	CommentGet(ctx context.Context, publicID string) (*Comment, error)
	// CommentUpdate writes the content and the update time of a comment,
	// found by ID and PublicID together (ErrNotFound otherwise).
	CommentUpdate(ctx context.Context, c *Comment) error
	// CommentDelete removes a comment by internal id (ErrNotFound if there
	// is none).
	CommentDelete(ctx context.Context, id int64) error
}

// Comment is a note a user left on a task.
type Comment struct {
	ID           int64
	PublicID     string
	TaskID       int64
	TaskPublicID string // filled by reads
	Username     string
	Created      time.Time
	Updated      time.Time
	Content      string // sealed
}

// Migration is one embedded schema change of a store and whether the
// database has it (utask migrate status).
type Migration struct {
	Version int
	Name    string
	Applied *time.Time // nil when not applied yet
}

// Sealer seals and opens values at the store boundary. *crypt.Keyring
// implements it: AES-GCM, the associated data binding each ciphertext to its
// row.
type Sealer interface {
	Seal(plain, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Task is one request to run a template.
type Task struct {
	ID                int64
	PublicID          string
	TemplateName      string
	TemplateVersion   int64 // id given by TemplateVersionPut
	Title             string
	RequesterUsername string
	RequesterGroups   []string
	WatcherUsernames  []string
	WatcherGroups     []string
	ResolverUsernames []string
	ResolverGroups    []string
	Created           time.Time
	LastActivity      time.Time
	State             string
	StepsDone         int
	StepsTotal        int
	Tags              map[string]string
	Input             map[string]any // sealed
	Result            map[string]any // sealed

	// Filled by reads, from the task's resolution if it has one.
	ResolutionPublicID string
	ResolverUsername   string
	LastStart          *time.Time
	LastStop           *time.Time
}

// Resolution is the execution record of a task.
type Resolution struct {
	ID               int64
	PublicID         string
	TaskID           int64
	TaskPublicID     string // filled by reads
	ResolverUsername string
	State            string
	InstanceID       *int64
	Created          time.Time
	LastStart        *time.Time
	LastStop         *time.Time
	NextRetry        *time.Time
	RunCount         int
	RunMax           int
	ResolverInput    map[string]any // sealed
}

// Step is the state of one step of a resolution (foreach children included).
// Its definition comes from the template version of the task, unless Data
// carries an override.
type Step struct {
	Name       string
	State      string
	TryCount   int
	MaxRetries int
	LastRun    *time.Time
	Data       StepData // sealed
}

// StepData is the part of a step row that is sealed.
type StepData struct {
	Output        any               `json:"output,omitempty"`
	Metadata      any               `json:"metadata,omitempty"`
	Children      any               `json:"children,omitempty"`
	Error         string            `json:"error,omitempty"`
	Item          any               `json:"item,omitempty"`
	ChildrenSteps []string          `json:"children_steps,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	// Definition, when set, replaces the step's definition from the template
	// (an administrator edited it, or the engine expanded a foreach).
	Definition []byte `json:"definition,omitempty"`
}

// Visibility says which tasks a listing may return.
type Visibility int

// Visibilities.
const (
	// VisibleAll lists every task (administrators).
	VisibleAll Visibility = iota
	// VisibleOwn lists tasks whose requester is Username or that Username
	// watches by name.
	VisibleOwn
	// VisibleResolvable lists tasks of OwnedTemplates, and tasks naming
	// Username or one of Groups among their resolvers.
	VisibleResolvable
	// VisibleRelated is VisibleOwn, VisibleResolvable, and tasks watched by
	// one of Groups.
	VisibleRelated
)

// TaskFilter selects a page of tasks.
type TaskFilter struct {
	Visibility     Visibility
	Username       string
	Groups         []string
	OwnedTemplates []string

	State        string
	TemplateName string
	Tags         map[string]string // every pair must match
	Before       *time.Time        // last_activity strictly before
	After        *time.Time        // last_activity strictly after

	// Cursor: when CursorID is set, only tasks strictly after (in listing
	// order: last_activity descending, then id descending) the task with
	// that internal id and last_activity are returned.
	CursorID           int64
	CursorLastActivity time.Time

	Limit int
}
