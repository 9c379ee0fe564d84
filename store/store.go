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
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound is returned when the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write breaks a uniqueness rule, e.g. a
	// second resolution for one task.
	ErrConflict = errors.New("conflict")
	// ErrNotHeld is returned when a write requires that an instance hold a
	// resolution and another instance, or none, holds it.
	ErrNotHeld = errors.New("held by another instance")
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
	// TemplatesInUse returns every template name that at least one task
	// uses, each with the id of the newest version recorded under that name
	// (the last new document TemplateVersionPut was given for it).
	TemplatesInUse(ctx context.Context) (map[string]int64, error)

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

	// TaskCountByGroups counts the tasks by template, list of resolver
	// groups and state, in no particular order (the metrics of each
	// template and group).
	TaskCountByGroups(ctx context.Context) ([]TaskGroupCount, error)

	// CommentList returns the comments of a task (by internal id), oldest
	// created first, then in insertion order.
	CommentList(ctx context.Context, taskID int64) ([]*Comment, error)
	// CommentGet returns a comment by public id.
	CommentGet(ctx context.Context, publicID string) (*Comment, error)

	// BatchGet returns a batch by public id.
	BatchGet(ctx context.Context, publicID string) (*Batch, error)
	// BatchCountRunning counts the tasks of a batch (by public id) that are
	// not finished: in a state other than DONE, CANCELLED and WONTFIX
	// (ErrNotFound if there is no such batch).
	BatchCountRunning(ctx context.Context, publicID string) (int, error)

	// CallbackGet returns a callback by public id, secret, schema and body
	// included.
	CallbackGet(ctx context.Context, publicID string) (*Callback, error)

	// AuditList returns one page of the audit trail of a task, oldest entry
	// first (in the order they were inserted).
	AuditList(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)

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
	// ResolutionRelease hands back the resolutions instanceID claimed and
	// did not start (AUTORUNNING and held by it): each gets state
	// TO_AUTORUN and no instance, and the instances listening are told. It
	// returns their public ids. A stopping engine calls it once its cycles
	// have ended.
	ResolutionRelease(ctx context.Context, instanceID int64) ([]string, error)
	// ResolutionNextWakeup returns the earliest time at which a resolution
	// will become runnable by ResolutionClaimRunnable, or nil if none waits.
	ResolutionNextWakeup(ctx context.Context) (*time.Time, error)

	// InstanceRegister records a new engine instance and returns its id.
	InstanceRegister(ctx context.Context, now time.Time) (int64, error)
	// InstanceHeartbeat records that the instance is alive at now
	// (ErrNotFound when it has no row).
	InstanceHeartbeat(ctx context.Context, instanceID int64, now time.Time) error
	// InstanceRejoin records that the instance is alive at now under its
	// id, making its row again if it was removed (the instance was taken for
	// dead while it could not heartbeat, and came back).
	InstanceRejoin(ctx context.Context, instanceID int64, now time.Time) error
	// InstanceDeleteDead removes the rows of the instances other than self
	// whose heartbeat is not after aliveSince and that hold no resolution in
	// RUNNING, RETRY, AUTORUNNING or CRASHED. It returns how many it
	// removed.
	InstanceDeleteDead(ctx context.Context, self int64, aliveSince time.Time) (int, error)

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
	// steps, then the batches no task refers to. It returns how many tasks
	// it removed.
	TaskDeleteFinished(ctx context.Context, before time.Time) (int, error)

	// SealedTables returns the tables that hold sealed columns, in the
	// order a key rotation reseals them.
	SealedTables() []string
	// Reseal seals again, with the sealer's newest key, the sealed columns
	// of up to limit rows of table (one of SealedTables, else an error
	// wrapping ErrNotFound): the rows after the cursor after ("" is the
	// start), in key order. The batch is one transaction: whatever happens,
	// every row stays sealed with either its old key or the newest one.
	// Values the sealer reports sealed with its newest key already (see
	// NewestChecker) are left as they are; other columns (last_activity
	// among them) are never touched.
	Reseal(ctx context.Context, table, after string, limit int) (ResealBatch, error)

	// Listen calls wake each time another transaction committed a
	// resolution that is runnable or will become runnable (created, made
	// due, or moved earlier), until ctx is done; then it returns nil. It may
	// miss notifications (while it reconnects, for instance): callers keep
	// polling. A store that cannot tell returns nil at once.
	Listen(ctx context.Context, wake func()) error
}

