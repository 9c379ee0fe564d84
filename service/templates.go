package service

import (
	"sort"

	"github.com/utask/utask/template"
)

// Templates is the set of templates loaded at start, each with the id of its
// stored version (given by store.Store.TemplateVersionPut). It is immutable.
type Templates struct {
	byName   map[string]*template.Template
	sorted   []*template.Template
	versions map[string]int64
}

// NewTemplates returns the set of ts; versions maps each template name to the
// id of its stored version. A later template with the same name as an earlier
// one replaces it.
func NewTemplates(ts []*template.Template, versions map[string]int64) *Templates {
	out := &Templates{
		byName:   make(map[string]*template.Template, len(ts)),
		versions: make(map[string]int64, len(versions)),
	}

	for _, t := range ts {
		if t != nil {
			out.byName[t.Name] = t
		}
	}

	for name, v := range versions {
		out.versions[name] = v
	}

	out.sorted = make([]*template.Template, 0, len(out.byName))
	for _, t := range out.byName {
		out.sorted = append(out.sorted, t)
	}

	sort.Slice(out.sorted, func(i, j int) bool { return out.sorted[i].Name < out.sorted[j].Name })

	return out
}

// Get returns the template called name and the id of its stored version.
func (t *Templates) Get(name string) (*template.Template, int64, bool) {
	if t == nil {
		return nil, 0, false
	}

	tt, ok := t.byName[name]
	if !ok {
		return nil, 0, false
	}

	return tt, t.versions[name], true
}

// List returns every template, sorted by name. The slice is the caller's;
// the templates are shared and must not be modified.
func (t *Templates) List() []*template.Template {
	if t == nil {
		return nil
	}

	return append([]*template.Template(nil), t.sorted...)
}
