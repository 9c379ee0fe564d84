package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// The tests of this file follow µTask's engine acceptance checklist, one
// test per row, on the templates of testdata/expectations and the functions
// of testdata/functions.

// createResolution reads testdata/expectations/<file> (a TAB counts as two
// spaces), validates it, stores it and creates a task with the inputs and
// a resolution with the resolver inputs, left TODO: nobody claimed it and it
// runs only when a test runs it. A validation error is returned as is.
func (b *testBundle) createResolution(t *testing.T, file string, inputs, resolverInputs map[string]any) (string, error) {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join("testdata", "expectations", file))
	require.NoError(t, err)
	tmpl, err := template.Parse([]byte(strings.ReplaceAll(string(data), "\t", "  ")))
	require.NoError(t, err)
	if err := template.Validate(tmpl, b.catalog); err != nil {
		return "", err
	}
	doc, err := json.Marshal(tmpl)
	require.NoError(t, err)
	version, err := b.db.TemplateVersionPut(ctx, tmpl.Name, doc)
	require.NoError(t, err)
	in, err := template.ValidateInputs(tmpl.Inputs, inputs)
	require.NoError(t, err)
	rin, err := template.ValidateInputs(tmpl.ResolverInputs, resolverInputs)
	require.NoError(t, err)
	now := b.clock.Now()
	task := &store.Task{
		PublicID: uuid.NewString(), TemplateName: tmpl.Name, TemplateVersion: version, Title: tmpl.TitleFormat,
		Created: now, LastActivity: now, State: state.TaskTodo,
		StepsTotal: len(tmpl.Steps), Input: in, Result: tmpl.ResultFormat,
	}
	res := &store.Resolution{
		PublicID: uuid.NewString(), State: state.ResTodo, Created: now,
		RunMax: tmpl.EffectiveRetryMax(), ResolverInput: rin,
	}
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.TaskInsert(ctx, task))
	res.TaskID = task.ID
	require.NoError(t, tx.ResolutionInsert(ctx, res))
	require.NoError(t, tx.Commit(ctx))
	return res.PublicID, nil
}

// mustCreate is createResolution for a template that must be valid.
func (b *testBundle) mustCreate(t *testing.T, file string, inputs map[string]any) string {
	t.Helper()
	id, err := b.createResolution(t, file, inputs, nil)
	require.NoError(t, err)
	return id
}

// setResolutionState overwrites the stored state of a resolution.
func (b *testBundle) setResolutionState(t *testing.T, resID, st string) {
	t.Helper()
	ctx := context.Background()
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	r, err := tx.ResolutionLock(ctx, resID)
	require.NoError(t, err)
	r.State = st
	require.NoError(t, tx.ResolutionUpdate(ctx, r))
	require.NoError(t, tx.Commit(ctx))
}

// editSteps changes stored steps of a resolution: edit receives a copy of
// each named step's definition (with its state) and may change both; the
// step is then stored with that state and, when the definition changed, the
// definition as an override of the template's.
func (b *testBundle) editSteps(t *testing.T, resID string, names []string, edit func(name string, s *template.Step)) {
	t.Helper()
	ctx := context.Background()
	res, err := b.db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	view, err := b.engine.Steps(ctx, res)
	require.NoError(t, err)
	rows, err := b.db.StepList(ctx, res.ID)
	require.NoError(t, err)
	byName := map[string]*store.Step{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	var out []*store.Step
	for _, name := range names {
		v, ok := view[name]
		require.True(t, ok, "step %s", name)
		def := definitionOf(t, v)
		before, err := json.Marshal(def)
		require.NoError(t, err)
		def.State = v.State
		edit(name, def)
		row := byName[name]
		if row == nil {
			row = &store.Step{Name: name, MaxRetries: v.MaxRetries}
		}
		row.State = def.State
		def.State = ""
		after, err := json.Marshal(def)
		require.NoError(t, err)
		if string(after) != string(before) {
			row.Data.Definition = after
		}
		out = append(out, row)
	}
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	r, err := tx.ResolutionLock(ctx, resID)
	require.NoError(t, err)
	require.NoError(t, tx.StepUpsert(ctx, r, out))
	require.NoError(t, tx.Commit(ctx))
}

// setStepStates overwrites the stored states of steps.
func (b *testBundle) setStepStates(t *testing.T, resID string, states map[string]string) {
	t.Helper()
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	b.editSteps(t, resID, names, func(name string, s *template.Step) { s.State = states[name] })
}

// definitionOf returns a deep copy of the definition part of a step as
// Steps shows it.
func definitionOf(t *testing.T, v *template.Step) *template.Step {
	t.Helper()
	s := *v
	s.State, s.Output, s.Metadata, s.Children, s.Error, s.TryCount = "", nil, nil, nil, "", 0
	s.LastRun, s.Item, s.Tags, s.ChildrenSteps, s.ChildrenStepsMap = nil, nil, nil, nil, nil
	doc, err := json.Marshal(s)
	require.NoError(t, err)
	var out template.Step
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	return &out
}

// runResolution runs one cycle and reads the resolution back.
func (b *testBundle) runResolution(t *testing.T, resID string) (*store.Resolution, *store.Task, map[string]*template.Step) {
	t.Helper()
	return b.run(t, resID)
}

// outputMap returns a step output as an object.
func outputMap(t *testing.T, s *template.Step) map[string]any {
	t.Helper()
	m, ok := s.Output.(map[string]any)
	require.True(t, ok, "output of %s is %T: %v", s.Name, s.Output, s.Output)
	return m
}

// childrenOf returns the children results of a foreach step.
func childrenOf(t *testing.T, s *template.Step) []map[string]any {
	t.Helper()
	if s.Children == nil {
		return nil
	}
	list, ok := s.Children.([]any)
	require.True(t, ok, "children of %s are %T", s.Name, s.Children)
	out := make([]map[string]any, len(list))
	for i, c := range list {
		out[i], ok = c.(map[string]any)
		require.True(t, ok)
	}
	return out
}

// 1. Undeclared inputs are dropped; a server error leaves the resolution
// in ERROR.
func TestExpectationSimpleTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "simple.yaml", map[string]any{"foo": "bar"})
	res, task, steps := b.runResolution(t, id)
	require.Equal(t, state.ResError, res.State)
	require.Equal(t, map[string]any{}, task.Input, "the undeclared input is dropped")
	require.Equal(t, state.Done, steps["stepOne"].State)
	require.Equal(t, state.Done, steps["stepTwo"].State)
	require.Equal(t, map[string]any{"message": "one two"}, steps["stepTwo"].Output)
	require.Equal(t, state.ServerError, steps["stepThree"].State)
	require.Equal(t, "FAIL!", steps["stepThree"].Error)
	require.Equal(t, state.TaskRunning, task.State)
	require.Equal(t, 2, task.StepsDone)
}

