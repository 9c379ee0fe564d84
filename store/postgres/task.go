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
)

// taskColumns are the columns of a task read, without the sealed ones, from
// "task t LEFT JOIN resolution r ON r.task_id = t.id".
const taskColumns = `t.id, t.public_id, t.template_name, t.template_version_id, t.title,
	t.requester_username, t.requester_groups, t.watcher_usernames, t.watcher_groups,
	t.resolver_usernames, t.resolver_groups, t.created, t.last_activity, t.state,
	t.steps_done, t.steps_total, t.tags,
	r.public_id, r.resolver_username, r.last_start, r.last_stop,
	(SELECT b.public_id FROM batch b WHERE b.id = t.batch_id)`

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
		&batch,
	}
	if withSealed {
		dest = append(dest, &sealedInput, &sealedResult)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}

	for _, c := range []struct {
		name string
		col  []byte
		dst  any
	}{
		{"requester_groups", reqGroups, &t.RequesterGroups},
		{"watcher_usernames", watchUsers, &t.WatcherUsernames},
		{"watcher_groups", watchGroups, &t.WatcherGroups},
		{"resolver_usernames", resUsers, &t.ResolverUsernames},
		{"resolver_groups", resGroups, &t.ResolverGroups},
		{"tags", tags, &t.Tags},
	} {
		if err := fromJSON(c.col, c.dst); err != nil {
			return nil, fmt.Errorf("decode %s of task %s: %w", c.name, t.PublicID, err)
		}
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

	var err error
	if t.Input, err = s.openMap(sealedInput, t.PublicID); err != nil {
		return nil, fmt.Errorf("open input of task %s: %w", t.PublicID, err)
	}
	if t.Result, err = s.openMap(sealedResult, t.PublicID); err != nil {
		return nil, fmt.Errorf("open result of task %s: %w", t.PublicID, err)
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

	var tasks []*store.Task
	for rows.Next() {
		t, err := s.scanTask(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		tasks = append(tasks, t)
	}
	if err := rows.Err(); err != nil {
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
	// TODO: the input and the result are both bound to the task's public id
	// alone, so swapping the two columns of one row goes unnoticed; binding
	// each to its column as well (public id + "/input") would close that,
	// at the price of departing from µTask's binding of every value of a row
	// to its public id.
	input, err := s.sealMap(t.Input, t.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal input: %w", err)
	}
	result, err := s.sealMap(t.Result, t.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal result: %w", err)
	}
	row := []any{t.Title, t.RequesterUsername}
	for _, l := range [][]string{
		t.RequesterGroups, t.WatcherUsernames, t.WatcherGroups, t.ResolverUsernames, t.ResolverGroups,
	} {
		v, err := listValue(l)
		if err != nil {
			return nil, err
		}
		row = append(row, v)
	}
	tags, err := tagsValue(t.Tags)
	if err != nil {
		return nil, err
	}
	return append(row, ts(t.LastActivity), t.State, t.StepsDone, t.StepsTotal, tags, input, result), nil
}

// The insert takes its template version from the template_version row, and
// does nothing on a taken public id: a missing version or a conflict gives
// no row rather than an error, which in PostgreSQL would abort the whole
// transaction.
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
	var known bool
	if err := q.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM template_version WHERE id = $1)`, t.TemplateVersion).Scan(&known); err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("template version %d: %w", t.TemplateVersion, store.ErrNotFound)
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
// for that public id, and must not land on a row with another.
const taskUpdateSQL = `
	UPDATE task SET
	    title = $1, requester_username = $2, requester_groups = $3, watcher_usernames = $4,
	    watcher_groups = $5, resolver_usernames = $6, resolver_groups = $7, last_activity = $8,
	    state = $9, steps_done = $10, steps_total = $11, tags = $12, sealed_input = $13, sealed_result = $14
	WHERE id = $15 AND public_id = $16`

// taskUpdate writes the mutable columns of t.
func (s *Store) taskUpdate(ctx context.Context, q querier, t *store.Task) error {
	row, err := s.taskRow(t)
	if err != nil {
		return err
	}
	tag, err := q.Exec(ctx, taskUpdateSQL, append(row, t.ID, t.PublicID)...)
	if err != nil {
		return err
	}
	return affectedOne(tag)
}
