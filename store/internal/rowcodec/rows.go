package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/utask/utask/store"
)

// Rows is a cursor over the rows of a query: *sql.Rows or pgx.Rows. Closing
// it is left to the caller, whose driver decides how.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Collect reads every row of rows with scan, which scans the current row, and
// returns them in order. It stops at the first error, of scan or of rows.
func Collect[T any](rows Rows, scan func() (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SealedCallback is the sealed columns of a callback, as arguments.
type SealedCallback struct {
	Schema any    // NULL (nil) when the callback has none
	Secret []byte // never NULL
	Body   any    // NULL (nil) until the callback is called
}

// SealCallback seals the schema, the secret and the body of c, each bound to
// its public id.
func (c Codec) SealCallback(cb *store.Callback) (SealedCallback, error) {
	// TODO: the schema, the secret and the body are all bound to the
	// callback's public id alone, so swapping two of them within one row
	// goes unnoticed; binding each to its column as well would close that,
	// at the price of departing from µTask's binding to the public id.
	var (
		out SealedCallback
		err error
	)
	if out.Secret, err = c.Seal([]byte(cb.Secret), cb.PublicID); err != nil {
		return out, fmt.Errorf("seal secret: %w", err)
	}
	if out.Schema, err = c.SealOptional(cb.Schema, cb.PublicID); err != nil {
		return out, fmt.Errorf("seal schema: %w", err)
	}
	if out.Body, err = c.SealCallbackBody(cb); err != nil {
		return out, err
	}
	return out, nil
}

// SealCallbackBody seals the body of cb, the one sealed column an update of a
// callback writes.
func (c Codec) SealCallbackBody(cb *store.Callback) (any, error) {
	body, err := c.SealOptional(cb.Body, cb.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal body: %w", err)
	}
	return body, nil
}

// OpenCallback opens the sealed columns of a callback read into cb (its
// public id set): the secret, and the schema and the body unless NULL (nil).
func (c Codec) OpenCallback(cb *store.Callback, schema, secret, body []byte) error {
	plain, err := c.Open(secret, cb.PublicID)
	if err != nil {
		return fmt.Errorf("open secret of callback %s: %w", cb.PublicID, err)
	}
	cb.Secret = string(plain)
	if schema != nil {
		if cb.Schema, err = c.Open(schema, cb.PublicID); err != nil {
			return fmt.Errorf("open schema of callback %s: %w", cb.PublicID, err)
		}
	}
	if body != nil {
		if cb.Body, err = c.Open(body, cb.PublicID); err != nil {
			return fmt.Errorf("open body of callback %s: %w", cb.PublicID, err)
		}
	}
	return nil
}

// SealComment seals the content of cm bound to its public id.
func (c Codec) SealComment(cm *store.Comment) ([]byte, error) {
	sealed, err := c.Seal([]byte(cm.Content), cm.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal content: %w", err)
	}
	return sealed, nil
}

// OpenComment opens the sealed content of a comment read into cm (its public
// id set).
func (c Codec) OpenComment(cm *store.Comment, sealed []byte) error {
	plain, err := c.Open(sealed, cm.PublicID)
	if err != nil {
		return fmt.Errorf("open content of comment %s: %w", cm.PublicID, err)
	}
	cm.Content = string(plain)
	return nil
}

// SealAudit seals the detail of e bound to its public id.
func (c Codec) SealAudit(e *store.AuditEntry) (any, error) {
	sealed, err := c.SealMap(e.Detail, e.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal detail: %w", err)
	}
	return sealed, nil
}

// OpenAudit opens the sealed detail of an audit entry read into e (its public
// id set).
func (c Codec) OpenAudit(e *store.AuditEntry, sealed []byte) error {
	detail, err := c.OpenMap(sealed, e.PublicID)
	if err != nil {
		return fmt.Errorf("open detail of audit entry %s: %w", e.PublicID, err)
	}
	e.Detail = detail
	return nil
}

// TaskRow is the arguments of the mutable columns of a task, in this order:
// title, requester_username, requester_groups, watcher_usernames,
// watcher_groups, resolver_usernames, resolver_groups, last_activity, state,
// steps_done, steps_total, tags, sealed_input, sealed_result. lastActivity is
// the store's own form of t.LastActivity.
func (c Codec) TaskRow(t *store.Task, lastActivity any) ([]any, error) {
	// TODO: the input and the result are both bound to the task's public id
	// alone, so swapping the two columns of one row goes unnoticed; binding
	// each to its column as well (public id + "/input") would close that,
	// at the price of departing from µTask's binding of every value of a row
	// to its public id.
	input, err := c.SealMap(t.Input, t.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal input: %w", err)
	}
	result, err := c.SealMap(t.Result, t.PublicID)
	if err != nil {
		return nil, fmt.Errorf("seal result: %w", err)
	}
	row := []any{t.Title, t.RequesterUsername}
	for _, l := range [][]string{
		t.RequesterGroups, t.WatcherUsernames, t.WatcherGroups, t.ResolverUsernames, t.ResolverGroups,
	} {
		v, err := List(l)
		if err != nil {
			return nil, err
		}
		row = append(row, v)
	}
	tags, err := Tags(t.Tags)
	if err != nil {
		return nil, err
	}
	return append(row, lastActivity, t.State, t.StepsDone, t.StepsTotal, tags, input, result), nil
}

// TaskJSON is the clear JSON columns of a task as read, nil for NULL.
type TaskJSON struct {
	RequesterGroups, WatcherUsernames, WatcherGroups []byte
	ResolverUsernames, ResolverGroups, Tags          []byte
}

// DecodeTask decodes into t (its public id set) the clear JSON columns cols
// and opens its sealed input and result, which are NULL (nil) when they are
// not set or were not read.
func (c Codec) DecodeTask(t *store.Task, cols TaskJSON, sealedInput, sealedResult []byte) error {
	for _, col := range []struct {
		name string
		text []byte
		dst  any
	}{
		{"requester_groups", cols.RequesterGroups, &t.RequesterGroups},
		{"watcher_usernames", cols.WatcherUsernames, &t.WatcherUsernames},
		{"watcher_groups", cols.WatcherGroups, &t.WatcherGroups},
		{"resolver_usernames", cols.ResolverUsernames, &t.ResolverUsernames},
		{"resolver_groups", cols.ResolverGroups, &t.ResolverGroups},
		{"tags", cols.Tags, &t.Tags},
	} {
		if col.text == nil {
			continue
		}
		if err := json.Unmarshal(col.text, col.dst); err != nil {
			return fmt.Errorf("decode %s of task %s: %w", col.name, t.PublicID, err)
		}
	}
	var err error
	if t.Input, err = c.OpenMap(sealedInput, t.PublicID); err != nil {
		return fmt.Errorf("open input of task %s: %w", t.PublicID, err)
	}
	if t.Result, err = c.OpenMap(sealedResult, t.PublicID); err != nil {
		return fmt.Errorf("open result of task %s: %w", t.PublicID, err)
	}
	return nil
}

// TemplatesInUse reads the rows of the query of Store.TemplatesInUse, each a
// template name and the id of its newest version, into a map by name.
func TemplatesInUse(rows Rows) (map[string]int64, error) {
	out := map[string]int64{}
	for rows.Next() {
		var (
			name string
			id   int64
		)
		if err := rows.Scan(&name, &id); err != nil {
			return nil, err
		}
		out[name] = id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// TaskGroupCountsSQL is the query of Store.TaskCountByGroups, the same for
// both stores.
const TaskGroupCountsSQL = `
	SELECT template_name, resolver_groups, state, count(*) FROM task
	GROUP BY template_name, resolver_groups, state`

// TaskGroupCounts reads the rows of TaskGroupCountsSQL: a template name, a
// JSON list of resolver groups or NULL, a state and a count.
func TaskGroupCounts(rows Rows) ([]store.TaskGroupCount, error) {
	return Collect(rows, func() (store.TaskGroupCount, error) {
		var (
			c      store.TaskGroupCount
			groups *string
			n      int64
		)
		if err := rows.Scan(&c.Template, &groups, &c.State, &n); err != nil {
			return c, err
		}
		c.Count = int(n)
		if groups != nil {
			c.ResolverGroups = []string{}
			if err := json.Unmarshal([]byte(*groups), &c.ResolverGroups); err != nil {
				return c, fmt.Errorf("decode resolver groups: %w", err)
			}
		}
		return c, nil
	})
}