// TaskGroupCount is the number of tasks of one template, with one list of
// resolver groups, in one state.
type TaskGroupCount struct {
	Template       string
	ResolverGroups []string // nil when the tasks name none (not even an empty list)
	State          string
	Count          int
}

// LeaderTerm is one term of leadership: the instance that leads and the
// times it was elected and its lease expires.
type LeaderTerm struct {
	InstanceID int64
	ElectedAt  time.Time
	ExpiresAt  time.Time
}

// Tx is a write transaction. A Tx is used by one goroutine.
//
// A store may defer TaskCreate, TaskUpdate, ResolutionHold,
// ResolutionUpdate and StepUpsert, sending them with the transaction's next
// statement or with the commit, having taken their values at the call:
// their failure then makes a later call fail, and Commit report it
// (ErrNotFound for a row that is not there, say), committing nothing. After
// any failed call, the caller rolls the transaction back.
type Tx interface {
	// Commit makes the transaction's writes durable.
	Commit(ctx context.Context) error
	// Rollback abandons the transaction; after Commit it does nothing.
	Rollback(ctx context.Context) error

	// TaskInsert inserts a task and sets its ID.
	TaskInsert(ctx context.Context, t *Task) error
	// TaskCreate inserts a new task, its resolution when r is not nil (with
	// r.TaskID set to the task's), and e, the audit entry of the creation
	// (e.TaskID set likewise): TaskInsert, ResolutionInsert and AuditInsert
	// in one call, which a store may defer, setting the IDs when it runs (at
	// the latest in Commit). Unlike theirs, its refusals (ErrNotFound for an
	// unknown template version or batch, ErrConflict for a taken public id)
	// fail the transaction, which commits nothing.
	TaskCreate(ctx context.Context, t *Task, r *Resolution, e *AuditEntry) error
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
	// TemplateVersionGet returns the document of a template version, read
	// through this transaction: a transaction never waits for a second
	// connection of the pool.
	TemplateVersionGet(ctx context.Context, id int64) ([]byte, error)
	// ResolutionHold locks a resolution by internal id, like
	// ResolutionLock, and requires that instance hold it: ErrNotHeld when
	// another instance or none does, ErrNotFound when there is no such
	// resolution. It is the cheap check that starts an engine's every
	// write; a store may defer it.
	ResolutionHold(ctx context.Context, id, instance int64) error
	// ResolutionUpdate writes every mutable field of a resolution (all but
	// ID, PublicID, TaskID, Created), with two exceptions that keep what a
	// concurrent writer added from being lost. When the stored next_retry
	// is after the stored last_start (someone made the resolution due since
	// its last start), it is kept unless r.NextRetry is both after that
	// last_start and earlier than it: a next_retry can thus be moved earlier
	// by any writer, but never later nor cleared until the next start moves
	// last_start past it. And the run limit is never lowered: a stored
	// run_max higher than r.RunMax is kept (a step may raise it while a
	// cycle that read it earlier runs). r itself is not changed.
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

	// BatchInsert inserts a batch and sets its ID (ErrConflict if the
	// public id is taken).
	BatchInsert(ctx context.Context, b *Batch) error

	// CallbackInsert inserts a callback of the task c.TaskID and the
	// resolution c.ResolutionID and sets its ID (ErrNotFound if either does
	// not exist, ErrConflict if the public id is taken).
	CallbackInsert(ctx context.Context, c *Callback) error
	// CallbackLock reads a callback by public id and locks it.
	CallbackLock(ctx context.Context, publicID string) (*Callback, error)
	// CallbackUpdate writes the update time, the call time and the body of
	// a callback, found by ID and PublicID together (ErrNotFound
	// otherwise).
	CallbackUpdate(ctx context.Context, c *Callback) error

	// ResolutionDelete removes a resolution by internal id, with its steps
	// (ErrNotFound if there is no such resolution). Its task is kept.
	ResolutionDelete(ctx context.Context, id int64) error

	// AuditInsert appends an entry to the audit trail of the task e.TaskID
	// and sets its ID (ErrNotFound if the task does not exist, ErrConflict
	// if the public id is taken). The entries of a task take their ids in
	// the order their transactions commit, so that a trail paged by id
	// never skips one: the insert waits for another transaction writing
	// the same task's trail (or holding its lock) to end.
	AuditInsert(ctx context.Context, e *AuditEntry) error
}

