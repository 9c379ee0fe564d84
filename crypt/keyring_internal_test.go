package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSealKnownAnswer pins the sealed format: with the nonce source fixed, Seal must produce
// exactly nonce || AES-256-GCM(plain, aad), as computed here with the standard library and, for
// the constant, with an unrelated AES-GCM implementation (Python's cryptography package).
func TestSealKnownAnswer(t *testing.T) {
	t.Parallel()

	const (
		keyHex = "e5f45aef9f072e91f735547be63f3434e6de49695b178e3868b23b0e32269800"
		// nonce 000102…0b, plaintext {"hello":"world"}, aad 11111111-2222-3333-4444-555555555555.
		wantHex = "000102030405060708090a0b70fd4bf55dc9c63759b740a72f1ba65aee57554dcea6613a3911d574b2829e276d"
	)

	nonce := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	plain := []byte(`{"hello":"world"}`)
	aad := []byte("11111111-2222-3333-4444-555555555555")

	k, err := ParseKeyring([]string{`{"identifier":"storage","cipher":"aes-gcm","timestamp":1535627466,"key":"` +
		keyHex + `"}`})
	require.NoError(t, err)

	k.random = bytes.NewReader(nonce)

	sealed, err := k.Seal(plain, aad)
	require.NoError(t, err)
	require.Equal(t, wantHex, hex.EncodeToString(sealed))

	material, err := hex.DecodeString(keyHex)
	require.NoError(t, err)

	block, err := aes.NewCipher(material)
	require.NoError(t, err)

	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)

	require.Equal(t, append(append([]byte(nil), nonce...), gcm.Seal(nil, nonce, plain, aad)...), sealed)
}

func TestSealNonceSourceFailure(t *testing.T) {
	t.Parallel()

	k, err := ParseKeyring([]string{`{"identifier":"storage","cipher":"aes-gcm","timestamp":1,"key":"` +
		"e5f45aef9f072e91f735547be63f3434e6de49695b178e3868b23b0e32269800" + `"}`})
	require.NoError(t, err)

	k.random = bytes.NewReader([]byte{1, 2, 3})

	_, err = k.Seal([]byte("x"), nil)
	require.ErrorContains(t, err, "read nonce")
}
