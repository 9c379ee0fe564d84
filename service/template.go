package service

import (
	"context"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/template"
)

// ListTemplatesRequest is the query of GET /template.
type ListTemplatesRequest struct {
	// PageSize is normalised as for tasks.
	PageSize uint64
	// Last is the name of the last template of the previous page.
	Last string
}

// ListTemplates returns a page of the templates, sorted by name, in list
// form. Hidden templates are listed to administrators only.
func (s *Service) ListTemplates(_ context.Context, id auth.Identity, req ListTemplatesRequest) (*TemplatePage, error) {
	all := s.cfg.Templates.List()
	size := normalisePageSize(req.PageSize)

	start := 0
	if req.Last != "" {
		if _, _, ok := s.cfg.Templates.Get(req.Last); !ok {
			return nil, Errorf(KindNotFound, "template not found: %s", req.Last)
		}

		for start < len(all) && all[start].Name <= req.Last {
			start++
		}
	}

	admin := s.cfg.Policy.IsAdmin(id)
	page := &TemplatePage{Templates: make([]*template.Template, 0, min(size, len(all)-start)), PageSize: size}

	for _, t := range all[start:] {
		if len(page.Templates) == size {
			break
		}

		if t.Hidden && !admin {
			continue
		}

		page.Templates = append(page.Templates, templateListView(t))
	}

	return page, nil
}

// GetTemplate returns a template in full, hidden or not, to any caller.
func (s *Service) GetTemplate(_ context.Context, _ auth.Identity, name string) (*template.Template, error) {
	t, _, ok := s.cfg.Templates.Get(name)
	if !ok {
		return nil, Errorf(KindNotFound, "template not found: %s", name)
	}

	return t, nil
}

// Meta describes the server and the caller.
func (s *Service) Meta(_ context.Context, id auth.Identity) *Meta {
	groups := id.Groups
	if groups == nil {
		groups = []string{}
	}

	return &Meta{
		ApplicationName: s.cfg.ApplicationName,
		UserIsAdmin:     s.cfg.Policy.IsAdmin(id),
		Username:        id.Username,
		UserGroups:      groups,
		Version:         s.cfg.Version,
		Commit:          s.cfg.Commit,
	}
}

// Application returns the application name and the build version.
func (s *Service) Application() (name, version string) {
	return s.cfg.ApplicationName, s.cfg.Version
}
