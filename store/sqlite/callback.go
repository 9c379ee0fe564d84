package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/utask/utask/store"
)

// callbackSelect reads the columns scanCallback expects.
const callbackSelect = `SELECT c.id, c.public_id, c.task_id, t.public_id, c.resolution_id, r.public_id,
	c.created, c.updated, c.called, c.resolver_username, c.sealed_schema, c.sealed_secret, c.sealed_body
	FROM callback c JOIN task t ON t.id = c.task_id JOIN resolution r ON r.id = c.resolution_id`

// CallbackGet returns a callback by public id.
func (s *Store) CallbackGet(ctx context.Context, publicID string) (*store.Callback, error) {
	c, err := s.callbackGet(ctx, s.reads, publicID)
	if err != nil {
		return nil, fmt.Errorf("get callback %s: %w", publicID, err)
	}
	return c, nil
}

// callbackGet reads one callback by public id.
func (s *Store) callbackGet(ctx context.Context, q querier, publicID string) (*store.Callback, error) {
	c, err := s.scanCallback(q.QueryRowContext(ctx, callbackSelect+` WHERE c.public_id = ?`, publicID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// scanCallback reads a row of callbackSelect and opens its sealed values.
func (s *Store) scanCallback(row scanner) (*store.Callback, error) {
	var (
		c                    store.Callback
		created, updated     int64
		called               sql.NullInt64
		schema, secret, body []byte
	)
	if err := row.Scan(&c.ID, &c.PublicID, &c.TaskID, &c.TaskPublicID, &c.ResolutionID, &c.ResolutionPublicID,
		&created, &updated, &called, &c.ResolverUsername, &schema, &secret, &body); err != nil {
		return nil, err
	}
	c.Created, c.Updated, c.Called = fromMicros(created), fromMicros(updated), fromOptMicros(called)
	if err := s.codec.OpenCallback(&c, schema, secret, body); err != nil {
		return nil, err
	}
	return &c, nil
}

// CallbackInsert inserts a callback and sets its ID.
func (t *Tx) CallbackInsert(ctx context.Context, c *store.Callback) error {
	sealed, err := t.s.codec.SealCallback(c)
	if err != nil {
		return fmt.Errorf("insert callback %s: %w", c.PublicID, err)
	}
	err = t.tx.QueryRowContext(ctx, `
		INSERT INTO callback (public_id, task_id, resolution_id, created, updated, called,
		    resolver_username, sealed_schema, sealed_secret, sealed_body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		c.PublicID, c.TaskID, c.ResolutionID, micros(c.Created), micros(c.Updated), optMicros(c.Called),
		c.ResolverUsername, sealed.Schema, sealed.Secret, sealed.Body).Scan(&c.ID)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("insert callback %s: task %d or resolution %d: %w",
			c.PublicID, c.TaskID, c.ResolutionID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("insert callback %s: %w", c.PublicID, conflict(err))
	}
	return nil
}

// CallbackLock reads a callback by public id; the transaction already holds
// the database's write lock.
func (t *Tx) CallbackLock(ctx context.Context, publicID string) (*store.Callback, error) {
	c, err := t.s.callbackGet(ctx, t.tx, publicID)
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
	res, err := t.tx.ExecContext(ctx,
		`UPDATE callback SET updated = ?, called = ?, sealed_body = ? WHERE id = ? AND public_id = ?`,
		micros(c.Updated), optMicros(c.Called), body, c.ID, c.PublicID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update callback %s: %w", c.PublicID, err)
	}
	return nil
}