// 2. A step calls a function with an argument.
func TestExpectationFunction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "functionEchoHelloWorld.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"value": "Hello toto !"}, steps["stepOne"].Output)
}

// 3. A chain of functions: merge outputs apply innermost first and check
// conditions innermost first, then the step's own.
func TestExpectationFunctionBaseOutput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "functionNested.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{
		"value":                "Hello foobar !",
		"nested1":              "foo",
		"nested2":              "foo",
		"base_nested":          "nested2",
		"base_output_template": "foo",
	}, steps["stepOne"].Output)
	require.Equal(t, "CUSTOM_STATE1", steps["stepOne"].State)
}

// 4. A function contributes its custom states to the step.
func TestExpectationFunctionCustomState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "functionCustomState.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"value": "Hello world!"}, steps["stepOne"].Output)
	require.Equal(t, []string{"STATE_HELLO"}, b.catalog.EffectiveCustomStates(steps["stepOne"]))
}

// 5. A function's pre-hook output feeds its action.
func TestExpectationFunctionPreHook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "functionPreHook.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"value": "Hello 42 !", "coalesce": "Coalesce 42!"}, steps["stepOne"].Output)
}

// 6. A function's template output replaces the raw echo output.
func TestExpectationFunctionTemplatedOutput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "functionEchoTemplatedOutput.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"full_name": "John Doe"}, steps["stepOne"].Output)
}

// 7. A client error blocks the resolution.
func TestExpectationClientError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, task, steps := b.runResolution(t, b.mustCreate(t, "clientError.yaml", map[string]any{}))
	require.Equal(t, state.ResBlockedBadRequest, res.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.ClientError, steps["stepOne"].State)
	require.Equal(t, "bad request", steps["stepOne"].Error)
}

// 8. retry_max 1: the first failing cycle blocks the resolution.
func TestExpectationMaxRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "maxRetry.yaml", map[string]any{})
	_, _, steps := b.read(t, id)
	require.Equal(t, 0, steps["stepOne"].TryCount)
	res, task, steps := b.runResolution(t, id)
	require.Equal(t, state.ResBlockedMaxRetries, res.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.ServerError, steps["stepOne"].State)
	require.Equal(t, 1, steps["stepOne"].TryCount)
}

// 9. A server error schedules the next cycle: seconds pattern, one
// execution, 8 s × 1.25.
func TestExpectationNextRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "nextRetry.yaml", map[string]any{})
	res, _, steps := b.read(t, id)
	require.Equal(t, 0, steps["stepOne"].TryCount)
	require.Nil(t, res.NextRetry)
	res, _, steps = b.runResolution(t, id)
	require.Equal(t, state.ResError, res.State)
	require.Equal(t, state.ServerError, steps["stepOne"].State)
	require.Equal(t, 1, steps["stepOne"].TryCount)
	require.NotNil(t, res.NextRetry)
	require.Equal(t, b.clock.Now().Add(10*time.Second), res.NextRetry.UTC())
}

// 10. max_retries 1: two executions, then FATAL_ERROR at the next pick.
func TestExpectationStepMaxRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "stepMaxRetries.yaml", map[string]any{})
	res, _, steps := b.read(t, id)
	require.Equal(t, state.ResTodo, res.State)
	require.Equal(t, 0, steps["stepOne"].TryCount)
	require.Equal(t, 1, steps["stepOne"].MaxRetries)
	for run := 1; run <= 2; run++ {
		res, _, steps = b.runResolution(t, id)
		require.Equal(t, state.ResError, res.State, "run %d", run)
		require.Equal(t, state.ServerError, steps["stepOne"].State, "run %d", run)
		require.Equal(t, run, steps["stepOne"].TryCount, "run %d", run)
	}
	res, task, steps := b.runResolution(t, id)
	require.Equal(t, state.ResBlockedFatal, res.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.FatalError, steps["stepOne"].State)
	require.Equal(t, 2, steps["stepOne"].TryCount, "the third pick does not execute")
	require.Equal(t, "Step reached max retries 1: server error", steps["stepOne"].Error)
}

