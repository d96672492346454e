// Package secrets encrypts what pnonboard must keep but never show in the clear at rest:
// PubNub secret keys and webhook signing secrets. It is AES-256-GCM with a keyring, so the
// encryption key can be rotated: new values are sealed with the primary key, and values sealed
// with a previous key still open until they are re-sealed.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key: 32 bytes, AES-256.
const KeySize = 32

// format version 1: 0x01 | key ID (4 bytes) | nonce (12 bytes) | sealed data (with 16-byte tag)
const (
	formatV1 = 0x01
	idLen    = 4
)

// ErrDecrypt is returned for ciphertext that no key in the ring opens: tampered, truncated,
// sealed for another purpose (associated data), or sealed with a key no longer in the ring.
var ErrDecrypt = errors.New("secrets: cannot decrypt")

// Keyring seals with its primary key and opens with any of its keys. Safe for concurrent use.
type Keyring struct {
	primary [idLen]byte
	aeads   map[[idLen]byte]cipher.AEAD
}

// NewKeyring builds a ring from the primary key and any previous keys (each KeySize bytes).
func NewKeyring(primary []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[[idLen]byte]cipher.AEAD{}}
	for i, key := range append([][]byte{primary}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("secrets: key %d is %d bytes, want %d", i, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		id := keyID(key)
		if i == 0 {
			k.primary = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// ParseKey decodes a base64 (standard or URL, padded or not) encryption key of KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d (make one with: openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("is not base64 (make one with: openssl rand -base64 32)")
}

// NewKey returns a random encryption key, base64-encoded (dev mode's generated key).
func NewKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// keyID names a key without revealing it: the first bytes of its SHA-256.
func keyID(key []byte) [idLen]byte {
	sum := sha256.Sum256(append([]byte("pnonboard-keyring-id:"), key...))
	return [idLen]byte(sum[:idLen])
}

// Seal encrypts plaintext with the primary key. aad binds the ciphertext to its purpose and
// row (e.g. "keyset-secret:tenant/42/production"): it must be given again to Open, so a value
// copied to another row does not open there.
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	aead := k.aeads[k.primary]
	out := make([]byte, 1+idLen, 1+idLen+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = formatV1
	copy(out[1:], k.primary[:])
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts what Seal made, with the same aad. Returns ErrDecrypt otherwise.
func (k *Keyring) Open(ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < 1+idLen || ciphertext[0] != formatV1 {
		return nil, ErrDecrypt
	}
	aead, ok := k.aeads[[idLen]byte(ciphertext[1:1+idLen])]
	if !ok {
		return nil, ErrDecrypt
	}
	rest := ciphertext[1+idLen:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrDecrypt
	}
	plaintext, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// NeedsReseal reports whether ciphertext was sealed with a key other than the primary.
func (k *Keyring) NeedsReseal(ciphertext []byte) bool {
	return len(ciphertext) < 1+idLen || [idLen]byte(ciphertext[1:1+idLen]) != k.primary
}
