package template

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/utask/utask/action"
)

// LoadFunctions reads every function file under dir, recursively: files
// whose name ends in .yaml and does not start with a dot, in lexical order.
// A missing directory gives no functions and no error. A function named
// like an earlier one, or like an action registered in actions, is an
// error; every error names its file, and all of them are returned
// (errors.Join) with the functions that loaded.
func LoadFunctions(dir string, actions *action.Registry) (map[string]*Function, error) {
	fns := map[string]*Function{}
	files := map[string]string{}
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			errs = append(errs, fmt.Errorf("walk functions directory %s: %w", path, err))
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".yaml") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("function %q: read file: %w", path, err))
			return nil
		}
		f, err := ParseFunction(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("function %q: %w", path, err))
			return nil
		}
		if first, ok := files[f.Name]; ok {
			errs = append(errs, fmt.Errorf("%q: function already exists and was declared in %q", path, first))
			return nil
		}
		if actions != nil {
			if _, ok := actions.Lookup(f.Name); ok {
				errs = append(errs, fmt.Errorf("%q: function %q: name already used by a registered action", path, f.Name))
				return nil
			}
		}
		files[f.Name] = path
		fns[f.Name] = f
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return fns, errors.Join(errs...)
}

// loaded is one template file read by LoadDirs.
type loaded struct {
	file string
	t    *Template
}

// LoadDirs reads every regular *.yaml file directly inside each directory
// (no recursion; .yml files and other names are ignored; a symbolic link to
// a regular file counts), parses it and validates it against c, whose known
// templates are completed with every name being loaded so that templates
// may reference each other. It returns the valid templates sorted by name,
// a later file of the same name replacing an earlier one, and every error
// found (errors.Join), each naming its file as `template <file>: <error>`.
// A directory that cannot be read is an error `open template directory
// <dir>: <error>`.
func LoadDirs(dirs []string, c *Catalog) ([]*Template, error) {
	var errs []error
	var all []loaded
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("open template directory %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".yaml") {
				continue
			}
			file := filepath.Join(dir, e.Name())
			info, err := os.Stat(file)
			if err != nil {
				errs = append(errs, fmt.Errorf("template %s: %w", file, err))
				continue
			}
			if !info.Mode().IsRegular() {
				continue
			}
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fmt.Errorf("template %s: read file: %w", file, err))
				continue
			}
			t, err := Parse(data)
			if err != nil {
				errs = append(errs, fmt.Errorf("template %s: %w", file, err))
				continue
			}
			all = append(all, loaded{file: file, t: t})
		}
	}

	cat := Catalog{Templates: map[string]bool{}}
	if c != nil {
		cat.Actions, cat.Functions = c.Actions, c.Functions
		for name, ok := range c.Templates {
			cat.Templates[name] = ok
		}
	}
	for _, l := range all {
		cat.Templates[l.t.Name] = true
	}

	byName := map[string]*Template{}
	for _, l := range all {
		if err := Validate(l.t, &cat); err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", l.file, err))
			continue
		}
		byName[l.t.Name] = l.t
	}
	out := make([]*Template, 0, len(byName))
	for _, t := range byName {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}
