package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/webauthn"
)

// A passkey login takes four round trips (issue 12): beginning it is one
// step (BeginLogin: the per-address limit, the proof's jti and the
// challenge, all in the slot of the address's bucket); finishing it reads
// the challenge (taken, with the proof's jti claimed) and the account's
// records in one pipeline (ReadLogin), writes the assertion back and
// creates the session in one step in the account's slot (LoginSession),
// and the audit entry of the new session is the fourth.

// LoginBucket is the bucket of the login ceremonies begun from ip: their
// challenges, the start proofs' jtis and the address's limit on beginning
// them share its slot. It is not a secret (an IP address is not one).
func LoginBucket(ip string) Bucket {
	h := sha256.Sum256([]byte(ip))
	return Bucket(binary.BigEndian.Uint16(h[:2]) % Buckets)
}

// NewLoginID returns a login ceremony id in ip's bucket.
func NewLoginID(ip string) (string, error) { return NewID("cer", LoginBucket(ip)) }

// Rate is a limit: N a Per, with a burst of N (GCRA).
type Rate struct {
	N   int
	Per time.Duration
}

// LoginStart is one beginning of a login.
type LoginStart struct {
	ID        string // from NewLoginID(IP)
	IP        string
	KeyLimit  Rate // beginnings per device key (JKT) and address
	IPLimit   Rate // beginnings per address
	Challenge *webauthn.Challenge
	TTL       time.Duration
	// JKT and JTI are the DPoP proof's key and jti, claimed for JTITTL
	// (scoped by the key, in the address's bucket); JTI "" claims none.
	JKT, JTI string
	JTITTL   time.Duration
	Now      time.Time
}

// beginLogin: claim the proof's jti (KEYS[2]; held with another value: a
// replay), then the key's limit (KEYS[4]) and the address's (KEYS[1]),
// each a GCRA (ARGV[1] now, [2]/[8] interval, [3]/[9] burst tolerance,
// all ms; both are spent only when both allow), then store the challenge
// (KEYS[3], ARGV[6] for ARGV[7] ms). ARGV[4] the claim's value, [5] its
// TTL (ms).
var beginLogin = redis.NewScript(`
if ARGV[4] ~= '' then
  local held = redis.call('GET', KEYS[2])
  if held and held ~= ARGV[4] then return {'replay', 0} end
  if not held then redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5]) end
end
local now = tonumber(ARGV[1])
local function gcra(key, t, burst)
  local tat = math.max(tonumber(redis.call('GET', key) or '0'), now) + t
  return tat, tat - now - burst
end
local ktat, kover = gcra(KEYS[4], tonumber(ARGV[8]), tonumber(ARGV[9]))
if kover > 0 then return {'limited_key', math.ceil(kover)} end
local tat, over = gcra(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
if over > 0 then return {'limited', math.ceil(over)} end
redis.call('SET', KEYS[4], string.format('%.0f', ktat), 'PX', math.ceil(ktat - now))
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil(tat - now))
redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[7])
return {'ok', 0}
`)

// ErrKeyRateLimited is ErrRateLimited by the device key's own limit.
var ErrKeyRateLimited = fmt.Errorf("the key's %w", ErrRateLimited)

// jtiName is the key-safe name of a proof's jti.
func jtiName(jti string) string {
	h := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(h[:16])
}