// 11. Template validation and linting, through resolution creation.
func TestExpectationLintingAndValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		file    string
		wantErr string // empty: valid
	}{
		{file: "lintingError.yaml", wantErr: "Linting error: step stepOne: Variable notfound does not exist"},
		{file: "lintingRootKey.yaml", wantErr: "Variable grault does not exist"},
		{file: "lintingReservedStep.yaml", wantErr: "Invalid step this: 'this' step name is reserved"},
		{file: "customStates.yaml", wantErr: `Custom state "SERVER_ERROR" is not allowed as it's a reserved state`},
		{file: "forbiddenStateImpact.yaml", wantErr: "Invalid step stepOne: Step condition cannot impact the state of step stepTwo, only those who belong to the dependency chain are allowed"},
		{file: "stepDetailsLintingError.yaml", wantErr: "step: Wrong step key: stepNotFound"},
		// µTask validates steps in map order, so the step its message ends
		// with varies; utask validates them in name order (a difference
		// README lists), so the cycle is always reported from stepOne.
		{file: "circularDependencies.yaml", wantErr: "Invalid: circular dependency [stepOne stepThree stepTwo] <-> stepOne"},
		{file: "selfDependency.yaml", wantErr: "Invalid: circular dependency [stepOne] <-> stepOne"},
		{file: "orphanDependencies.yaml", wantErr: `Invalid dependency, no step with that name: "stepTwo"`},
		{file: "functionEchoHelloWorldError.yaml", wantErr: `Invalid executor action: missing function_args "name"`},
		{file: "conditionForeachSkipOnly.yaml", wantErr: "Step condition can set foreach on a skip condition"},
		{file: "conditionForeachInvalid.yaml", wantErr: "Unknown condition foreach: invalid"},
		{file: "conditionForeachStepNotForeach.yaml", wantErr: "Step condition cannot set foreach on a non-foreach step"},
		{file: "lintingInfiniteOk.yaml"},
		{file: "lintingObject.yaml"},
		{file: "allowedStateImpact.yaml"},
		{file: "functionEchoHelloWorld.yaml"},
		{file: "functionCustomState.yaml"},
		{file: "functionPreHook.yaml"},
		{file: "functionEchoTemplatedOutput.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			t.Parallel()
			id, err := b.createResolution(t, tt.file, map[string]any{}, nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotEmpty(t, id)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.True(t, strings.HasPrefix(err.Error(), "Invalid task template: "), err.Error())
			require.Empty(t, id)
		})
	}
}

// 12. A json_schema gets its $schema from its version.
func TestExpectationComputeversion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, steps := b.read(t, b.mustCreate(t, "computeVersion.yaml", nil))
	want := map[string]string{
		"stepOne":   "http://json-schema.org/draft-07/schema#",
		"stepTwo":   "http://json-schema.org/draft-06/schema#",
		"stepThree": "http://json-schema.org/draft-04/schema#",
		"stepFour":  "http://json-schema.org/draft-04/schema#",
		"stepFive":  "http://json-schema.org/draft-07/schema#",
		"stepSix":   "http://json-schema.org/draft-07/schema#",
	}
	got := map[string]string{}
	for name, s := range steps {
		var schema map[string]any
		require.NoError(t, json.Unmarshal(s.JSONSchema, &schema), name)
		got[name], _ = schema["$schema"].(string)
		require.NotContains(t, schema, "version", name)
	}
	require.Equal(t, want, got)
}

// 13. Skipped steps prune their dependents.
func TestExpectationPrune(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  map[string]string
	}{
		{name: "Skip", input: "skip", want: map[string]string{
			"stepOne": "PRUNE", "stepTwo": "DONE", "stepThree": "PRUNE", "stepFour": "PRUNE", "stepFive": "PRUNE",
		}},
		{name: "NotSkip", input: "not_skip", want: map[string]string{
			"stepOne": "DONE", "stepTwo": "DONE", "stepThree": "PRUNE", "stepFour": "PRUNE", "stepFive": "DONE",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			res, _, steps := b.runResolution(t, b.mustCreate(t, "prune.yaml", map[string]any{"skipStepOne": tt.input}))
			require.Equal(t, state.ResDone, res.State)
			require.Equal(t, tt.want, stepStates(steps))
		})
	}
}

