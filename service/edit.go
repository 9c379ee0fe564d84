package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// Texts of the comments the edits write.
const (
	commentEditedTask       = "manually edited task"
	commentEditedResolution = "manually updated resolution"
	commentEditedStep       = "manually updated resolution step "
)

// ErrResolutionBusy is in the chain of the error of an edit refused because
// the engine is still running a cycle of the resolution (it was paused by
// force while RUNNING): what the engine writes at the end of its cycle would
// undo the edit. The API answers 409.
var ErrResolutionBusy = errors.New("the engine is still running a cycle of this resolution, retry when it has stopped")

// EditTaskRequest is the body of PUT /task/{id}. Every field replaces the
// stored one, an absent field included.
type EditTaskRequest struct {
	Input            map[string]any    `json:"input"`
	WatcherUsernames []string          `json:"watcher_usernames"`
	WatcherGroups    []string          `json:"watcher_groups"`
	Tags             map[string]string `json:"tags"`
}

// EditTask replaces the inputs, watchers and tags of a task, for an
// administrator, an owner of the template, or its requester while the task
// has no resolution. A task with a resolution can only be edited while the
// resolution is PAUSED. An input given as SecretMask keeps its stored value;
// the tag ParentTaskTag cannot be added, removed or changed. The inputs are
// validated again and the title rendered again. The task is returned with
// its inputs in clear.
func (s *Service) EditTask(ctx context.Context, id auth.Identity, publicID string, req EditTaskRequest) (*Task, error) {
	found, err := s.loadTask(ctx, publicID)
	if err != nil {
		return nil, err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	t, r, err := lockTask(ctx, tx, found)
	if err != nil {
		return nil, err
	}

	tt, err := s.currentTemplate(ctx, tx, t)
	if err != nil {
		return nil, err
	}

	admin := s.cfg.Policy.IsAdmin(id)
	if !admin && !auth.IsTemplateOwner(id, tt) && (!auth.IsRequester(id, t) || t.ResolutionPublicID != "") {
		return nil, Errorf(KindForbidden, "Can't update task")
	}

	if r != nil {
		if r.State != state.ResPaused {
			return nil, Errorf(KindBadRequest, "Cannot update a task which resolution is not in state '%s'", state.ResPaused)
		}

		if engineHolds(r) {
			return nil, wrap(KindConflict, "Cannot update task", ErrResolutionBusy)
		}
	}

	if err := checkParentTag(t.Tags, req.Tags); err != nil {
		return nil, err
	}

	run, err := s.versionTemplate(ctx, tx, t)
	if err != nil {
		return nil, err
	}

	input, err := template.ValidateInputs(run.Inputs, keepSecrets(req.Input, t.Input))
	if err != nil {
		return nil, Errorf(KindBadRequest, "%s", err.Error())
	}

	detail := map[string]any{
		"changed_input_keys": changedKeys(t.Input, input),
		"changed_fields":     changedTaskFields(t, req),
	}

	t.Input = input
	t.WatcherUsernames = req.WatcherUsernames
	t.WatcherGroups = req.WatcherGroups
	t.Tags = req.Tags
	t.LastActivity = s.now()

	if t.Title, err = s.renderTitle(t, run); err != nil {
		return nil, err
	}

	if err := tx.TaskUpdate(ctx, t); err != nil {
		return nil, storeError("Failed to update task", err)
	}

	if _, err := s.insertComment(ctx, tx, t, id, commentEditedTask); err != nil {
		return nil, err
	}

	if err := s.audit(ctx, tx, id, OpEditTask, t, t.ResolutionPublicID, detail); err != nil {
		return nil, err
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(KindInternal, "commit task", err)
	}

	v := taskView(t)
	v.ResolverInputs = tt.ResolverInputs

	return v, nil
}

// catalog is the catalog of actions and functions the steps are checked
// against.
func (s *Service) catalog() *template.Catalog {
	if s.cfg.Catalog != nil {
		return s.cfg.Catalog
	}

	return &template.Catalog{Functions: s.cfg.Functions}
}

// ErrTaskChanged is in the chain of the error of a change refused because
// the task got or lost a resolution while the change was being made: the
// caller may retry it.
var ErrTaskChanged = errors.New("the task changed meanwhile, retry")

// lockTask locks, in tx, the resolution of task found (when it has one),
// then the task, and returns both as locked. Resolution first, then task:
// the order of the engine and of every change of a resolution, so that two
// changes of one task never wait for each other in a cycle. found is the
// task as read before tx; when it got or lost a resolution since, lockTask
// answers ErrTaskChanged.
func lockTask(ctx context.Context, tx store.Tx, found *store.Task) (*store.Task, *store.Resolution, error) {
	var r *store.Resolution
	if found.ResolutionPublicID != "" {
		var err error
		if r, err = tx.ResolutionLock(ctx, found.ResolutionPublicID); err != nil {
			return nil, nil, storeError("Failed to load resolution from public id", err)
		}
	}

	t, err := tx.TaskLock(ctx, found.ID)
	if err != nil {
		return nil, nil, storeError("Failed to load task from public id", err)
	}

	if t.ResolutionPublicID != found.ResolutionPublicID {
		return nil, nil, wrap(KindConflict, "Cannot change task", ErrTaskChanged)
	}

	return t, r, nil
}

// engineHolds reports whether a cycle of r started and did not end: a
// resolution paused by force while RUNNING, whose cycle still runs. An
// instance that died in that cycle leaves it so until the resolution runs
// again.
func engineHolds(r *store.Resolution) bool {
	return r.InstanceID != nil && r.LastStart != nil && (r.LastStop == nil || r.LastStop.Before(*r.LastStart))
}

// checkParentTag refuses new tags that add, remove or change ParentTaskTag.
func checkParentTag(old, updated map[string]string) *Error {
	was, had := old[ParentTaskTag]
	is, has := updated[ParentTaskTag]

	if had != has || was != is {
		return Errorf(KindBadRequest, "tag %s is read-only and cannot be modified", ParentTaskTag)
	}

	return nil
}

// keepSecrets returns a copy of input where each value equal to SecretMask
// is replaced by the stored value of that key, when there is one: a client
// that read the task masked and sends it back keeps the passwords.
func keepSecrets(input, stored map[string]any) map[string]any {
	if input == nil {
		return nil
	}

	out := make(map[string]any, len(input))
	for k, v := range input {
		if str, ok := v.(string); ok && str == SecretMask {
			if old, ok := stored[k]; ok {
				v = old
			}
		}

		out[k] = v
	}

	return out
}

// changedKeys returns the sorted keys whose values differ between old and
// updated (added and removed keys included).
func changedKeys(old, updated map[string]any) []string {
	out := []string{}

	for k, v := range updated {
		if o, ok := old[k]; !ok || !sameJSON(o, v) {
			out = append(out, k)
		}
	}

	for k := range old {
		if _, ok := updated[k]; !ok {
			out = append(out, k)
		}
	}

	sort.Strings(out)

	return out
}

// sameJSON reports whether a and b have the same JSON form.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)

	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// changedTaskFields names the fields of t that req changes, among input,
// watcher_usernames, watcher_groups and tags.
func changedTaskFields(t *store.Task, req EditTaskRequest) []string {
	out := []string{}
	if !sameJSON(t.Input, keepSecrets(req.Input, t.Input)) {
		out = append(out, "input")
	}

	if !slices.Equal(t.WatcherUsernames, req.WatcherUsernames) {
		out = append(out, "watcher_usernames")
	}

	if !slices.Equal(t.WatcherGroups, req.WatcherGroups) {
		out = append(out, "watcher_groups")
	}

	if !maps.Equal(t.Tags, req.Tags) {
		out = append(out, "tags")
	}

	return out
}

// renderTitle renders the title_format of tt for task t, from its stored
// inputs.
func (s *Service) renderTitle(t *store.Task, tt *template.Template) (string, error) {
	v := s.cfg.Values()
	v.SetConfig(map[string]any{})
	v.SetInput(t.Input)
	v.SetVariables(templateVariables(tt.Variables))
	v.SetTask(t.TemplateValues(s.cfg.Region))

	title, err := v.Render(tt.TitleFormat, values.Scope{})
	if err != nil {
		return "", wrap(KindBadRequest, "Failed to update task", err)
	}

	return title, nil
}

// EditResolutionRequest is the body of PUT /resolution/{id}. A field that
// is absent (or null) is left as it is.
type EditResolutionRequest struct {
	// Steps replace the steps of the same names.
	Steps map[string]*template.Step `json:"steps"`
	// ResolverInputs replace the resolver inputs.
	ResolverInputs map[string]any `json:"resolver_inputs"`
}

// EditResolution hot-fixes a PAUSED resolution, for an administrator: the
// steps given replace those of the same names (definition, state, output…),
// each validated against the template version of the task and its base
// configurations, and the resolver inputs, when given, replace the stored
// ones. µTask replaces the whole step map; here a step can be neither added
// nor removed, since the engine runs the steps of the template, so a name
// the resolution does not have is refused and the steps not given are kept.
func (s *Service) EditResolution(ctx context.Context, id auth.Identity, publicID string, req EditResolutionRequest) error {
	if !s.cfg.Policy.IsAdmin(id) {
		return Errorf(KindUnauthorized, "unauthorized")
	}

	return s.editSteps(ctx, id, publicID, "", req)
}

// EditResolutionStep replaces one step of a PAUSED resolution, for an
// administrator, as EditResolution does. An unknown step is not found.
func (s *Service) EditResolutionStep(ctx context.Context, id auth.Identity, publicID, stepName string, st template.Step) error {
	if !s.cfg.Policy.IsAdmin(id) {
		return Errorf(KindUnauthorized, "unauthorized")
	}

	return s.editSteps(ctx, id, publicID, stepName, EditResolutionRequest{Steps: map[string]*template.Step{stepName: &st}})
}

// editSteps applies an edit of a resolution's steps and resolver inputs.
// single, when set, is the one step of PUT /resolution/{id}/step/{name}:
// it must exist (not found otherwise) and its errors are worded for it.
func (s *Service) editSteps(ctx context.Context, id auth.Identity, publicID, single string, req EditResolutionRequest) error {
	r, t, _, err := s.loadResolutionAndTask(ctx, publicID)
	if err != nil {
		return err
	}

	current, err := s.cfg.Runner.Steps(ctx, r)
	if err != nil {
		return wrap(KindInternal, "load steps", err)
	}

	if single != "" {
		if st, ok := current[single]; !ok || st == nil {
			return Errorf(KindNotFound, "given stepName %q for this resolution not found", single)
		}
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	locked, err := tx.ResolutionLock(ctx, publicID)
	if err != nil {
		return storeError("Failed to load resolution from public id", err)
	}

	if locked.State != state.ResPaused {
		return Errorf(KindBadRequest, "Cannot update a resolution which is not in state '%s'", state.ResPaused)
	}

	if engineHolds(locked) {
		return wrap(KindConflict, "Cannot update resolution", ErrResolutionBusy)
	}

	run, err := s.versionTemplate(ctx, tx, t)
	if err != nil {
		return err
	}

	rows, err := tx.StepList(ctx, locked.ID)
	if err != nil {
		return wrap(KindInternal, "load steps", err)
	}

	edited, oldStates, err := s.editedRows(run, current, rows, single, req.Steps)
	if err != nil {
		return err
	}

	detail := map[string]any{"steps": sortedKeys(req.Steps)}

	if req.ResolverInputs != nil {
		input, err := template.ValidateInputs(run.ResolverInputs, keepSecrets(req.ResolverInputs, locked.ResolverInput))
		if err != nil {
			return wrap(KindBadRequest, "Failed to update resolution", err)
		}

		detail["changed_resolver_input_keys"] = changedKeys(locked.ResolverInput, input)
		locked.ResolverInput = input

		if err := tx.ResolutionUpdate(ctx, locked); err != nil {
			return storeError("Failed to update resolution", err)
		}
	}

	if len(edited) > 0 {
		if err := tx.StepUpsert(ctx, locked, edited); err != nil {
			return wrap(KindInternal, "update steps", err)
		}
	}

	op, comment := OpEditResolution, commentEditedResolution
	if single != "" {
		op, comment = OpEditResolutionStep, commentEditedStep+single
		detail = map[string]any{"step": single, "old_state": oldStates[single], "new_state": edited[0].State}
	}

	if _, err := s.insertComment(ctx, tx, t, id, comment); err != nil {
		return err
	}

	if err := s.audit(ctx, tx, id, op, t, locked.PublicID, detail); err != nil {
		return err
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit resolution", err)
	}

	return nil
}

// editedRows validates the edited steps, in name order, against the
// template version run with the earlier edits applied, and returns their
// new rows and their states before the edit. current are the steps as the
// engine shows them, rows the stored rows.
func (s *Service) editedRows(run *template.Template, current map[string]*template.Step, rows []*store.Step,
	single string, steps map[string]*template.Step,
) ([]*store.Step, map[string]string, error) {
	if len(steps) == 0 {
		return nil, nil, nil
	}

	catalog := s.catalog()

	draft, err := copyTemplate(run)
	if err != nil {
		return nil, nil, wrap(KindInternal, "copy template", err)
	}

	byName := make(map[string]*store.Step, len(rows))
	for _, row := range rows {
		byName[row.Name] = row
	}

	names := sortedKeys(steps)
	out := make([]*store.Step, 0, len(names))
	oldStates := make(map[string]string, len(names))

	for _, name := range names {
		st := steps[name]
		cur, ok := current[name]
		if !ok || cur == nil {
			return nil, nil, Errorf(KindBadRequest, "invalid step %s: this resolution has no such step", name)
		}

		if st == nil {
			return nil, nil, Errorf(KindBadRequest, "invalid step %s: the step is null", name)
		}

		row := byName[name]
		if row == nil {
			row = &store.Step{Name: name, State: cur.State, MaxRetries: cur.MaxRetries}
		}

		oldStates[name] = row.State

		// A foreach child derives its definition from its parent: only its
		// state and results can be edited.
		def := cur
		var defJSON []byte

		if _, ownStep := draft.Steps[name]; ownStep {
			if def, err = validateStep(draft, catalog, name, st, row); err != nil {
				return nil, nil, err
			}

			if defJSON, err = json.Marshal(def); err != nil {
				return nil, nil, wrap(KindInternal, "encode step definition", err)
			}
		}

		newState := st.State
		if newState == "" {
			newState = row.State
		}

		if !state.IsReserved(newState) && !slices.Contains(catalog.EffectiveCustomStates(def), newState) {
			msg := fmt.Sprintf("invalid state provided: %q is not allowed", newState)
			if single == "" {
				msg = fmt.Sprintf("step %q: %s", name, msg)
			}

			return nil, nil, Errorf(KindBadRequest, "%s", msg)
		}

		out = append(out, editedRow(row, st, newState, defJSON))
	}

	return out, oldStates, nil
}

// editedRow returns the new row of a step: the state and results of st, the
// children of the stored row, and the definition defJSON (nil for a foreach
// child, which keeps the stored one).
func editedRow(row *store.Step, st *template.Step, newState string, defJSON []byte) *store.Step {
	out := &store.Step{
		Name:       row.Name,
		State:      newState,
		TryCount:   st.TryCount,
		MaxRetries: st.MaxRetries,
		LastRun:    st.LastRun,
		Data: store.StepData{
			Output:        st.Output,
			Metadata:      st.Metadata,
			Children:      st.Children,
			Error:         st.Error,
			Item:          st.Item,
			ChildrenSteps: row.Data.ChildrenSteps,
			Tags:          st.Tags,
			Definition:    defJSON,
		},
	}
	if out.LastRun != nil && out.LastRun.IsZero() {
		out.LastRun = nil // shown as 0001-01-01T00:00:00Z when never run
	}

	if defJSON == nil {
		out.Data.Definition = row.Data.Definition
	}

	return out
}

// validateStep puts the definition part of st in draft as step name,
// validates the whole draft as a template (steps are validated against each
// other and against the base configurations) and returns the normalised
// definition. The fields the engine owns are dropped, and so are the
// dependencies on the step's own foreach children, which the engine adds
// when it shows a step.
func validateStep(draft *template.Template, catalog *template.Catalog, name string, st *template.Step,
	row *store.Step,
) (*template.Step, error) {
	def := *st
	def.Name = ""
	def.State = ""
	def.ChildrenSteps = nil
	def.ChildrenStepsMap = nil
	def.Output = nil
	def.Metadata = nil
	def.Tags = nil
	def.Children = nil
	def.Error = ""
	def.TryCount = 0
	def.LastRun = nil
	def.Item = nil

	children := append(append([]string(nil), row.Data.ChildrenSteps...), st.ChildrenSteps...)
	def.Dependencies = nil

	for _, d := range st.Dependencies {
		if !slices.Contains(children, template.ParseDependency(d).Step) {
			def.Dependencies = append(def.Dependencies, d)
		}
	}

	previous := draft.Steps[name]
	draft.Steps[name] = &def

	if err := template.Validate(draft, catalog); err != nil {
		draft.Steps[name] = previous

		return nil, Errorf(KindBadRequest, "invalid step %s: %s", name, stepReason(err, name))
	}

	return &def, nil
}

// stepReason returns the reason of a validation error without the wrapping
// that names the template and the step.
func stepReason(err error, name string) string {
	var ve *template.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}

	reason := ve.Err
	if inner := errors.Unwrap(reason); inner != nil && strings.HasPrefix(reason.Error(), "Invalid step "+name+": ") {
		reason = inner
	}

	return reason.Error()
}

// copyTemplate returns a deep copy of t, through its JSON form, so that
// validating the copy cannot touch the shared template.
func copyTemplate(t *template.Template) (*template.Template, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}

	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()

	var c template.Template
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}

	if c.Steps == nil {
		c.Steps = map[string]*template.Step{}
	}

	return &c, nil
}
