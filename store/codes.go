package store

import (
	"context"
	"encoding/json"
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

// ErrRateLimited: the account or the device key has asked for codes
// faster than its limit; IssueResult.RetryAfter says when to ask again.
var ErrRateLimited = errors.New("rate limited")

// issueCode installs a new live code for the account's device, in one
// round trip: it checks the device and the account, the issuance limits
// (per account and per device key), reads the live-code pointer and
// shortens the previous code to the grace period, writes the code and the
// pointer, and records and publishes the code.issued event. The previous
// code's key is named here from the pointer's value (ARGV code_key + name):
// like payScript, safe in a Cluster, as the code keys carry the account's
// bucket tag and so are in the slot of KEYS.
// KEYS: account, live pointer, new code, limits, events. ARGV: device,
// session, issued (ms), expires (ms), ttl (ms), retention (ms), grace-until
// (ms), code key prefix, new name, account id, per-minute limit (0: none),
// jkt, event JSON ("" for none), events kept, events TTL (ms), channel.
var issueCode = redis.NewScript(`
local a = redis.call('HMGET', KEYS[1], 'device_id', 'device_status', 'status')
if a[1] ~= ARGV[1] or a[2] ~= 'active' then return {'revoked', 0} end
if a[3] == 'frozen' then return {'frozen', 0} end
local now, per = tonumber(ARGV[3]), tonumber(ARGV[11])
-- The new code's name is drawn once per request: a record already under
-- it with this session and issue time is this call, resent by go-redis
-- after a lost reply; answer as the first run did (without spending the
-- limit again or publishing twice).
local mine = redis.call('HMGET', KEYS[3], 'session', 'issued_at')
if mine[1] then
  if mine[1] == ARGV[2] and mine[2] == ARGV[3] then return {'ok', 0} end
  return {'collision', 0}
end
if per > 0 then
  local t = 60000 / per
  local burst = per * t
  local l = redis.call('HMGET', KEYS[4], 'a', 'k:' .. ARGV[12])
  local ta, tk = math.max(tonumber(l[1] or '0'), now) + t, math.max(tonumber(l[2] or '0'), now) + t
  local over = math.max(ta, tk) - now - burst
  if over > 0 then return {'limited', math.ceil(over)} end
  redis.call('HSET', KEYS[4], 'a', ta, 'k:' .. ARGV[12], tk)
  redis.call('PEXPIRE', KEYS[4], math.ceil(math.max(ta, tk) - now) + 1000)
end
local prev = redis.call('GET', KEYS[2])
if prev then
  local pk = ARGV[8] .. prev
  local exp = tonumber(redis.call('HGET', pk, 'expires_at') or '0')
  if exp > tonumber(ARGV[7]) then redis.call('HSET', pk, 'expires_at', ARGV[7]) end
end
redis.call('HSET', KEYS[3], 'account', ARGV[10], 'device', ARGV[1], 'session', ARGV[2],
  'issued_at', ARGV[3], 'expires_at', ARGV[4], 'status', 'live')
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[5]) + tonumber(ARGV[6]))
redis.call('SET', KEYS[2], ARGV[9], 'PX', ARGV[5])
if ARGV[13] ~= '' then
  local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[14], '*', 'e', ARGV[13])
  redis.call('PEXPIRE', KEYS[5], ARGV[15])
  redis.call('PUBLISH', ARGV[16], id .. '\n' .. ARGV[13])
end
return {'ok', 0}
`)

// IssueCode stores a new live code (named by its keyed hash) for the
// session's device, with no limit and no event (Issue has both). The
// previous code of the device keeps at most grace. It returns
// ErrDeviceRevoked, ErrAccountFrozen, or ErrExists on a (never expected)
// collision of names.
func (s *Store) IssueCode(ctx context.Context, rec CodeRecord, ttl, grace time.Duration) error {
	_, err := s.Issue(ctx, CodeIssue{Record: rec, TTL: ttl, Grace: grace})
	return err
}

// CodeIssue is one issuance: the record, its lifetimes, the limit and the
// event that go with it.
type CodeIssue struct {
	Record     CodeRecord
	TTL, Grace time.Duration
	// PerMinute limits issuance per account and per device key (JKT), each
	// a GCRA of PerMinute a minute with a burst of PerMinute; 0: no limit.
	PerMinute int64
	JKT       string
	// Event is published (recorded for replay and sent to subscribers) in
	// the same step when set: code.issued.
	Event *Event
}

// IssueResult is what Issue says besides its error.
type IssueResult struct {
	RetryAfter time.Duration // with ErrRateLimited
}

// Issue stores a new live code as IssueCode does, and in the same round
// trip enforces the issuance limits (ErrRateLimited, nothing written) and
// publishes the event.
func (s *Store) Issue(ctx context.Context, is CodeIssue) (IssueResult, error) {
	keys, args, err := s.issueCall(&is)
	if err != nil {
		return IssueResult{}, err
	}
	r, err := issueCode.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return IssueResult{}, wrap("issuing a code", err)
	}
	res, _ := r[0].(string)
	switch res {
	case "ok":
		return IssueResult{}, nil
	case "revoked":
		return IssueResult{}, ErrDeviceRevoked
	case "frozen":
		return IssueResult{}, ErrAccountFrozen
	case "limited":
		ms, _ := r[1].(int64)
		return IssueResult{RetryAfter: time.Duration(ms) * time.Millisecond}, fmt.Errorf("issuing a code: %w", ErrRateLimited)
	case "collision":
		return IssueResult{}, fmt.Errorf("issuing a code: %w", ErrExists)
	}
	return IssueResult{}, fmt.Errorf("issuing a code: unexpected answer %v", r)
}

// issueCall builds KEYS and ARGV of issueCode (the one place, for Issue
// and the Seeder).
func (s *Store) issueCall(is *CodeIssue) ([]string, []any, error) {
	rec := is.Record
	b, err := BucketOf(rec.AccountID)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing a code: %w", err)
	}
	var event []byte
	if is.Event != nil {
		if is.Event.Time.IsZero() {
			is.Event.Time = rec.IssuedAt
		}
		if event, err = json.Marshal(is.Event); err != nil {
			return nil, nil, fmt.Errorf("encoding an event: %w", err)
		}
	}
	k := s.keys
	return []string{k.Account(b, rec.AccountID), k.LiveCode(b, rec.AccountID),
			k.Code(b, rec.Name), k.CodeLimits(b, rec.AccountID), k.Events(b, rec.AccountID)},
		[]any{rec.DeviceID, rec.SessionID, rec.IssuedAt.UnixMilli(), rec.ExpiresAt.UnixMilli(), is.TTL.Milliseconds(),
			codeRetention.Milliseconds(), rec.IssuedAt.Add(is.Grace).UnixMilli(), k.Code(b, ""), rec.Name, rec.AccountID,
			is.PerMinute, is.JKT, event, eventsKept, eventsTTL.Milliseconds(), k.EventChannel(b, rec.AccountID)}, nil
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
