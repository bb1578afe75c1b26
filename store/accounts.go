package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/redis/go-redis/v9"
)

// Account states and device states.
const (
	AccountActive = "active"
	AccountFrozen = "frozen"

	DeviceActive  = "active"
	DeviceLocked  = "locked"  // sign counter went backwards: possible cloned authenticator
	DeviceRevoked = "revoked" // replaced by a new device, or revoked by an operator
)

// Errors of the account layer.
var (
	ErrExists       = errors.New("already exists")
	ErrContactTaken = errors.New("contact already has an account")
	ErrNotVerified  = errors.New("sign-up contact not verified")
)

// Account is an account's hash. The account has exactly one device
// (DeviceID, DeviceJKT); DeviceStatus says whether it may act.
type Account struct {
	ID           string
	Contact      string
	ContactKind  string // "email" or "phone"
	Status       string
	CreatedAt    time.Time
	DeviceID     string
	DeviceJKT    string
	DeviceStatus string
	// ProbationUntil ends the lower limits after a device change (zero: none).
	ProbationUntil time.Time
	// Lang is the language the account's notifications are written in
	// ("en", "ja"; "" for accounts made before it existed: the default).
	Lang string
	// ContactChangeID names the contact change in its cool-down (""
	// when none), and ContactChangeAt is when it applies.
	ContactChangeID string
	ContactChangeAt time.Time
}

// Device is a device record, kept after revocation for the audit trail.
type Device struct {
	ID           string    `json:"id"`
	AccountID    string    `json:"account_id"`
	JKT          string    `json:"jkt"`
	Label        string    `json:"label"`
	CredentialID string    `json:"credential_id"`
	CreatedAt    time.Time `json:"created_at"`
}

// CredentialRecord is a passkey as go-webauthn returned it, with the
// device it belongs to. The whole record is kept.
type CredentialRecord struct {
	Credential gowebauthn.Credential `json:"credential"`
	AccountID  string                `json:"account_id"`
	DeviceID   string                `json:"device_id"`
	CreatedAt  time.Time             `json:"created_at"`
}

// NewAccount is everything sign-up writes in one atomic step.
type NewAccount struct {
	SignupID       string
	Account        Account
	Device         Device
	Credential     CredentialRecord
	RecoveryHashes []string
	ContactHash    string
}

// CredentialKey is how a credential id is written in hash fields.
func CredentialKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// createAccount writes the account, its device, credential, counter and
// recovery codes, and consumes the verified sign-up, all at once or not at
// all. KEYS: signup, account, devices, credentials, counters, recovery.
var createAccount = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then
  -- Account ids are fresh random values: one that holds this id already is
  -- this very call, resent by go-redis after a lost reply (the sign-up is
  -- gone by then). Answer as the first run did, so the caller does not
  -- release the contact claim of the account it made.
  if redis.call('HGET', KEYS[2], 'id') == ARGV[1] and redis.call('HGET', KEYS[2], 'device_id') == ARGV[5] then return 'ok' end
  return 'exists'
end
if redis.call('HGET', KEYS[1], 'verified') ~= '1' then return 'unverified' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'contact', ARGV[2], 'contact_kind', ARGV[3], 'status', 'active',
  'created_at', ARGV[4], 'device_id', ARGV[5], 'device_jkt', ARGV[6], 'device_status', 'active')
