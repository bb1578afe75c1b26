package tokens

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Secret holds a secret value: a refresh token, an OTP, a recovery code.
// Its bytes are unexported and it cannot be compared with ==. Printing it
// in any way (fmt with any verb, slog, String) shows only a fingerprint,
// "secret:" and 8 hex digits; JSON and text marshalling fail, so it cannot
// be serialised by accident. Reveal is for the one place that must send the
// value to its owner. The zero Secret is empty.
type Secret struct {
	// v returns the bytes. A closure, because neither fmt nor reflection can
	// reach what it captures: printing a struct that holds a Secret in an
	// unexported field (where fmt cannot call Format) shows a function
	// address, never the bytes, whatever the verb. A func field also makes
	// Secret incomparable, so == does not compile: use Equal.
	v func() []byte
}

// fingerprintKey keys the fingerprints that String prints. It is random per
// process: a fingerprint in a log line correlates log lines of this process
// but cannot be brute-forced offline, which an unkeyed hash of a six-digit
// OTP could be in a million guesses.
var fingerprintKey = func() []byte {
	k := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, k); err != nil {
		panic("tokens: no randomness for the secret fingerprint key: " + err.Error())
	}
	return k
}()

// MinRandomSecretBytes is the least RandomSecret accepts: 128 bits.
const MinRandomSecretBytes = 16

// NewSecret copies b into a Secret.
func NewSecret(b []byte) Secret {
	if len(b) == 0 {
		return Secret{}
	}
	c := bytes.Clone(b)
	return Secret{v: func() []byte { return c }}
}

// RandomSecret returns a Secret whose value is the unpadded base64url text of
// nbytes random bytes, MinRandomSecretBytes to 1024. Short codes that people
// type (OTPs, recovery codes) are generated elsewhere and wrapped with
// NewSecret.
func RandomSecret(nbytes int) (Secret, error) {
	if nbytes < MinRandomSecretBytes || nbytes > 1024 {
		return Secret{}, fmt.Errorf("random secret: %d bytes is outside %d to 1024", nbytes, MinRandomSecretBytes)
	}
	b := make([]byte, nbytes)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return Secret{}, fmt.Errorf("random secret: %w", err)
	}
	return NewSecret([]byte(base64.RawURLEncoding.EncodeToString(b))), nil
}

// Reveal returns the value. Call it only where the value must leave the
// process to its owner (a response body, a Set-Cookie header, a message to
// the user), never for logging, storing or comparing.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return string(s.v())
}

// Equal reports whether both secrets hold the same value, in time that
// depends only on the lengths. An empty Secret equals nothing, itself
// included, so that a missing value can never match a missing value.
func (s Secret) Equal(o Secret) bool {
	if s.IsZero() || o.IsZero() {
		return false
	}
	return subtle.ConstantTimeCompare(s.v(), o.v()) == 1
}

// IsZero reports whether the Secret is empty.
func (s Secret) IsZero() bool { return s.v == nil || len(s.v()) == 0 }

// String returns "secret:" and the first 8 hex digits of a per-process keyed
// hash of the value (HMAC-SHA-256), or "secret:empty".
func (s Secret) String() string {
	if s.IsZero() {
		return "secret:empty"
	}
	mac := hmac.New(sha256.New, fingerprintKey)
	mac.Write(s.v())
	return "secret:" + hex.EncodeToString(mac.Sum(nil))[:8]
}

// LogValue makes slog print the fingerprint.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, %d, ...) print the
// fingerprint, never the bytes.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// GoString is the fingerprint too.
func (s Secret) GoString() string { return s.String() }

var errSecretMarshal = errors.New("tokens: a Secret cannot be serialised; store KeyedHash of it, send Reveal of it")

// MarshalJSON always fails.
func (s Secret) MarshalJSON() ([]byte, error) { return nil, errSecretMarshal }

// MarshalText always fails.
func (s Secret) MarshalText() ([]byte, error) { return nil, errSecretMarshal }

// KeyedHash returns hex(HMAC-SHA-256(key, purpose || 0x00 || value)): how
// secrets (refresh tokens, OTPs, codes, challenges) are named and stored in
// Redis, so that a key name or a stored value never reveals the secret and
// a low-entropy secret cannot be recovered from a dump without the key. The
// purpose ("refresh", "otp", ...) separates uses of one key. key should be
// at least 32 random bytes; an empty key, or a purpose containing NUL (which
// would make the encoding ambiguous), is a programming error and panics.
func KeyedHash(key []byte, purpose string, value string) string {
	if len(key) == 0 {
		panic("tokens: KeyedHash with an empty key")
	}
	if strings.IndexByte(purpose, 0) >= 0 {
		panic("tokens: KeyedHash purpose contains NUL")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil))
}