// 14. States given by skip and check conditions, over two runs.
func TestExpectationStepConditionStates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "stepCondition.yaml", map[string]any{})
	res, _, steps := b.read(t, id)
	require.Equal(t, state.ResTodo, res.State)
	require.Equal(t, state.Todo, steps["stepOne"].State)
	require.Equal(t, state.Todo, steps["stepOneFinal"].State)
	require.Equal(t, 0, steps["stepOne"].TryCount)
	require.Equal(t, 0, steps["stepOneFinal"].TryCount)

	res, _, steps = b.runResolution(t, id)
	require.Equal(t, state.ToRetry, steps["stepOne"].State, "PRUNE then TO_RETRY: the second wins")
	require.Equal(t, state.Prune, steps["stepOneFinal"].State, "the first condition is final")
	require.Equal(t, state.ClientError, steps["stepSkip"].State)
	require.Equal(t, state.Prune, steps["stepSkipFinal"].State)
	require.Equal(t, state.ResBlockedBadRequest, res.State, "CLIENT_ERROR outranks TO_RETRY")
	require.Equal(t, 1, steps["stepOne"].TryCount)
	require.Equal(t, 1, steps["stepOneFinal"].TryCount)
	require.Equal(t, 0, steps["stepSkip"].TryCount, "a skipped step does not execute")

	res, _, steps = b.runResolution(t, id)
	require.Equal(t, state.ToRetry, steps["stepOne"].State)
	require.Equal(t, 2, steps["stepOne"].TryCount, "TO_RETRY is executed again")
	require.Equal(t, state.Prune, steps["stepOneFinal"].State)
	require.Equal(t, 1, steps["stepOneFinal"].TryCount, "PRUNE is final: not executed again")
	require.Equal(t, state.ResBlockedBadRequest, res.State)
	require.Equal(t, "REGEXP_MATCH", steps["stepTwo"].State)
	require.Equal(t, "NOTREGEXP_MATCH", steps["stepTwoBis"].State)
	require.Equal(t, "FOO", steps["stepThree"].State)
	require.Equal(t, "changed state matched correctly", steps["stepThree"].Error)
	require.Equal(t, "OK", steps["stepFour"].State)
	require.Equal(t, "OK", steps["stepFour"].Error)
	require.Equal(t, state.Prune, steps["stepFive"].State)
	require.Equal(t, "LIST_NOMATCH", steps["stepSix"].State)
	require.Equal(t, state.Done, steps["stepForeach"].State)
	children := childrenOf(t, steps["stepForeach"])
	require.Len(t, children, 3, "the child of item 3 pruned itself")
	for i, want := range []string{"FOO1", "FOO2", "DONE"} {
		require.Equal(t, want, children[i]["state"], "child %d", i)
	}
	require.Equal(t, "VALID", steps["stepForeachValidation"].State)
}

// 15. A crashed resolution whose non-idempotent step was RUNNING needs a
// human: the run is refused without an error and nothing executes.
func TestExpectationResolutionStateCrashed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "stepCondition.yaml", map[string]any{})
	b.setResolutionState(t, id, state.ResCrashed)
	b.setStepStates(t, id, map[string]string{"stepOne": state.Running})
	require.NoError(t, b.engine.RunSync(context.Background(), id))
	res, task, steps := b.read(t, id)
	require.Equal(t, state.ResBlockedToCheck, res.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.Crashed, steps["stepOne"].State)
	for name, s := range steps {
		require.Equal(t, 0, s.TryCount, "step %s was executed", name)
		if name != "stepOne" {
			require.Equal(t, state.Todo, s.State, name)
		}
	}
}

// refusedRun checks that a resolution set to st is not run, with err.
func refusedRun(t *testing.T, st string, want error, text string) {
	t.Helper()
	b := setup(t)
	id := b.mustCreate(t, "stepCondition.yaml", map[string]any{})
	b.setResolutionState(t, id, st)
	err := b.engine.RunSync(context.Background(), id)
	require.ErrorIs(t, err, want)
	require.EqualError(t, err, text)
	res, _, steps := b.read(t, id)
	require.Equal(t, st, res.State)
	require.Equal(t, state.Todo, steps["stepOne"].State)
	require.Equal(t, 0, res.RunCount)
}

// 16. A cancelled resolution does not run.
func TestExpectationResolutionStateCancelled(t *testing.T) {
	t.Parallel()
	refusedRun(t, state.ResCancelled, engine.ErrCancelled, "Can't run resolution: cancelled")
}

// 17. A done resolution does not run again.
func TestExpectationResolutionStateDone(t *testing.T) {
	t.Parallel()
	refusedRun(t, state.ResDone, engine.ErrAlreadyDone, "Can't run resolution: already done")
}

// 18. A running resolution does not start a second cycle.
func TestExpectationResolutionStateRunning(t *testing.T) {
	t.Parallel()
	refusedRun(t, state.ResRunning, engine.ErrAlreadyRunning, "Can't run resolution: already running")
}

// 19. An asynchronous run starts without error.
func TestExpectationAsyncResolve(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "stepCondition.yaml", map[string]any{})
	res, _, steps := b.read(t, id)
	require.Equal(t, state.ResTodo, res.State)
	require.Equal(t, state.Todo, steps["stepOne"].State)
	require.Equal(t, 0, steps["stepOne"].TryCount)
	require.NoError(t, b.engine.RunNow(context.Background(), id))
	require.Eventually(t, func() bool {
		res, _, _ := b.read(t, id)
		return res.State == state.ResBlockedBadRequest
	}, 10*time.Second, 5*time.Millisecond)
}

