package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// claimRow is a resolution and what ResolutionClaimRunnable at b.now must do
// with it. Times are offsets from b.now; nil is "not set".
type claimRow struct {
	name      string
	state     string
	nextRetry *time.Duration
	lastStart *time.Duration
	claimedAs string // the state after the claim; "" when not claimed
}

func claimRows() []claimRow {
	d := func(v time.Duration) *time.Duration { return &v }
	rows := []claimRow{
		{"ToAutorun", "TO_AUTORUN", nil, nil, "AUTORUNNING"},
		{"ToAutorunIgnoresNextRetry", "TO_AUTORUN", d(time.Hour), nil, "AUTORUNNING"},
		{"ErrorDue", "ERROR", d(-time.Minute), nil, "RETRY"},
		{"ErrorDueNow", "ERROR", d(0), nil, "RETRY"},
		{"ErrorNotYet", "ERROR", d(time.Microsecond), nil, ""},
		{"ErrorWithoutRetry", "ERROR", nil, nil, ""},
		{"DelayedDue", "TO_AUTORUN_DELAYED", d(-time.Hour), d(-2 * time.Hour), "RETRY"},
		{"DelayedNotYet", "TO_AUTORUN_DELAYED", d(time.Minute), nil, ""},
		{"DelayedWithoutRetry", "TO_AUTORUN_DELAYED", nil, nil, ""},
		{"WaitingWokenUp", "WAITING", d(-time.Minute), d(-2 * time.Minute), "RETRY"},
		{"WaitingWokenUpNow", "WAITING", d(0), d(-time.Minute), "RETRY"},
		{"WaitingRetryBeforeStart", "WAITING", d(-2 * time.Minute), d(-time.Minute), ""},
		{"WaitingRetryAtStart", "WAITING", d(-time.Minute), d(-time.Minute), ""},
		{"WaitingWokenUpLater", "WAITING", d(time.Minute), d(-time.Minute), ""},
		{"WaitingNeverStarted", "WAITING", d(-time.Minute), nil, ""},
		{"WaitingWithoutRetry", "WAITING", nil, d(-time.Minute), ""},
	}
	for _, state := range []string{
		"TODO", "RUNNING", "DONE", "CANCELLED", "PAUSED", "CRASHED", "RETRY", "AUTORUNNING",
		"BLOCKED_TOCHECK", "BLOCKED_BADREQUEST", "BLOCKED_DEADLOCK", "BLOCKED_MAXRETRIES", "BLOCKED_FATAL",
	} {
		rows = append(rows, claimRow{"Due" + state, state, d(-time.Hour), d(-2 * time.Hour), ""})
	}
	return rows
}

// resolutions inserts n tasks, each with a resolution changed by mod.
func (b *bundle) resolutions(t *testing.T, n int, mod func(i int, r *store.Resolution)) []*store.Resolution {
	t.Helper()
	tasks := make([]*store.Task, n)
	for i := range tasks {
		tasks[i] = b.newTask()
	}
	b.insertTasks(t, tasks...)
	rs := make([]*store.Resolution, n)
	for i, task := range tasks {
		rs[i] = b.newResolution(task, func(r *store.Resolution) { mod(i, r) })
	}
	b.insertResolutions(t, rs...)
	return rs
}

// requireHeld checks that resolution publicID is in state held by instance.
func (b *bundle) requireHeld(t *testing.T, publicID, state string, instance *int64, msg string) {
	t.Helper()
	got, err := b.s.ResolutionGet(b.ctx, publicID)
	require.NoError(t, err)
	require.Equal(t, state, got.State, msg)
	require.Equal(t, instance, got.InstanceID, msg)
}

