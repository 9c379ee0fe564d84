package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/utask/utask/store"
)

// InstanceRegister records a new engine instance, alive at now, and returns
// its id.
func (s *Store) InstanceRegister(ctx context.Context, now time.Time) (int64, error) {
	var id int64
	err := s.direct(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, `INSERT INTO instance (heartbeat) VALUES (?) RETURNING id`, micros(now)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("register instance: %w", err)
	}
	return id, nil
}

// InstanceHeartbeat records that the instance is alive at now.
func (s *Store) InstanceHeartbeat(ctx context.Context, instanceID int64, now time.Time) error {
	n, err := s.directExec(ctx, `UPDATE instance SET heartbeat = ? WHERE id = ?`, micros(now), instanceID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("heartbeat instance %d: %w", instanceID, err)
	}
	return nil
}

// InstanceRejoin records that the instance is alive at now, making its row
// again under its id if it was removed.
func (s *Store) InstanceRejoin(ctx context.Context, instanceID int64, now time.Time) error {
	if _, err := s.directExec(ctx, `
		INSERT INTO instance (id, heartbeat) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat`, instanceID, micros(now)); err != nil {
		return fmt.Errorf("rejoin instance %d: %w", instanceID, err)
	}
	return nil
}
