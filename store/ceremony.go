package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/webauthn"
)

// bucketOfCeremony reads the bucket of any ceremony or sign-up id (a
// sign-up's passkey ceremony is named by the sign-up id).
func bucketOfCeremony(id string) (Bucket, error) {
	for _, kind := range []string{"cer", "sgn"} {
		if b, err := BucketOfKind(kind, id); err == nil {
			return b, nil
		}
	}
	return 0, ErrBadID
}

// NewCeremonyID returns a fresh ceremony id: in the account's bucket when
// there is an account, else in a random one.
func NewCeremonyID(accountID string) (string, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		if b, err = RandomBucket(); err != nil {
			return "", err
		}
	}
	return NewID("cer", b)
}

// PutChallenge implements webauthn.ChallengeStore.
func (s *Store) PutChallenge(ctx context.Context, id string, c *webauthn.Challenge, ttl time.Duration) error {
	b, err := bucketOfCeremony(id)
	if err != nil {
		return fmt.Errorf("storing a challenge: %w", err)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding a challenge: %w", err)
	}
	// A plain SET: beginning the ceremony of the same sign-up again replaces
	// the earlier challenge, which then can no longer be finished.
	if err := s.rdb.Set(ctx, s.keys.Challenge(b, id), raw, ttl).Err(); err != nil {
		return wrap("storing a challenge", err)
	}
	return nil
}

// TakeChallenge implements webauthn.ChallengeStore: GETDEL, so of
// concurrent finishes of one ceremony exactly one gets the challenge.
func (s *Store) TakeChallenge(ctx context.Context, id string) (*webauthn.Challenge, error) {
	b, err := bucketOfCeremony(id)
	if err != nil {
		return nil, webauthn.ErrChallengeNotFound
	}
	raw, err := s.Take(ctx, s.keys.Challenge(b, id))
	if errors.Is(err, ErrNotFound) {
		return nil, webauthn.ErrChallengeNotFound
	}
	if err != nil {
		return nil, err
	}
	var c webauthn.Challenge
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decoding a challenge: %w", err)
	}
	return &c, nil
}

// Signup is a sign-up in progress.
type Signup struct {
	ID          string
	Contact     string
	ContactKind string
	ContactHash string
	// Existing is set when the contact already has an account: no OTP is
	// sent, every guess fails, and the caller cannot tell the difference.
	Existing  bool
	Verified  bool
	TriesLeft int
	// Lang is the language the sign-up's messages were written in, and
	// the new account's language ("" for the default).
	Lang string
}

// NewSignupID returns a sign-up id in a random bucket, which becomes the
// new account's bucket.
func NewSignupID() (string, Bucket, error) {
	b, err := RandomBucket()
	if err != nil {
		return "", 0, err
	}
	id, err := NewID("sgn", b)
	return id, b, err
}

// PutSignup stores a new sign-up with the keyed hash of its OTP.
func (s *Store) PutSignup(ctx context.Context, su Signup, otpHash string, ttl time.Duration) error {
	b, err := BucketOfKind("sgn", su.ID)
	if err != nil {
		return fmt.Errorf("storing a sign-up: %w", err)
	}
	key := s.keys.Signup(b, su.ID)
	existing := "0"
	if su.Existing {
		existing = "1"
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "contact", su.Contact, "contact_kind", su.ContactKind, "contact_hash", su.ContactHash,
		"otp", otpHash, "tries", su.TriesLeft, "existing", existing, "verified", "0", "lang", su.Lang)
	pipe.PExpire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap("storing a sign-up", err)
	}
	return nil
}

// verifyOTP spends one try and compares the OTP's keyed hash. An existing
// contact never verifies. When the tries are used up the sign-up is
// deleted. KEYS: signup. ARGV: otp hash.
var verifyOTP = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'otp', 'tries', 'existing', 'verified')
if not s[1] then return 'none' end
if s[4] == '1' then return 'ok' end
local tries = tonumber(s[2])
if tries <= 0 then redis.call('DEL', KEYS[1]) return 'none' end
if s[1] == ARGV[1] and s[3] ~= '1' then
  redis.call('HSET', KEYS[1], 'verified', '1', 'otp', '')
  return 'ok'
