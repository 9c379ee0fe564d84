package crypt_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/crypt"
)

const sampleKeyHex = "e5f45aef9f072e91f735547be63f3434e6de49695b178e3868b23b0e32269800"

// keyItem returns an encryption-key item.
func keyItem(cipher string, timestamp int64, key string) string {
	b, err := json.Marshal(map[string]any{
		"identifier": "storage", "cipher": cipher, "timestamp": timestamp, "key": key,
	})
	if err != nil {
		panic(err)
	}

	return string(b)
}

// randomHexKey returns 32 random bytes in hex.
func randomHexKey(t testing.TB) string {
	t.Helper()

	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)

	return hex.EncodeToString(b)
}

// mustKeyring parses items or fails the test.
func mustKeyring(t testing.TB, items ...string) *crypt.Keyring {
	t.Helper()

	k, err := crypt.ParseKeyring(items)
	require.NoError(t, err)

	return k
}

func TestKeyringRoundTrip(t *testing.T) {
	t.Parallel()

	tests := []struct {
		cipher    string
		nonceSize int
	}{
		{"aes-gcm", 12},
		{"chacha20-poly1305", 12},
		{"xchacha20-poly1305", 24},
	}
	for _, tt := range tests {
		t.Run(tt.cipher, func(t *testing.T) {
			t.Parallel()

			k := mustKeyring(t, keyItem(tt.cipher, 1, randomHexKey(t)))
			aad := []byte("6f1c3b2e-0d4a-4b8e-9c1f-2a3b4c5d6e7f")

			for _, plain := range [][]byte{[]byte(`{"input":"value"}`), {}, bytes.Repeat([]byte("x"), 100000)} {
				sealed, err := k.Seal(plain, aad)
				require.NoError(t, err)
				require.Len(t, sealed, tt.nonceSize+len(plain)+16)

				got, err := k.Open(sealed, aad)
				require.NoError(t, err)
				require.Equal(t, plain, got)
				require.True(t, k.SealedByNewest(sealed, aad))
			}

			a, err := k.Seal([]byte("same"), aad)
			require.NoError(t, err)
			b, err := k.Seal([]byte("same"), aad)
			require.NoError(t, err)
			require.NotEqual(t, a[:tt.nonceSize], b[:tt.nonceSize], "nonces must be fresh")
		})
	}
}

func TestKeyringOpenRejects(t *testing.T) {
	t.Parallel()

	k := mustKeyring(t, keyItem("aes-gcm", 1, sampleKeyHex))
	aad := []byte("6f1c3b2e-0d4a-4b8e-9c1f-2a3b4c5d6e7f")

	sealed, err := k.Seal([]byte("secret"), aad)
	require.NoError(t, err)

	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1

	nonceFlipped := bytes.Clone(sealed)
	nonceFlipped[0] ^= 1

	tests := []struct {
		name   string
		sealed []byte
		aad    []byte
	}{
		{"WrongAAD", sealed, []byte("00000000-0000-0000-0000-000000000000")},
		{"MissingAAD", sealed, nil},
		{"TamperedTag", flipped, aad},
		{"TamperedNonce", nonceFlipped, aad},
		{"Truncated", sealed[:len(sealed)-1], aad},
		{"ShorterThanNonce", sealed[:5], aad},
		{"Empty", nil, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := k.Open(tt.sealed, tt.aad)
			require.ErrorIs(t, err, crypt.ErrDecrypt)
			require.False(t, k.SealedByNewest(tt.sealed, tt.aad))
		})
	}

	t.Run("OtherKey", func(t *testing.T) {
		t.Parallel()

		other := mustKeyring(t, keyItem("aes-gcm", 1, randomHexKey(t)))
		_, err := other.Open(sealed, aad)
		require.ErrorIs(t, err, crypt.ErrDecrypt)
	})
}

