// Package engine runs resolutions.
//
// A resolution runs in execution cycles. A cycle claims the resolution
// (RUNNING, owned by this instance), runs every step it can, and ends in a
// state that says what comes next: DONE; ERROR (a retry is due at
// next_retry); WAITING (something outside must wake it); or BLOCKED_* (a
// human must look). Retries, delayed starts and recovered work are claimed by
// the engine's claim loop when they are due.
//
// # Steps
//
// A step's state changes like this (every arrow is written to the store
// before anything that depends on it starts):
//
//	          ┌──────────── skip condition met ───────────┐
//	          │                                           ▼
//	TODO ──► RUNNING ──► DONE / CLIENT_ERROR / SERVER_ERROR / FATAL_ERROR
//	  ▲          │        WAITING / TO_RETRY / custom state (check conditions)
//	  │          └─ instance died: CRASHED (or TODO when idempotent)
//	  └──── every runnable state is picked again in a later cycle
//
// A dependency "X" waits for X to be DONE, "X:S1,S2" for one of the listed
// states, "X:ANY" for X and all its ancestors to be settled. When a settled
// step is not in a state its dependent accepts, the dependent is PRUNE, and
// pruning runs down the graph.
//
// A step's stored row may carry a definition of its own (an edited step):
// it replaces the template's definition of that step for its resolution, and
// a foreach step's children follow the definition of their parent.
//
// A foreach step expands into children named <step>-<i> (state EXPANDED),
// which run in parallel or in sequence; when every child is settled the
// parent contracts: DONE, with the children's outputs, metadata and states in
// its children field.
//
// # Concurrency
//
// Everything a cycle knows lives in one goroutine: templating, conditions,
// pruning and scheduling happen there, so the value tree needs no locks and
// no per-attempt copy. Actions run in their own goroutines and report on a
// channel; results that arrive together share one commit.
//
// # Failures
//
// A step is marked RUNNING in the store before its action starts. If the
// process dies, the resolution is recovered by the next instance that
// starts (the embedded store) or, on a shared store, by the leader once the
// owner's heartbeat is older than Config.DeadAfter: idempotent RUNNING
// steps run again, others become CRASHED and the resolution BLOCKED_TOCHECK
// for a human to decide. At shutdown, steps get a grace period to finish;
// those still in flight are left RUNNING and recovered the same way.
//
// # Several instances
//
// Instances sharing a store coordinate only through it:
//
//   - Ownership. A resolution runs only on the instance whose claim wrote
//     its instance_id (AUTORUNNING, RETRY or CRASHED): a claim is one
//     statement that skips rows other transactions hold, and a cycle starts
//     only after re-reading, under a row lock, that the claim is still its
//     own. Every save of a cycle requires, under the same row lock, that
//     the instance still holds the resolution (store.Tx.ResolutionHold), or
//     writes nothing. A RUNNING resolution is never started again; the
//     leader turns the RUNNING resolutions of a dead instance into CRASHED
//     ones of its own first. An instance claims no more due resolutions
//     than it has free execution slots, leaving the rest to the others.
//   - Liveness. Every instance records a heartbeat every
//     Config.HeartbeatInterval.
//   - Leadership. Every instance bids for a lease row (Config.ElectInterval,
//     Config.LeaderTTL); the holder renews it, resigns at Stop, and runs the
//     maintenance every Config.MaintenanceInterval: it claims the work of
//     dead instances, starting it through a semaphore of its own
//     (Config.MaxConcurrentExecutionsFromCrashed) with a pause between two
//     (Config.DelayBetweenCrashedTasksResolution), removes dead instances
//     that hold nothing, and deletes finished tasks older than
//     Config.CompletedTaskExpiration.
//   - Wake-ups. The store tells every instance when a commit made a
//     resolution runnable (store.Store.Listen), so an idle instance claims
//     new work at once; the poll (Config.PollInterval, jittered) remains the
//     guarantee. A wake-up recorded while a cycle runs elsewhere moves
//     next_retry earlier, and the store keeps it over that cycle's final
//     save.
package engine
