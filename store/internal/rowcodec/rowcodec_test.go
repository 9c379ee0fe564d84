package rowcodec_test

import (
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/utask/utask/compress"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
	"github.com/utask/utask/store/storetest"
)

func TestSealMap(t *testing.T) {
	t.Parallel()
	c := rowcodec.New(storetest.NewSealer(t), compress.Noop)

	t.Run("NilIsNull", func(t *testing.T) {
		t.Parallel()
		v, err := c.SealMap(nil, "aad")
		require.NoError(t, err)
		require.True(t, v == nil) // an untyped nil, not a nil []byte
		m, err := c.OpenMap(nil, "aad")
		require.NoError(t, err)
		require.Nil(t, m)
	})

	t.Run("RoundTripKeepsNumbers", func(t *testing.T) {
		t.Parallel()
		v, err := c.SealMap(map[string]any{"n": json.Number("12345678901234567890"), "s": "x"}, "tsk")
		require.NoError(t, err)
		sealed, ok := v.([]byte)
		require.True(t, ok)
		m, err := c.OpenMap(sealed, "tsk")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"n": json.Number("12345678901234567890"), "s": "x"}, m)
	})

	t.Run("BoundToAAD", func(t *testing.T) {
		t.Parallel()
		v, err := c.SealMap(map[string]any{}, "one")
		require.NoError(t, err)
		sealed, ok := v.([]byte)
		require.True(t, ok)
		_, err = c.OpenMap(sealed, "two")
		require.Error(t, err)
	})
}

func TestSealStep(t *testing.T) {
	t.Parallel()
	sealer := storetest.NewSealer(t)
	data := store.StepData{Output: map[string]any{"a": "b"}, Error: "boom", ChildrenSteps: []string{"x"}}

	for _, alg := range []compress.Algorithm{compress.Noop, compress.Gzip} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			c := rowcodec.New(sealer, alg)
			v, err := c.SealStep(data, rowcodec.StepAAD("res", "step"))
			require.NoError(t, err)
			sealed, ok := v.([]byte)
			require.True(t, ok)

			plain, err := sealer.Open(sealed, []byte("res/step"))
			require.NoError(t, err)
			require.Equal(t, alg == compress.Gzip, compress.IsCompressed(plain))

			// A codec that does not compress reads compressed data as well.
			got, err := rowcodec.New(sealer, compress.Noop).OpenStep(sealed, "res/step")
			require.NoError(t, err)
			require.Equal(t, "boom", got.Error)
			require.Equal(t, []string{"x"}, got.ChildrenSteps)
			require.Equal(t, map[string]any{"a": "b"}, got.Output)
		})
	}

	t.Run("EmptyIsNull", func(t *testing.T) {
		t.Parallel()
		c := rowcodec.New(sealer, compress.Gzip)
		v, err := c.SealStep(store.StepData{}, "res/step")
		require.NoError(t, err)
		require.True(t, v == nil)
		d, err := c.OpenStep(nil, "res/step")
		require.NoError(t, err)
		require.Equal(t, store.StepData{}, d)
	})
}

func TestJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		got  func() (any, error)
		want any
	}{
		{"NilList", func() (any, error) { return rowcodec.List(nil) }, nil},
		{"EmptyList", func() (any, error) { return rowcodec.List([]string{}) }, "[]"},
		{"List", func() (any, error) { return rowcodec.List([]string{"a", "b"}) }, `["a","b"]`},
		{"NilTags", func() (any, error) { return rowcodec.Tags(nil) }, nil},
		{"Tags", func() (any, error) { return rowcodec.Tags(map[string]string{"k": "v"}) }, `{"k":"v"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.got()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	require.Nil(t, rowcodec.Bytes(nil))
	require.Equal(t, []byte{}, rowcodec.Bytes([]byte{}))
}

func TestTemplateHash(t *testing.T) {
	t.Parallel()
	// The SHA-256 of the empty string and of "abc" (FIPS 180-2 examples).
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", rowcodec.TemplateHash(nil))
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		rowcodec.TemplateHash([]byte("abc")))
}

func TestCallback(t *testing.T) {
	t.Parallel()
	c := rowcodec.New(storetest.NewSealer(t), compress.Noop)

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		in := &store.Callback{PublicID: "cb", Secret: "s3cret", Schema: []byte(`{}`), Body: []byte(`{"a":1}`)}
		sealed, err := c.SealCallback(in)
		require.NoError(t, err)
		schema, ok := sealed.Schema.([]byte)
		require.True(t, ok)
		body, ok := sealed.Body.([]byte)
		require.True(t, ok)

		out := &store.Callback{PublicID: "cb"}
		require.NoError(t, c.OpenCallback(out, schema, sealed.Secret, body))
		require.Equal(t, in.Secret, out.Secret)
		require.Equal(t, in.Schema, out.Schema)
		require.Equal(t, in.Body, out.Body)

		other := &store.Callback{PublicID: "other"}
		require.ErrorContains(t, c.OpenCallback(other, nil, sealed.Secret, nil), "open secret of callback other")
	})

	t.Run("NoSchemaNoBody", func(t *testing.T) {
		t.Parallel()
		sealed, err := c.SealCallback(&store.Callback{PublicID: "cb", Secret: "x"})
		require.NoError(t, err)
		require.True(t, sealed.Schema == nil)
		require.True(t, sealed.Body == nil)
		out := &store.Callback{PublicID: "cb"}
		require.NoError(t, c.OpenCallback(out, nil, sealed.Secret, nil))
		require.Nil(t, out.Schema)
		require.Nil(t, out.Body)
	})
}

func TestTaskRow(t *testing.T) {
	t.Parallel()
	c := rowcodec.New(storetest.NewSealer(t), compress.Noop)
	in := &store.Task{
		PublicID: "tsk", Title: "title", RequesterUsername: "alice",
		WatcherUsernames: []string{"bob"}, Tags: map[string]string{"k": "v"},
		State: "TODO", StepsDone: 1, StepsTotal: 2, Input: map[string]any{"i": "x"},
	}
	row, err := c.TaskRow(in, "when")
	require.NoError(t, err)
	require.Len(t, row, 14)
	require.Equal(t, []any{"title", "alice", nil, `["bob"]`, nil, nil, nil, "when", "TODO", 1, 2, `{"k":"v"}`},
		row[:12])
	require.True(t, row[13] == nil) // no result

	input, ok := row[12].([]byte)
	require.True(t, ok)
	out := &store.Task{PublicID: "tsk"}
	cols := rowcodec.TaskJSON{WatcherUsernames: []byte(`["bob"]`), Tags: []byte(`{"k":"v"}`)}
	require.NoError(t, c.DecodeTask(out, cols, input, nil))
	require.Equal(t, []string{"bob"}, out.WatcherUsernames)
	require.Nil(t, out.WatcherGroups)
	require.Equal(t, map[string]string{"k": "v"}, out.Tags)
	require.Equal(t, map[string]any{"i": "x"}, out.Input)
	require.Nil(t, out.Result)

	err = c.DecodeTask(&store.Task{PublicID: "tsk"}, rowcodec.TaskJSON{ResolverGroups: []byte(`{`)}, nil, nil)
	require.ErrorContains(t, err, "decode resolver_groups of task tsk")
}

// query runs a query on a new in-memory SQLite database and returns its
// rows, closed at the end of the test.
func query(t *testing.T, q string) *sql.Rows {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	rows, err := db.QueryContext(t.Context(), q)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rows.Close()) })
	return rows
}

func TestCollect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		query   string
		want    []string
		wantErr bool
	}{
		{"InOrder", `SELECT 'a' UNION ALL SELECT 'b' UNION ALL SELECT 'c'`, []string{"a", "b", "c"}, false},
		{"None", `SELECT 'a' WHERE 0`, nil, false},
		{"ScanError", `SELECT 'a' UNION ALL SELECT NULL UNION ALL SELECT 'c'`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows := query(t, tc.query)
			scanned := 0
			got, err := rowcodec.Collect(rows, func() (string, error) {
				scanned++
				var s string
				err := rows.Scan(&s)
				return s, err
			})
			if tc.wantErr {
				require.Error(t, err)
				require.Nil(t, got)
				require.Equal(t, 2, scanned) // stopped at the bad row
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestTemplatesInUse(t *testing.T) {
	t.Parallel()
	rows := query(t, `SELECT 'a', 3 UNION ALL SELECT 'b', 7`)
	got, err := rowcodec.TemplatesInUse(rows)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 3, "b": 7}, got)
}
