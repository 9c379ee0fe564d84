// Package batch is the batch action: a step that creates many tasks of one
// template, optionally a limited number at a time, and waits until all of
// them are finished.
//
// The children belong to one batch and carry the parent task's id in the
// tag that links a child to its parent, like subtasks. The engine wakes the
// parent once no task of the batch is left unfinished (DONE, CANCELLED and
// WONTFIX are finished; a BLOCKED child keeps the batch waiting), so with a
// sub-batch size the children run in waves: the next wave starts when the
// whole previous one is over.
//
// The progress of the batch lives in the step's metadata, a string holding
// the JSON text of {"batch_id", "remaining_tasks", "tasks_started"} with
// every double quote escaped as \", the form templates written for µTask
// read. The output is always null.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/utask/utask/action"
)

// Name is the action type.
const Name = "batch"

// ParentTag is the tag that links a child task to its parent.
const ParentTag = "_utask_parent_task_id"

// ErrBatchNotFound is returned (wrapped) by Tasks.RunningTasks when the
// batch does not exist, e.g. because it was collected with its finished
// tasks.
var ErrBatchNotFound = errors.New("batch not found")

// PopulateRequest is a wave of children to create in a batch.
type PopulateRequest struct {
	// BatchID is the public id of the batch.
	BatchID string
	// CreateBatch says the batch must be created first, with BatchID as its
	// public id.
	CreateBatch bool
	// ParentTaskID is the public id of the task whose step creates the
	// children; it goes in their ParentTag tag.
	ParentTaskID string
	// Template is the children's template.
	Template string
	// Inputs holds the input of each child to create, in order.
	Inputs []map[string]any
	// Comment, when not empty, is attached to each child.
	Comment string
	// RequesterUsername and RequesterGroups are the parent task's
	// requester, on whose behalf the children are created.
	RequesterUsername string
	RequesterGroups   []string
	WatcherUsernames  []string
	WatcherGroups     []string
	Tags              map[string]string
}

// Tasks creates and counts the children of batches (the service implements
// it).
type Tasks interface {
	// PopulateBatch creates the batch when req.CreateBatch, and the
	// children of req, all in one transaction: on error nothing is created.
	PopulateBatch(ctx context.Context, req PopulateRequest) error
	// RunningTasks counts the unfinished children of a batch (an error
	// wrapping ErrBatchNotFound when there is no such batch).
	RunningTasks(ctx context.Context, batchID string) (int, error)
	// ExtendRunMax raises the maximum run count of a resolution by the try
	// count of its step stepName, making up for the runs the wake-ups of
	// the batch used.
	ExtendRunMax(ctx context.Context, resolutionID, stepName string) error
}

// New returns the batch action.
func New(tasks Tasks) action.Action {
	return &batch{tasks: tasks}
}

type batch struct {
	tasks Tasks
}

var _ action.WokenOnly = (*batch)(nil)

// WokenOnly marks the batch step as progressing only when its last
// child wakes it.
func (*batch) WokenOnly() {}

type config struct {
	TemplateName     string            `json:"template_name"`
	Inputs           []map[string]any  `json:"inputs"`
	JSONInputs       string            `json:"json_inputs"`
	CommonInputs     map[string]any    `json:"common_inputs"`
	CommonJSONInputs string            `json:"common_json_inputs"`
	SubBatchSize     string            `json:"sub_batch_size"`
	Comment          string            `json:"comment"`
	WatcherUsernames []string          `json:"watcher_usernames"`
	WatcherGroups    []string          `json:"watcher_groups"`
	Tags             map[string]string `json:"tags"`
	// The resolver fields are accepted, as in µTask, and ignored: the
	// children's template names their resolvers.
	ResolverUsernames string `json:"resolver_usernames"`
	ResolverGroups    string `json:"resolver_groups"`
}

// Metadata is the progress of a batch, kept in the step's metadata.
type Metadata struct {
	// BatchID is the public id of the batch.
	BatchID string `json:"batch_id"`
	// RemainingTasks counts the children not known to be finished, those
	// not started yet included.
	RemainingTasks int `json:"remaining_tasks"`
	// TasksStarted counts the children created so far.
	TasksStarted int `json:"tasks_started"`
}

// EncodeMetadata returns the stored form of m: its JSON text with every
// double quote escaped.
func EncodeMetadata(m Metadata) string {
	b, _ := json.Marshal(m) //nolint:errchkjson // a struct of strings and ints always encodes
	return strings.ReplaceAll(string(b), `"`, `\"`)
}

