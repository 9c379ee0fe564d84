package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store/storetest"
)

// Reads run through statements prepared once per text, from any number of
// goroutines; texts beyond the cache's bound still run, unprepared, and a
// text that does not compile reports its error as an unprepared run would.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range maxCachedStatements + 50 {
				var got int
				if err := s.reads.QueryRowContext(ctx, fmt.Sprintf(`SELECT ? + %d`, i), w).Scan(&got); err != nil {
					errs[w] = err
					return
				}
				if got != w+i {
					errs[w] = fmt.Errorf("query %d of worker %d: got %d", i, w, got)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	s.reads.mu.Lock()
	cached := len(s.reads.stmts)
	s.reads.mu.Unlock()
	require.Equal(t, maxCachedStatements, cached)

	var n int
	require.ErrorContains(t, s.reads.QueryRowContext(ctx, `SELECT x FROM nowhere`).Scan(&n), "no such table")
	rows, err := s.reads.QueryContext(ctx, `SELECT 1 UNION ALL SELECT 2`)
	require.NoError(t, err)
	defer rows.Close()
	sum := 0
	for rows.Next() {
		require.NoError(t, rows.Scan(&n))
		sum += n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 3, sum)
}
