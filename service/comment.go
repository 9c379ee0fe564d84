package service

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// Texts of the comments the service writes when a user acts on a task or a
// resolution.
const (
	commentRan       = "manually ran resolution"
	commentPaused    = "manually paused resolution"
	commentExtended  = "manually extended resolution"
	commentCancelled = "cancelled resolution"
	commentWontfix   = "changed task state to WONTFIX"
)

// Comment is the API view of a comment.
type Comment struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Content  string    `json:"content"`
}

// CommentRequest is the body of POST and PUT /task/{id}/comment….
type CommentRequest struct {
	Content string `json:"content"`
}

// commentView returns the view of c.
func commentView(c *store.Comment) *Comment {
	return &Comment{ID: c.PublicID, Username: c.Username, Created: c.Created, Updated: c.Updated, Content: c.Content}
}

// commentViews returns the views of cs, never nil.
func commentViews(cs []*store.Comment) []*Comment {
	out := make([]*Comment, 0, len(cs))
	for _, c := range cs {
		out = append(out, commentView(c))
	}

	return out
}

// checkContent validates the content of a comment: MinCommentLength to
// MaxCommentLength characters.
func checkContent(c string) *Error {
	n := utf8.RuneCountInString(c)
	if n < MinCommentLength {
		return Errorf(KindBadRequest, "Failed to create comment: task comment can't be shorter than %d characters",
			MinCommentLength)
	}

	if n > MaxCommentLength {
		return Errorf(KindBadRequest, "Failed to create comment: task comment can't be longer than %d characters",
			MaxCommentLength)
	}

	return nil
}

// newComment returns a comment of task t by username, written now.
func (s *Service) newComment(t *store.Task, username, content string) *store.Comment {
	now := s.now()

	return &store.Comment{
		PublicID:     s.cfg.NewID(),
		TaskID:       t.ID,
		TaskPublicID: t.PublicID,
		Username:     username,
		Created:      now,
		Updated:      now,
		Content:      content,
	}
}

// insertComment writes, in tx, a comment of task t by id.
func (s *Service) insertComment(ctx context.Context, tx store.Tx, t *store.Task, id auth.Identity, content string) (
	*store.Comment, error,
) {
	c := s.newComment(t, id.Username, content)
	if err := tx.CommentInsert(ctx, c); err != nil {
		return nil, storeError("Failed to create comment", err)
	}

	return c, nil
}

// writeComment writes, in a transaction of its own, a comment of task t by
// id.
func (s *Service) writeComment(ctx context.Context, t *store.Task, id auth.Identity, content string) error {
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	if _, err := s.insertComment(ctx, tx, t, id, content); err != nil {
		return err
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit comment", err)
	}

	return nil
}

// canSeeTask reports whether id may read task t of template tt and its
// comments: an administrator, its requester, a watcher or a resolution
// manager (the resolution's resolver included).
func (s *Service) canSeeTask(id auth.Identity, tt *template.Template, t *store.Task) bool {
	return s.cfg.Policy.IsAdmin(id) || auth.IsRequester(id, t) || auth.IsWatcher(id, t) ||
		auth.IsResolutionManager(id, tt, t, t.ResolverUsername)
}

// loadVisibleTask returns a task and fails with forbidden (message
// denied) when id may not read it.
func (s *Service) loadVisibleTask(ctx context.Context, id auth.Identity, taskID, denied string) (*store.Task, error) {
	t, err := s.loadTask(ctx, taskID)
	if err != nil {
		return nil, err
	}

	tt, err := s.currentTemplate(ctx, s.cfg.Store, t)
	if err != nil {
		return nil, err
	}

	if !s.canSeeTask(id, tt, t) {
		return nil, Errorf(KindForbidden, "%s", denied)
	}

	return t, nil
}

