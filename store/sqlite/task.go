package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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
	t, err := s.taskGet(ctx, s.reads, `t.public_id = ?`, publicID)
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", publicID, err)
	}
	return t, nil
}

// taskGet reads the one task matching where, sealed values included.
func (s *Store) taskGet(ctx context.Context, q querier, where string, arg any) (*store.Task, error) {
	row := q.QueryRowContext(ctx, `SELECT `+taskColumns+`, t.sealed_input, t.sealed_result `+
		taskFrom+` WHERE `+where, arg)
	t, err := s.scanTask(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return t, err
}

// scanTask reads a row of taskColumns, followed by the sealed input and
// result when withSealed.
func (s *Store) scanTask(row scanner, withSealed bool) (*store.Task, error) {
	var (
		t                                    store.Task
		reqGroups, watchUsers, watchGroups   sql.NullString
		resUsers, resGroups, tags            sql.NullString
		created, lastActivity                int64
		resolutionPublicID, resolverUsername sql.NullString
		lastStart, lastStop                  sql.NullInt64
		sealedInput, sealedResult            []byte
		batch                                sql.NullString
	)
	dest := []any{
		&t.ID, &t.PublicID, &t.TemplateName, &t.TemplateVersion, &t.Title,
		&t.RequesterUsername, &reqGroups, &watchUsers, &watchGroups,
		&resUsers, &resGroups, &created, &lastActivity, &t.State,
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

	t.Created = fromMicros(created)
	t.LastActivity = fromMicros(lastActivity)
	t.ResolutionPublicID = resolutionPublicID.String
	t.ResolverUsername = resolverUsername.String
	t.LastStart = fromOptMicros(lastStart)
	t.LastStop = fromOptMicros(lastStop)
	t.Batch = batch.String
	cols := rowcodec.TaskJSON{
		RequesterGroups: textBytes(reqGroups), WatcherUsernames: textBytes(watchUsers),
		WatcherGroups: textBytes(watchGroups), ResolverUsernames: textBytes(resUsers),
		ResolverGroups: textBytes(resGroups), Tags: textBytes(tags),
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
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer func() { _ = rows.Close() }()
	tasks, err := rowcodec.Collect(rows, func() (*store.Task, error) { return s.scanTask(rows, false) })
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return tasks, nil
}

// Membership tests on the JSON list columns of task t. Each takes one
// argument: a name (has*) or a JSON list of names (meets*).
const (
	hasRequester       = `t.requester_username = ?`
	hasWatcherUsername = `EXISTS (SELECT 1 FROM json_each(t.watcher_usernames) WHERE value = ?)`
	hasResolverUser    = `EXISTS (SELECT 1 FROM json_each(t.resolver_usernames) WHERE value = ?)`
	meetsResolverGroup = `EXISTS (SELECT 1 FROM json_each(t.resolver_groups) AS g
		WHERE g.value IN (SELECT value FROM json_each(?)))`
	meetsWatcherGroup = `EXISTS (SELECT 1 FROM json_each(t.watcher_groups) AS g
		WHERE g.value IN (SELECT value FROM json_each(?)))`
	inTemplates = `t.template_name IN (SELECT value FROM json_each(?))`
	hasTag      = `EXISTS (SELECT 1 FROM json_each(t.tags) WHERE key = ? AND value = ?)`
)

// taskListQuery builds the query of TaskList.
func taskListQuery(f store.TaskFilter) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}

	vis, visArgs, err := visibility(f)
	if err != nil {
		return "", nil, err
	}
	if vis != "" {
		add(vis, visArgs...)
	}
	if f.State != "" {
		add(`t.state = ?`, f.State)
	}
	if f.TemplateName != "" {
		add(`t.template_name = ?`, f.TemplateName)
	}
	if f.Batch != "" {
		add(`t.batch_id = (SELECT b.id FROM batch b WHERE b.public_id = ?)`, f.Batch)
	}
	keys := make([]string, 0, len(f.Tags))
	for k := range f.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(hasTag, k, f.Tags[k])
	}
	if f.Before != nil {
		add(`t.last_activity < ?`, micros(*f.Before))
	}
	if f.After != nil {
		add(`t.last_activity > ?`, micros(*f.After))
	}
	if f.CursorID != 0 {
		// A strict tuple comparison, so that tasks sharing one last_activity
		// are neither skipped nor repeated from one page to the next.
		add(`(t.last_activity, t.id) < (?, ?)`, micros(f.CursorLastActivity), f.CursorID)
	}

	var b strings.Builder
	b.WriteString(`SELECT ` + taskColumns + ` ` + taskFrom)
	if len(where) > 0 {
		b.WriteString(` WHERE ` + strings.Join(where, ` AND `))
	}
	b.WriteString(` ORDER BY t.last_activity DESC, t.id DESC`)
	if f.Limit > 0 {
		b.WriteString(` LIMIT ?`)
		args = append(args, f.Limit)
	}
	return b.String(), args, nil
}

