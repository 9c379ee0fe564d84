package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// fullStep returns a step with every field set.
func fullStep(name string, lastRun time.Time) *store.Step {
	return &store.Step{
		Name:       name,
		State:      "DONE",
		TryCount:   2,
		MaxRetries: 5,
		LastRun:    &lastRun,
		Data: store.StepData{
			Output:        richInput(),
			Metadata:      map[string]any{"http_status": json.Number("200")},
			Children:      []any{map[string]any{"a": json.Number("1")}, "b"},
			Error:         "connection refused",
			Item:          json.Number("12345678901234567"),
			ChildrenSteps: []string{name + "-0", name + "-1"},
			Tags:          map[string]string{"k": "v"},
			Definition:    []byte(`{"action":{"type":"echo","configuration":{"output":"x"}}}`),
		},
	}
}

// upsertSteps writes steps of r in one transaction.
func (b *bundle) upsertSteps(t *testing.T, r *store.Resolution, steps ...*store.Step) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) {
		require.NoError(t, tx.StepUpsert(b.ctx, r, steps))
	})
}

// stepNames lists the names of steps, in order.
func stepNames(steps []*store.Step) []string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return names
}

func stepBehaviours() []behaviour {
	return []behaviour{
		{"StepRoundTrip", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			zone := time.FixedZone("UTC+01:00", 3600)
			full := fullStep("full", time.Date(2026, 2, 3, 4, 5, 6, 7008009, zone))
			scalar := &store.Step{Name: "scalar", State: "TODO", Data: store.StepData{Output: "just a string"}}
			empty := &store.Step{Name: "empty", State: "TODO"}
			b.upsertSteps(t, r, full, scalar, empty)

			wantFull := *full
			wantFull.LastRun = storedPtr(full.LastRun)
			want := []*store.Step{empty, &wantFull, scalar}

			got, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, time.UTC, got[1].LastRun.Location())
			b.inTx(t, func(tx store.Tx) {
				got, err := tx.StepList(b.ctx, r.ID)
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
		}},

		{"StepUpsertReplacesByName", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			b.upsertSteps(t, r, fullStep("a", b.now), fullStep("b", b.now))

			replaced := &store.Step{Name: "a", State: "RUNNING", TryCount: 3, MaxRetries: 9,
				Data: store.StepData{Output: map[string]any{"new": true}}}
			b.upsertSteps(t, r, replaced)

			got, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, []*store.Step{replaced, fullStep("b", b.now)}, got)
		}},

		{"StepListSortedByNameAndResolution", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			_, other := b.taskWithResolution(t)
			names := []string{"b", "B", "a-1", "a.2", "a", "_x", "Z9", "a10", "a2", "\u00e9t\u00e9", "zz"}
			var steps []*store.Step
			for _, n := range names {
				steps = append(steps, &store.Step{Name: n, State: "TODO"})
			}
			b.upsertSteps(t, r, steps...)
			b.upsertSteps(t, other, &store.Step{Name: "only-other", State: "TODO"})

			got, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			want := slices.Clone(names)
			slices.Sort(want) // byte order, whatever the locale
			require.Equal(t, want, stepNames(got))

			none, err := b.s.StepList(b.ctx, other.ID+1000)
			require.NoError(t, err)
			require.Empty(t, none)
		}},

		{"StepDelete", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			_, other := b.taskWithResolution(t)
			b.upsertSteps(t, r, fullStep("a", b.now), fullStep("b", b.now), fullStep("c", b.now))
			b.upsertSteps(t, other, fullStep("a", b.now))

			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.StepDelete(b.ctx, r.ID, []string{"a", "c", "missing"}))
				require.NoError(t, tx.StepDelete(b.ctx, r.ID, nil))
			})
			got, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"b"}, stepNames(got))
			got, err = b.s.StepList(b.ctx, other.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"a"}, stepNames(got), "another resolution's step of the same name stays")
		}},

		{"StepUpsertUnknownResolution", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			_, other := b.taskWithResolution(t)
			for name, target := range map[string]store.Resolution{
				"UnknownID":   {ID: r.ID + 1000, PublicID: r.PublicID},
				"CrossedIDs":  {ID: r.ID, PublicID: other.PublicID},
				"UnknownBoth": {ID: r.ID + 1000, PublicID: "nope"},
			} {
				b.requireDeferredNotFound(t, func(tx store.Tx) error {
					return tx.StepUpsert(b.ctx, &target, []*store.Step{{Name: "a", State: "TODO"}})
				}, name)
			}
			for _, res := range []*store.Resolution{r, other} {
				got, err := b.s.StepList(b.ctx, res.ID)
				require.NoError(t, err)
				require.Empty(t, got)
			}
		}},

		{"StepUpsertBatch", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			var steps []*store.Step
			for i := range 250 {
				steps = append(steps, &store.Step{
					Name:  fmt.Sprintf("foreach-%03d", i),
					State: "TODO",
					Data:  store.StepData{Item: json.Number(strconv.Itoa(i))},
				})
			}
			b.upsertSteps(t, r, steps...)
			got, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Len(t, got, len(steps))
			byName := map[string]*store.Step{}
			for _, s := range got {
				byName[s.Name] = s
			}
			for _, s := range steps {
				require.Equal(t, s, byName[s.Name])
			}
		}},
	}
}
