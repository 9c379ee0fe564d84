// Package crypt seals values at rest with the storage keys of the encryption-key configuration
// items, in the symmecrypt format: a sealed value is the random nonce followed by the AEAD
// ciphertext and tag, and the caller's associated data binds it to its row.
package crypt

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// StorageIdentifier is the identifier of the keys that seal stored values; items with another
// identifier are ignored.
const StorageIdentifier = "storage"

// Ciphers of the key format.
const (
	CipherAESGCM           = "aes-gcm"
	CipherChaCha20Poly1305 = "chacha20-poly1305"
	// CipherXChaCha20Poly1305 is ChaCha20-Poly1305 with a 24-byte nonce.
	CipherXChaCha20Poly1305 = "xchacha20-poly1305"
	// CipherAESPMACSIV and CipherHMAC exist in the key format but are refused by ParseKeyring.
	CipherAESPMACSIV = "aes-pmac-siv"
	CipherHMAC       = "hmac"
)

// keySize is the key length of every supported cipher.
const keySize = 32

// Errors returned by this package.
var (
	// ErrDecrypt is returned by Open when no key authenticates the sealed value.
	ErrDecrypt = errors.New("decrypt: no key authenticates the value") //nolint:gochecknoglobals // sentinel
	// ErrKeyNotFound is returned by ParseKeyring when no item holds a storage key.
	ErrKeyNotFound = errors.New("encryption key 'storage' not found") //nolint:gochecknoglobals // sentinel
	// ErrAmbiguousKeys is returned by ParseKeyring when the newest timestamp is not unique.
	ErrAmbiguousKeys = errors.New( //nolint:gochecknoglobals // sentinel
		"ambiguous config: several storage keys share the newest timestamp")
	// ErrNotSupported is wrapped by ParseKeyring's error for a sealed key or a refused cipher.
	ErrNotSupported = errors.New("not supported") //nolint:gochecknoglobals // sentinel
)

// Keyring holds the storage keys: the newest (highest timestamp) seals, every key opens. A Keyring
// is immutable and safe for concurrent use.
type Keyring struct {
	keys   []key     // newest first
	random io.Reader // source of nonces
}

// key is one parsed storage key.
type key struct {
	aead      cipher.AEAD
	cipher    string
	timestamp int64
}

// keyItem is the JSON form of an encryption-key item.
type keyItem struct {
	Identifier string `json:"identifier"`
	Cipher     string `json:"cipher"`
	Timestamp  int64  `json:"timestamp"`
	Key        string `json:"key"`
	Sealed     bool   `json:"sealed,omitempty"`
}

// ParseKeyring parses every encryption-key item value. Only identifier "storage" is kept. Ciphers:
// "aes-gcm" (32-byte key, 12-byte random nonce, 16-byte tag), "chacha20-poly1305" (32-byte key,
// 12-byte nonce) and "xchacha20-poly1305" (32-byte key, 24-byte nonce). Key material: hex (64
// characters), standard base64, or the 32 raw bytes. Sealed keys, "aes-pmac-siv" and "hmac" are
// refused with an error wrapping ErrNotSupported; no storage key gives ErrKeyNotFound and two keys
// sharing the newest timestamp give ErrAmbiguousKeys.
func ParseKeyring(items []string) (*Keyring, error) {
	var keys []key

	for i, raw := range items {
		var it keyItem
		if err := json.Unmarshal([]byte(raw), &it); err != nil {
			return nil, fmt.Errorf("parse encryption key item %d: %w", i, err)
		}

		if it.Identifier != StorageIdentifier {
			continue
		}

		k, err := newKey(it)
		if err != nil {
			return nil, fmt.Errorf("parse encryption key '%s' (timestamp %d): %w", it.Identifier, it.Timestamp, err)
		}

		keys = append(keys, k)
	}

	if len(keys) == 0 {
		return nil, ErrKeyNotFound
	}

	slices.SortStableFunc(keys, func(a, b key) int { return cmp.Compare(b.timestamp, a.timestamp) })

	if len(keys) > 1 && keys[0].timestamp == keys[1].timestamp {
		return nil, ErrAmbiguousKeys
	}

	return &Keyring{keys: keys, random: rand.Reader}, nil
}

