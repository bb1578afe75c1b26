package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Code errors.
var (
	ErrAccountFrozen = errors.New("account frozen")
	ErrDeviceRevoked = errors.New("device is not the account's active device")
)

// codeRetention keeps a code's record after it expires or is used, so a
// late scan is told code_expired or code_used rather than code_unknown.
const codeRetention = 10 * time.Minute

// CodeRecord is what is stored of a payment code: never its digits.
type CodeRecord struct {
	Name      string // keyed hash of the digits
	AccountID string
	DeviceID  string
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Status    string // "live" or "used"
}

// issueCode installs a new live code for the account's device, shortening
// the previous code to the grace period. It refuses when the device is not
// the active device or the account is frozen.
// KEYS: account, live pointer, new code, previous code (or the new code
// again when there is none). ARGV: device, session, issued (ms), expires
// (ms), ttl (ms), retention (ms), grace-until (ms), expected previous name,
// new name, account id.
var issueCode = redis.NewScript(`
local a = redis.call('HMGET', KEYS[1], 'device_id', 'device_status', 'status')
if a[1] ~= ARGV[1] or a[2] ~= 'active' then return 'revoked' end
if a[3] == 'frozen' then return 'frozen' end
local prev = redis.call('GET', KEYS[2]) or ''
if prev ~= ARGV[8] then return 'retry' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'collision' end
if prev ~= '' and KEYS[4] ~= KEYS[3] then
  local exp = tonumber(redis.call('HGET', KEYS[4], 'expires_at') or '0')
  if exp > tonumber(ARGV[7]) then redis.call('HSET', KEYS[4], 'expires_at', ARGV[7]) end
end
redis.call('HSET', KEYS[3], 'account', ARGV[10], 'device', ARGV[1], 'session', ARGV[2],
  'issued_at', ARGV[3], 'expires_at', ARGV[4], 'status', 'live')
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[5]) + tonumber(ARGV[6]))
redis.call('SET', KEYS[2], ARGV[9], 'PX', ARGV[5])
return 'ok'
`)

// IssueCode stores a new live code (named by its keyed hash) for the
// session's device. The previous code of the device keeps at most grace.
// It returns ErrDeviceRevoked, ErrAccountFrozen, or ErrExists on a (never
// expected) collision of names.
func (s *Store) IssueCode(ctx context.Context, rec CodeRecord, ttl, grace time.Duration) error {
	b, err := BucketOf(rec.AccountID)
	if err != nil {
		return fmt.Errorf("issuing a code: %w", err)
	}
	k := s.keys
	live := k.LiveCode(b, rec.AccountID)
	newKey := k.Code(b, rec.Name)
	for range 3 {
		prev, err := s.rdb.Get(ctx, live).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return wrap("issuing a code", err)
		}
		prevKey := newKey
		if prev != "" {
			prevKey = k.Code(b, prev)
		}
		res, err := issueCode.Run(ctx, s.rdb, []string{k.Account(b, rec.AccountID), live, newKey, prevKey},
			rec.DeviceID, rec.SessionID, rec.IssuedAt.UnixMilli(), rec.ExpiresAt.UnixMilli(), ttl.Milliseconds(),
			codeRetention.Milliseconds(), rec.IssuedAt.Add(grace).UnixMilli(), prev, rec.Name, rec.AccountID).Text()
		if err != nil {
			return wrap("issuing a code", err)
		}
		switch res {
		case "ok":
			return nil
		case "revoked":
			return ErrDeviceRevoked
		case "frozen":
			return ErrAccountFrozen
		case "collision":
			return fmt.Errorf("issuing a code: %w", ErrExists)
		}
		// "retry": another issuance for the device won the race; go again.
	}
	return errors.New("issuing a code: the live-code pointer kept changing")
}

// Code reads a code's record by its keyed name and bucket.
func (s *Store) Code(ctx context.Context, b Bucket, name string) (*CodeRecord, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Code(b, name)).Result()
	if err != nil {
		return nil, wrap("reading a code", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("reading a code: %w", ErrNotFound)
	}
	return &CodeRecord{Name: name, AccountID: m["account"], DeviceID: m["device"], SessionID: m["session"],
		IssuedAt: millis(m["issued_at"]), ExpiresAt: millis(m["expires_at"]), Status: m["status"]}, nil
}

// LiveCodeName returns the keyed name of the account's current code.
func (s *Store) LiveCodeName(ctx context.Context, accountID string) (string, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return "", fmt.Errorf("reading the live code: %w", ErrNotFound)
	}
	name, err := s.rdb.Get(ctx, s.keys.LiveCode(b, accountID)).Result()
	if err != nil {
		return "", wrap("reading the live code", err)
	}
	return name, nil
}