// 20. A number input renders as its exact decimal text.
func TestExpectationInputNumber(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "input.yaml", map[string]any{"quantity": -2.3}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, "-2.3", outputMap(t, steps["stepOne"])["value"])
}

// 21. ANY dependencies run whatever their dependency ended in, even
// PRUNE.
func TestExpectationAnyDependency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "anyDependency.yaml", map[string]any{}))
	require.Equal(t, "yes", outputMap(t, steps["secondStepRunsIfAny"])["i_ran_anyway"])
	require.Equal(t, map[string]string{
		"firstStepNotFound":         "NOT_FOUND",
		"secondStepRunsIfAny":       "DONE",
		"thirdStepRunsIfSecondOK":   "DONE",
		"thirdStepRunsIfSecondKO":   "PRUNE",
		"fourthStepWillNotBePruned": "DONE",
	}, stepStates(steps))
	require.Equal(t, state.ResDone, res.State)
}

// 22. An ANY dependency on a pruned step waits until all the ancestors of
// that step are settled.
func TestExpectationIndirectDependencies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "indirectDependencies.yaml", map[string]any{}))
	require.Equal(t, map[string]string{
		"stepOne": "DONE", "stepTwo": "FATAL_ERROR", "stepThree": "PRUNE", "stepFour": "TODO",
	}, stepStates(steps))
	require.Equal(t, state.ResBlockedFatal, res.State)
}

// 23. A check condition runs after a client error and reads the metadata.
func TestExpectationMetadata(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "metadata.yaml", map[string]any{}))
	require.Equal(t, "NOTFOUND", steps["notfound"].State)
	require.Equal(t, map[string]any{"HTTPStatus": json.Number("404")}, steps["notfound"].Metadata)
	require.Equal(t, state.ResDone, res.State)
}

// 24. RETRY_NOW re-executes a step within the cycle.
func TestExpectationRetryNow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "retryNowState.yaml", map[string]any{"N": 12.0, "separator": " sep "}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, state.Done, steps["fibonacci"].State)
	require.Equal(t, state.Done, steps["join"].State)
	require.Equal(t, "0 sep 1 sep 1 sep 2 sep 3 sep 5 sep 8 sep 13 sep 21 sep 34 sep 55 sep 89 sep 144",
		outputMap(t, steps["join"])["str"])
	require.Equal(t, 12, steps["fibonacci"].TryCount)
}

// 25. RETRY_NOW stops at max_retries: the step executes max_retries + 1
// times, then becomes FATAL_ERROR.
func TestExpectationRetryNowMaxRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "retryNowMaxRetry.yaml", map[string]any{}))
	require.Equal(t, state.ResBlockedFatal, res.State)
	s := steps["infinite"]
	require.Equal(t, state.FatalError, s.State)
	require.Equal(t, s.MaxRetries+1, s.TryCount)
	require.Equal(t, 42, s.TryCount)
	require.Equal(t, "42", s.Output)
	require.Equal(t, "Step reached max retries 41: ", s.Error)
}

// 26. Loops: children skips, child check conditions on the children and on
// other steps, a loop over the results of another.
func TestExpectationForeach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "foreach.yaml", map[string]any{"list": []any{"a", "b", "c"}}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]string{
		"emptyLoop": "DONE", "generateItems": "DONE", "bStep": "B", "concatItems": "DONE", "finalStep": "DONE",
	}, stepStates(steps))
	require.Equal(t, 0, steps["bStep"].TryCount, "bStep never executes")
	require.Nil(t, steps["bStep"].Output)
	require.Empty(t, childrenOf(t, steps["emptyLoop"]))
	require.Len(t, childrenOf(t, steps["generateItems"]), 2, "item a was pruned")
	concat := childrenOf(t, steps["concatItems"])
	require.Len(t, concat, 1, "the child of c pruned itself")
	require.Equal(t, map[string]any{"concat": "foo-b-bar-b"}, concat[0]["output"])
	meta, ok := concat[0]["metadata"].(map[string]any)
	require.True(t, ok)
	iterator, ok := meta["iterator"].(map[string]any)
	require.True(t, ok, "the iterator is the whole child record of generateItems")
	out, ok := iterator["output"].(map[string]any)
	require.True(t, ok)
	formatted := map[string]string{}
	for k, v := range out {
		formatted[k] = fmt.Sprintf("%v", v)
	}
	require.Equal(t, map[string]string{"foo": "foo-b", "bar": "bar-b"}, formatted)
	require.Equal(t, "DONE", iterator["state"])
}

// chainIterations edits a created foreach.yaml resolution as rows 27 and 28
// do: the a skip gives DONE instead of PRUNE, a child check turns d into a
// SERVER_ERROR, the children run in sequence and, withDep, generateItems
// depends on emptyLoop.
func chainIterations(t *testing.T, b *testBundle, id string, withDep bool) {
	t.Helper()
	b.editSteps(t, id, []string{"generateItems"}, func(_ string, s *template.Step) {
		s.Conditions[0].Then[template.ThisStep] = state.Done
		s.Conditions = append(s.Conditions, &template.Condition{
			Type:    template.ConditionCheck,
			Foreach: template.ForeachChildren,
			If:      []template.Assert{{Value: "{{.iterator}}", Operator: "EQ", Expected: "d"}},
			Then:    map[string]string{template.ThisStep: state.ServerError},
		})
		s.ForeachStrategy = template.ForeachSequence
		if withDep {
			s.Dependencies = []string{"emptyLoop"}
		}
	})
}

