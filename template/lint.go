package template

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// handlePattern finds the first dotted path of each {{ … }} action of a
// line: `{{`, characters that are neither `}` nor `.`, the path (starting
// with a dot, made of letters, digits, `_` and dots), then anything without
// `{` up to `}}`.
//
//nolint:gochecknoglobals // compiled once, never modified
var handlePattern = regexp.MustCompile(`\{\{[^}.]*(\.[A-Za-z0-9_.]+)[^{]*?\}\}`)

// lintTaskKeys lists the .task keys a template may reference.
func lintTaskKeys() []string {
	return []string{"resolver_username", "created", "requester_username", "requester_groups",
		"task_id", "region", "resolution_id", "watcher_usernames", "watcher_groups"}
}

// linter checks the handles of a validated template.
type linter struct {
	t          *Template
	c          *Catalog
	schemas    map[string]*jsonschema.Schema // compiled json_schema per step
	graphs     map[string]propertyGraph
	metaGraphs map[string]propertyGraph
}

// lint scans the indented JSON form of the whole template, line by line,
// and checks the first dotted path of every template action.
func (l *linter) lint() error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l.t); err != nil {
		return fmt.Errorf("encode template: %w", err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 0, 64*1024), buf.Len()+1)
	for sc.Scan() {
		for _, m := range handlePattern.FindAllStringSubmatch(sc.Text(), -1) {
			if err := l.handle(strings.Split(m[1][1:], ".")); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// handle checks one path, given as its segments without the leading dot.
func (l *linter) handle(seg []string) error {
	if len(seg) < 2 {
		return nil
	}
	key := seg[1]
	switch seg[0] {
	case "step":
		if key != ThisStep {
			if _, ok := l.t.Steps[key]; !ok {
				return fmt.Errorf("step: Wrong step key: %s", key)
			}
		}
		if key == ThisStep || len(seg) < 4 {
			return nil
		}
		switch seg[2] {
		case "output":
			return l.output(key, seg[3:])
		case "metadata":
			return l.metadata(key, seg[3:])
		}
	case "input":
		if !declared(l.t.Inputs, key) {
			return fmt.Errorf("Wrong input key: %s", key) //nolint:staticcheck // exact µTask text
		}
	case "resolver_input":
		if !declared(l.t.ResolverInputs, key) {
			return fmt.Errorf("Wrong input key: %s", key) //nolint:staticcheck // exact µTask text
		}
	case "task":
		if !slices.Contains(lintTaskKeys(), key) {
			return fmt.Errorf("Wrong task key: %s", key) //nolint:staticcheck // exact µTask text
		}
	}
	return nil
}

func declared(inputs []Input, name string) bool {
	for _, in := range inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// output checks .step.<key>.output.<fields> against the step's schema; a
// step without schema is not checked.
func (l *linter) output(key string, fields []string) error {
	sch := l.schemas[key]
	if sch == nil {
		return nil
	}
	g, ok := l.graphs[key]
	if !ok {
		var err error
		if g, err = buildPropertyGraph(sch); err != nil {
			return fmt.Errorf("Linting error: step %s: %w", key, err) //nolint:staticcheck // exact µTask text
		}
		l.graphs[key] = g
	}
	if err := g.check(fields); err != nil {
		return fmt.Errorf("Linting error: step %s: %w", key, err) //nolint:staticcheck // exact µTask text
	}
	return nil
}

// metadata checks .step.<key>.metadata.<fields> against the metadata schema
// of the step's action, when that action is a plugin declaring one.
func (l *linter) metadata(key string, fields []string) error {
	g, ok := l.metaGraphs[key]
	if !ok {
		var err error
		if g, err = l.metadataGraph(key); err != nil {
			return fmt.Errorf("Linting error: step details for step %q: %w", key, err) //nolint:staticcheck // exact µTask text
		}
		l.metaGraphs[key] = g
	}
	if g == nil {
		return nil
	}
	if err := g.check(fields); err != nil {
		return fmt.Errorf("Linting error: step details for step %q: %w", key, err) //nolint:staticcheck // exact µTask text
	}
	return nil
}

// metadataGraph builds the property graph of the metadata schema of step
// key's plugin action; nil when there is none.
func (l *linter) metadataGraph(key string) (propertyGraph, error) {
	s := l.t.Steps[key]
	plugin, fn, ok := l.c.lookup(s.Action.Type)
	if !ok || fn != nil {
		return nil, nil
	}
	ms, ok := plugin.(MetadataSchemaAction)
	if !ok {
		return nil, nil
	}
	raw := ms.MetadataSchema()
	if len(raw) == 0 {
		return nil, nil
	}
	norm, err := NormalizeSchema(raw)
	if err != nil {
		return nil, err
	}
	sch, err := CompileSchema(s.Action.Type+" metadata", norm)
	if err != nil {
		return nil, err
	}
	return buildPropertyGraph(sch)
}
