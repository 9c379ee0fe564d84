package server

import (
	"encoding/json"
	"fmt"
	"time"
)

// EngineTuning sets the timings of the engine's coordination between
// instances. A zero field keeps the value of the utask-cfg item, or else
// the engine's default.
//
// The utask-cfg keys, all Go duration strings, are:
//
//	instance_heartbeat_interval  how often an instance records it is alive (30s)
//	instance_dead_after          heartbeat age of a dead instance (2 × the interval)
//	leader_election_interval     how often instances bid for and renew leadership (5s)
//	leader_lease_ttl             how long a leadership lease lasts unrenewed (interval + 10s)
//	maintenance_interval         how often the leader recovers dead instances' work
//	                             and collects old tasks (10s)
//	poll_interval                the longest sleep between two looks for due work (10s)
type EngineTuning struct {
	HeartbeatInterval   time.Duration
	DeadAfter           time.Duration
	ElectInterval       time.Duration
	LeaderTTL           time.Duration
	MaintenanceInterval time.Duration
	PollInterval        time.Duration
}

// parseTuning reads the tuning keys of the utask-cfg item (raw JSON; ""
// means none). Other keys are left to the configuration package.
func parseTuning(raw string) (EngineTuning, error) {
	var keys struct {
		HeartbeatInterval   string `json:"instance_heartbeat_interval"`
		DeadAfter           string `json:"instance_dead_after"`
		ElectInterval       string `json:"leader_election_interval"`
		LeaderTTL           string `json:"leader_lease_ttl"`
		MaintenanceInterval string `json:"maintenance_interval"`
		PollInterval        string `json:"poll_interval"`
	}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &keys); err != nil {
			return EngineTuning{}, fmt.Errorf("parse utask-cfg: %w", err)
		}
	}
	var t EngineTuning
	for _, f := range []struct {
		key, value string
		dst        *time.Duration
	}{
		{"instance_heartbeat_interval", keys.HeartbeatInterval, &t.HeartbeatInterval},
		{"instance_dead_after", keys.DeadAfter, &t.DeadAfter},
		{"leader_election_interval", keys.ElectInterval, &t.ElectInterval},
		{"leader_lease_ttl", keys.LeaderTTL, &t.LeaderTTL},
		{"maintenance_interval", keys.MaintenanceInterval, &t.MaintenanceInterval},
		{"poll_interval", keys.PollInterval, &t.PollInterval},
	} {
		if f.value == "" {
			continue
		}
		d, err := time.ParseDuration(f.value)
		if err != nil {
			return EngineTuning{}, fmt.Errorf("parse utask-cfg: %s: %w", f.key, err)
		}
		if d <= 0 {
			return EngineTuning{}, fmt.Errorf("parse utask-cfg: %s: %s is not positive", f.key, f.value)
		}
		*f.dst = d
	}
	return t, nil
}

// merge returns t with the zero fields taken from base.
func (t EngineTuning) merge(base EngineTuning) EngineTuning {
	for _, f := range []struct{ dst, src *time.Duration }{
		{&t.HeartbeatInterval, &base.HeartbeatInterval},
		{&t.DeadAfter, &base.DeadAfter},
		{&t.ElectInterval, &base.ElectInterval},
		{&t.LeaderTTL, &base.LeaderTTL},
		{&t.MaintenanceInterval, &base.MaintenanceInterval},
		{&t.PollInterval, &base.PollInterval},
	} {
		if *f.dst == 0 {
			*f.dst = *f.src
		}
	}
	return t
}
