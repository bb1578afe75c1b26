package store

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Buckets is the number of routing buckets; a bucket is written with four
// digits in account ids, hash tags and payment codes.
const Buckets = 10000

// Bucket is an account's routing bucket, 0 to Buckets-1.
type Bucket uint16

// Tag is the bucket's Redis Cluster hash tag, such as "{b0042}".
func (b Bucket) Tag() string { return fmt.Sprintf("{b%04d}", uint16(b)) }

// String is the four-digit form used inside ids and codes.
func (b Bucket) String() string { return fmt.Sprintf("%04d", uint16(b)) }

// ParseBucket reads a four-digit bucket.
func ParseBucket(s string) (Bucket, error) {
	if len(s) != 4 {
		return 0, ErrBadID
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= Buckets || s[0] == '+' || s[0] == '-' {
		return 0, ErrBadID
	}
	return Bucket(n), nil
}

// ErrBadID is returned for an id that does not have the expected form.
var ErrBadID = errors.New("malformed id")

const accountPrefix = "acct_"

// idEncoding is lowercase base32 without padding: URL- and key-safe.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAccountID returns a fresh account id in a random bucket:
// "acct_" + four bucket digits + 24 base32 characters (120 random bits).
func NewAccountID() (string, Bucket, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(Buckets))
	if err != nil {
		return "", 0, fmt.Errorf("choosing a routing bucket: %w", err)
	}
	b := Bucket(n.Int64())
	r, err := RandomID()
	if err != nil {
		return "", 0, err
	}
	return accountPrefix + b.String() + r, b, nil
}

// BucketOf returns the routing bucket written in an account id.
func BucketOf(accountID string) (Bucket, error) {
	rest, ok := strings.CutPrefix(accountID, accountPrefix)
	if !ok || len(rest) != 4+24 {
		return 0, ErrBadID
	}
	if _, err := idEncoding.DecodeString(rest[4:]); err != nil {
		return 0, ErrBadID
	}
	return ParseBucket(rest[:4])
}

// RandomID returns 120 random bits as 24 lowercase base32 characters, for
// opaque ids (sessions, ceremonies, payments).
func RandomID() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return idEncoding.EncodeToString(b[:]), nil
}

// Keys builds every key name. It is the only place key names are spelled.
type Keys struct{ prefix string }

// Health names a start-up or readiness probe key.
func (k Keys) Health(id string) string { return k.prefix + "health:" + id }

// Ephemeral names a single-use value of an account: kind says what it is
// (for example "challenge"), id is opaque or a keyed hash, never a secret.
func (k Keys) Ephemeral(b Bucket, kind, id string) string {
	return k.prefix + "eph:" + b.Tag() + ":" + kind + ":" + id
}