// DecodeMetadata reads the stored form of a batch's progress; "" is no
// progress yet (nil).
func DecodeMetadata(s string) (*Metadata, error) {
	if s == "" {
		return nil, nil //nolint:nilnil // no progress is not an error
	}
	var m Metadata
	if err := json.Unmarshal([]byte(strings.ReplaceAll(s, `\"`, `"`)), &m); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return &m, nil
}

func (b *batch) decode(base, raw json.RawMessage) (*config, error) {
	var c config
	if err := action.Overlay(base, raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ValidateConfig checks the configuration without the known templates.
func (b *batch) ValidateConfig(base, raw json.RawMessage) error {
	return b.ValidateConfigWithTemplates(base, raw, nil)
}

// ValidateConfigWithTemplates also checks that the child template exists
// (when templates is not nil).
func (b *batch) ValidateConfigWithTemplates(base, raw json.RawMessage, templates map[string]bool) error {
	c, err := b.decode(base, raw)
	if err != nil {
		return err
	}
	if c.TemplateName == "" {
		return errors.New("batch: missing template_name")
	}
	if templates != nil && !templates[c.TemplateName] && !strings.Contains(c.TemplateName, "{{") {
		return fmt.Errorf("batch: template %q not found", c.TemplateName)
	}
	if _, ok := c.Tags[ParentTag]; ok {
		return fmt.Errorf("batch: tag name %q not allowed", ParentTag)
	}
	return nil
}

// Resources: none.
func (b *batch) Resources(_, _ json.RawMessage) []string { return nil }

// Context asks the engine for the parent task, its requester, its
// resolution and the progress a previous run of this step recorded.
func (b *batch) Context(stepName string) map[string]any {
	step := `index .step "` + stepName + `"`
	return map[string]any{
		"parent_task_id":     "{{ .task.task_id }}",
		"requester_username": "{{ .task.requester_username }}",
		"requester_groups":   `{{ with .task.requester_groups }}{{ . }}{{ end }}`,
		"resolution_id":      `{{ with .task.resolution_id }}{{ . }}{{ end }}`,
		"step_name":          stepName,
		"metadata":           `{{ with ` + step + ` }}{{ with .metadata }}{{ if kindIs "string" . }}{{ . }}{{ end }}{{ end }}{{ end }}`,
	}
}

// Run starts the children the batch may start now and reports whether the
// batch is over.
func (b *batch) Run(ctx context.Context, req action.Request) action.Result {
	str := func(k string) string {
		v, _ := req.Context[k].(string)
		return v
	}
	prevMeta := str("metadata")
	// On failure the previous progress is kept, so that the next run goes
	// on from there.
	fail := func(err error) action.Result {
		var meta any
		if prevMeta != "" {
			meta = prevMeta
		}
		return action.Result{Metadata: meta, Err: err}
	}

	c, err := b.decode(req.BaseConfig, req.Config)
	if err != nil {
		return fail(err)
	}
	prev, err := DecodeMetadata(prevMeta)
	if err != nil {
		return fail(action.ClientError(err))
	}
	inputs, err := c.childInputs()
	if err != nil {
		return fail(err)
	}
	size, err := c.subBatchSize()
	if err != nil {
		return fail(err)
	}

	if len(inputs) == 0 {
		return action.Result{Metadata: map[string]any{"batch_id": "", "remaining_tasks": 0, "tasks_started": 0}}
	}

	p := &run{
		b: b, c: c, inputs: inputs, size: size,
		parent: str("parent_task_id"), requester: str("requester_username"), groups: str("requester_groups"),
	}
	if prev == nil {
		return p.first(ctx)
	}
	meta, err := p.next(ctx, *prev)
	if err != nil {
		return fail(err)
	}
	if meta.RemainingTasks > 0 {
		return action.Result{
			Metadata: EncodeMetadata(meta),
			Err:      action.WaitingError(fmt.Errorf("batch %q is currently RUNNING", meta.BatchID)),
		}
	}
	if rid := str("resolution_id"); rid != "" {
		if err := b.tasks.ExtendRunMax(ctx, rid, str("step_name")); err != nil {
			return fail(fmt.Errorf("extend run count of resolution %s: %w", rid, err))
		}
	}
	return action.Result{Metadata: EncodeMetadata(meta)}
}

// run is one run of the action.
type run struct {
	b                         *batch
	c                         *config
	inputs                    []map[string]any
	size                      int
	parent, requester, groups string
}

// first creates the batch and its first wave.
func (p *run) first(ctx context.Context) action.Result {
	meta := Metadata{BatchID: uuid.NewString(), RemainingTasks: len(p.inputs)}
	n := len(p.inputs)
	if p.size > 0 {
		n = min(p.size, n)
	}
	if err := p.populate(ctx, meta.BatchID, true, p.inputs[:n]); err != nil {
		// Nothing was created: the next run starts over.
		return action.Result{Err: err}
	}
	meta.TasksStarted = n
	return action.Result{
		Metadata: EncodeMetadata(meta),
		Err:      action.WaitingError(fmt.Errorf("tasks from batch %q will start shortly", meta.BatchID)),
	}
}

// next counts the unfinished children of the batch of prev, starts the next
// wave when there is room for it, and returns the new progress.
func (p *run) next(ctx context.Context, prev Metadata) (Metadata, error) {
	meta := prev
	started := min(prev.TasksStarted, len(p.inputs))
	running, err := p.b.tasks.RunningTasks(ctx, prev.BatchID)
	recreate := false
	switch {
	case errors.Is(err, ErrBatchNotFound) && started == len(p.inputs):
		// Every child was started, and the batch went with the last of
		// them: all are finished.
		running = 0
	case errors.Is(err, ErrBatchNotFound):
		running, recreate = 0, true
	case err != nil:
		return prev, fmt.Errorf("count running tasks of batch %s: %w", prev.BatchID, err)
	}

	if started < len(p.inputs) {
		n := len(p.inputs) - started
		if p.size > 0 {
			n = min(n, max(p.size-running, 0))
		}
		if n > 0 {
			if err := p.populate(ctx, prev.BatchID, recreate, p.inputs[started:started+n]); err != nil {
				return prev, err
			}
			started += n
			running += n
		}
	}
	meta.TasksStarted = started
	meta.RemainingTasks = len(p.inputs) - started + running
	return meta, nil
}

// populate creates children with inputs in the batch id.
func (p *run) populate(ctx context.Context, id string, create bool, inputs []map[string]any) error {
	req := PopulateRequest{
		BatchID:           id,
		CreateBatch:       create,
		ParentTaskID:      p.parent,
		Template:          p.c.TemplateName,
		Inputs:            inputs,
		Comment:           p.c.Comment,
		RequesterUsername: p.requester,
		WatcherUsernames:  p.c.WatcherUsernames,
		WatcherGroups:     p.c.WatcherGroups,
		Tags:              p.c.Tags,
	}
	if p.groups != "" {
		req.RequesterGroups = strings.Split(p.groups, ",")
	}
	if err := p.b.tasks.PopulateBatch(ctx, req); err != nil {
		return fmt.Errorf("populate batch %s: %w", id, err)
	}
	return nil
}

// childInputs returns the input of every child: the common inputs merged
// with the child's own, json_inputs decoded over inputs and
// common_json_inputs over common_inputs. A key both in the common inputs
// and in a child's is a client error.
func (c *config) childInputs() ([]map[string]any, error) {
	common := maps.Clone(c.CommonInputs)
	if c.CommonJSONInputs != "" {
		var extra map[string]any
		if err := decodeJSON(c.CommonJSONInputs, &extra); err != nil {
			return nil, action.ClientError(fmt.Errorf("decode common_json_inputs: %w", err))
		}
		if common == nil {
			common = map[string]any{}
		}
		maps.Copy(common, extra)
	}

	items := make([]map[string]any, len(c.Inputs))
	for i, in := range c.Inputs {
		items[i] = maps.Clone(in)
	}
	if c.JSONInputs != "" {
		var extra []map[string]any
		if err := decodeJSON(c.JSONInputs, &extra); err != nil {
			return nil, action.ClientError(fmt.Errorf("decode json_inputs: %w", err))
		}
		for i, in := range extra {
			if i == len(items) {
				items = append(items, nil)
			}
			if items[i] == nil {
				items[i] = map[string]any{}
			}
			maps.Copy(items[i], in)
		}
	}

	out := make([]map[string]any, len(items))
	for i, item := range items {
		merged := make(map[string]any, len(common)+len(item))
		maps.Copy(merged, common)
		for k, v := range item {
			if _, dup := common[k]; dup {
				return nil, action.Clientf("Conflicting keys in input maps")
			}
			merged[k] = v
		}
		out[i] = merged
	}
	return out, nil
}

// subBatchSize reads sub_batch_size: "" is 0, all at once.
func (c *config) subBatchSize() (int, error) {
	if c.SubBatchSize == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(c.SubBatchSize))
	if err != nil {
		return 0, action.ClientError(fmt.Errorf("parse sub_batch_size: %w", err))
	}
	if n < 0 {
		return 0, action.Clientf("parse sub_batch_size: %d is negative", n)
	}
	return n, nil
}

// decodeJSON decodes text into v, numbers kept exact (json.Number).
func decodeJSON(text string, v any) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
