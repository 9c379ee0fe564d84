package service

import (
	"context"
	"sort"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/template"
)

// ListFunctionsRequest is the query of GET /function.
type ListFunctionsRequest struct {
	// PageSize is normalised: 0 means 1000, and the size is kept within
	// 10..10000.
	PageSize uint64
	// Last is the name of the last function of the previous page.
	Last string
}

// FunctionPage is one page of a function listing.
type FunctionPage struct {
	Functions []*template.Function
	// PageSize is the normalised page size; a page holding that many
	// functions may have a next page.
	PageSize int
}

// ListFunctions returns a page of the functions, sorted by name, to any
// caller. The page starts after the function named Last; when no function
// has that name, it starts at the last function, as µTask does.
func (s *Service) ListFunctions(_ context.Context, _ auth.Identity, req ListFunctionsRequest) (*FunctionPage, error) {
	names := make([]string, 0, len(s.cfg.Functions))
	for name, f := range s.cfg.Functions {
		if f != nil {
			names = append(names, name)
		}
	}

	sort.Strings(names)

	start := 0

	if req.Last != "" && len(names) > 0 {
		start = len(names) - 1

		if i := sort.SearchStrings(names, req.Last); i < len(names) && names[i] == req.Last {
			start = i + 1
		}
	}

	page := &FunctionPage{PageSize: normalisePageSize(req.PageSize)}
	end := min(start+page.PageSize, len(names))

	page.Functions = make([]*template.Function, 0, end-start)
	for _, name := range names[start:end] {
		page.Functions = append(page.Functions, s.cfg.Functions[name])
	}

	return page, nil
}

// GetFunction returns a function by name to any caller.
func (s *Service) GetFunction(_ context.Context, _ auth.Identity, name string) (*template.Function, error) {
	f, ok := s.cfg.Functions[name]
	if !ok || f == nil {
		return nil, Errorf(KindNotFound, "function not found")
	}

	return f, nil
}
