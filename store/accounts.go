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

// createAccount writes the account (with the passkey's counter and flags
// and the recovery codes' tags), its device and passkey record, and
// consumes the verified sign-up, all at once or not at all. KEYS: signup,
// account, passkey.
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
  'created_at', ARGV[4], 'device_id', ARGV[5], 'device_jkt', ARGV[6], 'device_status', 'active', 'pc', ARGV[8], 'pf', ARGV[9],
  'rc', ARGV[10])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[2], 'lang', ARGV[11]) end
redis.call('SET', KEYS[3], ARGV[7])
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
	n.Credential.DeviceID = n.Device.ID
	pk := encodePasskey(n.Credential, n.Device.Label, n.Device.CreatedAt)
	tags, err := recoveryTags(n.RecoveryHashes)
	if err != nil {
		return nil, nil, err
	}
	k := s.keys
	c := n.Credential.Credential
	return []string{k.Signup(b, n.SignupID), k.Account(b, n.Account.ID), k.Passkey(b, n.Account.ID)},
		[]any{n.Account.ID, n.Account.Contact, n.Account.ContactKind, n.Account.CreatedAt.UnixMilli(),
			n.Device.ID, n.Device.JKT, pk, c.Authenticator.SignCount, passkeyFlags(c.Flags), tags, n.Account.Lang}, nil
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

// Device reads a device record of an account: the bound device from the
// passkey record, an earlier one (or one written before issue 12) from
// the devices hash.
func (s *Store) Device(ctx context.Context, accountID, deviceID string) (*Device, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading a device: %w", ErrNotFound)
	}
	pipe := s.rdb.Pipeline()
	pk := pipe.Get(ctx, s.keys.Passkey(b, accountID))
	jkt := pipe.HGet(ctx, s.keys.Account(b, accountID), "device_jkt")
	old := pipe.HGet(ctx, s.keys.Devices(b, accountID), deviceID)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("reading a device", err)
	}
	if raw, err := pk.Bytes(); err == nil {
		p, err := decodePasskey(accountID, raw)
		if err != nil {
			return nil, fmt.Errorf("decoding a device: %w", err)
		}
		if p.rec.DeviceID == deviceID {
			return &Device{ID: deviceID, AccountID: accountID, JKT: jkt.Val(), Label: p.label,
				CredentialID: CredentialKey(p.rec.Credential.ID), CreatedAt: p.deviceCreated}, nil
		}
	}
	raw, err := old.Bytes()
	if err != nil {
		return nil, wrap("reading a device", err)
	}
	var d Device
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decoding a device: %w", err)
	}
	return &d, nil
}

// Credentials reads the account's passkeys, with their current counters
// and flags: the passkey record, or the credentials hash written before
// issue 12.
func (s *Store) Credentials(ctx context.Context, accountID string) ([]CredentialRecord, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", ErrNotFound)
	}
	pipe := s.rdb.Pipeline()
	c := s.queueCredentials(ctx, pipe, b, accountID)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("reading credentials", err)
	}
	return c.records(accountID)
}

// credentialCmds are the reads of an account's passkeys in both forms,
// queued in a pipeline.
type credentialCmds struct {
	pk          *redis.StringCmd
	state       *redis.SliceCmd
	creds, ctrs *redis.MapStringStringCmd
}

func (s *Store) queueCredentials(ctx context.Context, pipe redis.Pipeliner, b Bucket, accountID string) credentialCmds {
	return credentialCmds{
		pk:    pipe.Get(ctx, s.keys.Passkey(b, accountID)),
		state: pipe.HMGet(ctx, s.keys.Account(b, accountID), "pc", "pf"),
		creds: pipe.HGetAll(ctx, s.keys.Credentials(b, accountID)),
		ctrs:  pipe.HGetAll(ctx, s.keys.Counters(b, accountID)),
	}
}

