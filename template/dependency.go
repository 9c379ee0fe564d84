package template

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/utask/utask/state"
)

// Dependency is one parsed dependency entry: the step depended on, and the
// states of it that satisfy the dependency.
type Dependency struct {
	Step   string
	States []string
}

// ParseDependency parses `STEP` or `STEP:STATE[,STATE…]`. It splits on the
// first colon and the states on commas, without trimming; no state part
// means [DONE], and `STEP:` gives the single state "".
func ParseDependency(s string) Dependency {
	step, states, ok := strings.Cut(s, ":")
	if !ok {
		return Dependency{Step: step, States: []string{state.Done}}
	}
	return Dependency{Step: step, States: strings.Split(states, ",")}
}

// ancestors returns the steps that name reaches through dependencies,
// transitively (states ignored, unknown names kept). The result contains
// name itself when it lies on a cycle.
func ancestors(steps map[string]*Step, name string) map[string]bool {
	seen := map[string]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		s := steps[cur]
		if s == nil {
			continue
		}
		for _, d := range s.Dependencies {
			dep := ParseDependency(d).Step
			if !seen[dep] {
				seen[dep] = true
				queue = append(queue, dep)
			}
		}
	}
	return seen
}

// validateDependencies checks the dependency entries of step s.
func validateDependencies(steps map[string]*Step, s *Step) error {
	depended := map[string]bool{}
	for _, d := range s.Dependencies {
		dep := ParseDependency(d)
		target, ok := steps[dep.Step]
		if !ok {
			return fmt.Errorf("Invalid dependency, no step with that name: %q", dep.Step) //nolint:staticcheck // exact µTask text
		}
		if depended[dep.Step] {
			return fmt.Errorf("Invalid dependency, already defined dependency to: %q", dep.Step) //nolint:staticcheck // exact µTask text
		}
		depended[dep.Step] = true
		seen := map[string]bool{}
		for _, st := range dep.States {
			if seen[st] {
				return errors.New("Invalid dependency, duplicated state detected") //nolint:staticcheck // exact µTask text
			}
			seen[st] = true
		}
		for _, st := range dep.States {
			switch {
			case st == state.Done:
			case st == state.Any:
				if len(dep.States) > 1 {
					return errors.New("Invalid dependency, no other state allowed if ANY is declared") //nolint:staticcheck // exact µTask text
				}
			case target == nil || !slices.Contains(target.CustomStates, st):
				return fmt.Errorf("Invalid dependency on step %s, step state not allowed: %q", dep.Step, st) //nolint:staticcheck // exact µTask text
			}
		}
	}
	return nil
}

// circularError reports a step that is its own ancestor.
func circularError(name string, anc map[string]bool) error {
	names := make([]string, 0, len(anc))
	for n := range anc {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("Invalid: circular dependency %v <-> %s", names, name) //nolint:staticcheck // exact µTask text
}

// cycleMembers returns the steps that lie on a dependency cycle (a strongly
// connected component of more than one step, or a step depending on
// itself), with Tarjan's algorithm. Unknown dependency names are ignored.
func cycleMembers(steps map[string]*Step) map[string]bool {
	names := make([]string, 0, len(steps))
	for n := range steps {
		names = append(names, n)
	}
	sort.Strings(names)
	deps := make(map[string][]string, len(steps))
	for _, n := range names {
		if s := steps[n]; s != nil {
			for _, d := range s.Dependencies {
				if dep := ParseDependency(d).Step; steps[dep] != nil {
					deps[n] = append(deps[n], dep)
				}
			}
		}
	}
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	out := map[string]bool{}
	next := 0
	var visit func(n string)
	visit = func(n string) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		onStack[n] = true
		for _, d := range deps[n] {
			if _, seen := index[d]; !seen {
				visit(d)
				low[n] = min(low[n], low[d])
			} else if onStack[d] {
				low[n] = min(low[n], index[d])
			}
		}
		if low[n] != index[n] {
			return
		}
		var comp []string
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			comp = append(comp, top)
			if top == n {
				break
			}
		}
		if len(comp) > 1 || slices.Contains(deps[n], n) {
			for _, c := range comp {
				out[c] = true
			}
		}
	}
	for _, n := range names {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	return out
}
