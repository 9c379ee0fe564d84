package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/store"
)

// slowGCStore makes the first collection of old tasks of its instance take
// two seconds (a first collection over years of tasks).
type slowGCStore struct {
	store.Store
	once sync.Once
}

func (s *slowGCStore) TaskDeleteFinished(ctx context.Context, before time.Time) (int, error) {
	s.once.Do(func() { time.Sleep(2 * time.Second) })
	return s.Store.TaskDeleteFinished(ctx, before)
}

// A maintenance round that outlasts the leader's lease (here a first
// collection of old tasks that takes two seconds) does not leave two
// instances leading at once: the first stops trusting its lease when it may
// have expired.
func TestSlowMaintenanceDoesNotOutliveTheLease(t *testing.T) {
	t.Parallel()
	bs := pgBundles(t, 2, func(c *engine.Config) {
		c.LeaderTTL = 500 * time.Millisecond
		c.ElectInterval = 100 * time.Millisecond
		c.Store = &slowGCStore{Store: c.Store}
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if bs[0].engine.IsLeader() && bs[1].engine.IsLeader() {
			t.Fatal("two instances lead at once: the first one's lease expired during its maintenance")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
