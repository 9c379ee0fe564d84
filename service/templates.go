package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// Templates is the set of templates loaded at start, each with the id of its
// stored version (given by store.Store.TemplateVersionPut), and the archived
// ones (see WithArchived). It is immutable.
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

	out.sort()

	return out
}

// sort rebuilds the sorted list from byName.
func (t *Templates) sort() {
	t.sorted = make([]*template.Template, 0, len(t.byName))
	for _, tt := range t.byName {
		t.sorted = append(t.sorted, tt)
	}

	sort.Slice(t.sorted, func(i, j int) bool { return t.sorted[i].Name < t.sorted[j].Name })
}

// ArchivedTemplate is a template whose file is gone while tasks still use
// it: the newest stored version of that name and the id of that version.
type ArchivedTemplate struct {
	Template *template.Template
	Version  int64
}

// WithArchived returns a copy of t that also holds the archived templates,
// each marked hidden and blocked: they stay readable by name, are listed to
// administrators only, and take no new task, while the tasks made from them
// keep running on the version they recorded. A template of t wins over an
// archived one of the same name. Neither t nor the archived templates are
// changed.
func (t *Templates) WithArchived(archived []ArchivedTemplate) *Templates {
	out := &Templates{
		byName:   make(map[string]*template.Template, len(archived)),
		versions: make(map[string]int64, len(archived)),
	}

	for _, a := range archived {
		if a.Template == nil {
			continue
		}

		c := *a.Template
		c.Hidden, c.Blocked = true, true
		out.byName[c.Name] = &c
		out.versions[c.Name] = a.Version
	}

	if t != nil {
		for name, tt := range t.byName {
			out.byName[name] = tt
			delete(out.versions, name)
		}

		for name, v := range t.versions {
			out.versions[name] = v
		}
	}

	out.sort()

	return out
}

// LoadArchived reads from db the templates that tasks still use but that t
// does not hold, each as the newest version stored under its name, sorted by
// name: the templates WithArchived keeps available to those tasks.
func (t *Templates) LoadArchived(ctx context.Context, db store.Store) ([]ArchivedTemplate, error) {
	inUse, err := db.TemplatesInUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("load archived templates: %w", err)
	}

	var out []ArchivedTemplate

	// TODO: the newest version recorded is not the last one loaded when a
	// file went back to an earlier content (TemplateVersionPut finds the old
	// row and records nothing); a table of each name's last loaded version,
	// written at start, would give the exact one.
	for name, version := range inUse {
		if _, _, ok := t.Get(name); ok {
			continue
		}

		doc, err := db.TemplateVersionGet(ctx, version)
		if err != nil {
			return nil, fmt.Errorf("load archived template %q: %w", name, err)
		}

		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()

		var tt template.Template
		if err := dec.Decode(&tt); err != nil {
			return nil, fmt.Errorf("decode archived template %q version %d: %w", name, version, err)
		}

		// The name the tasks use is the identity, whatever the document says.
		tt.Name = name
		out = append(out, ArchivedTemplate{Template: &tt, Version: version})
	}

	sort.Slice(out, func(i, j int) bool { return out[i].Template.Name < out[j].Template.Name })

	return out, nil
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