// BeginLogin stores a login's challenge in one step with the key's and the
// address's limits and the proof's jti claim. It returns ErrReplay (the
// jti was claimed before), or ErrKeyRateLimited or ErrRateLimited (the
// address's) with the wait; nothing is stored then.
func (s *Store) BeginLogin(ctx context.Context, ls LoginStart) (time.Duration, error) {
	b, err := BucketOfKind("cer", ls.ID)
	if err != nil || b != LoginBucket(ls.IP) || ls.KeyLimit.N <= 0 || ls.IPLimit.N <= 0 {
		return 0, fmt.Errorf("beginning a login: %w", ErrBadID)
	}
	raw, err := json.Marshal(ls.Challenge)
	if err != nil {
		return 0, fmt.Errorf("encoding a challenge: %w", err)
	}
	mine := ""
	if ls.JTI != "" {
		if mine, err = RandomID(); err != nil {
			return 0, err
		}
	}
	interval := float64(ls.IPLimit.Per.Milliseconds()) / float64(ls.IPLimit.N)
	kinterval := float64(ls.KeyLimit.Per.Milliseconds()) / float64(ls.KeyLimit.N)
	k := s.keys
	r, err := beginLogin.Run(ctx, s.rdb, []string{k.LoginLimit(b, ls.IP), k.SessionJTI(b, ls.JKT, jtiName(ls.JTI)), k.Challenge(b, ls.ID),
		k.LoginLimit(b, "k:"+ls.JKT)},
		ls.Now.UnixMilli(), interval, interval*float64(ls.IPLimit.N), mine, ls.JTITTL.Milliseconds(), raw, ls.TTL.Milliseconds(),
		kinterval, kinterval*float64(ls.KeyLimit.N)).Slice()
	if err != nil {
		return 0, wrap("beginning a login", err)
	}
	res, _ := r[0].(string)
	switch res {
	case "ok":
		return 0, nil
	case "replay":
		return 0, fmt.Errorf("beginning a login: %w", ErrReplay)
	case "limited", "limited_key":
		ms, _ := r[1].(int64)
		why := ErrRateLimited
		if res == "limited_key" {
			why = ErrKeyRateLimited
		}
		return time.Duration(math.Max(float64(ms), 1)) * time.Millisecond, fmt.Errorf("beginning a login: %w", why)
	}
	return 0, fmt.Errorf("beginning a login: unexpected answer %v", r)
}

// takeLogin: claim the finishing proof's jti (KEYS[1], as beginLogin) and
// take the challenge (KEYS[2]).
var takeLogin = redis.NewScript(`
if ARGV[1] ~= '' then
  local held = redis.call('GET', KEYS[1])
  if held and held ~= ARGV[1] then return {'replay'} end
  if not held then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
end
local c = redis.call('GET', KEYS[2])
if not c then return {'none'} end
redis.call('DEL', KEYS[2])
return {'ok', c}
`)

// LoginRead is what finishing a login reads in its first round trip.
type LoginRead struct {
	CeremonyID string
	JKT, JTI   string // the finishing proof's key and jti (JTI "": none)
	JTITTL     time.Duration
	// AccountID is the assertion's user handle: the account whose records
	// are read with the challenge (anything else reads none).
	AccountID string
}

// LoginState is what ReadLogin found.
type LoginState struct {
	Challenge   *webauthn.Challenge // nil: unknown, expired or taken
	Account     *Account            // nil: no such account
	Credentials []CredentialRecord
}

// ReadLogin takes the ceremony's challenge (claiming the proof's jti in
// its slot) and reads the account's record and passkeys, in one pipeline
// (one round trip; in a Cluster, one request to each of the two slots'
// nodes at once). It returns ErrReplay when the jti was claimed before.
func (s *Store) ReadLogin(ctx context.Context, r LoginRead) (*LoginState, error) {
	st, err := s.readLogin(ctx, r, false)
	if err != nil && redis.HasErrorPrefix(errors.Unwrap(err), "NOSCRIPT") {
		// The script is not cached on that node yet: once more, whole.
		st, err = s.readLogin(ctx, r, true)
	}
	return st, err
}

