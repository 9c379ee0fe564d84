package resource_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/resource"
)

func TestLimiter(t *testing.T) {
	t.Parallel()

	t.Run("FreeLabelsNeverBlock", func(t *testing.T) {
		t.Parallel()
		l, err := resource.NewLimiter(nil, time.Millisecond)
		require.NoError(t, err)
		for range 100 {
			release, err := l.Acquire(context.Background(), []string{"socket", "url:x"})
			require.NoError(t, err)
			defer release()
		}
	})

	t.Run("DeadLabelFails", func(t *testing.T) {
		t.Parallel()
		l, err := resource.NewLimiter(map[string]int{"fork": 0}, 0)
		require.NoError(t, err)
		_, err = l.Acquire(context.Background(), []string{"fork"})
		require.ErrorIs(t, err, resource.ErrUnavailable)
		require.ErrorContains(t, err, "fork")
	})

	t.Run("LimitHoldsUnderLoad", func(t *testing.T) {
		t.Parallel()
		l, err := resource.NewLimiter(map[string]int{"socket": 3}, 0)
		require.NoError(t, err)
		var cur, peak atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				release, err := l.Acquire(context.Background(), []string{"socket"})
				require.NoError(t, err)
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				cur.Add(-1)
				release()
			}()
		}
		wg.Wait()
		require.Equal(t, int32(3), peak.Load())
		require.Equal(t, 0, l.InUse("socket"))
	})

	t.Run("TimeoutReleasesWhatWasTaken", func(t *testing.T) {
		t.Parallel()
		l, err := resource.NewLimiter(map[string]int{"a": 1, "b": 1}, 20*time.Millisecond)
		require.NoError(t, err)
		releaseB, err := l.Acquire(context.Background(), []string{"b"})
		require.NoError(t, err)
		_, err = l.Acquire(context.Background(), []string{"b", "a"})
		require.ErrorIs(t, err, resource.ErrUnavailable)
		require.Equal(t, 0, l.InUse("a"), "a was taken first (sorted order) and must be released")
		releaseB()
		release, err := l.Acquire(context.Background(), []string{"a", "b", "a"})
		require.NoError(t, err)
		require.Equal(t, 1, l.InUse("a"))
		release()
		require.Equal(t, 0, l.InUse("b"))
	})

	t.Run("ContextCancels", func(t *testing.T) {
		t.Parallel()
		l, err := resource.NewLimiter(map[string]int{"a": 1}, 0)
		require.NoError(t, err)
		release, err := l.Acquire(context.Background(), []string{"a"})
		require.NoError(t, err)
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err = l.Acquire(ctx, []string{"a"})
		require.ErrorIs(t, err, resource.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("NegativeLimitRefused", func(t *testing.T) {
		t.Parallel()
		_, err := resource.NewLimiter(map[string]int{"a": -1}, 0)
		require.Error(t, err)
	})
}
