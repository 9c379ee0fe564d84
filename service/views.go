package service

import (
	"encoding/json"
	"time"

	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// SecretMask replaces the value of a password input shown to a caller who is
// not an administrator.
const SecretMask = "**__SECRET__**"

// Task is the API view of a task.
type Task struct {
	ID                string            `json:"id"`
	Title             string            `json:"title"`
	TemplateName      string            `json:"template_name"`
	RequesterUsername string            `json:"requester_username"`
	RequesterGroups   []string          `json:"requester_groups,omitempty"`
	WatcherUsernames  []string          `json:"watcher_usernames,omitempty"`
	WatcherGroups     []string          `json:"watcher_groups,omitempty"`
	ResolverUsernames []string          `json:"resolver_usernames,omitempty"`
	ResolverGroups    []string          `json:"resolver_groups,omitempty"`
	Created           time.Time         `json:"created"`
	State             string            `json:"state"`
	StepsDone         int               `json:"steps_done"`
	StepsTotal        int               `json:"steps_total"`
	LastActivity      time.Time         `json:"last_activity"`
	Tags              map[string]string `json:"tags,omitempty"`
	// Input is null in listings.
	Input map[string]any `json:"input"`
	// Result is absent in listings.
	Result           map[string]any `json:"result,omitempty"`
	Resolution       string         `json:"resolution,omitempty"`
	LastStart        *time.Time     `json:"last_start,omitempty"`
	LastStop         *time.Time     `json:"last_stop,omitempty"`
	ResolverUsername string         `json:"resolver_username,omitempty"`
	// Batch is the public id of the batch the task belongs to.
	Batch string `json:"batch,omitempty"`
	// Comments are only in single-task responses.
	Comments []*Comment `json:"comments,omitempty"`
	// Errors lists, for a BLOCKED task, the steps in CLIENT_ERROR.
	Errors []StepError `json:"errors,omitempty"`
	// ResolverInputs are the template's resolver input definitions, for
	// clients to build the resolve form.
	ResolverInputs []template.Input `json:"resolver_inputs,omitempty"`
}

// StepError is a step in error, as listed in Task.Errors. Step holds the
// step's description, not its name.
type StepError struct {
	Step  string `json:"step"`
	Error string `json:"error"`
}

// TaskPage is one page of a task listing.
type TaskPage struct {
	Tasks []*Task
	// PageSize is the normalised page size; a page holding that many tasks
	// may have a next page.
	PageSize int
}

// Resolution is the API view of a resolution.
type Resolution struct {
	ID                 string                     `json:"id"`
	TaskID             string                     `json:"task_id"`
	TaskTitle          string                     `json:"task_title"`
	ResolverUsername   string                     `json:"resolver_username"`
	State              string                     `json:"state"`
	InstanceID         *int64                     `json:"instance_id,omitempty"`
	Created            time.Time                  `json:"created"`
	LastStart          *time.Time                 `json:"last_start,omitempty"`
	LastStop           *time.Time                 `json:"last_stop,omitempty"`
	NextRetry          *time.Time                 `json:"next_retry,omitempty"`
	RunCount           int                        `json:"run_count"`
	RunMax             int                        `json:"run_max"`
	BaseConfigurations map[string]json.RawMessage `json:"base_configurations"`
	Steps              map[string]*template.Step  `json:"steps,omitempty"`
	ResolverInputs     map[string]any             `json:"resolver_inputs,omitempty"`
}

// TemplatePage is one page of a template listing, in list form (no steps,
// variables, result_format or title_format).
type TemplatePage struct {
	Templates []*template.Template
	// PageSize is the normalised page size.
	PageSize int
}

// Meta describes the server and the caller.
type Meta struct {
	ApplicationName string   `json:"application_name"`
	UserIsAdmin     bool     `json:"user_is_admin"`
	Username        string   `json:"username"`
	UserGroups      []string `json:"user_groups"`
	Version         string   `json:"version"`
	Commit          string   `json:"commit"`
}

// taskView returns the view of t with its input and result in clear.
func taskView(t *store.Task) *Task {
	return &Task{
		ID:                t.PublicID,
		Title:             t.Title,
		TemplateName:      t.TemplateName,
		RequesterUsername: t.RequesterUsername,
		RequesterGroups:   t.RequesterGroups,
		WatcherUsernames:  t.WatcherUsernames,
		WatcherGroups:     t.WatcherGroups,
		ResolverUsernames: t.ResolverUsernames,
		ResolverGroups:    t.ResolverGroups,
		Created:           t.Created,
		State:             t.State,
		StepsDone:         t.StepsDone,
		StepsTotal:        t.StepsTotal,
		LastActivity:      t.LastActivity,
		Tags:              t.Tags,
		Input:             t.Input,
		Result:            t.Result,
		Resolution:        t.ResolutionPublicID,
		LastStart:         t.LastStart,
		LastStop:          t.LastStop,
		ResolverUsername:  t.ResolverUsername,
		Batch:             t.Batch,
	}
}

// taskListView returns the list form of t: no input, no result.
func taskListView(t *store.Task) *Task {
	v := taskView(t)
	v.Input = nil
	v.Result = nil

	return v
}

// maskPasswords returns a copy of input where the non-null values of the
// password inputs of defs are replaced by SecretMask.
func maskPasswords(defs []template.Input, input map[string]any) map[string]any {
	if input == nil {
		return nil
	}

	out := make(map[string]any, len(input))
	for k, v := range input {
		out[k] = v
	}

	for _, d := range defs {
		if d.Type != template.InputTypePassword {
			continue
		}

		if v, ok := out[d.Name]; ok && v != nil {
			out[d.Name] = SecretMask
		}
	}

	return out
}

// resolutionView returns the view of r, a resolution of task t.
func resolutionView(r *store.Resolution, t *store.Task, tt *template.Template,
	steps map[string]*template.Step,
) *Resolution {
	v := &Resolution{
		ID:               r.PublicID,
		TaskID:           t.PublicID,
		TaskTitle:        t.Title,
		ResolverUsername: r.ResolverUsername,
		State:            r.State,
		InstanceID:       r.InstanceID,
		Created:          r.Created,
		LastStart:        r.LastStart,
		LastStop:         r.LastStop,
		NextRetry:        r.NextRetry,
		RunCount:         r.RunCount,
		RunMax:           r.RunMax,
		Steps:            steps,
		ResolverInputs:   r.ResolverInput,
	}
	if tt != nil {
		v.BaseConfigurations = tt.BaseConfigurations
	}

	return v
}

// reduceResolution hides what only managers and administrators may see: each
// step's output, metadata, children and item, and the resolver inputs.
func reduceResolution(v *Resolution) {
	v.ResolverInputs = nil

	if v.Steps == nil {
		return
	}

	reduced := make(map[string]*template.Step, len(v.Steps))
	for name, st := range v.Steps {
		if st == nil {
			reduced[name] = nil

			continue
		}

		c := *st
		reduceStep(&c)
		reduced[name] = &c
	}

	v.Steps = reduced
}

// reduceStep hides what only managers and administrators may see of a step:
// its output, metadata, children and item.
func reduceStep(st *template.Step) {
	st.Output = nil
	st.Metadata = nil
	st.Children = nil
	st.Item = nil
}

// templateListView returns the list form of t.
func templateListView(t *template.Template) *template.Template {
	c := *t
	c.Steps = nil
	c.Variables = nil
	c.ResultFormat = nil
	c.TitleFormat = ""

	return &c
}
