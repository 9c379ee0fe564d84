package reseal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/reseal"
	"github.com/utask/utask/store/storetest"
)

func TestNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"callback", "task", "resolution", "step", "comment", "audit"}, reseal.Names())
}

func TestTablesAreIndependentCopies(t *testing.T) {
	t.Parallel()
	tables := reseal.Tables()
	tables[0].Name = "changed"
	tables[0].Columns[0] = "changed"
	require.Equal(t, "callback", reseal.Tables()[0].Name)
	require.Equal(t, "sealed_schema", reseal.Tables()[0].Columns[0])
}

func TestStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, table, after string
		limit              int
		wantID             int64
		wantName, wantErr  string
		notFound           bool
	}{
		{name: "FromStart", table: "task", limit: 10},
		{name: "AfterID", table: "comment", after: "42", limit: 1, wantID: 42},
		{name: "AfterIDAndName", table: "step", after: "7/a/b", limit: 1, wantID: 7, wantName: "a/b"},
		{name: "UnknownTable", table: "nope", limit: 1, wantErr: "no such sealed table", notFound: true},
		{name: "ZeroLimit", table: "task", limit: 0, wantErr: "limit 0 is not positive"},
		{name: "NameOnUnnamedTable", table: "task", after: "7/x", limit: 1, wantErr: "reseal task: parse"},
		{name: "BadID", table: "audit", after: "x", limit: 1, wantErr: "reseal audit: parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			table, id, name, err := reseal.Start(tc.table, tc.after, tc.limit)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Equal(t, tc.notFound, errors.Is(err, store.ErrNotFound))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.table, table.Name)
			require.Equal(t, tc.wantID, id)
			require.Equal(t, tc.wantName, name)
		})
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	old, current := storetest.NewSealer(t), storetest.NewSealer(t)
	table, _, _, err := reseal.Start("callback", "", 3)
	require.NoError(t, err)
	seal := func(plain, aad string) []byte {
		b, err := old.Seal([]byte(plain), []byte(aad))
		require.NoError(t, err)
		return b
	}
	rows := []reseal.Row{
		{Key: []any{int64(1)}, Cursor: "1", AAD: []byte("cb1"), Values: [][]byte{nil, seal("s", "cb1"), nil}},
		{Key: []any{int64(2)}, Cursor: "2", AAD: []byte("cb2"), Values: [][]byte{seal("x", "cb2"), seal("y", "cb2"), nil}},
	}
	// The new sealer must open what the old one sealed: a keyring that
	// holds both keys.
	both := &keyring{newest: current, older: old}

	t.Run("WritesEveryChangedRow", func(t *testing.T) {
		t.Parallel()
		rows := cloneRows(rows)
		var writes [][]any
		batch, err := reseal.Run(ctx, both, table, "", 3, rows, func(_ context.Context, args []any) error {
			writes = append(writes, args)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, store.ResealBatch{Next: "2", Rows: 2, Resealed: 2, Done: true}, batch)
		require.Len(t, writes, 2)
		require.Len(t, writes[0], 4)         // three columns, then the id
		require.True(t, writes[0][0] == nil) // NULL stays NULL, as an untyped nil
		require.True(t, writes[0][2] == nil)
		require.Equal(t, int64(1), writes[0][3])
		plain, err := current.Open(writes[0][1].([]byte), []byte("cb1")) //nolint:forcetypeassert // checked by Open
		require.NoError(t, err)
		require.Equal(t, "s", string(plain))
	})

	t.Run("FullBatchIsNotDone", func(t *testing.T) {
		t.Parallel()
		batch, err := reseal.Run(ctx, both, table, "0", 2, cloneRows(rows),
			func(context.Context, []any) error { return nil })
		require.NoError(t, err)
		require.False(t, batch.Done)
		require.Equal(t, "2", batch.Next)
	})

	t.Run("UpdateErrorNamesTheRow", func(t *testing.T) {
		t.Parallel()
		errWrite := errors.New("disk full")
		_, err := reseal.Run(ctx, both, table, "", 3, cloneRows(rows),
			func(context.Context, []any) error { return errWrite })
		require.ErrorIs(t, err, errWrite)
		require.ErrorContains(t, err, "reseal callback row 1")
	})

	t.Run("OpenErrorNamesTheRow", func(t *testing.T) {
		t.Parallel()
		_, err := reseal.Run(ctx, current, table, "", 3, cloneRows(rows),
			func(context.Context, []any) error { return nil })
		require.ErrorContains(t, err, "reseal callback row 1")
	})
}

// cloneRows copies rows, since Run reseals their values in place.
func cloneRows(rows []reseal.Row) []reseal.Row {
	out := make([]reseal.Row, len(rows))
	for i, r := range rows {
		r.Values = append([][]byte(nil), r.Values...)
		out[i] = r
	}
	return out
}

// keyring seals with newest and opens with newest, else older, like a
// keyring in the middle of a rotation.
type keyring struct {
	newest, older store.Sealer
}

func (k *keyring) Seal(plain, aad []byte) ([]byte, error) { return k.newest.Seal(plain, aad) }

func (k *keyring) Open(sealed, aad []byte) ([]byte, error) {
	if plain, err := k.newest.Open(sealed, aad); err == nil {
		return plain, nil
	}
	return k.older.Open(sealed, aad)
}
