package migration_test

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/migration"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	file := func(body string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(body)} }
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		want    []migration.Migration
		wantErr string
	}{
		{
			name: "InOrder",
			files: fstest.MapFS{
				"m/0002_second.sql":    file("B"),
				"m/0001_first_one.sql": file("A"),
			},
			want: []migration.Migration{{Version: 1, Name: "first_one", SQL: "A"}, {Version: 2, Name: "second", SQL: "B"}},
		},
		{name: "Empty", files: fstest.MapFS{"m": &fstest.MapFile{Mode: fs.ModeDir | 0o755}}},
		{
			name:    "Gap",
			files:   fstest.MapFS{"m/0001_a.sql": file(""), "m/0003_c.sql": file("")},
			wantErr: "0003_c.sql has number 3, want 2",
		},
		{
			name:    "NotFromOne",
			files:   fstest.MapFS{"m/0002_b.sql": file("")},
			wantErr: "0002_b.sql has number 2, want 1",
		},
		{name: "NoName", files: fstest.MapFS{"m/0001.sql": file("")}, wantErr: "0001.sql is not named NNNN_name.sql"},
		{name: "ShortNumber", files: fstest.MapFS{"m/1_a.sql": file("")}, wantErr: "1_a.sql is not named"},
		{name: "NotANumber", files: fstest.MapFS{"m/abcd_a.sql": file("")}, wantErr: "abcd_a.sql is not named"},
		{name: "NoDirectory", files: fstest.MapFS{}, wantErr: "read migrations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := migration.Load(tc.files, "m")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCheckLatest(t *testing.T) {
	t.Parallel()
	ms := []migration.Migration{{Version: 1, Name: "a"}, {Version: 2, Name: "b"}}
	require.NoError(t, migration.CheckLatest(0, ms))
	require.NoError(t, migration.CheckLatest(2, ms))
	require.ErrorContains(t, migration.CheckLatest(3, ms), "database schema version 3 is newer than this program's (2)")
}

func TestApplyError(t *testing.T) {
	t.Parallel()
	err := migration.ApplyError(migration.Migration{Version: 4, Name: "batch"}, store.ErrConflict)
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "apply migration 0004_batch: ")
}

func TestStatus(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	got := migration.Status(
		[]migration.Migration{{Version: 1, Name: "a"}, {Version: 2, Name: "b"}},
		map[int]time.Time{1: at, 9: at},
	)
	require.Equal(t, []store.Migration{{Version: 1, Name: "a", Applied: &at}, {Version: 2, Name: "b"}}, got)
}
