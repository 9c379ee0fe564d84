package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/utask/utask/action"
)

// Catalog is what templates are validated against.
type Catalog struct {
	Actions   *action.Registry     // plugin actions by type name
	Functions map[string]*Function // functions by name (a function is usable as an action type)
	Templates map[string]bool      // normalised names of known templates (for actions such as subtask)
	// Syntax, when set, checks that one templated string parses (syntax,
	// known functions); Validate runs it on every string of a template.
	Syntax func(text string) error
}

// TemplateAwareAction is implemented by actions whose configuration names
// other templates (subtask, batch). When an action implements it, template
// validation calls ValidateConfigWithTemplates instead of ValidateConfig,
// passing the normalised names of the templates known to the catalog.
type TemplateAwareAction interface {
	ValidateConfigWithTemplates(base, config json.RawMessage, templates map[string]bool) error
}

// MetadataSchemaAction is implemented by actions that declare a JSON schema
// of their metadata. Template linting checks `.step.<s>.metadata.<path>`
// handles against it; actions without one are not linted.
type MetadataSchemaAction interface {
	MetadataSchema() json.RawMessage
}

// Level is one level of a resolved action chain: the step's own action
// first, then each function's action, ending with the plugin action.
type Level struct {
	Action   Action    // the action at this level (type, configuration, output spec)
	Function *Function // the function this level's Action.Type names; nil for the last (plugin) level
}

// lookup finds the runner of an action type: a registered plugin action
// first, else a function.
func (c *Catalog) lookup(typ string) (action.Action, *Function, bool) {
	if c == nil {
		return nil, nil, false
	}
	if c.Actions != nil {
		if a, ok := c.Actions.Lookup(typ); ok {
			return a, nil, true
		}
	}
	if f, ok := c.Functions[typ]; ok && f != nil {
		return nil, f, true
	}
	return nil, nil, false
}

func noRunnerError(typ string) error {
	return fmt.Errorf("No runner for type '%s'", typ) //nolint:staticcheck // exact µTask text
}

func cyclicError(typ string) error {
	return fmt.Errorf("invalid cyclic import in function for %q", typ)
}

// chain unwraps a's function chain. On error it returns the levels resolved
// so far.
func (c *Catalog) chain(a Action) ([]Level, action.Action, error) {
	var levels []Level
	seen := map[string]bool{}
	cur := a
	for {
		plugin, fn, ok := c.lookup(cur.Type)
		if !ok {
			return levels, nil, noRunnerError(cur.Type)
		}
		levels = append(levels, Level{Action: cur, Function: fn})
		if fn == nil {
			return levels, plugin, nil
		}
		if seen[fn.Name] {
			return levels, nil, cyclicError(cur.Type)
		}
		seen[fn.Name] = true
		cur = fn.Action
	}
}

// Resolve unwraps the function chain of a: the levels in order (a itself
// first, then the action of each function it goes through, the last level
// naming the plugin) and the final plugin action from c.Actions.
func (c *Catalog) Resolve(a Action) ([]Level, action.Action, error) {
	levels, plugin, err := c.chain(a)
	if err != nil {
		return nil, nil, err
	}
	return levels, plugin, nil
}

// functions returns the functions a's chain goes through, outermost first.
// An unresolvable chain yields the functions found before the break.
func (c *Catalog) functions(a Action) []*Function {
	levels, _, _ := c.chain(a)
	var fns []*Function
	for _, l := range levels {
		if l.Function != nil {
			fns = append(fns, l.Function)
		}
	}
	return fns
}

// EffectiveConditions returns the conditions that apply to s: those of the
// innermost function of its action chain first, then outward, then the
// step's own.
func (c *Catalog) EffectiveConditions(s *Step) []*Condition {
	fns := c.functions(s.Action)
	var out []*Condition
	for i := len(fns) - 1; i >= 0; i-- {
		for _, cond := range fns[i].Conditions {
			if cond != nil {
				out = append(out, cond)
			}
		}
	}
	for _, cond := range s.Conditions {
		if cond != nil {
			out = append(out, cond)
		}
	}
	return out
}

// EffectiveCustomStates returns the step's own custom states followed by
// those of the functions of its action chain (outermost first), without
// duplicates.
func (c *Catalog) EffectiveCustomStates(s *Step) []string {
	var out []string
	add := func(states []string) {
		for _, st := range states {
			if !slices.Contains(out, st) {
				out = append(out, st)
			}
		}
	}
	add(s.CustomStates)
	for _, f := range c.functions(s.Action) {
		add(f.CustomStates)
	}
	return out
}

