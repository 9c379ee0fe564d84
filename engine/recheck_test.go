package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/state"
)

// countingWait is a WAITING action that counts its runs.
type countingWait struct{ runs atomic.Int32 }

func (*countingWait) ValidateConfig(_, _ json.RawMessage) error { return nil }

func (w *countingWait) Run(context.Context, action.Request) action.Result {
	w.runs.Add(1)
	return action.Result{Err: action.WaitingError(errors.New("waiting"))}
}

func (*countingWait) Resources(_, _ json.RawMessage) []string { return nil }

// wokenOnlyWait is a countingWait that progresses only when woken, as a
// batch does.
type wokenOnlyWait struct{ countingWait }

func (*wokenOnlyWait) WokenOnly() {}

func TestWaitingRecheckLeavesBatchStepsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A batch step run again while its children run would start the next
	// ones before the wave is over: the recheck at the end of a cycle that
	// would end WAITING runs every other WAITING step once more, not a
	// step whose action progresses only when woken.
	batch, other := &wokenOnlyWait{}, &countingWait{}
	require.NoError(t, b.catalog.Actions.Register("batchlike", batch))
	require.NoError(t, b.catalog.Actions.Register("countwait", other))
	_, resID := b.create(t, `
name: recheck
description: the WAITING recheck
title_format: recheck
auto_runnable: true
steps:
  children:
    description: a batch
    action:
      type: batchlike
  poll:
    description: waits for something else
    action:
      type: countwait
`, nil)
	res, _, steps := b.run(t, resID)
	require.Equal(t, state.ResWaiting, res.State)
	require.Equal(t, state.Waiting, steps["children"].State)
	require.Equal(t, state.Waiting, steps["poll"].State)
	require.Equal(t, int32(1), batch.runs.Load(), "the batch step ran once")
	require.Equal(t, int32(2), other.runs.Load(), "the other WAITING step ran again at the recheck")
}
