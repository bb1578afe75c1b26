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

// idEncoding is lowercase base32 without padding: URL- and key-safe.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Ids of things that belong to an account (and of ceremonies, which pick a
// bucket at random) carry the routing bucket, so that every key can be
// named from the id alone: kind + "_" + four bucket digits + 24 base32
// characters (120 random bits), such as "acct_0042k3...".

// RandomBucket picks a routing bucket uniformly at random.
func RandomBucket() (Bucket, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(Buckets))
	if err != nil {
		return 0, fmt.Errorf("choosing a routing bucket: %w", err)
	}
	return Bucket(n.Int64()), nil
}

// NewID returns a fresh id of the given kind in bucket b.
func NewID(kind string, b Bucket) (string, error) {
	r, err := RandomID()
	if err != nil {
		return "", err
	}
	return kind + "_" + b.String() + r, nil
}

// NewAccountID returns a fresh account id in a random bucket.
func NewAccountID() (string, Bucket, error) {
	b, err := RandomBucket()
	if err != nil {
		return "", 0, err
	}
	id, err := NewID("acct", b)
	return id, b, err
}

// BucketOfKind returns the routing bucket written in an id of the given kind
// ("acct", "sess", ...); it returns ErrBadID for anything else.
func BucketOfKind(kind, id string) (Bucket, error) {
	rest, ok := strings.CutPrefix(id, kind+"_")
	if !ok || len(rest) != 4+24 {
		return 0, ErrBadID
	}
	if _, err := idEncoding.DecodeString(rest[4:]); err != nil {
		return 0, ErrBadID
	}
	return ParseBucket(rest[:4])
}

// BucketOf returns the routing bucket of an account id.
func BucketOf(accountID string) (Bucket, error) { return BucketOfKind("acct", accountID) }

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

// Account keys: all carry the account's bucket tag, so they share a slot.

// Account is the account's hash: contact, status and its one bound device.
func (k Keys) Account(b Bucket, accountID string) string {
	return k.prefix + "acct:" + b.Tag() + ":" + accountID
}

// Devices is a hash of the account's device records, by device id.
func (k Keys) Devices(b Bucket, accountID string) string {
	return k.prefix + "devices:" + b.Tag() + ":" + accountID
}

// Credentials is a hash of the account's passkey records, by credential id.
func (k Keys) Credentials(b Bucket, accountID string) string {
	return k.prefix + "creds:" + b.Tag() + ":" + accountID
}

// Counters is a hash of the credentials' sign counters, by credential id;
// it is the authority the atomic counter check compares against.
func (k Keys) Counters(b Bucket, accountID string) string {
	return k.prefix + "credctr:" + b.Tag() + ":" + accountID
}

// Recovery is the set of keyed hashes of the account's unused recovery codes.
func (k Keys) Recovery(b Bucket, accountID string) string {
	return k.prefix + "recovery:" + b.Tag() + ":" + accountID
}

// Session is one session (one refresh-token family); its id carries the
// account's bucket.
func (k Keys) Session(b Bucket, sessionID string) string {
	return k.prefix + "sess:" + b.Tag() + ":" + sessionID
}

// Sessions is the set of the account's session ids.
func (k Keys) Sessions(b Bucket, accountID string) string {
	return k.prefix + "sessions:" + b.Tag() + ":" + accountID
}

// Signup is a sign-up in progress (contact, OTP hash, tries); its id's
// bucket becomes the new account's bucket.
func (k Keys) Signup(b Bucket, signupID string) string {
	return k.prefix + "signup:" + b.Tag() + ":" + signupID
}

// Challenge is a begun passkey ceremony.
func (k Keys) Challenge(b Bucket, ceremonyID string) string {
	return k.prefix + "chal:" + b.Tag() + ":" + ceremonyID
}

// Keys that belong to no account.

// Contact maps a contact's keyed hash to its account id.
func (k Keys) Contact(contactHash string) string { return k.prefix + "contact:" + contactHash }

// DPoPJTI remembers a DPoP proof's jti (hashed to bound its length and
// charset) per device key until the proof could no longer be accepted.
func (k Keys) DPoPJTI(jkt, jtiHash string) string { return k.prefix + "dpop:" + jkt + ":" + jtiHash }

// SessionJTI is a DPoP proof's jti claimed in the step that checks the
// session (TouchSessionJTI): in the account's slot, since a proof is bound
// to its access token and so to the token's account.
func (k Keys) SessionJTI(b Bucket, jkt, jtiHash string) string {
	return k.prefix + "jti:" + b.Tag() + ":" + jkt + ":" + jtiHash
}

// RateLimit is the limiter state of one subject (a keyed hash or an IP).
func (k Keys) RateLimit(kind, subject string) string { return k.prefix + kind + ":" + subject }

// Audit is the audit stream (durable, no TTL).
func (k Keys) Audit() string { return k.prefix + "audit" }

// Outbox is the dev outbox stream of notifications (dev mode only).
func (k Keys) Outbox() string { return k.prefix + "outbox" }

// NotifyQueue is the notification outbox stream (NotifyQueue), in its own
// slot with its dead-letter list.
func (k Keys) NotifyQueue() string { return k.prefix + "{nq}notify" }

// NotifyDead is the notification outbox's dead-letter list.
func (k Keys) NotifyDead() string { return k.prefix + "{nq}notify:dead" }

// SigningKeys holds the dev access-token signing key (dev mode only;
// production keys come from configuration).
func (k Keys) SigningKeys() string { return k.prefix + "signing-key:dev" }