end
tries = tries - 1
if tries <= 0 then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'tries', tries) end
return 'wrong'
`)

// OTP verification outcomes.
var (
	ErrOTPWrong = errors.New("wrong one-time code")
)

// VerifySignupOTP spends one try of the sign-up's OTP. It returns nil when
// the OTP is right (or the sign-up was already verified), ErrOTPWrong for a
// wrong guess and ErrNotFound when the sign-up is gone (expired, tries used
// up, unknown id).
func (s *Store) VerifySignupOTP(ctx context.Context, id, otpHash string) error {
	b, err := BucketOfKind("sgn", id)
	if err != nil {
		return fmt.Errorf("verifying a sign-up: %w", ErrNotFound)
	}
	return s.spendOTPTry(ctx, "verifying a sign-up", s.keys.Signup(b, id), otpHash)
}

// spendOTPTry runs the OTP script on the hash at key (a sign-up or a
// contact change): nil, ErrOTPWrong or ErrNotFound.
func (s *Store) spendOTPTry(ctx context.Context, doing, key, otpHash string) error {
	res, err := verifyOTP.Run(ctx, s.rdb, []string{key}, otpHash).Text()
	if err != nil {
		return wrap(doing, err)
	}
	switch res {
	case "ok":
		return nil
	case "wrong":
		return ErrOTPWrong
	default:
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
}

// Signup reads a sign-up.
func (s *Store) Signup(ctx context.Context, id string) (*Signup, error) {
	b, err := BucketOfKind("sgn", id)
	if err != nil {
		return nil, fmt.Errorf("reading a sign-up: %w", ErrNotFound)
	}
	m, err := s.rdb.HGetAll(ctx, s.keys.Signup(b, id)).Result()
	if err != nil {
		return nil, wrap("reading a sign-up", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("reading a sign-up: %w", ErrNotFound)
	}
	tries, _ := strconv.Atoi(m["tries"])
	return &Signup{ID: id, Contact: m["contact"], ContactKind: m["contact_kind"], ContactHash: m["contact_hash"],
		Existing: m["existing"] == "1", Verified: m["verified"] == "1", TriesLeft: tries, Lang: m["lang"]}, nil
}

// ClaimJTI implements tokens.ReplayCache: it records a DPoP proof's jti for
// the key jkt and reports whether it was fresh.
func (s *Store) ClaimJTI(ctx context.Context, jkt, jti string, ttl time.Duration) (bool, error) {
	h := sha256.Sum256([]byte(jti))
	// The value is unique to this call, so that a resent claim finds its
	// own write (fresh) and a second proof with the same jti does not.
	mine, err := RandomID()
	if err != nil {
		return false, err
	}
	ok, err := s.Put(ctx, s.keys.DPoPJTI(jkt, hex.EncodeToString(h[:16])), []byte(mine), ttl)
	if err != nil {
		return false, fmt.Errorf("claiming a DPoP jti: %w", err)
	}
	return ok, nil
}

// DevSigningKey returns the dev token-signing key shared by every replica
// on this Redis, creating it with generate on first use.
func (s *Store) DevSigningKey(ctx context.Context, generate func() ([]byte, error)) ([]byte, error) {
	key := s.keys.SigningKeys()
	got, err := s.rdb.Get(ctx, key).Bytes()
	if err == nil {
		return got, nil
	} else if !errors.Is(err, redis.Nil) {
		return nil, wrap("reading the dev signing key", err)
	}
	pem, err := generate()
	if err != nil {
		return nil, err
	}
	// Another replica may have stored one meanwhile: keep whichever came first.
	if err := s.rdb.SetNX(ctx, key, pem, 0).Err(); err != nil {
		return nil, wrap("storing the dev signing key", err)
	}
	if got, err = s.rdb.Get(ctx, key).Bytes(); err != nil {
		return nil, wrap("reading the dev signing key", err)
	}
	return got, nil
}
