package template

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
)

// testAction is a small plugin action for the tests: its configuration is
// any JSON object (base overlaid by the step's), and a configuration with a
// "reject" key fails validation.
type testAction struct{}

func (testAction) ValidateConfig(base, config json.RawMessage) error {
	var cfg map[string]any
	if err := action.Overlay(base, config, &cfg); err != nil {
		return err
	}
	if _, ok := cfg["reject"]; ok {
		return errors.New("test action: configuration rejected")
	}
	return nil
}

func (testAction) Run(_ context.Context, req action.Request) action.Result {
	return action.Result{Output: string(req.Config)}
}

func (testAction) Resources(_, _ json.RawMessage) []string { return nil }

// testMetaAction is testAction with a metadata schema, for metadata linting.
type testMetaAction struct{ testAction }

func (testMetaAction) MetadataSchema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"HTTPStatus":{"type":"integer"},` +
		`"HTTPHeaders":{"type":"object","properties":{"x-query-id":{"type":"string"}}}}}`)
}

// testSubtaskAction names a template in its "template" key, which must be
// known to the catalog.
type testSubtaskAction struct{ testAction }

func (testSubtaskAction) ValidateConfigWithTemplates(base, config json.RawMessage, templates map[string]bool) error {
	var cfg struct {
		Template string `json:"template"`
	}
	if err := action.Overlay(base, config, &cfg); err != nil {
		return err
	}
	if !templates[cfg.Template] {
		return fmt.Errorf("template %q not found", cfg.Template)
	}
	return nil
}

// testRegistry registers the test actions as "test", "testmeta" and
// "testsubtask".
func testRegistry(t testing.TB) *action.Registry {
	t.Helper()
	r := action.NewRegistry()
	require.NoError(t, r.Register("test", testAction{}))
	require.NoError(t, r.Register("testmeta", testMetaAction{}))
	require.NoError(t, r.Register("testsubtask", testSubtaskAction{}))
	return r
}

// testCatalog returns the test actions, the functions of
// testdata/functions and one known template, "known-template".
func testCatalog(t testing.TB) *Catalog {
	t.Helper()
	reg := testRegistry(t)
	fns, err := LoadFunctions("testdata/functions", reg)
	require.NoError(t, err)
	return &Catalog{Actions: reg, Functions: fns, Templates: map[string]bool{"known-template": true}}
}