// Events is the account's capped stream of recent events (SSE replay).
func (k Keys) Events(b Bucket, accountID string) string {
	return k.prefix + "events:" + b.Tag() + ":" + accountID
}

// EventChannel is the pub/sub channel of the account's live events.
func (k Keys) EventChannel(b Bucket, accountID string) string {
	return k.EventChannelPrefix() + b.Tag() + ":" + accountID
}

// EventChannelPrefix is what every account's event channel begins with
// (the hub subscribes to it as a pattern).
func (k Keys) EventChannelPrefix() string { return k.prefix + "evch:" }

// Code is a payment code's record, named by the code's keyed hash (never
// by its digits), in the account's slot: the code carries the bucket.
func (k Keys) Code(b Bucket, keyedName string) string {
	return k.prefix + "code:" + b.Tag() + ":" + keyedName
}

// CodeLimits holds the account's code-issuance limits (GCRA theoretical
// arrival times: field a for the account, k:<jkt> per device key).
func (k Keys) CodeLimits(b Bucket, accountID string) string {
	return k.prefix + "codelim:" + b.Tag() + ":" + accountID
}

// LiveCode points at the keyed name of the device's current code.
func (k Keys) LiveCode(b Bucket, accountID string) string {
	return k.prefix + "livecode:" + b.Tag() + ":" + accountID
}

// Enrollment is a new device's request to become the account's device (a
// hash; TTL always: its expiry plus a retention). Its id carries the
// account's bucket.
func (k Keys) Enrollment(b Bucket, enrollmentID string) string {
	return k.prefix + "enr:" + b.Tag() + ":" + enrollmentID
}

// Enrollments is the sorted set of the account's live enrollment ids,
// scored by their expiry (ms); its TTL outlives the longest member.
func (k Keys) Enrollments(b Bucket, accountID string) string {
	return k.prefix + "enrollments:" + b.Tag() + ":" + accountID
}

// ContactChange is a change of the account's contact waiting for the new
// address's OTP (a hash, 10-minute TTL).
func (k Keys) ContactChange(b Bucket, changeID string) string {
	return k.prefix + "cchg:" + b.Tag() + ":" + changeID
}

// ContactChangesDue is the global schedule of pending contact changes,
// scored by the end of their cool-down.
func (k Keys) ContactChangesDue() string { return k.prefix + "cchg-due" }

// Wallet is the account's balance, currency and day counters.
func (k Keys) Wallet(b Bucket, accountID string) string {
	return k.prefix + "wallet:" + b.Tag() + ":" + accountID
}

// Ledger is the account's stream of every money movement (durable).
func (k Keys) Ledger(b Bucket, accountID string) string {
	return k.prefix + "ledger:" + b.Tag() + ":" + accountID
}

// Payment is a payment or top-up record; its id carries the bucket.
func (k Keys) Payment(b Bucket, paymentID string) string {
	return k.prefix + "pay:" + b.Tag() + ":" + paymentID
}

// Refund is one refund of a payment; Refunds lists a payment's refund ids.
func (k Keys) Refund(b Bucket, refundID string) string {
	return k.prefix + "rfd:" + b.Tag() + ":" + refundID
}

// Refunds lists the refund ids of a payment, oldest first.
func (k Keys) Refunds(b Bucket, paymentID string) string {
	return k.prefix + "rfds:" + b.Tag() + ":" + paymentID
}

// Idem is the stored outcome of a terminal's request, by the keyed hash of
// its Idempotency-Key, in the slot of the money it moved (24 h TTL).
func (k Keys) Idem(b Bucket, terminalID, keyHash string) string {
	return k.prefix + "idem:" + b.Tag() + ":" + terminalID + ":" + keyHash
}

// Settlement is the bucket's settlement stream: one entry per movement,
// written in the same atomic step, read by accounting with a consumer
// group. In a Cluster a stream can only be written atomically with the
// money if it lives in the account's slot, hence one stream per bucket.
func (k Keys) Settlement(b Bucket) string { return k.prefix + "settle:" + b.Tag() }

// Terminal is a registered store terminal (durable).
func (k Keys) Terminal(terminalID string) string { return k.prefix + "term:" + terminalID }

// StoreName is a store's display names (ja, en), set by the operator
// (durable). A store belongs to no account: the key has no hash tag.
func (k Keys) StoreName(storeID string) string { return k.prefix + "storename:" + storeID }

// Switches is the hash of the operator's kill switches (durable, no TTL):
// signups, topups, new_devices, reauth_after, blocked_countries.
func (k Keys) Switches() string { return k.prefix + "switches" }

// Pairing is an operator's one-time pairing code for a new terminal of a
// store, named by the id the terminal will get (a keyed hash of the code,
// never the code) and tagged with the terminal key's whole name, so that
// redeeming it and registering the terminal are one script on one slot.
func (k Keys) Pairing(terminalID string) string {
	return k.prefix + "pair:{" + k.Terminal(terminalID) + "}"
}

// storeTag is a store's hash tag: a store's sales log keys share its slot.
// Store ids hold no brace (bff's validStoreID).
func (k Keys) storeTag(storeID string) string { return "{st:" + storeID + "}" }

// Sales is a store's sales log: the ids of its approved payments, top-ups
// and refunds, scored by their time (ms).
func (k Keys) Sales(storeID string) string { return k.prefix + "sales:" + k.storeTag(storeID) }

// TerminalSales is the part of a store's sales log made at one terminal
// (payments and top-ups), in the store's slot.
func (k Keys) TerminalSales(storeID, terminalID string) string {
	return k.prefix + "tsales:" + k.storeTag(storeID) + ":" + terminalID
}