// 27. Children in sequence: each depends on the previous one, and a child
// in SERVER_ERROR holds back the next.
func TestExpectationForeachWithChainedIterations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "foreach.yaml", map[string]any{"list": []any{"a", "b", "c", "d", "e"}})
	chainIterations(t, b, id, false)
	res, _, steps := b.runResolution(t, id)
	checkChainedIterations(t, res, steps)
	require.Empty(t, steps["generateItems-0"].Dependencies)
	for i := 1; i < 5; i++ {
		require.Equal(t, []string{fmt.Sprintf("generateItems-%d", i-1)}, steps[fmt.Sprintf("generateItems-%d", i)].Dependencies)
	}
}

// 28. As 27, with the loop depending on another step: the children inherit
// that dependency.
func TestExpectationForeachWithChainedIterationsWithDepOnParent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "foreach.yaml", map[string]any{"list": []any{"a", "b", "c", "d", "e"}})
	chainIterations(t, b, id, true)
	res, _, steps := b.runResolution(t, id)
	checkChainedIterations(t, res, steps)
	require.Equal(t, []string{
		"emptyLoop", "generateItems-0:ANY", "generateItems-1:ANY", "generateItems-2:ANY", "generateItems-3:ANY", "generateItems-4:ANY",
	}, steps["generateItems"].Dependencies)
	require.Equal(t, []string{"emptyLoop"}, steps["generateItems-0"].Dependencies)
	for i := 1; i < 5; i++ {
		require.Equal(t, []string{"emptyLoop", fmt.Sprintf("generateItems-%d", i-1)}, steps[fmt.Sprintf("generateItems-%d", i)].Dependencies)
	}
}

func checkChainedIterations(t *testing.T, res *store.Resolution, steps map[string]*template.Step) {
	t.Helper()
	require.Equal(t, state.ResError, res.State)
	require.Equal(t, map[string]string{
		"emptyLoop": "DONE", "generateItems": "EXPANDED", "bStep": "B", "concatItems": "TODO", "finalStep": "TODO",
		"generateItems-0": "DONE", "generateItems-1": "DONE", "generateItems-2": "DONE",
		"generateItems-3": "SERVER_ERROR", "generateItems-4": "TODO",
	}, stepStates(steps))
	require.Nil(t, steps["generateItems-0"].Output, "a is skipped as DONE, without executing")
}

// 29. Loops and skip conditions, with and without dependencies, started
// fresh or from TO_RETRY.
func TestExpectationForeachWithPreRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		toRetry bool
	}{
		{name: "AsCreated"},
		{name: "FromToRetry", toRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.mustCreate(t, "foreachAndPreRun.yaml", map[string]any{})
			if tt.toRetry {
				b.setStepStates(t, id, map[string]string{
					"stepForeachPrune": state.ToRetry, "stepDepOnForeachPrune": state.ToRetry,
					"stepForeachPruneParentTask": state.ToRetry, "stepDepOnForeachPruneParentTask": state.ToRetry,
				})
			}
			res, _, steps := b.runResolution(t, id)
			require.Equal(t, state.ResDone, res.State)
			require.Equal(t, map[string]string{
				"stepForeachNoDep": "DONE", "stepSkippedNoDep": "DONE", "stepNoDep": "DONE",
				"stepForeachWithDep": "DONE", "stepSkippedWithDep": "DONE",
				"stepDep": "PRUNE", "stepDep2": "PRUNE",
				"stepForeachPrune": "DONE", "stepDepOnForeachPrune": "DONE",
				"stepForeachPruneParentTask": "PRUNE", "stepDepOnForeachPruneParentTask": "PRUNE",
			}, stepStates(steps))
			require.Empty(t, childrenOf(t, steps["stepForeachPrune"]))
			require.Equal(t, "0", steps["stepDepOnForeachPrune"].Output)
			require.Len(t, childrenOf(t, steps["stepForeachWithDep"]), 2)
		})
	}
}

// 30. A loop in FATAL_ERROR is not expanded again.
func TestExpectationForeachWithErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "foreach.yaml", map[string]any{"list": []any{"a", "b", "c"}})
	b.setStepStates(t, id, map[string]string{"generateItems": state.FatalError})
	res, _, steps := b.runResolution(t, id)
	require.Equal(t, state.ResBlockedFatal, res.State)
	require.Equal(t, map[string]string{
		"emptyLoop": "DONE", "generateItems": "FATAL_ERROR", "bStep": "TODO", "concatItems": "TODO", "finalStep": "TODO",
	}, stepStates(steps))
	require.Empty(t, steps["generateItems"].ChildrenSteps)
}

// 31. Variables: values, templated values, expressions, evalCache.
func TestExpectationVariables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "variables.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"truc": "4", "bidule": "5", "templated": "Hello World!", "cached": "6"},
		steps["renderVariables"].Output)
	require.Equal(t, map[string]any{"cached": "6"}, steps["renderVariablesWithCache"].Output)
}