// TestKeyringKnownAnswer opens values sealed by an unrelated implementation (Python's
// cryptography package) with the sample key, nonce 000102…0b and the aad below.
func TestKeyringKnownAnswer(t *testing.T) {
	t.Parallel()

	aad := []byte("11111111-2222-3333-4444-555555555555")

	tests := []struct {
		name   string
		cipher string
		sealed string
		aad    []byte
		plain  string
	}{
		{
			"AESGCM", "aes-gcm",
			"000102030405060708090a0b70fd4bf55dc9c63759b740a72f1ba65aee57554dcea6613a3911d574b2829e276d",
			aad, `{"hello":"world"}`,
		},
		{
			"AESGCMEmpty", "aes-gcm",
			"000102030405060708090a0ba2df01f520566983f5696c4604a5eee8",
			nil, "",
		},
		{
			"ChaCha20Poly1305", "chacha20-poly1305",
			"000102030405060708090a0bdee5c9bbbdbbf6dd8b722a9f4387691f9170e482d2388e34d8741b27a6e930c479",
			aad, `{"hello":"world"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			k := mustKeyring(t, keyItem(tt.cipher, 1535627466, sampleKeyHex))

			sealed, err := hex.DecodeString(tt.sealed)
			require.NoError(t, err)

			got, err := k.Open(sealed, tt.aad)
			require.NoError(t, err)
			require.Equal(t, tt.plain, string(got))
		})
	}
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()

	oldItem := keyItem("aes-gcm", 1535627466, randomHexKey(t))
	newItem := keyItem("xchacha20-poly1305", 1700000000, randomHexKey(t))
	aad := []byte("6f1c3b2e-0d4a-4b8e-9c1f-2a3b4c5d6e7f")

	oldRing := mustKeyring(t, oldItem)
	oldSealed, err := oldRing.Seal([]byte("before rotation"), aad)
	require.NoError(t, err)

	for name, items := range map[string][]string{
		"NewestLast":  {oldItem, newItem},
		"NewestFirst": {newItem, oldItem},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			ring := mustKeyring(t, items...)

			got, err := ring.Open(oldSealed, aad)
			require.NoError(t, err)
			require.Equal(t, "before rotation", string(got))
			require.False(t, ring.SealedByNewest(oldSealed, aad))

			newSealed, err := ring.Seal([]byte("after rotation"), aad)
			require.NoError(t, err)
			require.Len(t, newSealed, 24+len("after rotation")+16, "the newest key (xchacha20) seals")
			require.True(t, ring.SealedByNewest(newSealed, aad))

			_, err = oldRing.Open(newSealed, aad)
			require.ErrorIs(t, err, crypt.ErrDecrypt)

			got, err = mustKeyring(t, newItem).Open(newSealed, aad)
			require.NoError(t, err)
			require.Equal(t, "after rotation", string(got))
		})
	}
}

func TestParseKeyringKeyMaterial(t *testing.T) {
	t.Parallel()

	raw := []byte("0123456789abcdefghijklmnopqrstuv")
	require.Len(t, raw, 32)

	encodings := map[string]string{
		"Hex":    hex.EncodeToString(raw),
		"Base64": base64.StdEncoding.EncodeToString(raw),
		"Raw":    string(raw),
	}

	reference := mustKeyring(t, keyItem("aes-gcm", 1, encodings["Hex"]))
	sealed, err := reference.Seal([]byte("payload"), nil)
	require.NoError(t, err)

	for name, material := range encodings {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			got, err := mustKeyring(t, keyItem("aes-gcm", 1, material)).Open(sealed, nil)
			require.NoError(t, err)
			require.Equal(t, "payload", string(got))
		})
	}
}

func TestParseKeyringErrors(t *testing.T) {
	t.Parallel()

	good := keyItem("aes-gcm", 10, sampleKeyHex)

	tests := []struct {
		name    string
		items   []string
		wantIs  error
		wantErr []string
	}{
		{name: "NoItems", wantIs: crypt.ErrKeyNotFound, wantErr: []string{"encryption key 'storage' not found"}},
		{
			name:   "OnlyOtherIdentifiers",
			items:  []string{`{"identifier":"backup","cipher":"hmac","timestamp":1,"key":"x"}`},
			wantIs: crypt.ErrKeyNotFound,
		},
		{
			name:    "NewestTimestampShared",
			items:   []string{good, keyItem("aes-gcm", 10, randomHexKey(t)), keyItem("aes-gcm", 3, randomHexKey(t))},
			wantIs:  crypt.ErrAmbiguousKeys,
			wantErr: []string{"ambiguous config: several storage keys share the newest timestamp"},
		},
		{
			name:    "Sealed",
			items:   []string{`{"identifier":"storage","cipher":"aes-gcm","timestamp":1,"key":"` + sampleKeyHex + `","sealed":true}`},
			wantIs:  crypt.ErrNotSupported,
			wantErr: []string{"sealed", "not supported"},
		},
		{
			name: "AESPMACSIV", items: []string{keyItem("aes-pmac-siv", 1, sampleKeyHex+sampleKeyHex)},
			wantIs: crypt.ErrNotSupported, wantErr: []string{`"aes-pmac-siv"`, "not supported"},
		},
		{
			name: "HMAC", items: []string{keyItem("hmac", 1, sampleKeyHex)},
			wantIs: crypt.ErrNotSupported, wantErr: []string{`"hmac"`, "not supported"},
		},
		{name: "UnknownCipher", items: []string{keyItem("rot13", 1, sampleKeyHex)}, wantErr: []string{`unknown cipher "rot13"`}},
		{
			name: "ShortKey", items: []string{keyItem("aes-gcm", 1, "abcd")},
			wantErr: []string{"'storage'", "32 bytes", "64 hex"},
		},
		{
			name: "HexOfWrongLength", items: []string{keyItem("xchacha20-poly1305", 1, sampleKeyHex[:62])},
			wantErr: []string{"'storage'", "32 bytes"},
		},
		{
			name: "NotHex", items: []string{keyItem("aes-gcm", 1, strings.Repeat("z", 64))},
			wantErr: []string{"'storage'", "32 bytes"},
		},
		{name: "InvalidJSON", items: []string{good, "{not json"}, wantErr: []string{"item 1"}},
		{name: "BadStorageKeyAmongGood", items: []string{good, keyItem("aes-gcm", 1, "")}, wantErr: []string{"timestamp 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			k, err := crypt.ParseKeyring(tt.items)
			require.Error(t, err)
			require.Nil(t, k)

			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}

			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}

	t.Run("OlderTimestampsMayTie", func(t *testing.T) {
		t.Parallel()

		_, err := crypt.ParseKeyring([]string{
			keyItem("aes-gcm", 1, randomHexKey(t)), keyItem("aes-gcm", 1, randomHexKey(t)), good,
		})
		require.NoError(t, err)
	})

	t.Run("OtherIdentifiersIgnored", func(t *testing.T) {
		t.Parallel()

		_, err := crypt.ParseKeyring([]string{
			`{"identifier":"other","cipher":"aes-pmac-siv","timestamp":99,"key":"short","sealed":true}`, good,
		})
		require.NoError(t, err)
	})
}

func TestGenerateKeyItem(t *testing.T) {
	t.Parallel()

	material := bytes.Repeat([]byte{0xab}, 32)

	item, err := crypt.GenerateKeyItem(bytes.NewReader(material), 1700000000)
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(
		`{"identifier":"storage","cipher":"aes-gcm","timestamp":1700000000,"key":"%s"}`, strings.Repeat("ab", 32)), item)

	k := mustKeyring(t, item)
	sealed, err := k.Seal([]byte("v"), nil)
	require.NoError(t, err)
	require.Len(t, sealed, 12+1+16)

	t.Run("RandomKeysDiffer", func(t *testing.T) {
		t.Parallel()

		a, err := crypt.GenerateKeyItem(rand.Reader, 1)
		require.NoError(t, err)
		b, err := crypt.GenerateKeyItem(rand.Reader, 1)
		require.NoError(t, err)
		require.NotEqual(t, a, b)
	})

	t.Run("ShortRandom", func(t *testing.T) {
		t.Parallel()

		_, err := crypt.GenerateKeyItem(bytes.NewReader(make([]byte, 31)), 1)
		require.ErrorContains(t, err, "read key material")
	})
}

func TestKeyringConcurrentUse(t *testing.T) {
	t.Parallel()

	k := mustKeyring(t, keyItem("aes-gcm", 2, randomHexKey(t)), keyItem("chacha20-poly1305", 1, randomHexKey(t)))

	var wg sync.WaitGroup

	errs := make(chan error, 8)

	for g := range 8 {
		wg.Go(func() {
			aad := fmt.Appendf(nil, "row-%d", g)

			for i := range 200 {
				plain := fmt.Appendf(nil, "value %d/%d", g, i)

				sealed, err := k.Seal(plain, aad)
				if err != nil {
					errs <- err

					return
				}

				got, err := k.Open(sealed, aad)
				if err != nil || !bytes.Equal(got, plain) {
					errs <- fmt.Errorf("round trip %d/%d: %w", g, i, err)

					return
				}
			}
		})
	}

	wg.Wait()
	close(errs)

	for err := range errs {
		require.NoError(t, err)
	}
}

func BenchmarkKeyringSeal(b *testing.B) {
	k := mustKeyring(b, keyItem("aes-gcm", 1, sampleKeyHex))
	plain := bytes.Repeat([]byte("a"), 1024)
	aad := []byte("6f1c3b2e-0d4a-4b8e-9c1f-2a3b4c5d6e7f")

	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()

	for b.Loop() {
		if _, err := k.Seal(plain, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyringOpen(b *testing.B) {
	// The newest key is the one that sealed, as after a completed rotation; OldKey measures a value
	// still sealed by an older key, which costs one failed attempt first.
	newest := keyItem("aes-gcm", 2, randomHexKey(b))
	older := keyItem("aes-gcm", 1, sampleKeyHex)
	plain := bytes.Repeat([]byte("a"), 1024)
	aad := []byte("6f1c3b2e-0d4a-4b8e-9c1f-2a3b4c5d6e7f")

	for name, sealer := range map[string]string{"NewestKey": newest, "OldKey": older} {
		b.Run(name, func(b *testing.B) {
			sealed, err := mustKeyring(b, sealer).Seal(plain, aad)
			if err != nil {
				b.Fatal(err)
			}

			k := mustKeyring(b, newest, older)

			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()

			for b.Loop() {
				if _, err := k.Open(sealed, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