// newKey builds the AEAD of one storage key item.
func newKey(it keyItem) (key, error) {
	if it.Sealed {
		return key{}, fmt.Errorf("sealed keys are %w", ErrNotSupported)
	}

	var newAEAD func([]byte) (cipher.AEAD, error)

	switch it.Cipher {
	case CipherAESGCM:
		newAEAD = newAESGCM
	case CipherChaCha20Poly1305:
		newAEAD = chacha20poly1305.New
	case CipherXChaCha20Poly1305:
		newAEAD = chacha20poly1305.NewX
	case CipherAESPMACSIV, CipherHMAC:
		return key{}, fmt.Errorf("cipher %q is %w", it.Cipher, ErrNotSupported)
	default:
		return key{}, fmt.Errorf("unknown cipher %q", it.Cipher)
	}

	material, err := decodeKeyMaterial(it.Key, keySize)
	if err != nil {
		return key{}, err
	}

	aead, err := newAEAD(material)
	if err != nil {
		return key{}, fmt.Errorf("build %s cipher: %w", it.Cipher, err)
	}

	return key{aead: aead, cipher: it.Cipher, timestamp: it.Timestamp}, nil
}

// newAESGCM returns AES-GCM with the standard 12-byte nonce and 16-byte tag.
func newAESGCM(material []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, fmt.Errorf("build AES block: %w", err)
	}

	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("build GCM: %w", err)
	}

	return aead, nil
}

// decodeKeyMaterial reads a key of size bytes written as hex, standard base64 or raw bytes.
func decodeKeyMaterial(s string, size int) ([]byte, error) {
	if len(s) == 2*size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}

	if len(s) == base64.StdEncoding.EncodedLen(size) {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == size {
			return b, nil
		}
	}

	if len(s) == size {
		return []byte(s), nil
	}

	return nil, fmt.Errorf("key must be %d bytes (%d hex characters, standard base64 or raw), got %d characters",
		size, 2*size, len(s))
}

// GenerateKeyItem returns a fresh aes-gcm storage key item (JSON text) with the given timestamp,
// its key read from rand.
func GenerateKeyItem(rand io.Reader, timestamp int64) (string, error) {
	material := make([]byte, keySize)
	if _, err := io.ReadFull(rand, material); err != nil {
		return "", fmt.Errorf("read key material: %w", err)
	}

	b, err := json.Marshal(keyItem{
		Identifier: StorageIdentifier,
		Cipher:     CipherAESGCM,
		Timestamp:  timestamp,
		Key:        hex.EncodeToString(material),
	})
	if err != nil {
		return "", fmt.Errorf("encode key item: %w", err)
	}

	return string(b), nil
}

// Seal returns nonce || AEAD-seal(plain, aad) with the newest key. It is safe for concurrent use.
func (k *Keyring) Seal(plain, aad []byte) ([]byte, error) {
	newest := k.keys[0].aead
	nonceSize := newest.NonceSize()

	out := make([]byte, nonceSize, nonceSize+len(plain)+newest.Overhead())
	if _, err := io.ReadFull(k.random, out); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}

	return newest.Seal(out, out[:nonceSize], plain, aad), nil
}

// Open tries every key (newest first) and returns ErrDecrypt if none authenticates sealed with
// aad.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	for _, key := range k.keys {
		if plain, ok := open(key.aead, sealed, aad); ok {
			return plain, nil
		}
	}

	return nil, ErrDecrypt
}

// SealedByNewest reports whether sealed opens with the newest key (for key rotation).
func (k *Keyring) SealedByNewest(sealed, aad []byte) bool {
	_, ok := open(k.keys[0].aead, sealed, aad)

	return ok
}

// open splits sealed into nonce and ciphertext and opens it with aead.
func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, bool) {
	nonceSize := aead.NonceSize()
	if len(sealed) < nonceSize+aead.Overhead() {
		return nil, false
	}

	plain, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, false
	}

	if plain == nil {
		plain = []byte{}
	}

	return plain, true
}
