package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
)

// callbackSelect reads the columns scanCallback expects.
const callbackSelect = `SELECT c.id, c.public_id, c.task_id, t.public_id, c.resolution_id, r.public_id,
	c.created, c.updated, c.called, c.resolver_username, c.sealed_schema, c.sealed_secret, c.sealed_body
	FROM callback c JOIN task t ON t.id = c.task_id JOIN resolution r ON r.id = c.resolution_id`

// CallbackGet returns a callback by public id.
func (s *Store) CallbackGet(ctx context.Context, publicID string) (*store.Callback, error) {
	c, err := s.callbackGet(ctx, s.pool, publicID)
	if err != nil {
		return nil, fmt.Errorf("get callback %s: %w", publicID, err)
	}
	return c, nil
}

// callbackGet reads one callback by public id (and suffix: a locking
// clause, say).
func (s *Store) callbackGet(ctx context.Context, q querier, publicID string, suffix ...string) (*store.Callback, error) {
	query := callbackSelect + ` WHERE c.public_id = $1`
	for _, sfx := range suffix {
		query += ` ` + sfx
	}
	c, err := s.scanCallback(q.QueryRow(ctx, query, publicID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// scanCallback reads a row of callbackSelect and opens its sealed values.
func (s *Store) scanCallback(row pgx.Row) (*store.Callback, error) {
	var (
		c                    store.Callback
		schema, secret, body []byte
	)
	if err := row.Scan(&c.ID, &c.PublicID, &c.TaskID, &c.TaskPublicID, &c.ResolutionID, &c.ResolutionPublicID,
		&c.Created, &c.Updated, &c.Called, &c.ResolverUsername, &schema, &secret, &body); err != nil {
		return nil, err
	}
	c.Created, c.Updated, c.Called = c.Created.UTC(), c.Updated.UTC(), utc(c.Called)
	if err := s.codec.OpenCallback(&c, schema, secret, body); err != nil {
		return nil, err
	}
	return &c, nil
}

// The insert takes its task and resolution from their rows and does nothing
// on a taken public id, so that neither a missing row nor a conflict aborts
// the transaction.
const callbackInsertSQL = `
	INSERT INTO callback (public_id, task_id, resolution_id, created, updated, called,
	    resolver_username, sealed_schema, sealed_secret, sealed_body)
	SELECT $1, t.id, r.id, $4, $5, $6, $7, $8, $9, $10
	FROM task t JOIN resolution r ON r.id = $3 WHERE t.id = $2
	ON CONFLICT DO NOTHING
	RETURNING id`

// CallbackInsert inserts a callback and sets its ID.
func (t *Tx) CallbackInsert(ctx context.Context, c *store.Callback) error {
	if err := t.callbackInsert(ctx, c); err != nil {
		return fmt.Errorf("insert callback %s: %w", c.PublicID, err)
	}
	return nil
}

func (t *Tx) callbackInsert(ctx context.Context, c *store.Callback) error {
	sealed, err := t.s.codec.SealCallback(c)
	if err != nil {
		return err
	}
	err = t.p.QueryRow(ctx, callbackInsertSQL,
		c.PublicID, c.TaskID, c.ResolutionID, ts(c.Created), ts(c.Updated), optTS(c.Called),
		c.ResolverUsername, sealed.Schema, sealed.Secret, sealed.Body).Scan(&c.ID)
	if !errors.Is(err, pgx.ErrNoRows) {
		return insertError(err, "task", c.TaskID)
	}
	return noRowInserted(ctx, t.p, fmt.Sprintf("task %d or resolution %d", c.TaskID, c.ResolutionID),
		`SELECT EXISTS (SELECT 1 FROM task WHERE id = $1) AND EXISTS (SELECT 1 FROM resolution WHERE id = $2)`,
		c.TaskID, c.ResolutionID)
}

// CallbackLock reads a callback by public id and locks its row, FOR NO KEY
// UPDATE as TaskLock does.
func (t *Tx) CallbackLock(ctx context.Context, publicID string) (*store.Callback, error) {
	c, err := t.s.callbackGet(ctx, t.p, publicID, `FOR NO KEY UPDATE OF c`)
	if err != nil {
		return nil, fmt.Errorf("lock callback %s: %w", publicID, err)
	}
	return c, nil
}

// CallbackUpdate writes the update time, the call time and the body of a
// callback.
func (t *Tx) CallbackUpdate(ctx context.Context, c *store.Callback) error {
	body, err := t.s.codec.SealCallbackBody(c)
	if err != nil {
		return fmt.Errorf("update callback %s: %w", c.PublicID, err)
	}
	tag, err := t.p.Exec(ctx,
		`UPDATE callback SET updated = $1, called = $2, sealed_body = $3 WHERE id = $4 AND public_id = $5`,
		ts(c.Updated), optTS(c.Called), body, c.ID, c.PublicID)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("update callback %s: %w", c.PublicID, err)
	}
	return nil
}
