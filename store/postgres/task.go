package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// taskColumns are the columns of a task read, without the sealed ones, from
// "task t LEFT JOIN resolution r ON r.task_id = t.id".
const taskColumns = `t.id, t.public_id, t.template_name, t.template_version_id, t.title,
	t.requester_username, t.requester_groups, t.watcher_usernames, t.watcher_groups,
	t.resolver_usernames, t.resolver_groups, t.created, t.last_activity, t.state,
	t.steps_done, t.steps_total, t.tags,
	r.public_id, r.resolver_username, r.last_start, r.last_stop,
	(SELECT b.public_id FROM batch b WHERE b.id = t.batch_id),
	EXISTS (SELECT 1 FROM comment c WHERE c.task_id = t.id)`

// taskFrom is the FROM clause that goes with taskColumns.
const taskFrom = `FROM task t LEFT JOIN resolution r ON r.task_id = t.id`

// TaskGet returns a task by public id, input and result included.
func (s *Store) TaskGet(ctx context.Context, publicID string) (*store.Task, error) {
	t, err := s.taskGet(ctx, s.pool, `t.public_id = $1`, publicID)
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", publicID, err)
	}
	return t, nil
}

// taskGet reads the one task matching where (and suffix: a locking clause,
// say), sealed values included.
func (s *Store) taskGet(ctx context.Context, q querier, where string, arg any, suffix ...string) (*store.Task, error) {
	row := q.QueryRow(ctx, `SELECT `+taskColumns+`, t.sealed_input, t.sealed_result `+
		taskFrom+` WHERE `+where+` `+strings.Join(suffix, " "), arg)
	t, err := s.scanTask(row, true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return t, err
}

// scanTask reads a row of taskColumns, followed by the sealed input and
// result when withSealed.
func (s *Store) scanTask(row pgx.Row, withSealed bool) (*store.Task, error) {
	var (
		t                                    store.Task
		reqGroups, watchUsers, watchGroups   []byte
		resUsers, resGroups, tags            []byte
		resolutionPublicID, resolverUsername *string
		lastStart, lastStop                  *time.Time
		sealedInput, sealedResult            []byte
		batch                                *string
	)
	dest := []any{
		&t.ID, &t.PublicID, &t.TemplateName, &t.TemplateVersion, &t.Title,
		&t.RequesterUsername, &reqGroups, &watchUsers, &watchGroups,
		&resUsers, &resGroups, &t.Created, &t.LastActivity, &t.State,
		&t.StepsDone, &t.StepsTotal, &tags,
		&resolutionPublicID, &resolverUsername, &lastStart, &lastStop,
		&batch, &t.HasComments,
	}
	if withSealed {
		dest = append(dest, &sealedInput, &sealedResult)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}

	t.Created = t.Created.UTC()
	t.LastActivity = t.LastActivity.UTC()
	if resolutionPublicID != nil {
		t.ResolutionPublicID = *resolutionPublicID
	}
	if resolverUsername != nil {
		t.ResolverUsername = *resolverUsername
	}
	t.LastStart = utc(lastStart)
	t.LastStop = utc(lastStop)
	if batch != nil {
		t.Batch = *batch
	}

	cols := rowcodec.TaskJSON{
		RequesterGroups: reqGroups, WatcherUsernames: watchUsers, WatcherGroups: watchGroups,
		ResolverUsernames: resUsers, ResolverGroups: resGroups, Tags: tags,
	}
	if err := s.codec.DecodeTask(&t, cols, sealedInput, sealedResult); err != nil {
		return nil, err
	}
	return &t, nil
}

// TaskList returns one page of tasks, newest last_activity first, then
// highest id first. Input and Result are left nil. A Limit of 0 or less
// returns every matching task.
func (s *Store) TaskList(ctx context.Context, f store.TaskFilter) ([]*store.Task, error) {
	query, args, err := taskListQuery(f)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	tasks, err := rowcodec.Collect(rows, func() (*store.Task, error) { return s.scanTask(rows, false) })
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return tasks, nil
}

// Membership tests on the jsonb list columns of task t, each with a
// placeholder "$?" that taskListQuery numbers. A username is in a list when
// the list contains it (@>, which the jsonb_path_ops indexes serve); a list
// meets a set of groups when it has any of them as an element (?|, which the
// default jsonb indexes serve). Neither matches a NULL list.
const (
	hasRequester       = `t.requester_username = $?`
	hasWatcherUsername = `t.watcher_usernames @> jsonb_build_array($?::text)`
	hasResolverUser    = `t.resolver_usernames @> jsonb_build_array($?::text)`
	meetsResolverGroup = `t.resolver_groups ?| $?::text[]`
	meetsWatcherGroup  = `t.watcher_groups ?| $?::text[]`
	inTemplates        = `t.template_name = ANY ($?::text[])`
	hasTags            = `t.tags @> $?::jsonb`
)

// condBuilder collects the conditions of a query and their arguments,
// numbering the placeholders as it goes.
type condBuilder struct {
	args []any
}

// cond returns c with each "$?" replaced by the placeholder of the next of
// args, and records those arguments.
func (b *condBuilder) cond(c string, args ...any) string {
	for _, a := range args {
		b.args = append(b.args, a)
		c = strings.Replace(c, "$?", "$"+strconv.Itoa(len(b.args)), 1)
	}
	return c
}

// taskListQuery builds the query of TaskList.
func taskListQuery(f store.TaskFilter) (string, []any, error) {
	var (
		b     condBuilder
		where []string
	)
	add := func(c string, args ...any) { where = append(where, b.cond(c, args...)) }

	vis, err := visibility(&b, f)
	if err != nil {
		return "", nil, err
	}
	if vis != "" {
		where = append(where, vis)
	}
	if f.State != "" {
		add(`t.state = $?`, f.State)
	}
	if f.TemplateName != "" {
		add(`t.template_name = $?`, f.TemplateName)
	}
	if f.Batch != "" {
		add(`t.batch_id = (SELECT b.id FROM batch b WHERE b.public_id = $?)`, f.Batch)
	}
	if len(f.Tags) > 0 {
		tags, err := json.Marshal(f.Tags)
		if err != nil {
			return "", nil, err
		}
		add(hasTags, string(tags))
	}
	if f.Before != nil {
		add(`t.last_activity < $?`, ts(*f.Before))
	}
	if f.After != nil {
		add(`t.last_activity > $?`, ts(*f.After))
	}
	if f.CursorID != 0 {
		// A strict row comparison, so that tasks sharing one last_activity
		// are neither skipped nor repeated from one page to the next.
		add(`(t.last_activity, t.id) < ($?, $?)`, ts(f.CursorLastActivity), f.CursorID)
	}

	var q strings.Builder
	q.WriteString(`SELECT ` + taskColumns + ` ` + taskFrom)
	if len(where) > 0 {
		q.WriteString(` WHERE ` + strings.Join(where, ` AND `))
	}
	q.WriteString(` ORDER BY t.last_activity DESC, t.id DESC`)
	if f.Limit > 0 {
		q.WriteString(b.cond(` LIMIT $?`, f.Limit))
	}
	return q.String(), b.args, nil
}

// visibility is the condition (empty: none) that restricts a listing to what
// f.Visibility allows.
func visibility(b *condBuilder, f store.TaskFilter) (string, error) {
	var conds []string
	or := func(c string, args ...any) { conds = append(conds, b.cond(c, args...)) }
	own := func() {
		or(hasRequester, f.Username)
		or(hasWatcherUsername, f.Username)
	}
	resolvable := func() {
		if len(f.OwnedTemplates) > 0 {
			or(inTemplates, f.OwnedTemplates)
		}
		or(hasResolverUser, f.Username)
		if len(f.Groups) > 0 {
			or(meetsResolverGroup, f.Groups)
		}
	}

	switch f.Visibility {
	case store.VisibleAll:
		return "", nil
	case store.VisibleOwn:
		own()
	case store.VisibleResolvable:
		resolvable()
	case store.VisibleRelated:
		own()
		resolvable()
		if len(f.Groups) > 0 {
			or(meetsWatcherGroup, f.Groups)
		}
	default:
		return "", fmt.Errorf("unknown visibility %d", f.Visibility)
	}
	return `(` + strings.Join(conds, ` OR `) + `)`, nil
}

// taskRow is the stored form of the mutable columns of a task, in the order
// they have in taskInsertSQL and taskUpdateSQL.
func (s *Store) taskRow(t *store.Task) ([]any, error) {
	return s.codec.TaskRow(t, ts(t.LastActivity))
}

const taskInsertSQL = `
	INSERT INTO task (
	    public_id, template_name, template_version_id, created,
	    title, requester_username, requester_groups, watcher_usernames, watcher_groups,
	    resolver_usernames, resolver_groups, last_activity, state, steps_done, steps_total,
	    tags, sealed_input, sealed_result, batch_id
	)
	SELECT $1, $2, v.id, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19
	FROM template_version v WHERE v.id = $3
	ON CONFLICT DO NOTHING
	RETURNING id`

// taskInsert inserts t and sets its ID.
func (s *Store) taskInsert(ctx context.Context, q querier, t *store.Task) error {
	row, err := s.taskRow(t)
	if err != nil {
		return err
	}
	batchID, err := batchRowID(ctx, q, t.Batch)
	if err != nil {
		return err
	}
	args := append([]any{t.PublicID, t.TemplateName, t.TemplateVersion, ts(t.Created)}, row...)
	args = append(args, batchID)
	err = q.QueryRow(ctx, taskInsertSQL, args...).Scan(&t.ID)
	if !errors.Is(err, pgx.ErrNoRows) {
		return insertError(err, "template version", t.TemplateVersion)
	}
	return noRowInserted(ctx, q, fmt.Sprintf("template version %d", t.TemplateVersion),
		`SELECT EXISTS (SELECT 1 FROM template_version WHERE id = $1)`, t.TemplateVersion)
}

// noRowInserted explains an insert that took the rows it refers to from
// their tables and skipped a taken public id, and returned no row: exists
// (a query of one boolean over args) tells whether the rows referred to,
// named what, are there; if they are, the public id is taken.
func noRowInserted(ctx context.Context, q querier, what, exists string, args ...any) error {
	var known bool
	if err := q.QueryRow(ctx, exists, args...).Scan(&known); err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("public id is taken: %w", store.ErrConflict)
}

// insertError maps the error of an insert whose row refers to the row id of
// table what: a broken reference (a row removed while the insert ran) is
// ErrNotFound, a broken uniqueness rule ErrConflict.
func insertError(err error, what string, id int64) error {
	if pgCode(err) == codeForeignKeyViolation {
		return fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
	}
	return mapError(err)
}

// The row is found by id and public id together: the values are sealed
// for that public id, and must not land on a row with another. The update
// is deferred, hence checks itself (see pipeline).
const taskUpdateSQL = `
	WITH u AS (
	    UPDATE task SET
	        title = $1, requester_username = $2, requester_groups = $3, watcher_usernames = $4,
	        watcher_groups = $5, resolver_usernames = $6, resolver_groups = $7, last_activity = $8,
	        state = $9, steps_done = $10, steps_total = $11, tags = $12, sealed_input = $13,
	        sealed_result = $14
	    WHERE id = $15 AND public_id = $16
	    RETURNING 1)
	SELECT CASE WHEN EXISTS (SELECT FROM u) THEN true
	       ELSE utask_fail('P0002', 'no such task') END`

// taskCreateSQL inserts a task ($1–$19, as taskInsertSQL but for the batch,
// $19, given by public id), its resolution when $20, the resolution's
// public id, is not NULL ($20–$30, as resolutionInsertSQL), and the audit
// entry of the creation ($31–$37, as auditInsertSQL), in one statement.
// It is deferred, hence checks itself (see pipeline): a refused insert
// fails it, and what it inserted with it. It sends the wake-up ($38 is the
// channel) when the resolution is runnable or will become so.
const taskCreateSQL = `
	WITH t AS (
	    INSERT INTO task (
	        public_id, template_name, template_version_id, created,
	        title, requester_username, requester_groups, watcher_usernames, watcher_groups,
	        resolver_usernames, resolver_groups, last_activity, state, steps_done, steps_total,
	        tags, sealed_input, sealed_result, batch_id
	    )
	    SELECT $1, $2, v.id, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, b.id
	    FROM template_version v LEFT JOIN batch b ON b.public_id = $19::text
	    WHERE v.id = $3 AND ($19::text IS NULL OR b.id IS NOT NULL)
	    ON CONFLICT DO NOTHING
	    RETURNING id),
	r AS (
	    INSERT INTO resolution (
	        public_id, task_id, created,
	        resolver_username, state, instance_id, last_start, last_stop, next_retry,
	        run_count, run_max, sealed_resolver_input
	    )
	    SELECT $20::text, t.id, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30
	    FROM t WHERE $20::text IS NOT NULL
	    ON CONFLICT DO NOTHING
	    RETURNING id, public_id, ` + wakeable + ` AS wake),
	a AS (
	    INSERT INTO audit (
	        public_id, task_id, resolution_public_id, at, username, admin, operation, sealed_detail
	    )
	    SELECT $31, t.id, $32, $33, $34, $35, $36, $37 FROM t
	    ON CONFLICT DO NOTHING
	    RETURNING id)
	SELECT t.id, r.id, a.id, CASE
	    WHEN t.id IS NULL THEN CASE
	        WHEN NOT EXISTS (SELECT FROM template_version WHERE id = $3)
	        THEN utask_fail('P0002', 'no such template version')
	        WHEN $19::text IS NOT NULL AND NOT EXISTS (SELECT FROM batch WHERE public_id = $19::text)
	        THEN utask_fail('P0002', 'no such batch')
	        ELSE utask_fail('UT409', 'task public id is taken') END
	    WHEN $20::text IS NOT NULL AND r.id IS NULL
	    THEN utask_fail('UT409', 'resolution public id is taken')
	    WHEN a.id IS NULL THEN utask_fail('UT409', 'audit entry public id is taken')
	    WHEN r.wake THEN pg_notify($38, r.public_id) IS NULL
	    ELSE false END
	FROM (SELECT) one LEFT JOIN t ON true LEFT JOIN r ON true LEFT JOIN a ON true`

// taskCreateArgs are the arguments of taskCreateSQL.
func (s *Store) taskCreateArgs(t *store.Task, r *store.Resolution, e *store.AuditEntry) ([]any, error) {
	row, err := s.taskRow(t)
	if err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	// The statement is encoded when it is sent: every argument is a copy
	// taken now.
	var batch *string
	if t.Batch != "" {
		b := t.Batch
		batch = &b
	}
	args := make([]any, 0, 38)
	args = append(args, t.PublicID, t.TemplateName, t.TemplateVersion, ts(t.Created))
	args = append(args, row...)
	args = append(args, batch)
	if r != nil {
		rrow, err := s.resolutionRow(r)
		if err != nil {
			return nil, fmt.Errorf("resolution: %w", err)
		}
		args = append(args, r.PublicID, ts(r.Created))
		args = append(args, rrow...)
	} else {
		args = append(args, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	}
	sealed, err := s.codec.SealAudit(e)
	if err != nil {
		return nil, fmt.Errorf("audit entry: %w", err)
	}
	args = append(args, e.PublicID, e.ResolutionPublicID, ts(e.Time), e.Username, e.Admin, e.Operation, sealed,
		s.channel)
	return args, nil
}