if ARGV[11] ~= '' then redis.call('HSET', KEYS[2], 'lang', ARGV[11]) end
redis.call('HSET', KEYS[3], ARGV[5], ARGV[7])
redis.call('HSET', KEYS[4], ARGV[8], ARGV[9])
redis.call('HSET', KEYS[5], ARGV[8], ARGV[10])
for i = 12, #ARGV do redis.call('SADD', KEYS[6], ARGV[i]) end
return 'ok'
`)

// CreateAccount claims the contact and writes the new account. It returns
// ErrContactTaken when the contact already belongs to an account,
// ErrNotVerified when the sign-up is gone or unverified, ErrExists when the
// account id is taken.
func (s *Store) CreateAccount(ctx context.Context, n NewAccount) error {
	keys, args, err := s.createAccountCall(n)
	if err != nil {
		return err
	}
	// The contact index is global (not in the account's slot): claim it
	// first, and release it if the account cannot be written.
	contactKey := s.keys.Contact(n.ContactHash)
	// A resent claim (go-redis retries a command whose reply was lost)
	// finds its own account id and is not mistaken for another account's.
	ok, err := claimScript.Run(ctx, s.rdb, []string{contactKey}, n.Account.ID, 0).Bool()
	if err != nil {
		return wrap("claiming the contact", err)
	}
	if !ok {
		return ErrContactTaken
	}
	res, err := createAccount.Run(ctx, s.rdb, keys, args...).Text()
	if err == nil && res != "ok" {
		switch res {
		case "exists":
			err = ErrExists
		default:
			err = ErrNotVerified
		}
	}
	if err != nil {
		// Release the contact only if it is still ours.
		if rerr := releaseContact.Run(ctx, s.rdb, []string{contactKey}, n.Account.ID).Err(); rerr != nil && !errors.Is(rerr, redis.Nil) {
			return errors.Join(wrap("creating the account", err), wrap("releasing the contact", rerr))
		}
		if errors.Is(err, ErrExists) || errors.Is(err, ErrNotVerified) {
			return err
		}
		return wrap("creating the account", err)
	}
	return nil
}

// createAccountCall builds KEYS and ARGV of createAccount for n (the one
// place, for CreateAccount and the Seeder).
func (s *Store) createAccountCall(n NewAccount) ([]string, []any, error) {
	b, err := BucketOf(n.Account.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("creating an account: %w", err)
	}
	sb, err := BucketOfKind("sgn", n.SignupID)
	if err != nil || sb != b {
		return nil, nil, fmt.Errorf("creating an account: sign-up and account buckets differ: %w", ErrBadID)
	}
	device, err := json.Marshal(n.Device)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the device: %w", err)
	}
	cred, err := json.Marshal(n.Credential)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the credential: %w", err)
	}
	k := s.keys
	args := []any{n.Account.ID, n.Account.Contact, n.Account.ContactKind, n.Account.CreatedAt.UnixMilli(),
		n.Device.ID, n.Device.JKT, device, CredentialKey(n.Credential.Credential.ID), cred, n.Credential.Credential.Authenticator.SignCount,
		n.Account.Lang}
	for _, h := range n.RecoveryHashes {
		args = append(args, h)
	}
	return []string{
		k.Signup(b, n.SignupID), k.Account(b, n.Account.ID), k.Devices(b, n.Account.ID),
		k.Credentials(b, n.Account.ID), k.Counters(b, n.Account.ID), k.Recovery(b, n.Account.ID),
	}, args, nil
}

var releaseContact = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// AccountByContact returns the account id that owns a contact hash, or
// ErrNotFound.
func (s *Store) AccountByContact(ctx context.Context, contactHash string) (string, error) {
	id, err := s.rdb.Get(ctx, s.keys.Contact(contactHash)).Result()
	if err != nil {
		return "", wrap("looking up the contact", err)
	}
	return id, nil
}

// Account reads an account. It returns ErrNotFound when there is none.
func (s *Store) Account(ctx context.Context, id string) (*Account, error) {
	b, err := BucketOf(id)
	if err != nil {
		return nil, fmt.Errorf("reading an account: %w", ErrNotFound)
	}
	m, err := s.rdb.HGetAll(ctx, s.keys.Account(b, id)).Result()
	if err != nil {
		return nil, wrap("reading an account", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("reading an account: %w", ErrNotFound)
	}
	return accountFrom(m), nil
}

func accountFrom(m map[string]string) *Account {
	return &Account{
		ID:              m["id"],
		Contact:         m["contact"],
		ContactKind:     m["contact_kind"],
		Status:          m["status"],
		CreatedAt:       millis(m["created_at"]),
		DeviceID:        m["device_id"],
		DeviceJKT:       m["device_jkt"],
		DeviceStatus:    m["device_status"],
		ProbationUntil:  millis(m["probation_until"]),
		Lang:            m["lang"],
		ContactChangeID: m["contact_change"],
		ContactChangeAt: millis(m["contact_change_at"]),
	}
}

func millis(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// Device reads a device record of an account.
func (s *Store) Device(ctx context.Context, accountID, deviceID string) (*Device, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading a device: %w", ErrNotFound)
	}
	raw, err := s.rdb.HGet(ctx, s.keys.Devices(b, accountID), deviceID).Bytes()
	if err != nil {
		return nil, wrap("reading a device", err)
	}
	var d Device
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decoding a device: %w", err)
	}
	return &d, nil
}

// Credentials reads the account's passkeys, with their current counters.
func (s *Store) Credentials(ctx context.Context, accountID string) ([]CredentialRecord, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", ErrNotFound)
	}
	pipe := s.rdb.Pipeline()
	creds := pipe.HGetAll(ctx, s.keys.Credentials(b, accountID))
	ctrs := pipe.HGetAll(ctx, s.keys.Counters(b, accountID))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, wrap("reading credentials", err)
	}
	out := make([]CredentialRecord, 0, len(creds.Val()))
	for id, raw := range creds.Val() {
		var r CredentialRecord
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return nil, fmt.Errorf("decoding a credential: %w", err)
		}
		if n, err := strconv.ParseUint(ctrs.Val()[id], 10, 32); err == nil {
			r.Credential.Authenticator.SignCount = uint32(n)
		}
		out = append(out, r)
	}
	return out, nil
}

// recordAssertion writes back a credential after an assertion: the counter
// only if it increased (or both are 0: authenticators without counters),
// then the record with its new flags. KEYS: counters, credentials.
var recordAssertion = redis.NewScript(`
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local new = tonumber(ARGV[2])
if new <= old and not (new == 0 and old == 0) then return 'regressed' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 'ok'
`)

// RecordAssertion writes back the credential's new sign count and flags. It
// compares the counter atomically with the stored one and reports a
// regression (a counter that did not increase) without writing anything.
func (s *Store) RecordAssertion(ctx context.Context, r CredentialRecord) (regressed bool, err error) {
	b, err := BucketOf(r.AccountID)
	if err != nil {
		return false, fmt.Errorf("recording an assertion: %w", err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("encoding the credential: %w", err)
	}
	res, err := recordAssertion.Run(ctx, s.rdb, []string{s.keys.Counters(b, r.AccountID), s.keys.Credentials(b, r.AccountID)},
		CredentialKey(r.Credential.ID), r.Credential.Authenticator.SignCount, raw).Text()
	if err != nil {
		return false, wrap("recording an assertion", err)
	}
	return res == "regressed", nil
}

// setDeviceStatus changes the bound device's status if it is still the
// bound device; sessions of a device that is not active stop working at
// once (TouchSession checks it). KEYS: account.
var setDeviceStatus = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'device_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'device_status', ARGV[2])
return 1
`)

