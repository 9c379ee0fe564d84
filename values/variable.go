package values

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// DefaultExpressionTimeout bounds the run of a variable expression without ExpressionTimeout.
const DefaultExpressionTimeout = 10 * time.Second

// MaxEvalDepth is the number of variable evaluations that may be nested (a variable whose
// value evaluates another variable, and so on) before evaluation fails with
// [ErrEvalTooDeep].
const MaxEvalDepth = 32

// jsMaxCallStackSize bounds the JavaScript call depth, so that an infinite recursion throws a
// RangeError instead of growing the interpreter's stack until the timeout.
const jsMaxCallStackSize = 4096

// jsTimeoutMessage is the interrupt value of a JavaScript run that timed out.
const jsTimeoutMessage = "Timed out variable evaluation"

var (
	// ErrVariableNotFound is returned when eval or evalCache names no variable.
	ErrVariableNotFound = errors.New("Var name not found in template") //nolint:gochecknoglobals,staticcheck // sentinel error; the text is part of the contract

	// ErrJSTimeout is returned when a variable expression runs longer than its timeout.
	ErrJSTimeout = errors.New("Recovered from unsafe JS eval: " + jsTimeoutMessage) //nolint:gochecknoglobals,staticcheck // sentinel error; the text is part of the contract

	// ErrJSStackOverflow is returned when a variable expression exceeds the JavaScript call
	// depth limit.
	ErrJSStackOverflow = errors.New("RangeError: Maximum call stack size exceeded") //nolint:gochecknoglobals // sentinel error

	// ErrEvalTooDeep is returned when more than [MaxEvalDepth] variable evaluations are nested.
	ErrEvalTooDeep = errors.New("evaluate variable: too many nested evaluations") //nolint:gochecknoglobals // sentinel error
)

// Variable is a template variable, evaluated by the eval and evalCache functions. Exactly one
// of Value and Expression is normally set (template validation enforces it).
type Variable struct {
	// Name identifies the variable.
	Name string `json:"name"`

	// Value is a fixed value. A string value is itself evaluated as a template; any other value
	// is returned as it is.
	Value any `json:"value,omitempty"`

	// Expression is JavaScript source, evaluated as a template first, then run in a fresh
	// interpreter. The result is the JavaScript String() of the completion value of the script.
	Expression string `json:"expression,omitempty"`

	// ExpressionTimeout bounds the run of Expression (Go duration text). Defaults to
	// [DefaultExpressionTimeout].
	ExpressionTimeout string `json:"expression_timeout,omitempty"`
}

// variable is a registered Variable and the value evalCache memoised for it.
type variable struct {
	def    Variable
	memo   any
	cached bool
}

// evalVariable evaluates the variable called name for a template executing with outer;
// memoise makes it use and fill the evalCache memo.
func (v *Values) evalVariable(name string, outer Scope, memoise bool) (any, error) {
	vr, ok := v.vars[name]
	if !ok {
		return nil, fmt.Errorf("%w: '%s'", ErrVariableNotFound, name)
	}

	if memoise && vr.cached {
		return vr.memo, nil
	}

	if v.evalDepth >= MaxEvalDepth {
		return nil, ErrEvalTooDeep
	}

	v.evalDepth++
	defer func() { v.evalDepth-- }()

	// Variables see the same tree, without foreach item and without step.
	sc := Scope{Attempt: outer.Attempt, FunctionArgs: outer.FunctionArgs, PreHook: outer.PreHook}

	res, err := v.evalDefinition(vr.def, sc)
	if err != nil {
		return nil, err
	}

	if memoise && res != nil {
		vr.memo, vr.cached = res, true
	}

	return res, nil
}

// evalDefinition computes the value of def.
func (v *Values) evalDefinition(def Variable, sc Scope) (any, error) {
	if def.Value != nil {
		if s, ok := def.Value.(string); ok {
			return v.Render(s, sc)
		}

		return def.Value, nil
	}

	timeout := DefaultExpressionTimeout
	if def.ExpressionTimeout != "" {
		d, err := time.ParseDuration(def.ExpressionTimeout)
		if err != nil {
			return nil, fmt.Errorf("parse expression timeout of variable %q: %w", def.Name, err)
		}

		timeout = d
	}

	src, err := v.Render(def.Expression, sc)
	if err != nil {
		return nil, err
	}

	return runJS(src, timeout)
}

// runJS runs src in a fresh JavaScript runtime, interrupted after timeout, and returns the
// String() of its completion value.
func runJS(src string, timeout time.Duration) (res any, err error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(jsMaxCallStackSize)

	timer := time.AfterFunc(timeout, func() { vm.Interrupt(jsTimeoutMessage) })
	defer timer.Stop()

	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("Recovered from unsafe JS eval: %v", r) //nolint:staticcheck // the text is part of the contract
		}
	}()

	// Compiling apart keeps the syntax error as it is, instead of a SyntaxError exception
	// whose text repeats its name.
	prog, err := goja.Compile("", src, false)
	if err != nil {
		return nil, jsError(err)
	}

	val, err := vm.RunProgram(prog)
	if err != nil {
		return nil, jsError(err)
	}

	if val == nil {
		return "undefined", nil
	}

	return val.String(), nil
}

// jsError turns an error of goja into the error text templates see.
func jsError(err error) error {
	var (
		interrupted *goja.InterruptedError
		overflow    *goja.StackOverflowError
		syntax      *goja.CompilerSyntaxError
		exception   *goja.Exception
	)

	switch {
	case errors.As(err, &interrupted):
		return ErrJSTimeout
	case errors.As(err, &overflow):
		return ErrJSStackOverflow
	case errors.As(err, &syntax):
		// The message reads "SyntaxError: (anonymous): Line 1:5 Unexpected token =": drop the
		// prefix so that it reads as before.
		return errors.New(strings.TrimPrefix(syntax.Message, "SyntaxError: ")) //nolint:err113 // the interpreter's own message
	case errors.As(err, &exception) && exception.Value() != nil:
		return errors.New(exception.Value().String()) //nolint:err113 // the interpreter's own message
	default:
		return fmt.Errorf("run expression: %w", err)
	}
}
