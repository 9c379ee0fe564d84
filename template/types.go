package template

import (
	"encoding/json"
	"fmt"
	"time"
)

// Template is a task template: the inputs a requester gives, the inputs a
// resolver gives, variables, and the graph of steps a resolution runs. Its JSON
// field names are those of µTask's template files.
type Template struct {
	Name                      string                     `json:"name"`
	Description               string                     `json:"description"`
	LongDescription           *string                    `json:"long_description,omitempty"`
	DocLink                   *string                    `json:"doc_link,omitempty"`
	TitleFormat               string                     `json:"title_format,omitempty"`
	ResultFormat              map[string]any             `json:"result_format,omitempty"`
	AllowedResolverGroups     []string                   `json:"allowed_resolver_groups"`
	AllowedResolverUsernames  []string                   `json:"allowed_resolver_usernames"`
	AllowAllResolverUsernames bool                       `json:"allow_all_resolver_usernames"`
	AutoRunnable              bool                       `json:"auto_runnable"`
	Blocked                   bool                       `json:"blocked"`
	Hidden                    bool                       `json:"hidden"`
	RetryMax                  *int                       `json:"retry_max,omitempty"`
	AllowTaskStartOver        bool                       `json:"allow_task_start_over"`
	Inputs                    []Input                    `json:"inputs,omitempty"`
	ResolverInputs            []Input                    `json:"resolver_inputs,omitempty"`
	Variables                 []Variable                 `json:"variables,omitempty"`
	Tags                      map[string]string          `json:"tags,omitempty"`
	Steps                     map[string]*Step           `json:"steps,omitempty"`
	BaseConfigurations        map[string]json.RawMessage `json:"base_configurations"`
}

// DefaultRetryMax is the number of execution cycles a resolution gets when
// its template sets no retry_max.
const DefaultRetryMax = 100

// EffectiveRetryMax returns retry_max, or DefaultRetryMax when it is absent.
func (t *Template) EffectiveRetryMax() int {
	if t.RetryMax == nil {
		return DefaultRetryMax
	}
	return *t.RetryMax
}

// IsAutoRunnable reports whether tasks of the template start without a human:
// auto_runnable is set and there are no resolver inputs.
func (t *Template) IsAutoRunnable() bool {
	return t.AutoRunnable && len(t.ResolverInputs) == 0
}

// Input declares one requester or resolver input.
type Input struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Regex       *string `json:"regex,omitempty"`
	LegalValues []any   `json:"legal_values,omitempty"`
	Collection  bool    `json:"collection"`
	Type        string  `json:"type,omitempty"`
	Optional    bool    `json:"optional"`
	Default     any     `json:"default"`
	Hidden      bool    `json:"hidden"`
}

// Input types.
const (
	InputTypeString   = "string"
	InputTypePassword = "password"
	InputTypeBool     = "bool"
	InputTypeNumber   = "number"
)

// Variable is a named value or JavaScript expression that templates read
// with eval and evalCache.
type Variable struct {
	Name              string `json:"name"`
	Value             any    `json:"value,omitempty"`
	Expression        string `json:"expression,omitempty"`
	ExpressionTimeout string `json:"expression_timeout,omitempty"`
}

// Step is one step of a template, as written by its author. The fields after
// Resources belong to the engine: a template must leave them empty.
type Step struct {
	Name            string          `json:"name,omitempty"`
	Description     string          `json:"description"`
	Idempotent      bool            `json:"idempotent"`
	Action          Action          `json:"action"`
	PreHook         *Action         `json:"pre_hook,omitempty"`
	JSONSchema      json.RawMessage `json:"json_schema,omitempty"`
	RetryPattern    string          `json:"retry_pattern,omitempty"`
	MaxRetries      int             `json:"max_retries,omitempty"`
	ExecutionDelay  time.Duration   `json:"execution_delay,omitempty"`
	Dependencies    []string        `json:"dependencies,omitempty"`
	CustomStates    []string        `json:"custom_states,omitempty"`
	Conditions      []*Condition    `json:"conditions,omitempty"`
	Foreach         string          `json:"foreach,omitempty"`
	ForeachStrategy string          `json:"foreach_strategy"`
	Resources       []string        `json:"resources"`

	State            string            `json:"state,omitempty"`
	ChildrenSteps    []string          `json:"children_steps,omitempty"`
	ChildrenStepsMap map[string]bool   `json:"children_steps_map,omitempty"`
	Output           any               `json:"output,omitempty"`
	Metadata         any               `json:"metadata,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
	Children         any               `json:"children,omitempty"`
	Error            string            `json:"error,omitempty"`
	TryCount         int               `json:"try_count,omitempty"`
	LastRun          *time.Time        `json:"last_run,omitempty"`
	Item             any               `json:"item,omitempty"`
}

// Foreach strategies.
const (
	ForeachParallel = "parallel"
	ForeachSequence = "sequence"
)

// Retry patterns.
const (
	RetrySeconds = "seconds"
	RetryMinutes = "minutes"
	RetryHours   = "hours"
)

// Action says what a step (or a pre-hook, or a function) runs: an action
// type or a function name, and its configuration.
type Action struct {
	Type              string          `json:"type"`
	BaseConfiguration string          `json:"base_configuration,omitempty"`
	Configuration     json.RawMessage `json:"configuration"`
	Output            *Output         `json:"output"`
	BaseOutput        json.RawMessage `json:"base_output,omitempty"`
}

// Output post-processes an action's output.
type Output struct {
	Strategy OutputStrategy `json:"strategy"`
	Format   any            `json:"format"`
}

// OutputStrategy is how Output.Format combines with an action's output.
type OutputStrategy string

// Output strategies.
const (
	OutputNone     OutputStrategy = "none"
	OutputMerge    OutputStrategy = "merge"
	OutputTemplate OutputStrategy = "template"
)

// UnmarshalJSON accepts only the known strategies.
func (s *OutputStrategy) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("OutputStrategy should be a string, got %s", b)
	}
	switch OutputStrategy(str) {
	case OutputNone, OutputMerge, OutputTemplate:
		*s = OutputStrategy(str)
		return nil
	}
	return fmt.Errorf("invalid OutputStrategy %q", str)
}

// Condition changes step states when all its assertions hold: a skip
// condition before a step runs, a check condition after.
type Condition struct {
	Type    string            `json:"type"`
	If      []Assert          `json:"if"`
	Then    map[string]string `json:"then"`
	Final   bool              `json:"final,omitempty"`
	Foreach string            `json:"foreach,omitempty"`
	Message string            `json:"message,omitempty"`
}

// Condition types and foreach targets.
const (
	ConditionSkip   = "skip"
	ConditionCheck  = "check"
	ForeachChildren = "children"
	ForeachParent   = "parent"
	ThisStep        = "this"
)

// Assert is one assertion of a condition.
type Assert struct {
	Value         string `json:"value"`
	Operator      string `json:"operator"`
	Expected      string `json:"expected"`
	ListSeparator string `json:"list_separator,omitempty"`
	Message       string `json:"message,omitempty"`
}

// Function is a reusable action: steps use it as an action type, passing
// arguments that its configuration reads as .function_args.
type Function struct {
	Name         string       `json:"name"`
	Description  string       `json:"description,omitempty"`
	Action       Action       `json:"action"`
	PreHook      *Action      `json:"pre_hook,omitempty"`
	Conditions   []*Condition `json:"conditions,omitempty"`
	CustomStates []string     `json:"custom_states,omitempty"`
}