func claimBehaviours() []behaviour {
	return []behaviour{
		{"ClaimRunnableRules", func(t *testing.T, b *bundle) {
			me, err := b.s.InstanceRegister(b.ctx, b.now)
			require.NoError(t, err)
			previous := me + 100
			rows := claimRows()
			rs := b.resolutions(t, len(rows), func(i int, r *store.Resolution) {
				r.State = rows[i].state
				r.InstanceID = &previous
				if o := rows[i].nextRetry; o != nil {
					r.NextRetry = ptr(b.now.Add(*o))
				}
				if o := rows[i].lastStart; o != nil {
					r.LastStart = ptr(b.now.Add(*o))
				}
			})

			claimed, err := b.s.ResolutionClaimRunnable(b.ctx, me, b.now, 1000)
			require.NoError(t, err)
			var want []string
			for i, row := range rows {
				if row.claimedAs != "" {
					want = append(want, rs[i].PublicID)
					b.requireHeld(t, rs[i].PublicID, row.claimedAs, &me, row.name)
				} else {
					b.requireHeld(t, rs[i].PublicID, row.state, &previous, row.name)
				}
			}
			require.ElementsMatch(t, want, claimed)

			again, err := b.s.ResolutionClaimRunnable(b.ctx, me, b.now, 1000)
			require.NoError(t, err)
			require.Empty(t, again, "a claimed resolution is not claimed again")
		}},

		{"ClaimRunnableLimit", func(t *testing.T, b *bundle) {
			rs := b.resolutions(t, 5, func(_ int, r *store.Resolution) { r.State = "TO_AUTORUN" })
			var all []string
			for _, want := range []int{2, 2, 1, 0} {
				claimed, err := b.s.ResolutionClaimRunnable(b.ctx, 1, b.now, 2)
				require.NoError(t, err)
				require.Len(t, claimed, want)
				all = append(all, claimed...)
			}
			var ids []string
			for _, r := range rs {
				ids = append(ids, r.PublicID)
			}
			require.ElementsMatch(t, ids, all)

			rs = b.resolutions(t, 1, func(_ int, r *store.Resolution) { r.State = "TO_AUTORUN" })
			claimed, err := b.s.ResolutionClaimRunnable(b.ctx, 1, b.now, 0)
			require.NoError(t, err)
			require.Empty(t, claimed, "a limit of 0 claims nothing")
			b.requireHeld(t, rs[0].PublicID, "TO_AUTORUN", nil, "left alone")
		}},

		{"ClaimRunnableConcurrently", func(t *testing.T, b *bundle) {
			rs := b.resolutions(t, 40, func(i int, r *store.Resolution) {
				r.State = "TO_AUTORUN"
				if i%4 == 0 {
					r.State, r.NextRetry = "ERROR", ptr(b.now.Add(-time.Minute))
				}
			})
			instances := []int64{11, 12}
			claims := make([][]string, len(instances))
			errs := make([]error, len(instances))
			var wg sync.WaitGroup
			for i, instance := range instances {
				wg.Go(func() {
					for {
						ids, err := b.s.ResolutionClaimRunnable(b.ctx, instance, b.now, 3)
						if err != nil || len(ids) == 0 {
							errs[i] = err
							return
						}
						claims[i] = append(claims[i], ids...)
					}
				})
			}
			wg.Wait()

			var all []string
			for i, instance := range instances {
				require.NoError(t, errs[i])
				for _, id := range claims[i] {
					got, err := b.s.ResolutionGet(b.ctx, id)
					require.NoError(t, err)
					require.Equal(t, &instance, got.InstanceID, "resolution %s held by its claimer", id)
				}
				all = append(all, claims[i]...)
			}
			var ids []string
			for _, r := range rs {
				ids = append(ids, r.PublicID)
			}
			require.ElementsMatch(t, ids, all, "each resolution claimed exactly once")
		}},

		{"ReleaseHandsBackUnstartedClaims", func(t *testing.T, b *bundle) {
			me, other := int64(42), int64(43)
			states := []string{"AUTORUNNING", "AUTORUNNING", "RUNNING", "RETRY", "CRASHED", "AUTORUNNING"}
			rs := b.resolutions(t, len(states), func(i int, r *store.Resolution) {
				r.State = states[i]
				r.InstanceID = &me
				if i == len(states)-1 {
					r.InstanceID = &other
				}
			})

			released, err := b.s.ResolutionRelease(b.ctx, me)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{rs[0].PublicID, rs[1].PublicID}, released)
			b.requireHeld(t, rs[0].PublicID, "TO_AUTORUN", nil, "claimed, not started")
			b.requireHeld(t, rs[1].PublicID, "TO_AUTORUN", nil, "claimed, not started")
			b.requireHeld(t, rs[2].PublicID, "RUNNING", &me, "started")
			b.requireHeld(t, rs[3].PublicID, "RETRY", &me, "a retry's earlier state is not known")
			b.requireHeld(t, rs[4].PublicID, "CRASHED", &me, "recovered")
			b.requireHeld(t, rs[5].PublicID, "AUTORUNNING", &other, "another instance's")

			claimed, err := b.s.ResolutionClaimRunnable(b.ctx, other, b.now, 10)
			require.NoError(t, err)
			require.ElementsMatch(t, released, claimed, "another instance claims them")
		}},

		{"ClaimOrphansOfDeadInstances", func(t *testing.T, b *bundle) {
			aliveSince := b.now.Add(-time.Minute)
			register := func(at time.Time) int64 {
				id, err := b.s.InstanceRegister(b.ctx, at)
				require.NoError(t, err)
				return id
			}
			me := register(b.now)
			owners := map[string]*int64{
				"Me":          ptr(me),
				"Alive":       ptr(register(b.now.Add(-time.Second))),
				"Dead":        ptr(register(b.now.Add(-2 * time.Minute))),
				"DeadAtLimit": ptr(register(aliveSince)),
				"Revived":     ptr(register(b.now.Add(-time.Hour))),
				"Unknown":     ptr(me + 1000),
				"None":        nil,
			}
			require.NoError(t, b.s.InstanceHeartbeat(b.ctx, *owners["Revived"], b.now))
			orphaned := map[string]bool{"Dead": true, "DeadAtLimit": true, "Unknown": true}
			held := map[string]bool{"RUNNING": true, "RETRY": true, "AUTORUNNING": true, "CRASHED": true}
			states := []string{"RUNNING", "RETRY", "AUTORUNNING", "CRASHED", "WAITING", "DONE", "TO_AUTORUN", "ERROR", "PAUSED"}

			type cell struct{ owner, state string }
			var cells []cell
			for owner := range owners {
				for _, state := range states {
					cells = append(cells, cell{owner, state})
				}
			}
			rs := b.resolutions(t, len(cells), func(i int, r *store.Resolution) {
				r.State = cells[i].state
				r.InstanceID = owners[cells[i].owner]
				r.NextRetry = ptr(b.now.Add(-time.Hour))
				r.LastStart = ptr(b.now.Add(-2 * time.Hour))
			})

			claimed, err := b.s.ResolutionClaimOrphans(b.ctx, me, aliveSince)
			require.NoError(t, err)
			var want []string
			for i, c := range cells {
				msg := fmt.Sprintf("owner %s, state %s", c.owner, c.state)
				if orphaned[c.owner] && held[c.state] {
					want = append(want, rs[i].PublicID)
					b.requireHeld(t, rs[i].PublicID, "CRASHED", &me, msg)
				} else {
					b.requireHeld(t, rs[i].PublicID, c.state, owners[c.owner], msg)
				}
			}
			require.ElementsMatch(t, want, claimed)

			again, err := b.s.ResolutionClaimOrphans(b.ctx, me, aliveSince)
			require.NoError(t, err)
			require.Empty(t, again, "resolutions claimed by a live instance are not orphans")
		}},

		{"NextWakeup", func(t *testing.T, b *bundle) {
			next := func() *time.Time {
				t.Helper()
				at, err := b.s.ResolutionNextWakeup(b.ctx)
				require.NoError(t, err)
				return at
			}
			require.Nil(t, next(), "no resolution")

			add := func(state string, nextRetry, lastStart *time.Time, created time.Time) {
				t.Helper()
				b.resolutions(t, 1, func(_ int, r *store.Resolution) {
					r.State, r.NextRetry, r.LastStart, r.Created = state, nextRetry, lastStart, created
				})
			}
			at := func(d time.Duration) *time.Time { return ptr(b.now.Add(d)) }

			// None of these ever becomes runnable by waiting.
			add("DONE", at(-time.Hour), at(-2*time.Hour), b.now)
			add("RUNNING", at(-time.Hour), at(-2*time.Hour), b.now)
			add("ERROR", nil, nil, b.now)
			add("TO_AUTORUN_DELAYED", nil, nil, b.now)
			add("WAITING", at(-30*time.Minute), at(-20*time.Minute), b.now)
			add("WAITING", nil, at(-20*time.Minute), b.now)
			require.Nil(t, next())

			steps := []struct {
				state                string
				nextRetry, lastStart *time.Time
				created              time.Time
				want                 time.Time
			}{
				{"ERROR", at(3 * time.Hour), nil, b.now, b.now.Add(3 * time.Hour)},
				{"TO_AUTORUN_DELAYED", at(2 * time.Hour), nil, b.now, b.now.Add(2 * time.Hour)},
				{"WAITING", at(time.Hour), at(-time.Minute), b.now, b.now.Add(time.Hour)},
				{"ERROR", at(4 * time.Hour), nil, b.now, b.now.Add(time.Hour)},
				{"ERROR", at(-time.Minute), nil, b.now, b.now.Add(-time.Minute)},
				// A resolution to run now is due since its creation.
				{"TO_AUTORUN", at(time.Hour), nil, b.now.Add(-5 * time.Hour), b.now.Add(-5 * time.Hour)},
			}
			for _, s := range steps {
				add(s.state, s.nextRetry, s.lastStart, s.created)
				require.Equal(t, &s.want, next(), "after adding a %s resolution", s.state)
			}

			// Claiming everything due leaves the earliest future time.
			_, err := b.s.ResolutionClaimRunnable(b.ctx, 1, b.now, 100)
			require.NoError(t, err)
			require.Equal(t, at(time.Hour), next())
			_, err = b.s.ResolutionClaimRunnable(b.ctx, 1, b.now.Add(time.Hour), 100)
			require.NoError(t, err)
			require.Equal(t, at(2*time.Hour), next())
		}},
	}
}
