package service

import (
	"context"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// ParentTaskTag is the tag the subtask and batch actions put on the tasks
// they create; API callers may not set it.
const ParentTaskTag = "_utask_parent_task_id"

// Comment lengths, in characters.
const (
	MinCommentLength = 3
	MaxCommentLength = 100000
)

// CreateTaskRequest is the body of POST /task.
type CreateTaskRequest struct {
	TemplateName      string            `json:"template_name"`
	Input             map[string]any    `json:"input"`
	Comment           string            `json:"comment"`
	WatcherUsernames  []string          `json:"watcher_usernames"`
	WatcherGroups     []string          `json:"watcher_groups"`
	ResolverUsernames []string          `json:"resolver_usernames"`
	ResolverGroups    []string          `json:"resolver_groups"`
	Delay             string            `json:"delay"`
	Tags              map[string]string `json:"tags"`
}

// CreateTask creates a task of a template for the caller, and when the
// template is auto-runnable and the caller may resolve it, its resolution,
// already claimed by this instance and launched at once (or, with a delay,
// left for the engine to start when the delay has passed).
//
// The stored input holds the defaults of the inputs the caller left out, and
// the title is rendered from those same inputs, so that the task reads the
// same at creation and after its first execution cycle.
func (s *Service) CreateTask(ctx context.Context, id auth.Identity, req CreateTaskRequest) (*Task, error) {
	if req.TemplateName == "" {
		return nil, Errorf(KindBadRequest, "template_name: required")
	}

	if _, ok := req.Tags[ParentTaskTag]; ok {
		return nil, Errorf(KindBadRequest, "tag name %q not allowed", ParentTaskTag)
	}

	return s.createTask(ctx, id, req, "", false)
}

// createTaskAs creates a subtask of parent: its resolvers come from the
// parent's template, not from the caller.
func (s *Service) createTaskAs(ctx context.Context, id auth.Identity, req CreateTaskRequest, parent string) (*Task, error) {
	return s.createTask(ctx, id, req, parent, true)
}

// createTask creates a task; parent, when set, is the public id of the task
// it is a subtask of. trusted skips the check that only owners and admins
// set resolvers.
func (s *Service) createTask(ctx context.Context, id auth.Identity, req CreateTaskRequest, parent string, trusted bool) (*Task, error) {
	nt, err := s.prepareTask(id, req, parent, trusted)
	if err != nil {
		return nil, err
	}

	return s.storeNewTask(ctx, id, nt, req.Comment)
}

// newTask is a task ready to be stored, with its resolution when it runs
// without a human (nil otherwise).
type newTask struct {
	task *store.Task
	res  *store.Resolution
}

// prepareTask validates a task creation request and builds the task and, by
// the auto-run rules, its resolution, without storing anything.
func (s *Service) prepareTask(id auth.Identity, req CreateTaskRequest, parent string, trusted bool) (*newTask, error) {
	tt, version, ok := s.cfg.Templates.Get(req.TemplateName)
	if !ok {
		return nil, Errorf(KindNotFound, "template not found: %s", req.TemplateName)
	}

	admin := s.cfg.Policy.IsAdmin(id)
	if !trusted && (len(req.ResolverUsernames) > 0 || len(req.ResolverGroups) > 0) && !admin && !auth.IsTemplateOwner(id, tt) {
		return nil, Errorf(KindForbidden, "resolver_usernames and resolver_groups can't be set by a regular user, "+
			"you need to be owner of the template, or admin")
	}

	if tt.Blocked {
		return nil, Errorf(KindBadRequest, "Template not available (blocked)")
	}

	var delay *time.Duration
	if req.Delay != "" {
		d, err := time.ParseDuration(req.Delay)
		if err != nil {
			return nil, wrap(KindBadRequest, "delay", err)
		}

		delay = &d
	}

	input, err := template.ValidateInputs(tt.Inputs, req.Input)
	if err != nil {
		return nil, wrap(KindBadRequest, "Failed to create new Task", err)
	}

	if err := checkComment(req.Comment); err != nil {
		return nil, err
	}

	now := s.now()
	t := &store.Task{
		PublicID:          s.cfg.NewID(),
		TemplateName:      tt.Name,
		TemplateVersion:   version,
		RequesterUsername: id.Username,
		RequesterGroups:   id.Groups,
		WatcherUsernames:  req.WatcherUsernames,
		WatcherGroups:     req.WatcherGroups,
		ResolverUsernames: req.ResolverUsernames,
		ResolverGroups:    req.ResolverGroups,
		Created:           now,
		LastActivity:      now,
		State:             state.TaskTodo,
		StepsTotal:        len(tt.Steps),
		Input:             input,
		Result:            deepCopyMap(tt.ResultFormat),
	}
	if delay != nil {
		t.State = state.TaskDelayed
	}

	if err := s.renderTitleAndTags(t, tt, req.Tags); err != nil {
		return nil, err
	}

	if parent != "" {
		if t.Tags == nil {
			t.Tags = map[string]string{}
		}

		t.Tags[ParentTaskTag] = parent
	}

	var res *store.Resolution
	if tt.IsAutoRunnable() && (admin || tt.AllowAllResolverUsernames || auth.IsResolutionManager(id, tt, t, "")) {
		res = s.autorunResolution(t, tt, now, delay)
	}

	return &newTask{task: t, res: res}, nil
}

// storeNewTask stores a prepared task with its comment (when not empty) and
// resolution, then launches or schedules the resolution.
func (s *Service) storeNewTask(ctx context.Context, id auth.Identity, nt *newTask, commentText string) (*Task, error) {
	t, res := nt.task, nt.res
	// The answer describes the task as it was created, before it started.
	created := *t
	rsv := s.reserveStart(t, res)
	if rsv == nil {
		s.leaveToClaims(res)
	}

	comment, err := s.insertTask(ctx, t, res, id, commentText)
	if err != nil {
		if rsv != nil {
			rsv.Cancel()
		}
		return nil, err
	}

	// TODO: neither the task_state_update nor the task_validation
	// notification is sent, because there is no notifier yet; send them
	// after the commit of insertTask once one exists.

	if rsv != nil {
		// The runner owns what it runs: the tag action changes the tags.
		task, run := *t, *res
		task.Tags = maps.Clone(t.Tags)
		rsv.Start(&task, &run)
	} else {
		s.startResolution(res)
	}

	created.ResolutionPublicID, created.ResolverUsername = t.ResolutionPublicID, t.ResolverUsername
	v := taskView(&created)
	if comment != nil {
		v.Comments = []*Comment{commentView(comment)}
	}

	return v, nil
}

// reserveStart reserves, when the runner can, the cycle of the new
// resolution res that this instance claims, and makes res and its task t
// RUNNING, so that the transaction that stores them starts the cycle too.
// It returns nil, changing nothing, when res is not claimed at once or no
// cycle can be reserved.
func (s *Service) reserveStart(t *store.Task, res *store.Resolution) Reservation {
	starter, ok := s.cfg.Runner.(Starter)
	if !ok || res == nil || res.State != state.ResAutorunning {
		return nil
	}

	rsv, ok := starter.Reserve(res.PublicID)
	if !ok {
		return nil
	}

	now := s.now()
	res.State = state.ResRunning
	res.LastStart = &now
	res.RunCount = 1
	t.State = state.TaskRunning
	t.LastActivity = now

	return rsv
}

// leaveToClaims makes a new resolution that this instance would run, but
// cannot start at once, runnable by any instance (TO_AUTORUN, held by
// none): the first with a free execution slot claims it, rather than it
// waiting here for one of this instance's. Only a runner that reserves
// cycles (the engine) claims work this way; with any other, res is kept.
func (s *Service) leaveToClaims(res *store.Resolution) {
	if _, ok := s.cfg.Runner.(Starter); !ok || res == nil || res.State != state.ResAutorunning {
		return
	}
	res.State = state.ResToAutorun
	res.InstanceID = nil
}

// startResolution starts the new resolution res, claimed by this instance,
// or tells the engine of it when it is left to claims (delayed, or waiting
// for a free slot); nil does nothing.
func (s *Service) startResolution(res *store.Resolution) {
	switch {
	case res == nil:
	case res.State == state.ResAutorunning:
		s.cfg.Runner.Launch(res.PublicID)
	default:
		s.cfg.Runner.Wake()
	}
}

// checkComment validates the optional comment of a new task.
func checkComment(c string) *Error {
	if c == "" {
		return nil
	}

	return checkContent(c)
}

// renderTitleAndTags sets the title and the tags of the new task t: the
// title_format of tt, and tt's tags overridden by the request's, every value
// rendered against the task's inputs, the template variables and .task.
func (s *Service) renderTitleAndTags(t *store.Task, tt *template.Template, reqTags map[string]string) error {
	// Titles and tags see the inputs, the variables and the task, never the
	// configuration items: a title or a tag is readable by every watcher.
	v := s.cfg.Values()
	v.SetConfig(map[string]any{})
	v.SetInput(t.Input)
	v.SetVariables(templateVariables(tt.Variables))
	v.SetTask(t.TemplateValues(s.cfg.Region))

	title, err := v.Render(tt.TitleFormat, values.Scope{})
	if err != nil {
		return wrap(KindBadRequest, "Failed to create new Task", err)
	}

	t.Title = title

	if len(tt.Tags) == 0 && len(reqTags) == 0 {
		return nil
	}

	keys := make([]string, 0, len(tt.Tags))
	for k := range tt.Tags {
		keys = append(keys, k)
	}

	sort.Strings(keys) // the first failing tag is the same at every call

	// The template's tags are templates; the request's are taken as they
	// are: a caller must not run templates on the server (µTask renders
	// them, which lets any caller read the configuration items or make the
	// server build huge strings).
	t.Tags = make(map[string]string, len(tt.Tags)+len(reqTags))
	for _, k := range keys {
		rendered, err := v.Render(tt.Tags[k], values.Scope{})
		if err != nil {
			return wrap(KindBadRequest, "failed to template", err)
		}

		t.Tags[k] = rendered
	}

	maps.Copy(t.Tags, reqTags)

	return nil
}

// autorunResolution returns the resolution of a task that runs without a
// human: claimed by this instance when it starts now, left for the engine
// with a wake-up time when it is delayed.
func (s *Service) autorunResolution(t *store.Task, tt *template.Template, now time.Time,
	delay *time.Duration,
) *store.Resolution {
	r := &store.Resolution{
		PublicID:         s.cfg.NewID(),
		TaskPublicID:     t.PublicID,
		ResolverUsername: t.RequesterUsername,
		Created:          now,
		RunMax:           tt.EffectiveRetryMax(),
	}

	if delay != nil {
		next := now.Add(*delay)
		r.State = state.ResToAutorunDelayed
		r.NextRetry = &next

		return r
	}

	instance := s.cfg.Runner.InstanceID()
	r.State = state.ResAutorunning
	r.InstanceID = &instance

	return r
}

// insertTask stores t, the comment of id when comment is not empty, and,
// when res is not nil, its resolution, in one transaction. It returns the
// comment it stored, if any.
func (s *Service) insertTask(ctx context.Context, t *store.Task, res *store.Resolution, id auth.Identity,
	comment string,
) (*store.Comment, error) {
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	c, err := s.insertTaskTx(ctx, tx, t, res, id, comment, OpCreateTask)
	if err != nil {
		return nil, err
	}

	if err := tx.Commit(ctx); err != nil {
		// A store may report a refused insert of the task at commit.
		return nil, storeError("Failed to create new Task", err)
	}

	if res != nil {
		t.ResolutionPublicID = res.PublicID
		t.ResolverUsername = res.ResolverUsername
	}

	return c, nil
}

// insertTaskTx is insertTask within tx, which the caller commits; op is the
// operation its audit entry records. The IDs of t and res may be set only
// by the commit.
func (s *Service) insertTaskTx(ctx context.Context, tx store.Tx, t *store.Task, res *store.Resolution,
	id auth.Identity, comment, op string,
) (*store.Comment, error) {
	if comment == "" {
		// The common case, in one call that a store may send with the
		// commit; the IDs are set by the commit at the latest.
		e := s.auditEntry(id, op, t, resolutionIDOf(res), createTaskDetail(t, nil))
		if err := tx.TaskCreate(ctx, t, res, e); err != nil {
			return nil, storeError("Failed to create new Task", err)
		}

		return nil, nil
	}

	if err := tx.TaskInsert(ctx, t); err != nil {
		return nil, storeError("Failed to create new Task", err)
	}

	var (
		c   *store.Comment
		err error
	)
	if comment != "" {
		if c, err = s.insertComment(ctx, tx, t, id, comment); err != nil {
			return nil, err
		}
	}

	if res != nil {
		res.TaskID = t.ID
		if err := tx.ResolutionInsert(ctx, res); err != nil {
			return nil, storeError("Failed to create Resolution", err)
		}
	}

	if err := s.audit(ctx, tx, id, op, t, resolutionIDOf(res), createTaskDetail(t, c)); err != nil {
		return nil, err
	}

	return c, nil
}

// GetTask returns a task to its administrators, requester, watchers and
// resolution managers. Password inputs are masked for everyone but the
// administrators.
func (s *Service) GetTask(ctx context.Context, id auth.Identity, publicID string) (*Task, error) {
	t, err := s.loadTask(ctx, publicID)
	if err != nil {
		return nil, err
	}

	tt, err := s.currentTemplate(ctx, s.cfg.Store, t)
	if err != nil {
		return nil, err
	}

	admin := s.cfg.Policy.IsAdmin(id)
	if !s.canSeeTask(id, tt, t) {
		return nil, Errorf(KindForbidden, "Can't display task details")
	}

	var comments []*store.Comment
	if t.HasComments {
		// Most tasks have none: GET /task/{id}, which clients poll, then
		// costs one query.
		comments, err = s.cfg.Store.CommentList(ctx, t.ID)
		if err != nil {
			return nil, storeError("Failed to list comments", err)
		}
	}

	v := taskView(t)
	v.ResolverInputs = tt.ResolverInputs
	if len(comments) > 0 {
		v.Comments = commentViews(comments)
	}

	if !admin {
		v.Input = maskPasswords(tt.Inputs, t.Input)
	}

	if t.State == state.TaskBlocked && t.ResolutionPublicID != "" {
		v.Errors, err = s.stepErrors(ctx, t.ResolutionPublicID)
		if err != nil {
			return nil, err
		}
	}

	return v, nil
}

// stepErrors lists the steps of a resolution that are in CLIENT_ERROR, by
// step name.
func (s *Service) stepErrors(ctx context.Context, resolutionPublicID string) ([]StepError, error) {
	r, err := s.cfg.Store.ResolutionGet(ctx, resolutionPublicID)
	if err != nil {
		return nil, storeError("Failed to load resolution from public id", err)
	}

	steps, err := s.cfg.Runner.Steps(ctx, r)
	if err != nil {
		return nil, wrap(KindInternal, "load steps", err)
	}

	names := make([]string, 0, len(steps))
	for name, st := range steps {
		if st != nil && st.State == state.ClientError {
			names = append(names, name)
		}
	}

	sort.Strings(names)

	out := make([]StepError, 0, len(names))
	for _, name := range names {
		out = append(out, StepError{Step: steps[name].Description, Error: steps[name].Error})
	}

	return out, nil
}

// Listing types of GET /task.
const (
	ListOwn        = "own"
	ListResolvable = "resolvable"
	ListAll        = "all"
)

// ListTasksRequest is the query of GET /task.
type ListTasksRequest struct {
	// Type is ListOwn (default), ListResolvable or ListAll.
	Type     string
	State    string
	Template string
	// Batch is the public id of a batch.
	Batch string
	// Tags are "key=value" pairs that must all match.
	Tags   []string
	Before *time.Time
	After  *time.Time
	// PageSize is normalised: 0 means 1000, and the size is kept within
	// 10..10000.
	PageSize uint64
	// Last is the public id of the last task of the previous page.
	Last string
}

// ListTasks returns a page of the tasks the caller may see, newest activity
// first. Type own lists the tasks the caller requested or watches by name;
// resolvable those they may resolve; all both, plus those watched by one of
// their groups, or every task for an administrator.
func (s *Service) ListTasks(ctx context.Context, id auth.Identity, req ListTasksRequest) (*TaskPage, error) {
	f := store.TaskFilter{
		Username:     id.Username,
		Groups:       id.Groups,
		State:        req.State,
		TemplateName: req.Template,
		Before:       req.Before,
		After:        req.After,
		Limit:        normalisePageSize(req.PageSize),
	}

	switch req.Type {
	case "", ListOwn:
		f.Visibility = store.VisibleOwn
	case ListResolvable:
		f.Visibility = store.VisibleResolvable
	case ListAll:
		f.Visibility = store.VisibleRelated
		if s.cfg.Policy.IsAdmin(id) {
			f.Visibility = store.VisibleAll
		}
	default:
		return nil, Errorf(KindBadRequest, "binding error on field 'Type' of type 'listTasksIn': "+
			"parameter has not an acceptable value, enum=[own resolvable all]")
	}

	if f.Visibility == store.VisibleResolvable || f.Visibility == store.VisibleRelated {
		for _, tt := range s.cfg.Templates.List() {
			if auth.IsTemplateOwner(id, tt) {
				f.OwnedTemplates = append(f.OwnedTemplates, tt.Name)
			}
		}
	}

	tags, err := parseTags(req.Tags)
	if err != nil {
		return nil, err
	}

	f.Tags = tags

	if req.Batch != "" {
		if err := s.checkBatch(ctx, req.Batch); err != nil {
			return nil, err
		}

		f.Batch = req.Batch
	}

	if req.Last != "" {
		last, err := s.loadTask(ctx, req.Last)
		if err != nil {
			return nil, err
		}

		f.CursorID = last.ID
		f.CursorLastActivity = last.LastActivity
	}

	rows, err := s.cfg.Store.TaskList(ctx, f)
	if err != nil {
		return nil, storeError("Failed to list tasks", err)
	}

	page := &TaskPage{Tasks: make([]*Task, 0, len(rows)), PageSize: f.Limit}
	for _, t := range rows {
		page.Tasks = append(page.Tasks, taskListView(t))
	}

	return page, nil
}

// parseTags reads "key=value" filters: exactly one "=", both sides
// non-empty.
func parseTags(raw []string) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil //nolint:nilnil // no filter
	}

	out := make(map[string]string, len(raw))
	for _, r := range raw {
		k, v, ok := strings.Cut(r, "=")
		if !ok || k == "" || v == "" || strings.Contains(v, "=") {
			return nil, Errorf(KindBadRequest, "invalid tag %s", r)
		}

		out[k] = v
	}

	return out, nil
}
