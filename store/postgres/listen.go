package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wake-ups between instances. A transaction that creates a resolution that
// is runnable or will become runnable, or writes one so (made due, moved
// earlier), or hands claims back, sends a notification on the store's
// channel; PostgreSQL delivers it to the listeners when, and only if, the
// transaction commits. A resolution update, a task creation (TaskCreate)
// and a release send theirs from the statement itself, one per
// resolution, its public id as the payload; a single resolution insert
// leaves it to Commit, which sends one for all, the ids comma-separated,
// cut short of the payload limit. Listeners only need to know that
// something is due: the claim finds what.

// maxPayload keeps notification payloads well under PostgreSQL's limit
// (8000 bytes).
const maxPayload = 4000

// channelName is the notification channel of the schema: the deployments
// (and tests) sharing one database in different schemas do not wake each
// other. A channel name is an identifier, at most 63 bytes: a long schema
// name is replaced by its hash.
func channelName(schema string) string {
	name := "utask_due." + schema
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(schema))
		name = "utask_due." + hex.EncodeToString(sum[:16])
	}
	return name
}

// notifyPayload joins ids, stopping before maxPayload.
func notifyPayload(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		if b.Len()+len(id)+1 > maxPayload {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
	}
	return b.String()
}

// Listen calls wake for every notification on the store's channel until ctx
// is done, on a connection of its own (outside the pool). When the
// connection breaks it reconnects, waiting between attempts from 100 ms up
// to 10 s, doubled each time with random jitter; after each (re)connection
// it calls wake once, for what it may have missed.
func (s *Store) Listen(ctx context.Context, wake func()) error {
	delay := 100 * time.Millisecond
	for {
		connected, err := s.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			delay = 100 * time.Millisecond
		}
		wait := delay/2 + rand.N(delay) //nolint:gosec // jitter, not a secret
		s.logger.WarnContext(ctx, "store: listen", "err", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// listenOnce connects, listens and calls wake until the connection fails
// or ctx is done. connected says whether LISTEN succeeded.
func (s *Store) listenOnce(ctx context.Context, wake func()) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		wake()
	}
}
