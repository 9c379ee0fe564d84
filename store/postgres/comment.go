package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// commentSelect reads the columns scanComment expects.
const commentSelect = `SELECT c.id, c.public_id, c.task_id, t.public_id, c.username, c.created, c.updated,
	c.sealed_content FROM comment c JOIN task t ON t.id = c.task_id`

// CommentList returns the comments of a task, oldest first.
func (s *Store) CommentList(ctx context.Context, taskID int64) ([]*store.Comment, error) {
	cs, err := s.commentList(ctx, s.pool, taskID)
	if err != nil {
		return nil, fmt.Errorf("list comments of task %d: %w", taskID, err)
	}
	return cs, nil
}

// CommentGet returns a comment by public id.
func (s *Store) CommentGet(ctx context.Context, publicID string) (*store.Comment, error) {
	c, err := s.commentGet(ctx, s.pool, publicID)
	if err != nil {
		return nil, fmt.Errorf("get comment %s: %w", publicID, err)
	}
	return c, nil
}

// commentList reads the comments of a task in listing order.
func (s *Store) commentList(ctx context.Context, q querier, taskID int64) ([]*store.Comment, error) {
	rows, err := q.Query(ctx, commentSelect+` WHERE c.task_id = $1 ORDER BY c.created, c.id`, taskID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rowcodec.Collect(rows, func() (*store.Comment, error) { return s.scanComment(rows) })
}

// commentGet reads one comment by public id.
func (s *Store) commentGet(ctx context.Context, q querier, publicID string) (*store.Comment, error) {
	c, err := s.scanComment(q.QueryRow(ctx, commentSelect+` WHERE c.public_id = $1`, publicID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// scanComment reads a row of commentSelect and opens its content.
func (s *Store) scanComment(row pgx.Row) (*store.Comment, error) {
	var (
		c      store.Comment
		sealed []byte
	)
	if err := row.Scan(&c.ID, &c.PublicID, &c.TaskID, &c.TaskPublicID, &c.Username,
		&c.Created, &c.Updated, &sealed); err != nil {
		return nil, err
	}
	c.Created, c.Updated = c.Created.UTC(), c.Updated.UTC()
	if err := s.codec.OpenComment(&c, sealed); err != nil {
		return nil, err
	}
	return &c, nil
}

// The insert takes its task from the task row and does nothing on a taken
// public id, so that neither a missing task nor a conflict aborts the
// transaction.
const commentInsertSQL = `
	INSERT INTO comment (public_id, task_id, username, created, updated, sealed_content)
	SELECT $1, t.id, $3, $4, $5, $6 FROM task t WHERE t.id = $2
	ON CONFLICT DO NOTHING
	RETURNING id`

// CommentInsert inserts a comment and sets its ID.
func (t *Tx) CommentInsert(ctx context.Context, c *store.Comment) error {
	if err := t.commentInsert(ctx, c); err != nil {
		return fmt.Errorf("insert comment %s: %w", c.PublicID, err)
	}
	return nil
}

func (t *Tx) commentInsert(ctx context.Context, c *store.Comment) error {
	sealed, err := t.s.codec.SealComment(c)
	if err != nil {
		return err
	}
	err = t.p.QueryRow(ctx, commentInsertSQL,
		c.PublicID, c.TaskID, c.Username, ts(c.Created), ts(c.Updated), sealed).Scan(&c.ID)
	if !errors.Is(err, pgx.ErrNoRows) {
		return insertError(err, "task", c.TaskID)
	}
	return noRowInserted(ctx, t.p, fmt.Sprintf("task %d", c.TaskID),
		`SELECT EXISTS (SELECT 1 FROM task WHERE id = $1)`, c.TaskID)
}

// CommentList returns the comments of a task as this transaction sees them.
func (t *Tx) CommentList(ctx context.Context, taskID int64) ([]*store.Comment, error) {
	cs, err := t.s.commentList(ctx, t.p, taskID)
	if err != nil {
		return nil, fmt.Errorf("list comments of task %d: %w", taskID, err)
	}
	return cs, nil
}

// CommentGet returns a comment by public id as this transaction sees it.
func (t *Tx) CommentGet(ctx context.Context, publicID string) (*store.Comment, error) {
	c, err := t.s.commentGet(ctx, t.p, publicID)
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
	tag, err := t.p.Exec(ctx,
		`UPDATE comment SET sealed_content = $1, updated = $2 WHERE id = $3 AND public_id = $4`,
		sealed, ts(c.Updated), c.ID, c.PublicID)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("update comment %s: %w", c.PublicID, err)
	}
	return nil
}

// CommentDelete removes a comment by internal id.
func (t *Tx) CommentDelete(ctx context.Context, id int64) error {
	tag, err := t.p.Exec(ctx, `DELETE FROM comment WHERE id = $1`, id)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("delete comment %d: %w", id, err)
	}
	return nil
}

// TaskDelete removes a task by internal id; its comments, resolution and
// steps go with it (ON DELETE CASCADE).
func (t *Tx) TaskDelete(ctx context.Context, id int64) error {
	tag, err := t.p.Exec(ctx, `DELETE FROM task WHERE id = $1`, id)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("delete task %d: %w", id, err)
	}
	return nil
}

// TaskCountByGroups counts the tasks by template, resolver groups and
// state.
func (s *Store) TaskCountByGroups(ctx context.Context) ([]store.TaskGroupCount, error) {
	rows, err := s.pool.Query(ctx, rowcodec.TaskGroupCountsSQL)
	if err != nil {
		return nil, fmt.Errorf("count tasks by groups: %w", err)
	}
	defer rows.Close()
	counts, err := rowcodec.TaskGroupCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("count tasks by groups: %w", err)
	}
	return counts, nil
}

// TaskCountByState counts the tasks in each state, restricted to those
// carrying every pair of tags.
func (s *Store) TaskCountByState(ctx context.Context, tags map[string]string) (map[string]int, error) {
	var b condBuilder
	query := `SELECT t.state, count(*) FROM task t`
	if len(tags) > 0 {
		v, err := rowcodec.Tags(tags)
		if err != nil {
			return nil, fmt.Errorf("count tasks by state: %w", err)
		}
		query += ` WHERE ` + b.cond(hasTags, v)
	}
	query += ` GROUP BY t.state`

	rows, err := s.pool.Query(ctx, query, b.args...)
	if err != nil {
		return nil, fmt.Errorf("count tasks by state: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count tasks by state: %w", err)
		}
		counts[st] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count tasks by state: %w", err)
	}
	return counts, nil
}
