package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Session errors.
var (
	// ErrRefreshReuse means a refresh token that was already spent was
	// presented again: the whole session family has been revoked.
	ErrRefreshReuse = errors.New("refresh token reused")
	// ErrWrongKey means the request was not proven with the session's key.
	ErrWrongKey = errors.New("session bound to another key")
)

// Session is one login of one device: a family of rotating refresh tokens.
type Session struct {
	ID        string
	AccountID string
	DeviceID  string
	JKT       string // the device key the session is bound to
	AuthTime  time.Time
	CreatedAt time.Time
	// AbsoluteExpiry ends the session whatever its activity.
	AbsoluteExpiry time.Time
	AMR            []string
	// AccountStatus is the account's status when the session was read.
	AccountStatus string
}

// NewSessionID returns a session id in the account's bucket.
func NewSessionID(accountID string) (string, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return "", err
	}
	return NewID("sess", b)
}

// CreateSession stores a new session with the keyed hash of its first
// refresh token. It lives for idle unless used, and never past its
// absolute expiry.
func (s *Store) CreateSession(ctx context.Context, sess Session, refreshHash string, idle time.Duration, now time.Time) error {
	b, err := BucketOfKind("sess", sess.ID)
	if err != nil {
		return fmt.Errorf("creating a session: %w", err)
	}
	ttl := min(idle, sess.AbsoluteExpiry.Sub(now))
	if ttl <= 0 {
		return errors.New("creating a session: already expired")
	}
	pipe := s.rdb.TxPipeline()
	s.queueSession(ctx, pipe, b, sess, refreshHash, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap("creating a session", err)
	}
	return nil
}

// queueSession queues the commands that write a new session (the one
// place, for CreateSession and the Seeder).
func (s *Store) queueSession(ctx context.Context, pipe redis.Pipeliner, b Bucket, sess Session, refreshHash string, ttl time.Duration) {
	key := s.keys.Session(b, sess.ID)
	pipe.HSet(ctx, key, "account", sess.AccountID, "device", sess.DeviceID, "jkt", sess.JKT,
		"auth_time", sess.AuthTime.UnixMilli(), "created_at", sess.CreatedAt.UnixMilli(),
		"abs_exp", sess.AbsoluteExpiry.UnixMilli(), "amr", strings.Join(sess.AMR, " "), "refresh", refreshHash)
	pipe.PExpire(ctx, key, ttl)
	pipe.SAdd(ctx, s.keys.Sessions(b, sess.AccountID), sess.ID)
}

// sessionCheck is shared by the session scripts: the session must exist,
// be proven with its key, be within its absolute lifetime, and its device
// must still be the account's active device. It returns nil when all hold,
// else the reason. KEYS[1] session, KEYS[2] account; ARGV[1] jkt,
// ARGV[2] now (ms).
const sessionCheck = `
local function check()
  local s = redis.call('HMGET', KEYS[1], 'jkt', 'device', 'abs_exp')
  if not s[1] then return 'none' end
  if s[1] ~= ARGV[1] then return 'jkt' end
  if tonumber(ARGV[2]) >= tonumber(s[3]) then redis.call('DEL', KEYS[1]) return 'none' end
  local a = redis.call('HMGET', KEYS[2], 'device_id', 'device_status')
  if a[1] ~= s[2] or a[2] ~= 'active' then return 'revoked' end
  return nil
end
local function extend()
  local s = redis.call('HGET', KEYS[1], 'abs_exp')
  local ttl = math.min(tonumber(ARGV[3]), tonumber(s) - tonumber(ARGV[2]))
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local function result()
  local r = redis.call('HGETALL', KEYS[1])
  table.insert(r, 'account_status')
  table.insert(r, redis.call('HGET', KEYS[2], 'status') or '')
  return r
end
`

// touchSession: check, extend the idle lifetime, return the session.
// ARGV[3] idle (ms).
var touchSession = redis.NewScript(sessionCheck + `
local bad = check()
if bad then return bad end
extend()
return result()
`)

// touchSessionJTI: claim the DPoP proof's jti (KEYS[4], value ARGV[4],
// for ARGV[5] ms; a claim holding another value is a replay, one holding
// this call's value a resent call), then as touchSession.
var touchSessionJTI = redis.NewScript(sessionCheck + `
local held = redis.call('GET', KEYS[4])
if held and held ~= ARGV[4] then return 'replay' end
if not held then redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5]) end
local bad = check()
if bad then return bad end
extend()
return result()
`)

// rotateRefresh: check, then if the presented refresh hash (ARGV[4]) is
// the current one, replace it with ARGV[5] and remember it as spent; if it
// was already spent, revoke the session (reuse detection). KEYS[3] the
// account's session index; ARGV[6] the session id.
var rotateRefresh = redis.NewScript(sessionCheck + `
local bad = check()
if bad then return bad end
local cur = redis.call('HGET', KEYS[1], 'refresh')
if cur == ARGV[4] then
  redis.call('HSET', KEYS[1], 'refresh', ARGV[5], 'spent:' .. ARGV[4], '1')
  extend()
  return result()
end
if redis.call('HEXISTS', KEYS[1], 'spent:' .. ARGV[4]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[6])
  return 'reuse'
end
return 'none'
`)

// setAuthTime: check, then record a fresh user-verified assertion.
// ARGV[4] auth time (ms), ARGV[5] amr.
var setAuthTime = redis.NewScript(sessionCheck + `
local bad = check()
if bad then return bad end
redis.call('HSET', KEYS[1], 'auth_time', ARGV[4], 'amr', ARGV[5])
extend()
return result()
`)