// SetDeviceStatus locks or revokes the account's bound device. Every
// session, refresh token and (later) live code of the device stops working
// immediately. It reports whether the device was the bound one.
func (s *Store) SetDeviceStatus(ctx context.Context, accountID, deviceID, status string) (bool, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return false, fmt.Errorf("setting a device status: %w", err)
	}
	n, err := setDeviceStatus.Run(ctx, s.rdb, []string{s.keys.Account(b, accountID)}, deviceID, status).Int()
	if err != nil {
		return false, wrap("setting a device status", err)
	}
	return n == 1, nil
}

// RecoveryCodesLeft counts the account's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return 0, fmt.Errorf("counting recovery codes: %w", err)
	}
	n, err := s.rdb.SCard(ctx, s.keys.Recovery(b, accountID)).Result()
	if err != nil {
		return 0, wrap("counting recovery codes", err)
	}
	return n, nil
}

// SetAccountStatus freezes ("frozen") or unfreezes ("active") an account.
// A frozen account keeps its sessions but gets no payment code and no
// payment; it reports whether the account exists.
func (s *Store) SetAccountStatus(ctx context.Context, accountID, status string) (bool, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return false, fmt.Errorf("setting an account status: %w", ErrNotFound)
	}
	n, err := setAccountStatus.Run(ctx, s.rdb, []string{s.keys.Account(b, accountID)}, status).Int()
	if err != nil {
		return false, wrap("setting an account status", err)
	}
	return n == 1, nil
}

var setAccountStatus = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
`)