// 32. Inputs render byte for byte, and toJson makes valid JSON of them.
func TestExpectationJSONTemplating(t *testing.T) {
	t.Parallel()
	b := setup(t)
	multi := "Un,\n\tDeux,\n\tTrois,\n\tSoleil!"
	res, _, steps := b.runResolution(t, b.mustCreate(t, "jsonTemplating.yaml", map[string]any{
		"singleString": "hello", "multilineString": multi,
	}))
	require.Equal(t, state.ResDone, res.State)
	out := outputMap(t, steps["stepOne"])
	require.Equal(t, multi, out["raw-multiline"])
	require.Equal(t, "hello", out["raw-single"])
	body, ok := out["my-json-body"].(string)
	require.True(t, ok)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &doc), body)
	require.Equal(t, map[string]any{"single": "hello", "multiline": multi}, doc)
}

// 33. A large integer keeps its digits through toJson and a loop.
func TestExpectationJSONNumberTemplating(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "jsonnumber.yaml", nil))
	require.Equal(t, state.ResDone, res.State)
	children := childrenOf(t, steps["loopStep"])
	require.NotEmpty(t, children)
	require.Equal(t, "/id/1619464078", children[0]["output"])
	require.Len(t, children, 2)
	require.Equal(t, "/id/12345678912345678", children[1]["output"])
}

// 34. fromJson on a step output.
func TestExpectationJSONParsing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "jsonParsing.yaml", nil))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"a": "utask", "b": "666", "c": "map[k:v]", "d": "[1 2 3]"}, steps["parse"].Output)
}

// 35. A child sends its loop back to TO_RETRY: the loop is contracted and
// re-expanded by the next cycle.
func TestExpectationRetryLoop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "retryloop.yaml", map[string]any{})
	res, _, steps := b.runResolution(t, id)
	require.Equal(t, state.ResError, res.State)
	require.Equal(t, state.ToRetry, steps["generateItems"].State)
	require.Nil(t, steps["generateItems"].ChildrenSteps)
	require.Len(t, steps, 1, "the children were contracted")

	b.editSteps(t, id, []string{"generateItems"}, func(_ string, s *template.Step) { s.Conditions = nil })
	res, _, steps = b.runResolution(t, id)
	require.Equal(t, state.ResDone, res.State)
	require.Nil(t, steps["generateItems"].ChildrenSteps)
	children := childrenOf(t, steps["generateItems"])
	require.Len(t, children, 3)
	require.Equal(t, map[string]any{"foo": "foo-a"}, children[0]["output"])
}

// 36. The deprecated base_output merges under the echo output.
func TestExpectationBaseOutput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "base_output.yaml", map[string]any{"id": "1234"}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"id": "1234", "foo": "bar"}, steps["stepOne"].Output)
}

// 37. An optional input given as "" stays "".
func TestExpectationEmptyStringInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "input.yaml", map[string]any{"quantity": -2.3, "foo": ""}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, state.Done, steps["stepOne"].State)
	out := outputMap(t, steps["stepOne"])
	require.Contains(t, out, "foo")
	require.Equal(t, "", out["foo"])
}

// 38. A merge output gives an output to an echo that has none.
func TestExpectationBaseOutputNoOutput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "no-output.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, state.Done, steps["stepOne"].State)
	require.Equal(t, map[string]any{"foobar": "buzz"}, steps["stepOne"].Output)
}

// 39. A templating error in an output format is fatal.
func TestExpectationOutputTemplatingError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		strategy template.OutputStrategy
		format   string
		wantErr  string
	}{
		{name: "TemplateMissingKey", strategy: template.OutputTemplate, format: "{{ index .foo.unknown 3 }}", wantErr: "unable to format output: Templating error: template:"},
		{name: "MergeMissingKey", strategy: template.OutputMerge, format: "{{ index .foo.unknown 3 }}", wantErr: "failed to template base output: Templating error: template:"},
		{name: "TemplateOwnOutput", strategy: template.OutputTemplate, format: "{{ index .step.stepOne.output.foo.unknown 3 }}", wantErr: "unable to format output: Templating error: template:"},
		{name: "MergeOwnOutput", strategy: template.OutputMerge, format: "{{ index .step.stepOne.output.foo.unknown 3 }}", wantErr: "failed to template base output: Templating error: template:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.mustCreate(t, "no-output.yaml", map[string]any{})
			b.editSteps(t, id, []string{"stepOne"}, func(_ string, s *template.Step) {
				s.Action.Output = &template.Output{Strategy: tt.strategy, Format: map[string]any{"foo2": tt.format}}
			})
			res, _, steps := b.runResolution(t, id)
			require.Equal(t, state.ResBlockedFatal, res.State)
			require.Equal(t, state.FatalError, steps["stepOne"].State)
			require.Contains(t, steps["stepOne"].Error, tt.wantErr)
		})
	}
}

// 40. The deprecated base_output gives an output to an echo that has none.
func TestExpectationBaseOutputNoOutputBackwardCompatibility(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "no-output-backward.yaml", map[string]any{}))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, state.Done, steps["stepOne"].State)
	require.Equal(t, map[string]any{"foobar": "buzz"}, steps["stepOne"].Output)
}