// records decodes the reads: the passkey record if there is one, else the
// old form.
func (c credentialCmds) records(accountID string) ([]CredentialRecord, error) {
	if raw, err := c.pk.Bytes(); err == nil {
		p, err := decodePasskey(accountID, raw)
		if err != nil {
			return nil, fmt.Errorf("decoding a credential: %w", err)
		}
		ctr, _ := c.state.Val()[0].(string)
		flags, _ := c.state.Val()[1].(string)
		if n, err := strconv.ParseUint(ctr, 10, 32); err == nil {
			p.rec.Credential.Authenticator.SignCount = uint32(n)
		}
		f, _ := strconv.Atoi(flags)
		p.rec.Credential.Flags = flagsOf(f)
		return []CredentialRecord{p.rec}, nil
	}
	out := make([]CredentialRecord, 0, len(c.creds.Val()))
	for id, raw := range c.creds.Val() {
		var r CredentialRecord
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return nil, fmt.Errorf("decoding a credential: %w", err)
		}
		if n, err := strconv.ParseUint(c.ctrs.Val()[id], 10, 32); err == nil {
			r.Credential.Authenticator.SignCount = uint32(n)
		}
		out = append(out, r)
	}
	return out, nil
}

// assertionLua writes back a credential after an assertion: the counter
// only if it increased (or both are 0: authenticators without counters),
// then the flags; 'regressed' (nothing written) otherwise. An account with
// a passkey record keeps both in its hash (pc, pf); one written before
// issue 12 in its counters and credentials hashes. Keys: the account, its
// passkey, counters (old) and credentials (old); the credential key, sign
// count, flags and the old form's record JSON.
const assertionLua = `
local function record_assertion(acct, pk, ctrs, creds, credkey, count, flags, record)
  local new = tonumber(count)
  if redis.call('EXISTS', pk) == 1 then
    local old = tonumber(redis.call('HGET', acct, 'pc') or '0')
    if new <= old and not (new == 0 and old == 0) then return 'regressed' end
    redis.call('HSET', acct, 'pc', count, 'pf', flags)
    return 'ok'
  end
  local old = tonumber(redis.call('HGET', ctrs, credkey) or '0')
  if new <= old and not (new == 0 and old == 0) then return 'regressed' end
  redis.call('HSET', ctrs, credkey, count)
  redis.call('HSET', creds, credkey, record)
  return 'ok'
end
`

// recordAssertion: KEYS account, passkey, counters, credentials; ARGV
// credential key, sign count, flags, record JSON.
var recordAssertion = redis.NewScript(assertionLua +
	`return record_assertion(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])`)

// assertionKeysArgs are recordAssertion's KEYS and ARGV for r.
func (s *Store) assertionKeysArgs(b Bucket, r CredentialRecord) ([]string, []any, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the credential: %w", err)
	}
	k := s.keys
	return []string{k.Account(b, r.AccountID), k.Passkey(b, r.AccountID), k.Counters(b, r.AccountID), k.Credentials(b, r.AccountID)},
		[]any{CredentialKey(r.Credential.ID), r.Credential.Authenticator.SignCount, passkeyFlags(r.Credential.Flags), raw}, nil
}

// RecordAssertion writes back the credential's new sign count and flags. It
// compares the counter atomically with the stored one and reports a
// regression (a counter that did not increase) without writing anything.
func (s *Store) RecordAssertion(ctx context.Context, r CredentialRecord) (regressed bool, err error) {
	b, err := BucketOf(r.AccountID)
	if err != nil {
		return false, fmt.Errorf("recording an assertion: %w", err)
	}
	keys, args, err := s.assertionKeysArgs(b, r)
	if err != nil {
		return false, err
	}
	res, err := recordAssertion.Run(ctx, s.rdb, keys, args...).Text()
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

// RecoveryCodesLeft counts the account's unused recovery codes: the tags
// in the account hash's rc, or the recovery set written before issue 12.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return 0, fmt.Errorf("counting recovery codes: %w", err)
	}
	pipe := s.rdb.Pipeline()
	rc := pipe.HGet(ctx, s.keys.Account(b, accountID), "rc")
	old := pipe.SCard(ctx, s.keys.Recovery(b, accountID))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, wrap("counting recovery codes", err)
	}
	if tags, err := rc.Result(); err == nil {
		return int64(len(tags) / recoveryTagLen), nil
	}
	return old.Val(), nil
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
