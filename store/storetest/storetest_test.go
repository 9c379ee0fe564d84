package storetest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store/storetest"
)

func TestNewSealer(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := storetest.NewSealer(t)
		sealed, err := s.Seal([]byte("plain"), []byte("row-1"))
		require.NoError(t, err)
		require.NotContains(t, string(sealed), "plain")
		plain, err := s.Open(sealed, []byte("row-1"))
		require.NoError(t, err)
		require.Equal(t, []byte("plain"), plain)
	})

	t.Run("RandomNonce", func(t *testing.T) {
		t.Parallel()
		s := storetest.NewSealer(t)
		a, err := s.Seal([]byte("plain"), nil)
		require.NoError(t, err)
		b, err := s.Seal([]byte("plain"), nil)
		require.NoError(t, err)
		require.NotEqual(t, a, b)
	})

	t.Run("RefusesOtherAssociatedData", func(t *testing.T) {
		t.Parallel()
		s := storetest.NewSealer(t)
		sealed, err := s.Seal([]byte("plain"), []byte("row-1"))
		require.NoError(t, err)
		_, err = s.Open(sealed, []byte("row-2"))
		require.Error(t, err)
	})

	t.Run("RefusesTampering", func(t *testing.T) {
		t.Parallel()
		s := storetest.NewSealer(t)
		sealed, err := s.Seal([]byte("plain"), nil)
		require.NoError(t, err)
		sealed[len(sealed)-1] ^= 1
		_, err = s.Open(sealed, nil)
		require.Error(t, err)
		_, err = s.Open(sealed[:5], nil)
		require.Error(t, err)
	})

	t.Run("RefusesOtherKey", func(t *testing.T) {
		t.Parallel()
		sealed, err := storetest.NewSealer(t).Seal([]byte("plain"), nil)
		require.NoError(t, err)
		_, err = storetest.NewSealer(t).Open(sealed, nil)
		require.Error(t, err)
	})
}
