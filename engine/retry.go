package engine

import (
	"math"
	"time"

	"github.com/utask/utask/template"
)

// maxRetryDelay caps the delay before a resolution's next cycle.
const maxRetryDelay = time.Hour

// retryDelay is how long a step that failed after tryCount executions waits
// before its resolution runs again, by retry pattern:
//
//	seconds (default): 8 s × 1.25^n, capped at 10 minutes
//	minutes:           1.6 × n minutes, capped at 30 minutes
//	hours:             1 h + (n − 1) × 10 minutes, capped at 3 hours
//
// The resolution-wide ceiling of one hour applies on top (see nextRetryDelay).
func retryDelay(pattern string, tryCount int) time.Duration {
	n := float64(tryCount)
	switch pattern {
	case template.RetryMinutes:
		d := time.Duration(1.6 * n * float64(time.Minute))
		return min(d, 30*time.Minute)
	case template.RetryHours:
		d := time.Hour + time.Duration((n-1)*float64(10*time.Minute))
		return min(d, 3*time.Hour)
	default:
		if tryCount >= 20 {
			return 10 * time.Minute
		}
		d := time.Duration(8 * math.Pow(1.25, n) * float64(time.Second))
		return min(d, 10*time.Minute)
	}
}

// nextRetryDelay is the delay before the next cycle of a resolution whose
// retriable steps have the given patterns and try counts: the smallest step
// delay, never more than an hour (an hour when no step is retriable).
func nextRetryDelay(steps []retriable) time.Duration {
	d := maxRetryDelay
	for _, s := range steps {
		d = min(d, retryDelay(s.pattern, s.tryCount))
	}
	return d
}

type retriable struct {
	pattern  string
	tryCount int
}