func (s *Store) readLogin(ctx context.Context, r LoginRead, eval bool) (*LoginState, error) {
	cb, err := bucketOfCeremony(r.CeremonyID)
	if err != nil {
		return &LoginState{}, nil
	}
	mine := ""
	if r.JTI != "" {
		if mine, err = RandomID(); err != nil {
			return nil, err
		}
	}
	k := s.keys
	pipe := s.rdb.Pipeline()
	keys := []string{k.SessionJTI(cb, r.JKT, jtiName(r.JTI)), k.Challenge(cb, r.CeremonyID)}
	var take *redis.Cmd
	if eval {
		take = takeLogin.Eval(ctx, pipe, keys, mine, r.JTITTL.Milliseconds())
	} else {
		take = takeLogin.EvalSha(ctx, pipe, keys, mine, r.JTITTL.Milliseconds())
	}
	var acct *redis.MapStringStringCmd
	var creds credentialCmds
	ab, aerr := BucketOf(r.AccountID)
	if aerr == nil {
		acct = pipe.HGetAll(ctx, k.Account(ab, r.AccountID))
		creds = s.queueCredentials(ctx, pipe, ab, r.AccountID)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("reading a login", err)
	}
	res, err := take.Slice()
	if err != nil {
		return nil, wrap("reading a login", err)
	}
	st := &LoginState{}
	switch tag, _ := res[0].(string); tag {
	case "replay":
		return nil, fmt.Errorf("reading a login: %w", ErrReplay)
	case "ok":
		raw, _ := res[1].(string)
		var c webauthn.Challenge
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, fmt.Errorf("decoding a challenge: %w", err)
		}
		st.Challenge = &c
	}
	if acct != nil && len(acct.Val()) > 0 {
		st.Account = accountFrom(acct.Val())
		if st.Credentials, err = creds.records(r.AccountID); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// loginSession writes the assertion back and creates the session, if the
// account's bound device is still the one the login was decided for
// (ARGV[1] device id, [2] jkt, active): 'changed' otherwise, 'regressed'
// when the counter did not increase; nothing is written then. KEYS:
// account, passkey, counters (old), credentials (old), session. ARGV[3..6]
// as recordAssertion's [1..4], [7...] createSession's.
var loginSession = redis.NewScript(assertionLua + createSessionLua + `
local a = redis.call('HMGET', KEYS[1], 'device_id', 'device_jkt', 'device_status')
if a[1] ~= ARGV[1] or a[2] ~= ARGV[2] or a[3] ~= 'active' then return 'changed' end
local r = record_assertion(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if r ~= 'ok' then return r end
create_session(KEYS[5], KEYS[1], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15])
return 'ok'
`)

// ErrLoginChanged: the account's bound device changed (revoked, locked,
// replaced) between reading the login and writing it; nothing was written.
var ErrLoginChanged = errors.New("the account's device changed during the login")

// LoginSession writes back the assertion of the credential r (counter
// and flags, as RecordAssertion) and creates sess for the account's bound
// device, in one step. It reports a counter regression without writing
// anything, and returns ErrLoginChanged when the bound device is no
// longer sess.DeviceID with key sess.JKT, active.
func (s *Store) LoginSession(ctx context.Context, r CredentialRecord, sess Session, refreshHash string, idle time.Duration, now time.Time) (regressed bool, err error) {
	b, err := BucketOf(r.AccountID)
	if err != nil || r.AccountID != sess.AccountID {
		return false, fmt.Errorf("creating a session: %w", ErrBadID)
	}
	if sb, err := BucketOfKind("sess", sess.ID); err != nil || sb != b {
		return false, fmt.Errorf("creating a session: %w", ErrBadID)
	}
	ttl := min(idle, sess.AbsoluteExpiry.Sub(now))
	if ttl <= 0 {
		return false, errors.New("creating a session: already expired")
	}
	keys, args, err := s.assertionKeysArgs(b, r)
	if err != nil {
		return false, err
	}
	keys = append(keys, s.keys.Session(b, sess.ID))
	args = append([]any{sess.DeviceID, sess.JKT}, args...)
	args = append(args, sessionArgs(sess, refreshHash, ttl)...)
	res, err := loginSession.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return false, wrap("creating a session", err)
	}
	switch res {
	case "ok":
		return false, nil
	case "regressed":
		return true, nil
	case "changed":
		return false, fmt.Errorf("creating a session: %w", ErrLoginChanged)
	}
	return false, fmt.Errorf("creating a session: unexpected answer %q", res)
}