// TouchSession checks that the session is alive, bound to jkt and its
// device still active, extends its idle lifetime and returns it. It
// returns ErrNotFound for a missing, expired or revoked session and
// ErrWrongKey for another key.
func (s *Store) TouchSession(ctx context.Context, sessionID, accountID, jkt string, idle time.Duration, now time.Time) (*Session, error) {
	return s.runSession(ctx, touchSession, "touching a session", sessionID, accountID, jkt, idle, now)
}

// ErrReplay: the DPoP proof's jti was claimed already (TouchSessionJTI).
var ErrReplay = errors.New("DPoP proof replayed")

// TouchSessionJTI is TouchSession that also claims the DPoP proof's jti
// (scoped by jkt) for ttl in the same round trip, in the account's slot:
// ErrReplay when it was claimed before. The jti is claimed before the
// session is checked, as a separate claim would have been.
func (s *Store) TouchSessionJTI(ctx context.Context, sessionID, accountID, jkt, jti string, ttl, idle time.Duration, now time.Time) (*Session, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("touching a session: %w", ErrNotFound)
	}
	h := sha256.Sum256([]byte(jti))
	mine, err := RandomID()
	if err != nil {
		return nil, err
	}
	return s.runSessionKeys(ctx, touchSessionJTI, "touching a session", []string{s.keys.SessionJTI(b, jkt, hex.EncodeToString(h[:16]))},
		sessionID, accountID, jkt, idle, now, mine, ttl.Milliseconds())
}

// RotateRefresh spends the refresh token whose keyed hash is presented and
// installs next. A token spent before revokes the session and returns
// ErrRefreshReuse; an unknown one returns ErrNotFound.
func (s *Store) RotateRefresh(ctx context.Context, sessionID, accountID, jkt, presented, next string, idle time.Duration, now time.Time) (*Session, error) {
	return s.runSession(ctx, rotateRefresh, "rotating a refresh token", sessionID, accountID, jkt, idle, now, presented, next, sessionID)
}

// SetAuthTime records a fresh user-verified assertion on the session.
func (s *Store) SetAuthTime(ctx context.Context, sessionID, accountID, jkt string, authTime time.Time, amr []string, idle time.Duration, now time.Time) (*Session, error) {
	return s.runSession(ctx, setAuthTime, "recording a reauthentication", sessionID, accountID, jkt, idle, now, authTime.UnixMilli(), strings.Join(amr, " "))
}

func (s *Store) runSession(ctx context.Context, script *redis.Script, doing, sessionID, accountID, jkt string, idle time.Duration, now time.Time, extra ...any) (*Session, error) {
	return s.runSessionKeys(ctx, script, doing, nil, sessionID, accountID, jkt, idle, now, extra...)
}

// runSessionKeys runs a session script with more keys after the three
// every one has.
func (s *Store) runSessionKeys(ctx context.Context, script *redis.Script, doing string, more []string, sessionID, accountID, jkt string, idle time.Duration, now time.Time, extra ...any) (*Session, error) {
	b, err := BucketOfKind("sess", sessionID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if ab, err := BucketOf(accountID); err != nil || ab != b {
		return nil, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	args := append([]any{jkt, now.UnixMilli(), idle.Milliseconds()}, extra...)
	keys := append([]string{s.keys.Session(b, sessionID), s.keys.Account(b, accountID), s.keys.Sessions(b, accountID)}, more...)
	res, err := script.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return nil, wrap(doing, err)
	}
	if reason, ok := res.(string); ok {
		switch reason {
		case "jkt":
			return nil, fmt.Errorf("%s: %w", doing, ErrWrongKey)
		case "reuse":
			return nil, fmt.Errorf("%s: %w", doing, ErrRefreshReuse)
		case "replay":
			return nil, fmt.Errorf("%s: %w", doing, ErrReplay)
		default: // none, revoked
			return nil, fmt.Errorf("%s: %s: %w", doing, reason, ErrNotFound)
		}
	}
	list, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: unexpected reply %T", doing, res)
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		v, _ := list[i+1].(string)
		m[k] = v
	}
	if m["account"] != accountID {
		return nil, fmt.Errorf("%s: session of another account: %w", doing, ErrNotFound)
	}
	return &Session{
		ID:             sessionID,
		AccountID:      m["account"],
		DeviceID:       m["device"],
		JKT:            m["jkt"],
		AuthTime:       millis(m["auth_time"]),
		CreatedAt:      millis(m["created_at"]),
		AbsoluteExpiry: millis(m["abs_exp"]),
		AMR:            strings.Fields(m["amr"]),
		AccountStatus:  m["account_status"],
	}, nil
}

// DeleteSession ends one session (logout).
func (s *Store) DeleteSession(ctx context.Context, sessionID, accountID string) error {
	b, err := BucketOfKind("sess", sessionID)
	if err != nil {
		return fmt.Errorf("deleting a session: %w", ErrNotFound)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, s.keys.Session(b, sessionID))
	pipe.SRem(ctx, s.keys.Sessions(b, accountID), sessionID)
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap("deleting a session", err)
	}
	return nil
}

// RevokeSessions ends every session of the account and returns how many
// there were.
func (s *Store) RevokeSessions(ctx context.Context, accountID string) (int, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", ErrNotFound)
	}
	index := s.keys.Sessions(b, accountID)
	ids, err := s.rdb.SMembers(ctx, index).Result()
	if err != nil {
		return 0, wrap("revoking sessions", err)
	}
	keys := []string{index}
	for _, id := range ids {
		keys = append(keys, s.keys.Session(b, id))
	}
	// One transaction on one slot: the index and the sessions go together.
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return 0, wrap("revoking sessions", err)
	}
	return len(ids), nil
}
