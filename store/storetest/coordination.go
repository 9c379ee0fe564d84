package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// coordinationBehaviours cover what several instances sharing a store rely
// on: the leader lease, the removal of dead instances and old tasks, the
// wake-ups that a final save must not lose, and notifications.
func coordinationBehaviours() []behaviour {
	const ttl = 15 * time.Second
	return []behaviour{
		{"LeaderOneAtATime", func(t *testing.T, b *bundle) {
			term, err := b.s.LeaderElect(b.ctx, 1, b.now, ttl)
			require.NoError(t, err)
			require.NotNil(t, term)
			require.Equal(t, store.LeaderTerm{InstanceID: 1, ElectedAt: b.now, ExpiresAt: b.now.Add(ttl)}, *term)

			for _, at := range []time.Time{b.now, b.now.Add(ttl - time.Microsecond)} {
				other, err := b.s.LeaderElect(b.ctx, 2, at, ttl)
				require.NoError(t, err)
				require.Nil(t, other, "a second leader at %s while the first term runs", at)
			}
			again, err := b.s.LeaderElect(b.ctx, 1, b.now.Add(time.Second), ttl)
			require.NoError(t, err)
			require.Nil(t, again, "electing again does not start a second term of the same leader")
		}},

		{"LeaderConcurrentElectionsHaveOneWinner", func(t *testing.T, b *bundle) {
			const n = 8
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				won  []int64
				errs []error
			)
			for i := range n {
				wg.Go(func() {
					term, err := b.s.LeaderElect(b.ctx, int64(i+1), b.now, ttl)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					}
					if term != nil {
						won = append(won, term.InstanceID)
					}
				})
			}
			wg.Wait()
			require.Empty(t, errs)
			require.Len(t, won, 1, "winners: %v", won)
		}},

		{"LeaderReelectionAfterExpiry", func(t *testing.T, b *bundle) {
			first, err := b.s.LeaderElect(b.ctx, 1, b.now, ttl)
			require.NoError(t, err)
			require.NotNil(t, first)

			expiry := b.now.Add(ttl)
			second, err := b.s.LeaderElect(b.ctx, 2, expiry, ttl)
			require.NoError(t, err)
			require.NotNil(t, second, "the term is over at its expiry: another instance is elected")
			require.Equal(t, int64(2), second.InstanceID)

			stale, err := b.s.LeaderReelect(b.ctx, *first, expiry.Add(time.Second), ttl)
			require.NoError(t, err)
			require.Nil(t, stale, "an old term does not extend the new one")

			third, err := b.s.LeaderElect(b.ctx, 1, expiry.Add(time.Second), ttl)
			require.NoError(t, err)
			require.Nil(t, third, "the new term runs")
		}},

		{"LeaderReelectExtendsOnlyARunningTerm", func(t *testing.T, b *bundle) {
			term, err := b.s.LeaderElect(b.ctx, 1, b.now, ttl)
			require.NoError(t, err)
			require.NotNil(t, term)

			half := b.now.Add(ttl / 2)
			extended, err := b.s.LeaderReelect(b.ctx, *term, half, ttl)
			require.NoError(t, err)
			require.NotNil(t, extended)
			require.Equal(t, store.LeaderTerm{InstanceID: 1, ElectedAt: b.now, ExpiresAt: half.Add(ttl)}, *extended)

			other, err := b.s.LeaderElect(b.ctx, 2, b.now.Add(ttl), ttl)
			require.NoError(t, err)
			require.Nil(t, other, "the extended term runs past the first expiry")

			late, err := b.s.LeaderReelect(b.ctx, *extended, half.Add(ttl), ttl)
			require.NoError(t, err)
			require.Nil(t, late, "a term that expired is not extended, even with no other leader")

			next, err := b.s.LeaderElect(b.ctx, 2, half.Add(ttl), ttl)
			require.NoError(t, err)
			require.NotNil(t, next)
		}},

		{"LeaderResign", func(t *testing.T, b *bundle) {
			first, err := b.s.LeaderElect(b.ctx, 1, b.now, ttl)
			require.NoError(t, err)
			require.NotNil(t, first)
			require.NoError(t, b.s.LeaderResign(b.ctx, *first))

			second, err := b.s.LeaderElect(b.ctx, 2, b.now.Add(time.Second), ttl)
			require.NoError(t, err)
			require.NotNil(t, second, "a resigned term leaves the place at once")

			require.NoError(t, b.s.LeaderResign(b.ctx, *first), "resigning a term that is over does nothing")
			third, err := b.s.LeaderElect(b.ctx, 3, b.now.Add(2*time.Second), ttl)
			require.NoError(t, err)
			require.Nil(t, third, "the old term's resignation did not end the new term")

			stale, err := b.s.LeaderReelect(b.ctx, *first, b.now.Add(2*time.Second), ttl)
			require.NoError(t, err)
			require.Nil(t, stale)
		}},

		{"InstanceDeleteDeadKeepsAliveAndHolders", func(t *testing.T, b *bundle) {
			old := b.now.Add(-time.Hour)
			register := func(at time.Time) int64 {
				id, err := b.s.InstanceRegister(b.ctx, at)
				require.NoError(t, err)
				return id
			}
			alive := register(b.now)
			idle := register(old)
			finished := register(old)
			holders := map[string]int64{}
			for _, st := range []string{"RUNNING", "RETRY", "AUTORUNNING", "CRASHED"} {
				holders[st] = register(old)
			}
			for st, id := range holders {
				b.taskWithResolution(t, func(r *store.Resolution) { r.State, r.InstanceID = st, ptr(id) })
			}
			b.taskWithResolution(t, func(r *store.Resolution) { r.State, r.InstanceID = "DONE", ptr(finished) })

			self := register(old) // the caller, late with its own heartbeat
			n, err := b.s.InstanceDeleteDead(b.ctx, self, b.now.Add(-time.Minute))
			require.NoError(t, err)
			require.Equal(t, 2, n)
			for _, id := range []int64{idle, finished} {
				require.ErrorIs(t, b.s.InstanceHeartbeat(b.ctx, id, b.now), store.ErrNotFound, "instance %d removed", id)
			}
			require.NoError(t, b.s.InstanceHeartbeat(b.ctx, alive, b.now), "an alive instance stays")
			require.NoError(t, b.s.InstanceHeartbeat(b.ctx, self, b.now), "the caller's own row stays")
			for st, id := range holders {
				require.NoError(t, b.s.InstanceHeartbeat(b.ctx, id, b.now), "an instance holding a %s resolution stays", st)
			}
		}},

		{"TaskDeleteFinished", func(t *testing.T, b *bundle) {
			old := b.now.Add(-31 * 24 * time.Hour)
			type row struct {
				state    string
				activity time.Time
				gone     bool
			}
			rows := []row{
				{"DONE", old, true}, {"CANCELLED", old, true}, {"WONTFIX", old, true},
				{"DONE", b.now, false}, {"BLOCKED", old, false}, {"TODO", old, false},
				{"RUNNING", old, false}, {"WAITING", old, false},
			}
			tasks := make([]*store.Task, len(rows))
			resolutions := make([]*store.Resolution, len(rows))
			for i, r := range rows {
				tasks[i] = b.newTask(func(task *store.Task) { task.State, task.LastActivity = r.state, r.activity })
				b.insertTasks(t, tasks[i])
				resolutions[i] = b.newResolution(tasks[i])
				b.insertResolutions(t, resolutions[i])
				b.upsertSteps(t, resolutions[i], &store.Step{Name: "a", State: "DONE"})
			}

			n, err := b.s.TaskDeleteFinished(b.ctx, b.now.Add(-30*24*time.Hour))
			require.NoError(t, err)
			require.Equal(t, 3, n)
			for i, r := range rows {
				_, terr := b.s.TaskGet(b.ctx, tasks[i].PublicID)
				_, rerr := b.s.ResolutionGet(b.ctx, resolutions[i].PublicID)
				steps, serr := b.s.StepList(b.ctx, resolutions[i].ID)
				require.NoError(t, serr)
				if r.gone {
					require.ErrorIs(t, terr, store.ErrNotFound, "task %s %s", r.state, r.activity)
					require.ErrorIs(t, rerr, store.ErrNotFound, "its resolution goes with it")
					require.Empty(t, steps, "its steps go with it")
				} else {
					require.NoError(t, terr, "task %s %s stays", r.state, r.activity)
					require.NoError(t, rerr)
					require.Len(t, steps, 1)
				}
			}
		}},

		{"ResolutionUpdateKeepsEarlierWakeup", func(t *testing.T, b *bundle) {
			start := b.now
			at := func(d time.Duration) *time.Time { return ptr(start.Add(d)) }
			for _, c := range []struct {
				name             string
				storedLastStart  *time.Time
				storedNext, next *time.Time
				want             *time.Time
			}{
				{"LaterKeepsWakeup", &start, at(time.Minute), at(time.Hour), at(time.Minute)},
				{"NilKeepsWakeup", &start, at(time.Minute), nil, at(time.Minute)},
				{"StaleKeepsWakeup", &start, at(time.Minute), at(-time.Hour), at(time.Minute)},
				{"EarlierReplacesWakeup", &start, at(time.Minute), at(30 * time.Second), at(30 * time.Second)},
				{"StoredBeforeStartIsReplaced", &start, at(-time.Minute), at(time.Hour), at(time.Hour)},
				{"StoredBeforeStartIsCleared", &start, at(-time.Minute), nil, nil},
				{"StoredAtStartIsReplaced", &start, at(0), at(time.Hour), at(time.Hour)},
				{"NoStoredIsReplaced", &start, nil, at(time.Hour), at(time.Hour)},
				{"NeverStartedIsReplaced", nil, at(time.Minute), at(time.Hour), at(time.Hour)},
			} {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					_, r := b.taskWithResolution(t, func(r *store.Resolution) {
						r.State, r.LastStart, r.NextRetry = "RUNNING", c.storedLastStart, c.storedNext
					})
					changed := *r
					changed.State = "ERROR"
					changed.NextRetry = c.next
					changed.LastStop = at(2 * time.Minute)
					changed.RunCount = 3
					b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.ResolutionUpdate(b.ctx, &changed)) })
					require.Equal(t, c.next, changed.NextRetry, "the argument is not changed")

					got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
					require.NoError(t, err)
					require.Equal(t, c.want, got.NextRetry)
					require.Equal(t, "ERROR", got.State, "the other fields are written")
					require.Equal(t, 3, got.RunCount)
					require.Equal(t, at(2*time.Minute), got.LastStop)
				})
			}
		}},

		{"ListenWakesOnDueResolutions", func(t *testing.T, b *bundle) {
			ctx, cancel := context.WithCancel(b.ctx)
			woken := make(chan struct{}, 64)
			returned := make(chan error, 1)
			go func() {
				returned <- b.s.Listen(ctx, func() {
					select {
					case woken <- struct{}{}:
					default:
					}
				})
			}()
			defer func() {
				cancel()
				require.NoError(t, <-returned, "Listen returns nil when its context ends")
			}()
			// A store that cannot tell returns at once; one that can says
			// once it listens that something may have been missed.
			select {
			case err := <-returned:
				require.NoError(t, err)
				returned <- nil
				return
			case <-woken:
			case <-time.After(10 * time.Second):
				t.Fatal("Listen neither returned nor woke after connecting")
			}
			expectWake := func(what string, fn func()) {
				t.Helper()
				for len(woken) > 0 {
					<-woken
				}
				fn()
				select {
				case <-woken:
				case <-time.After(10 * time.Second):
					t.Fatalf("no wake-up after %s", what)
				}
			}
			var r *store.Resolution
			expectWake("a TO_AUTORUN resolution was created", func() {
				_, r = b.taskWithResolution(t, func(r *store.Resolution) { r.State = "TO_AUTORUN" })
			})
			expectWake("a WAITING resolution was made due", func() {
				b.inTx(t, func(tx store.Tx) {
					r.State, r.LastStart, r.NextRetry = "WAITING", ptr(b.now), ptr(b.now.Add(time.Second))
					require.NoError(t, tx.ResolutionUpdate(b.ctx, r))
				})
			})
			_, claimed := b.taskWithResolution(t, func(r *store.Resolution) {
				r.State, r.InstanceID = "AUTORUNNING", ptr(int64(42))
			})
			expectWake("a stopping instance handed its claims back", func() {
				released, err := b.s.ResolutionRelease(b.ctx, 42)
				require.NoError(t, err)
				require.Equal(t, []string{claimed.PublicID}, released)
			})
			expectWake("a task was created with a TO_AUTORUN resolution", func() {
				task := b.newTask()
				b.create(t, task, b.newResolution(task, func(r *store.Resolution) { r.State = "TO_AUTORUN" }),
					b.newAudit(task))
			})
		}},
	}
}
