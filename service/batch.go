package service

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/utask/utask/action/batch"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/store"
)

// CreateBatchRequest is the body of POST /batch: one task per element of
// Inputs, each merged with CommonInput.
type CreateBatchRequest struct {
	TemplateName     string            `json:"template_name"`
	Inputs           []map[string]any  `json:"inputs"`
	CommonInput      map[string]any    `json:"common_input"`
	Comment          string            `json:"comment"`
	WatcherUsernames []string          `json:"watcher_usernames"`
	WatcherGroups    []string          `json:"watcher_groups"`
	Tags             map[string]string `json:"tags"`
}

// Batch is the API view of a batch.
type Batch struct {
	ID string `json:"id"`
}

// CreateBatch creates a batch and one task of a template per input, for the
// caller, with the rules of CreateTask for each (auto-run included), all in
// one transaction: when one task cannot be created, none is. An empty list
// of inputs makes an empty batch, which the collection of finished tasks
// removes.
func (s *Service) CreateBatch(ctx context.Context, id auth.Identity, req CreateBatchRequest) (*Batch, error) {
	if req.TemplateName == "" {
		return nil, Errorf(KindBadRequest, "template_name: required")
	}

	if _, ok := req.Tags[ParentTaskTag]; ok {
		return nil, Errorf(KindBadRequest, "tag name %q not allowed", ParentTaskTag)
	}

	// The template must exist even when no task is asked for.
	if tt, _, ok := s.cfg.Templates.Get(req.TemplateName); !ok {
		return nil, Errorf(KindNotFound, "template not found: %s", req.TemplateName)
	} else if tt.Blocked {
		return nil, Errorf(KindBadRequest, "Template not available (blocked)")
	}

	inputs, err := mergeInputs(req.CommonInput, req.Inputs)
	if err != nil {
		return nil, err
	}

	b := &store.Batch{PublicID: s.cfg.NewID()}
	tasks := make([]*newTask, 0, len(inputs))

	for _, in := range inputs {
		nt, err := s.prepareTask(id, CreateTaskRequest{
			TemplateName:     req.TemplateName,
			Input:            in,
			Comment:          req.Comment,
			WatcherUsernames: req.WatcherUsernames,
			WatcherGroups:    req.WatcherGroups,
			Tags:             req.Tags,
		}, "", false)
		if err != nil {
			return nil, err
		}

		nt.task.Batch = b.PublicID
		tasks = append(tasks, nt)
	}

	if err := s.insertBatch(ctx, b, tasks, id, req.Comment); err != nil {
		return nil, err
	}

	return &Batch{ID: b.PublicID}, nil
}

// mergeInputs returns, for each item, the common input merged with the
// item; a key in both is refused.
func mergeInputs(common map[string]any, items []map[string]any) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(items))

	for _, item := range items {
		merged := make(map[string]any, len(common)+len(item))
		maps.Copy(merged, common)

		for k, v := range item {
			if _, dup := common[k]; dup {
				return nil, Errorf(KindBadRequest, "Conflicting keys in input maps")
			}

			merged[k] = v
		}

		out = append(out, merged)
	}

	return out, nil
}

// insertBatch stores, in one transaction, the batch b when its ID is 0 (a
// new batch), and the prepared tasks of the batch with their comments and
// resolutions, then starts the resolutions.
func (s *Service) insertBatch(ctx context.Context, b *store.Batch, tasks []*newTask, id auth.Identity,
	comment string,
) error {
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	if b.ID == 0 {
		if err := tx.BatchInsert(ctx, b); err != nil {
			return storeError("Failed to create new Batch", err)
		}
	}

	for _, nt := range tasks {
		s.leaveToClaims(nt.res)
		if _, err := s.insertTaskTx(ctx, tx, nt.task, nt.res, id, comment, OpBatchCreateTask); err != nil {
			return err
		}
	}

	if err := tx.Commit(ctx); err != nil {
		// A store may report a refused insert of a task at commit.
		return storeError("Failed to create new Batch", err)
	}

	// TODO: as for a single task, no task_state_update or task_validation
	// notification is sent, because there is no notifier yet.
	for _, nt := range tasks {
		s.startResolution(nt.res)
	}

	return nil
}

// checkBatch makes sure a batch exists (404 otherwise; 400 for an id that
// is not a UUID).
func (s *Service) checkBatch(ctx context.Context, publicID string) error {
	if err := checkPublicID("batch", publicID); err != nil {
		return err
	}

	if _, err := s.cfg.Store.BatchGet(ctx, publicID); err != nil {
		return storeError("Failed to load batch from public id", err)
	}

	return nil
}

// Batches lets the batch action create and count the tasks of batches
// through the service, with the same validation and auto-run rules as the
// API.
type Batches struct{ s *Service }

// Batches returns the service as the batch action's Tasks.
func (s *Service) Batches() Batches { return Batches{s: s} }

// PopulateBatch creates, on behalf of the parent task's requester, the
// tasks of req in its batch (and the batch first when req.CreateBatch),
// tagged with the parent's id, in one transaction.
func (bs Batches) PopulateBatch(ctx context.Context, req batch.PopulateRequest) error {
	s := bs.s
	id := auth.Identity{Username: req.RequesterUsername, Groups: req.RequesterGroups}

	b := &store.Batch{PublicID: req.BatchID}
	if !req.CreateBatch {
		existing, err := s.cfg.Store.BatchGet(ctx, req.BatchID)
		if err != nil {
			return storeError("Failed to load batch from public id", err)
		}

		b = existing
	}

	tasks := make([]*newTask, 0, len(req.Inputs))

	for _, in := range req.Inputs {
		// The children's template, not the requester, names their
		// resolvers, and the batch sets none: the owner check does not
		// apply.
		nt, err := s.prepareTask(id, CreateTaskRequest{
			TemplateName:     req.Template,
			Input:            in,
			Comment:          req.Comment,
			WatcherUsernames: req.WatcherUsernames,
			WatcherGroups:    req.WatcherGroups,
			Tags:             req.Tags,
		}, req.ParentTaskID, true)
		if err != nil {
			return err
		}

		nt.task.Batch = b.PublicID
		tasks = append(tasks, nt)
	}

	return s.insertBatch(ctx, b, tasks, id, req.Comment)
}

// RunningTasks counts the unfinished tasks of a batch.
func (bs Batches) RunningTasks(ctx context.Context, batchID string) (int, error) {
	n, err := bs.s.cfg.Store.BatchCountRunning(ctx, batchID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("%w: %s", batch.ErrBatchNotFound, batchID)
	}

	if err != nil {
		return 0, wrap(KindInternal, "count running tasks of batch", err)
	}

	return n, nil
}

// ExtendRunMax raises the maximum run count of a resolution by the try
// count of one of its steps.
func (bs Batches) ExtendRunMax(ctx context.Context, resolutionID, stepName string) error {
	tx, err := bs.s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	res, err := tx.ResolutionLock(ctx, resolutionID)
	if err != nil {
		return storeError("Failed to load resolution from public id", err)
	}

	steps, err := tx.StepList(ctx, res.ID)
	if err != nil {
		return wrap(KindInternal, "list steps", err)
	}

	tries := 0

	for _, st := range steps {
		if st.Name == stepName {
			tries = st.TryCount
		}
	}

	if tries == 0 {
		return nil
	}

	res.RunMax += tries
	if err := tx.ResolutionUpdate(ctx, res); err != nil {
		return wrap(KindInternal, "update resolution", err)
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit resolution", err)
	}

	return nil
}
