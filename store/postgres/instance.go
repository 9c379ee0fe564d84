package postgres

import (
	"context"
	"fmt"
	"time"
)

// InstanceRegister records a new engine instance, alive at now, and returns
// its id.
func (s *Store) InstanceRegister(ctx context.Context, now time.Time) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx,
		`INSERT INTO instance (heartbeat) VALUES ($1) RETURNING id`, ts(now)).Scan(&id); err != nil {
		return 0, fmt.Errorf("register instance: %w", err)
	}
	return id, nil
}

// InstanceHeartbeat records that the instance is alive at now.
func (s *Store) InstanceHeartbeat(ctx context.Context, instanceID int64, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE instance SET heartbeat = $1 WHERE id = $2`, ts(now), instanceID)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("heartbeat instance %d: %w", instanceID, err)
	}
	return nil
}

// InstanceRejoin records that the instance is alive at now, making its row
// again under its id if it was removed. The id came from the identity
// sequence, which has moved past it: no other instance can be given it.
func (s *Store) InstanceRejoin(ctx context.Context, instanceID int64, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO instance (id, heartbeat) OVERRIDING SYSTEM VALUE VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat`, instanceID, ts(now)); err != nil {
		return fmt.Errorf("rejoin instance %d: %w", instanceID, err)
	}
	return nil
}
