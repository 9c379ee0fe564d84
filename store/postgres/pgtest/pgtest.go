// Package pgtest gives tests a fresh PostgreSQL schema on the test
// database named by UTASK_TEST_DATABASE_URL (hack/test.sh starts a
// throwaway server and sets it).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// Environment variables of the PostgreSQL tests.
const (
	URLEnv     = "UTASK_TEST_DATABASE_URL"
	RequireEnv = "UTASK_REQUIRE_POSTGRES"
)

// URL returns the test database's URL, or skips the test; when PostgreSQL
// is required (UTASK_REQUIRE_POSTGRES=1) a missing URL fails it.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(URLEnv)
	if u == "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("PostgreSQL is required (%s=1) but %s is unset: run hack/test.sh", RequireEnv, URLEnv)
		}
		t.Skipf("%s is unset: no PostgreSQL to test on (hack/test.sh starts one)", URLEnv)
	}
	return u
}

// FreshSchema creates an empty schema, dropped at the end of the test, and
// returns the URL of the test database with that schema first in its
// search path.
func FreshSchema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	schema := "utask_test_" + hex.EncodeToString(b)
	exec := func(sql string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		require.NoError(t, err)
		defer func() { require.NoError(t, conn.Close(ctx)) }()
		_, err = conn.Exec(ctx, sql)
		require.NoError(t, err)
	}
	exec(`CREATE SCHEMA ` + schema)
	t.Cleanup(func() { exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