// CreateComment adds a comment by the caller to a task the caller may read.
func (s *Service) CreateComment(ctx context.Context, id auth.Identity, taskID string, req CommentRequest) (
	*Comment, error,
) {
	t, err := s.loadVisibleTask(ctx, id, taskID, "Can't create comment")
	if err != nil {
		return nil, err
	}

	if err := checkContent(req.Content); err != nil {
		return nil, err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	c, err := s.insertComment(ctx, tx, t, id, req.Content)
	if err != nil {
		return nil, err
	}

	if err := s.audit(ctx, tx, id, OpAddComment, t, "", map[string]any{"comment_id": c.PublicID}); err != nil {
		return nil, err
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(KindInternal, "commit comment", err)
	}

	return commentView(c), nil
}

// ListComments returns the comments of a task the caller may read, oldest
// first.
func (s *Service) ListComments(ctx context.Context, id auth.Identity, taskID string) ([]*Comment, error) {
	t, err := s.loadVisibleTask(ctx, id, taskID, "Can't list comment")
	if err != nil {
		return nil, err
	}

	cs, err := s.cfg.Store.CommentList(ctx, t.ID)
	if err != nil {
		return nil, storeError("Failed to list comments", err)
	}

	return commentViews(cs), nil
}

// GetComment returns a comment of a task the caller may read. Unlike µTask,
// it refuses a comment of another task than the one in the path: reading a
// task must not open the comments of every other.
func (s *Service) GetComment(ctx context.Context, id auth.Identity, taskID, commentID string) (*Comment, error) {
	t, err := s.loadVisibleTask(ctx, id, taskID, "Can't get comment")
	if err != nil {
		return nil, err
	}

	c, err := s.loadComment(ctx, commentID)
	if err != nil {
		return nil, err
	}

	if c.TaskID != t.ID {
		return nil, errCommentMismatch()
	}

	return commentView(c), nil
}

// UpdateComment replaces the content of a comment, for its author or an
// administrator.
func (s *Service) UpdateComment(ctx context.Context, id auth.Identity, taskID, commentID string, req CommentRequest) (
	*Comment, error,
) {
	var out *Comment

	err := s.changeComment(ctx, id, taskID, commentID, "Not allowed to update comment",
		func(tx store.Tx, c *store.Comment) error {
			if err := checkContent(req.Content); err != nil {
				return err
			}

			c.Content = req.Content
			c.Updated = s.now()

			if err := tx.CommentUpdate(ctx, c); err != nil {
				return storeError("Failed to update comment", err)
			}

			if err := s.auditComment(ctx, tx, id, OpEditComment, c); err != nil {
				return err
			}

			out = commentView(c)

			return nil
		})
	if err != nil {
		return nil, err
	}

	return out, nil
}

// DeleteComment removes a comment, for its author or an administrator.
func (s *Service) DeleteComment(ctx context.Context, id auth.Identity, taskID, commentID string) error {
	return s.changeComment(ctx, id, taskID, commentID, "Not allowed to delete comment",
		func(tx store.Tx, c *store.Comment) error {
			if err := tx.CommentDelete(ctx, c.ID); err != nil {
				return storeError("Failed to delete comment", err)
			}

			if err := s.auditComment(ctx, tx, id, OpDeleteComment, c); err != nil {
				return err
			}

			return nil
		})
}

// changeComment loads a task and one of its comments in a transaction,
// checks that the caller wrote the comment or is an administrator (else
// forbidden with message denied), lets change write, and commits.
func (s *Service) changeComment(ctx context.Context, id auth.Identity, taskID, commentID, denied string,
	change func(tx store.Tx, c *store.Comment) error,
) error {
	t, err := s.loadTask(ctx, taskID)
	if err != nil {
		return err
	}

	if err := checkPublicID("comment", commentID); err != nil {
		return err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	c, err := tx.CommentGet(ctx, commentID)
	if err != nil {
		return storeError("Failed to load comment from public id", err)
	}

	if !s.cfg.Policy.IsAdmin(id) && id.Username != c.Username {
		return Errorf(KindForbidden, "%s", denied)
	}

	if c.TaskID != t.ID {
		return errCommentMismatch()
	}

	if err := change(tx, c); err != nil {
		return err
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit comment", err)
	}

	return nil
}

// loadComment returns a comment by public id.
func (s *Service) loadComment(ctx context.Context, publicID string) (*store.Comment, error) {
	if err := checkPublicID("comment", publicID); err != nil {
		return nil, err
	}

	c, err := s.cfg.Store.CommentGet(ctx, publicID)
	if err != nil {
		return nil, storeError("Failed to load comment from public id", err)
	}

	return c, nil
}

// errCommentMismatch is the refusal of a comment named under another task.
func errCommentMismatch() *Error {
	return Errorf(KindBadRequest, "Comment and task don't match")
}

// IsAdmin reports whether id is an administrator.
func (s *Service) IsAdmin(id auth.Identity) bool {
	return s.cfg.Policy.IsAdmin(id)
}

// DeleteTask removes a task with its comments and its resolution, for an
// administrator (unauthorized otherwise). A task that is RUNNING or BLOCKED
// cannot be deleted.
func (s *Service) DeleteTask(ctx context.Context, id auth.Identity, taskID string) error {
	if !s.cfg.Policy.IsAdmin(id) {
		return Errorf(KindUnauthorized, "unauthorized")
	}

	found, err := s.loadTask(ctx, taskID)
	if err != nil {
		return err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	// The deletion removes the resolution too: lock it first.
	t, _, err := lockTask(ctx, tx, found)
	if err != nil {
		return err
	}

	if t.State == state.TaskRunning || t.State == state.TaskBlocked {
		return Errorf(KindBadRequest, "Task can't be deleted while in state %q", t.State)
	}

	if err := tx.TaskDelete(ctx, t.ID); err != nil {
		return storeError("Failed to delete task", err)
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit task deletion", err)
	}

	// A deleted subtask or batch task will never end: its parent must not
	// wait for it.
	s.wakeParent(ctx, t)

	return nil
}

// Stats is the body of GET /unsecured/stats: the number of tasks in each
// state.
type Stats struct {
	TaskStates map[string]int `json:"task_states"`
}

// statsStates are the states Stats always reports, with 0 when no task is
// in them.
//
//nolint:gochecknoglobals // immutable lookup table
var statsStates = []string{
	state.TaskTodo, state.TaskBlocked, state.TaskRunning, state.TaskWontfix, state.TaskDone, state.TaskCancelled,
}

// Stats counts the tasks by state, only those carrying every tag of tags
// ("key=value" pairs, validated as in ListTasks) when there are any. It
// needs no identity: the route is unauthenticated.
func (s *Service) Stats(ctx context.Context, tags []string) (*Stats, error) {
	filter, err := parseTags(tags)
	if err != nil {
		return nil, err
	}

	counts, err := s.cfg.Store.TaskCountByState(ctx, filter)
	if err != nil {
		return nil, storeError("Failed to count tasks", err)
	}

	for _, st := range statsStates {
		if _, ok := counts[st]; !ok {
			counts[st] = 0
		}
	}

	return &Stats{TaskStates: counts}, nil
}