// AuditEntry is one write the API made on a task or on its resolution. The
// entries of a task go with it.
type AuditEntry struct {
	ID           int64
	PublicID     string
	TaskID       int64
	TaskPublicID string // filled by reads
	// ResolutionPublicID is the resolution the write concerned, "" when
	// none. It is kept when that resolution is deleted (start over).
	ResolutionPublicID string
	Time               time.Time
	Username           string
	Admin              bool           // whether the caller acted as an administrator
	Operation          string         // the operation id of the API route
	Detail             map[string]any // sealed
}

// AuditFilter selects a page of the audit trail of a task.
type AuditFilter struct {
	TaskID int64
	// After, when set, is the public id of an entry of that task: only the
	// entries inserted after it are returned (ErrNotFound when the task has
	// no such entry).
	After string
	Limit int
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

// Batch groups the tasks created together from one template (POST /batch,
// the batch action). Finished tasks are collected one by one; a batch goes
// with the last of its tasks.
type Batch struct {
	ID       int64
	PublicID string
}

// Callback is a one-shot URL a step hands out and waits for: the secret
// token that makes a call genuine, the JSON schema the body must satisfy,
// and, once called, the body. A callback goes with its task and with its
// resolution.
type Callback struct {
	ID                 int64
	PublicID           string
	TaskID             int64
	TaskPublicID       string // filled by reads
	ResolutionID       int64
	ResolutionPublicID string // filled by reads
	Created            time.Time
	Updated            time.Time
	Called             *time.Time // nil until called
	ResolverUsername   string
	Schema             []byte // sealed; the JSON schema, nil when none
	Secret             string // sealed
	Body               []byte // sealed; the JSON of the body, nil until called
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
	// Batch is the public id of the batch the task belongs to, "" when
	// none. It is set at insert (ErrNotFound if there is no such batch) and
	// never changes.
	Batch string

	// Filled by reads: whether the task has comments, and from its
	// resolution if it has one.
	HasComments        bool
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
	Batch        string            // public id of the batch, "" for any

	// Cursor: when CursorID is set, only tasks strictly after (in listing
	// order: last_activity descending, then id descending) the task with
	// that internal id and last_activity are returned.
	CursorID           int64
	CursorLastActivity time.Time

	Limit int
}

// ResealBatch is what one call of Store.Reseal did.
type ResealBatch struct {
	// Next is the cursor of the next batch: the key of the last row read
	// (the cursor given when no row was read).
	Next string
	// Rows is how many rows the batch read.
	Rows int
	// Resealed is how many of them it wrote.
	Resealed int
	// Done reports that the table has no row after Next.
	Done bool
}

// NewestChecker is implemented by a Sealer that can tell a value sealed with
// the key it seals with now (*crypt.Keyring does): a key rotation leaves such
// values as they are, so that a rotation started again skips the rows done.
type NewestChecker interface {
	SealedByNewest(sealed, aad []byte) bool
}

// ResealRow seals again with sealer every value of one row (nil values are
// left nil), all bound to aad, in place. Values sealed with the newest key
// already are kept when sealer is a NewestChecker. It reports whether it
// changed any value; an error leaves values as they were.
func ResealRow(sealer Sealer, aad []byte, values [][]byte) (bool, error) {
	checker, _ := sealer.(NewestChecker)
	out := make([][]byte, len(values))
	changed := false
	for i, v := range values {
		out[i] = v
		if v == nil || (checker != nil && checker.SealedByNewest(v, aad)) {
			continue
		}
		plain, err := sealer.Open(v, aad)
		if err != nil {
			return false, fmt.Errorf("open value %d: %w", i, err)
		}
		if out[i], err = sealer.Seal(plain, aad); err != nil {
			return false, fmt.Errorf("seal value %d: %w", i, err)
		}
		changed = true
	}
	copy(values, out)
	return changed, nil
}

// ResealCursor is the cursor of Store.Reseal after the row with key id (and
// name, for a table keyed by an id and a name).
func ResealCursor(id int64, name string) string {
	c := strconv.FormatInt(id, 10)
	if name != "" {
		c += "/" + name
	}
	return c
}

// ParseResealCursor reads a cursor made by ResealCursor; "" is before every
// row. withName says the table is keyed by an id and a name.
func ParseResealCursor(cursor string, withName bool) (id int64, name string, err error) {
	if cursor == "" {
		return 0, "", nil
	}
	idText, name, _ := strings.Cut(cursor, "/")
	if name != "" && !withName {
		return 0, "", fmt.Errorf("parse reseal cursor %q: unexpected name", cursor)
	}
	if id, err = strconv.ParseInt(idText, 10, 64); err != nil {
		return 0, "", fmt.Errorf("parse reseal cursor %q: %w", cursor, err)
	}
	return id, name, nil
}