// EffectivePreHook returns the pre-hook that runs before s: the pre-hook of
// the innermost function of its action chain that defines one, else the
// step's own (nil when there is none).
func (c *Catalog) EffectivePreHook(s *Step) *Action {
	fns := c.functions(s.Action)
	for i := len(fns) - 1; i >= 0; i-- {
		if fns[i].PreHook != nil {
			return fns[i].PreHook
		}
	}
	return s.PreHook
}

// functionArgPattern finds the arguments a function reads: handles of the
// exact shape {{ .function_args.NAME }} where NAME is letters and dots.
//
//nolint:gochecknoglobals // compiled once, never modified
var functionArgPattern = regexp.MustCompile(`\{\{\s*\.function_args\.([A-Za-z.]+)\s*\}\}`)

// Arguments returns the argument paths the function's configuration reads
// (handles of the exact shape {{ .function_args.NAME }}, NAME made of
// letters and dots), in order of first appearance, object keys visited in
// sorted order. Other uses of .function_args are not discovered.
func (f *Function) Arguments() []string {
	doc, err := decodeExact(f.Action.Configuration)
	if err != nil {
		return nil
	}
	var args []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, m := range functionArgPattern.FindAllStringSubmatch(x, -1) {
				if !slices.Contains(args, m[1]) {
					args = append(args, m[1])
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k])
			}
		}
	}
	walk(doc)
	return args
}

// validateArgs checks that config (the configuration of the level that uses
// the function) provides every argument the function reads.
func (f *Function) validateArgs(config json.RawMessage) error {
	args := f.Arguments()
	if len(args) == 0 {
		return nil
	}
	doc, _ := decodeExact(config)
	for _, name := range args {
		if !hasPath(doc, strings.Split(name, ".")) {
			return fmt.Errorf("missing function_args %q", name)
		}
	}
	return nil
}

// hasPath reports whether the dotted path exists in doc, every segment but
// the last naming an object.
func hasPath(doc any, path []string) bool {
	cur := doc
	for _, seg := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		cur, ok = m[seg]
		if !ok {
			return false
		}
	}
	return true
}

// errPrehookOnPrehook is returned when a pre-hook's own chain contributes a
// pre-hook.
var errPrehookOnPrehook = errors.New("Invalid prehook on a prehook") //nolint:staticcheck // exact µTask text

// validateExecutor checks an action (a step's action or pre-hook): its base
// configuration exists, every level of its chain has a runner whose
// configuration check passes, the chain has no cycle and contributes at most
// one pre-hook. knownPreHook says whether a pre-hook is already defined (the
// step's own); inPreHook says that a is itself a pre-hook, whose chain may
// contribute none.
func (c *Catalog) validateExecutor(a *Action, bases map[string]json.RawMessage, knownPreHook, inPreHook bool) error {
	var base json.RawMessage
	if a.BaseConfiguration != "" {
		b, ok := bases[a.BaseConfiguration]
		if !ok {
			return errors.New("BaseConfiguration key not found")
		}
		base = b
	}
	var templates map[string]bool
	if c != nil {
		templates = c.Templates
	}
	var traversed []string
	seen := map[string]bool{}
	typ, config := a.Type, a.Configuration
	for {
		plugin, fn, ok := c.lookup(typ)
		if !ok {
			return noRunnerError(typ)
		}
		var err error
		switch {
		case fn != nil:
			err = fn.validateArgs(config)
		default:
			if ta, ok := plugin.(TemplateAwareAction); ok {
				err = ta.ValidateConfigWithTemplates(base, config, templates)
			} else {
				err = plugin.ValidateConfig(base, config)
			}
		}
		if err != nil {
			return prefixFunctions(traversed, err)
		}
		if fn == nil {
			return nil
		}
		if seen[fn.Name] {
			return cyclicError(typ)
		}
		seen[fn.Name] = true
		traversed = append(traversed, fn.Name)
		if fn.PreHook != nil {
			if inPreHook {
				return errPrehookOnPrehook
			}
			if knownPreHook {
				return prefixFunctions(traversed, errors.New("pre_hook override"))
			}
			knownPreHook = true
		}
		typ, config = fn.Action.Type, fn.Action.Configuration
	}
}

// prefixFunctions prefixes err with `function "<f>": ` once per traversed
// function, the innermost appearing first.
func prefixFunctions(traversed []string, err error) error {
	for _, f := range traversed {
		err = fmt.Errorf("function %q: %w", f, err)
	}
	return err
}
