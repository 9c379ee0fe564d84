package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// commentSelect reads the columns scanComment expects.
const commentSelect = `SELECT c.id, c.public_id, c.task_id, t.public_id, c.username, c.created, c.updated,
	c.sealed_content FROM comment c JOIN task t ON t.id = c.task_id`

// CommentList returns the comments of a task, oldest first.
func (s *Store) CommentList(ctx context.Context, taskID int64) ([]*store.Comment, error) {
	cs, err := s.commentList(ctx, s.reads, taskID)
	if err != nil {
		return nil, fmt.Errorf("list comments of task %d: %w", taskID, err)
	}
	return cs, nil
}

// CommentGet returns a comment by public id.
func (s *Store) CommentGet(ctx context.Context, publicID string) (*store.Comment, error) {
	c, err := s.commentGet(ctx, s.reads, publicID)
	if err != nil {
		return nil, fmt.Errorf("get comment %s: %w", publicID, err)
	}
	return c, nil
}

// commentList reads the comments of a task in listing order.
func (s *Store) commentList(ctx context.Context, q querier, taskID int64) ([]*store.Comment, error) {
	rows, err := q.QueryContext(ctx, commentSelect+` WHERE c.task_id = ? ORDER BY c.created, c.id`, taskID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return rowcodec.Collect(rows, func() (*store.Comment, error) { return s.scanComment(rows) })
}

// commentGet reads one comment by public id.
func (s *Store) commentGet(ctx context.Context, q querier, publicID string) (*store.Comment, error) {
	c, err := s.scanComment(q.QueryRowContext(ctx, commentSelect+` WHERE c.public_id = ?`, publicID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// scanComment reads a row of commentSelect and opens its content.
func (s *Store) scanComment(row scanner) (*store.Comment, error) {
	var (
		c                store.Comment
		created, updated int64
		sealed           []byte
	)
	if err := row.Scan(&c.ID, &c.PublicID, &c.TaskID, &c.TaskPublicID, &c.Username,
		&created, &updated, &sealed); err != nil {
		return nil, err
	}
	c.Created, c.Updated = fromMicros(created), fromMicros(updated)
	if err := s.codec.OpenComment(&c, sealed); err != nil {
		return nil, err
	}
	return &c, nil
}

// CommentInsert inserts a comment and sets its ID.
func (t *Tx) CommentInsert(ctx context.Context, c *store.Comment) error {
	sealed, err := t.s.codec.SealComment(c)
	if err != nil {
		return fmt.Errorf("insert comment %s: %w", c.PublicID, err)
	}
	err = t.tx.QueryRowContext(ctx, `
		INSERT INTO comment (public_id, task_id, username, created, updated, sealed_content)
		VALUES (?, ?, ?, ?, ?, ?)
		RETURNING id`,
		c.PublicID, c.TaskID, c.Username, micros(c.Created), micros(c.Updated), sealed).Scan(&c.ID)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("insert comment %s: task %d: %w", c.PublicID, c.TaskID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("insert comment %s: %w", c.PublicID, conflict(err))
	}
	return nil
}

// CommentList returns the comments of a task as this transaction sees them.
func (t *Tx) CommentList(ctx context.Context, taskID int64) ([]*store.Comment, error) {
	cs, err := t.s.commentList(ctx, t.tx, taskID)
	if err != nil {
		return nil, fmt.Errorf("list comments of task %d: %w", taskID, err)
	}
	return cs, nil
}

// CommentGet returns a comment by public id as this transaction sees it.
func (t *Tx) CommentGet(ctx context.Context, publicID string) (*store.Comment, error) {
	c, err := t.s.commentGet(ctx, t.tx, publicID)
	if err != nil {
		return nil, fmt.Errorf("get comment %s: %w", publicID, err)
	}
	return c, nil
}

// CommentUpdate writes the content and the update time of a comment.
func (t *Tx) CommentUpdate(ctx context.Context, c *store.Comment) error {
	sealed, err := t.s.codec.SealComment(c)
	if err != nil {
		return fmt.Errorf("update comment %s: %w", c.PublicID, err)
	}
	res, err := t.tx.ExecContext(ctx,
		`UPDATE comment SET sealed_content = ?, updated = ? WHERE id = ? AND public_id = ?`,
		sealed, micros(c.Updated), c.ID, c.PublicID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update comment %s: %w", c.PublicID, err)
	}
	return nil
}

// CommentDelete removes a comment by internal id.
func (t *Tx) CommentDelete(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM comment WHERE id = ?`, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete comment %d: %w", id, err)
	}
	return nil
}

// TaskDelete removes a task by internal id; its comments, resolution and
// steps go with it (ON DELETE CASCADE).
func (t *Tx) TaskDelete(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM task WHERE id = ?`, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete task %d: %w", id, err)
	}
	return nil
}

// TaskCountByGroups counts the tasks by template, resolver groups and
// state.
func (s *Store) TaskCountByGroups(ctx context.Context) ([]store.TaskGroupCount, error) {
	rows, err := s.reads.QueryContext(ctx, rowcodec.TaskGroupCountsSQL)
	if err != nil {
		return nil, fmt.Errorf("count tasks by groups: %w", err)
	}
	defer func() { _ = rows.Close() }()
	counts, err := rowcodec.TaskGroupCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("count tasks by groups: %w", err)
	}
	return counts, nil
}

// TaskCountByState counts the tasks in each state, restricted to those
// carrying every pair of tags.
func (s *Store) TaskCountByState(ctx context.Context, tags map[string]string) (map[string]int, error) {
	var (
		where []string
		args  []any
	)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		where = append(where, hasTag)
		args = append(args, k, tags[k])
	}
	query := `SELECT t.state, count(*) FROM task t`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` GROUP BY t.state`

	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("count tasks by state: %w", err)
	}
	defer func() { _ = rows.Close() }()
	counts := map[string]int{}
	for rows.Next() {
		var (
			st string
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count tasks by state: %w", err)
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count tasks by state: %w", err)
	}
	return counts, nil
}