// visibility is the condition (empty: none) that restricts a listing to what
// f.Visibility allows.
func visibility(f store.TaskFilter) (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	or := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	own := func() {
		or(hasRequester, f.Username)
		or(hasWatcherUsername, f.Username)
	}
	resolvable := func() error {
		if len(f.OwnedTemplates) > 0 {
			names, err := json.Marshal(f.OwnedTemplates)
			if err != nil {
				return err
			}
			or(inTemplates, string(names))
		}
		or(hasResolverUser, f.Username)
		if len(f.Groups) > 0 {
			groups, err := json.Marshal(f.Groups)
			if err != nil {
				return err
			}
			or(meetsResolverGroup, string(groups))
		}
		return nil
	}

	switch f.Visibility {
	case store.VisibleAll:
		return "", nil, nil
	case store.VisibleOwn:
		own()
	case store.VisibleResolvable:
		if err := resolvable(); err != nil {
			return "", nil, err
		}
	case store.VisibleRelated:
		own()
		if err := resolvable(); err != nil {
			return "", nil, err
		}
		if len(f.Groups) > 0 {
			groups, err := json.Marshal(f.Groups)
			if err != nil {
				return "", nil, err
			}
			or(meetsWatcherGroup, string(groups))
		}
	default:
		return "", nil, fmt.Errorf("unknown visibility %d", f.Visibility)
	}
	return `(` + strings.Join(conds, ` OR `) + `)`, args, nil
}

// taskRow is the stored form of the mutable columns of a task, in the order
// they have in taskInsertSQL and taskUpdateSQL.
func (s *Store) taskRow(t *store.Task) ([]any, error) {
	return s.codec.TaskRow(t, micros(t.LastActivity))
}

const taskInsertSQL = `
	INSERT INTO task (
	    public_id, template_name, template_version_id, created,
	    title, requester_username, requester_groups, watcher_usernames, watcher_groups,
	    resolver_usernames, resolver_groups, last_activity, state, steps_done, steps_total,
	    tags, sealed_input, sealed_result, batch_id
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	args := append([]any{t.PublicID, t.TemplateName, t.TemplateVersion, micros(t.Created)}, row...)
	args = append(args, batchID)
	err = q.QueryRowContext(ctx, taskInsertSQL, args...).Scan(&t.ID)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("template version %d: %w", t.TemplateVersion, store.ErrNotFound)
	}
	return conflict(err)
}

// The row is found by id and public id together: the values are sealed
// for that public id, and must not land on a row with another.
const taskUpdateSQL = `
	UPDATE task SET
	    title = ?, requester_username = ?, requester_groups = ?, watcher_usernames = ?,
	    watcher_groups = ?, resolver_usernames = ?, resolver_groups = ?, last_activity = ?,
	    state = ?, steps_done = ?, steps_total = ?, tags = ?, sealed_input = ?, sealed_result = ?
	WHERE id = ? AND public_id = ?`

// taskUpdate writes the mutable columns of t.
func (s *Store) taskUpdate(ctx context.Context, q querier, t *store.Task) error {
	row, err := s.taskRow(t)
	if err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, taskUpdateSQL, append(row, t.ID, t.PublicID)...)
	if err != nil {
		return err
	}
	return affectedOne(res)
}
