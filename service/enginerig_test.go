package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/engine"
	"github.com/utask/utask/service"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/store/storetest"
	"github.com/utask/utask/template"
)

// openStore opens an embedded store of its own for the test.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{
		Path:   filepath.Join(t.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

// engineRig is a service on the embedded store with a real engine running
// one template.
type engineRig struct {
	st  store.Store
	svc *service.Service
	// cycles receives the ends of cycles (dropped beyond 16 unread).
	cycles chan engine.Event
	admin  auth.Identity // root, an administrator
}

// newEngineRig starts a rig for the template yaml, with the echo action,
// the actions given, and the functions given.
func newEngineRig(t *testing.T, yaml string, actions map[string]action.Action,
	functions map[string]*template.Function,
) *engineRig {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)

	reg := action.NewRegistry()
	require.NoError(t, reg.Register(echo.Name, echo.New()))
	for name, a := range actions {
		require.NoError(t, reg.Register(name, a))
	}
	catalog := &template.Catalog{Actions: reg, Functions: functions, Templates: map[string]bool{}}

	tt, err := template.Parse([]byte(yaml))
	require.NoError(t, err)
	require.NoError(t, template.Validate(tt, catalog))
	doc, err := json.Marshal(tt)
	require.NoError(t, err)
	version, err := st.TemplateVersionPut(ctx, tt.Name, doc)
	require.NoError(t, err)

	rig := &engineRig{st: st, cycles: make(chan engine.Event, 16), admin: auth.Identity{Username: "root"}}
	eng, err := engine.New(engine.Config{
		Store: st, Catalog: catalog, Logger: slog.New(slog.DiscardHandler), InstanceID: 7,
		Events: func(ev engine.Event) {
			if ev.Step == "" {
				select {
				case rig.cycles <- ev:
				default:
				}
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(eng.Stop)

	rig.svc = service.New(service.Config{
		Store:     st,
		Runner:    eng,
		Templates: service.NewTemplates([]*template.Template{tt}, map[string]int64{tt.Name: version}),
		Functions: functions,
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
		Catalog:   catalog,
	})
	return rig
}

// cycleEnd waits for the end of a cycle and returns the resolution's state.
func (rig *engineRig) cycleEnd(t *testing.T) string {
	t.Helper()
	select {
	case ev := <-rig.cycles:
		return ev.State
	case <-time.After(10 * time.Second):
		t.Fatal("the cycle did not end")
		return ""
	}
}
