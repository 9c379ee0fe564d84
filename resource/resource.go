// Package resource limits how many steps use a named resource at once in
// one process: the resource_limits of the configuration (e.g. "socket",
// "fork", "url:example.org", "template:<name>").
//
// A label with no limit is free; a label whose limit is 0 is never
// available. Labels are acquired in lexical order, one by one, each within
// the acquire timeout, so two steps needing the same labels cannot deadlock.
package resource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrUnavailable is returned when a resource could not be acquired: its
// limit is 0, the timeout passed, or the context ended.
var ErrUnavailable = errors.New("resource unavailable")

// Limiter holds one semaphore per limited label. It is safe for concurrent
// use.
type Limiter struct {
	sems    map[string]chan struct{}
	timeout time.Duration
}

// NewLimiter builds the semaphores. A negative limit is an error. timeout is
// the longest wait for one label; 0 means no timeout.
func NewLimiter(limits map[string]int, timeout time.Duration) (*Limiter, error) {
	l := &Limiter{sems: make(map[string]chan struct{}, len(limits)), timeout: timeout}
	for label, n := range limits {
		if n < 0 {
			return nil, fmt.Errorf("resource %q: negative limit %d", label, n)
		}
		l.sems[label] = make(chan struct{}, n)
	}
	return l, nil
}

// Labels returns the labels sorted and without duplicates.
func Labels(labels ...[]string) []string {
	var out []string
	for _, l := range labels {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Acquire takes every label (sorted, deduplicated) and returns a function
// that releases them. On failure the labels already taken are released.
func (l *Limiter) Acquire(ctx context.Context, labels []string) (release func(), err error) {
	var held []chan struct{}
	release = func() {
		for _, s := range held {
			<-s
		}
		held = nil
	}
	for _, label := range Labels(labels) {
		sem, ok := l.sems[label]
		if !ok {
			continue
		}
		if cap(sem) == 0 {
			release()
			return nil, fmt.Errorf("acquire %s: limit is 0: %w", label, ErrUnavailable)
		}
		if err := l.take(ctx, sem); err != nil {
			release()
			return nil, fmt.Errorf("acquire %s: %w", label, err)
		}
		held = append(held, sem)
	}
	return release, nil
}

func (l *Limiter) take(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	var timeout <-chan time.Time
	if l.timeout > 0 {
		t := time.NewTimer(l.timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-timeout:
		return fmt.Errorf("timed out after %s: %w", l.timeout, ErrUnavailable)
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// InUse returns how many holders a label has now (0 for a free label).
func (l *Limiter) InUse(label string) int {
	if s, ok := l.sems[label]; ok {
		return len(s)
	}
	return 0
}