// 43. Two steps share a base configuration and override part of it.
func TestExpectationBaseBaseConfiguration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "base_configuration.yaml", nil))
	one, two := steps["stepOne"], steps["stepTwo"]
	require.Equal(t, "testingcfg", one.Action.BaseConfiguration)
	require.Equal(t, "testingcfg", two.Action.BaseConfiguration)
	require.Equal(t, "testingoutput", one.Output)
	require.Equal(t, one.Output, two.Output)
	require.Equal(t, "error1", one.Error)
	require.Equal(t, "error2", two.Error)
	require.Equal(t, state.ServerError, one.State)
	require.Equal(t, state.ServerError, two.State)
	require.Equal(t, state.ResError, res.State)
}

// 47. Unpadded base64 both ways.
func TestExpectationB64RawEncodeDecode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "rawb64EncodingDecoding.yaml", nil))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"a": "cmF3IG1lc3NhZ2U", "b": "raw message"}, steps["decode"].Output)
}

// applyInputs are the inputs of the configuration templating rows.
func applyInputs() map[string]any {
	return map[string]any{"ifoo1": "Hello", "ifoo2": true, "ifoo3": 12, "ifoo4": []any{"Hello", "you!"}}
}

// runApply runs apply.yaml and checks that step ok rendered want and that
// step bad failed to render its configuration.
func runApply(t *testing.T, ok, bad, want string) {
	t.Helper()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "apply.yaml", applyInputs()))
	require.Equal(t, state.ResBlockedFatal, res.State)
	require.Equal(t, state.Done, steps[ok].State)
	var got strings.Builder
	enc := json.NewEncoder(&got)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(steps[ok].Output))
	require.Equal(t, want, strings.TrimSpace(got.String()), "keys are sorted on re-encoding")
	require.Equal(t, state.FatalError, steps[bad].State)
	require.Contains(t, steps[bad].Error, "failed to template configuration: ")
	require.Contains(t, steps[bad].Error, "can't evaluate field notexisting in type interface")
}

// §2 TestApply: a flat configuration is templated string by string.
func TestExpectationApply(t *testing.T) {
	t.Parallel()
	runApply(t, "flat", "flatError", `{"foo":"Hello -> 12"}`)
}

// §2 TestApplyNested: nested objects and lists are templated too.
func TestExpectationApplyNested(t *testing.T) {
	t.Parallel()
	runApply(t, "nested", "nestedError", `{"fooo":{"array":["true"],"foo":"Hello -> 12"}}`)
}

// §2 TestApplyArray: a list at the top is templated too.
func TestExpectationApplyArray(t *testing.T) {
	t.Parallel()
	runApply(t, "array", "arrayError", `["fooo",{"array":["true"],"foo":"Hello -> 12"}]`)
}

// §3 TestTmpl: field and fieldFrom walk keys with dashes.
func TestExpectationTmpl(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "tmpl.yaml", nil))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{
		"raw":      `{"common-name":"utask.example.org","id":32,"foo":{"bar":1}}`,
		"name":     "utask.example.org",
		"bar":      "1",
		"fallback": "example.org",
		"this":     "map[]",
	}, steps["foo"].Output)
}

// §3 TestJsonNumber: exact numbers, variables and iterators are the same in
// a step's configuration (the per-attempt view) and in its conditions (the
// live values).
func TestExpectationJSONNumber(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, _, steps := b.runResolution(t, b.mustCreate(t, "jsonNumberValues.yaml", nil))
	require.Equal(t, state.ResDone, res.State)
	require.Equal(t, map[string]any{"my-payload": map[string]any{"foo": json.Number("0")}}, steps["first"].Output)
	require.Equal(t, map[string]any{
		"type": "json.Number", "value": "0", "foobar0": "ok", "foobar1": "ok", "foobar2": "bar",
	}, steps["second"].Output)
	require.Equal(t, "CHECKED", steps["second"].State)
	children := childrenOf(t, steps["loop"])
	require.Len(t, children, 1)
	require.Equal(t, "buzz", children[0]["output"])
	require.Equal(t, "BUZZ", children[0]["state"])
}

// An edited step is normalised like a template step: a skip condition of a
// loop without a target applies to the children, and a base_output becomes
// a merge output.
func TestEditedStepDefinition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.mustCreate(t, "foreach.yaml", map[string]any{"list": []any{"a", "b"}})
	b.editSteps(t, id, []string{"generateItems", "finalStep"}, func(name string, s *template.Step) {
		switch name {
		case "generateItems":
			s.Conditions[0].Foreach = ""
		case "finalStep":
			s.Action.BaseOutput = json.RawMessage(`{"edited": "yes"}`)
			s.Action.Configuration = json.RawMessage(`{"output": {"final": "{{ len .step.concatItems.children }}"}}`)
		}
	})
	res, _, steps := b.runResolution(t, id)
	require.Equal(t, state.ResDone, res.State)
	require.Len(t, childrenOf(t, steps["generateItems"]), 1, "item a is still skipped")
	require.Equal(t, map[string]any{"edited": "yes", "final": "1"}, steps["finalStep"].Output)
}
