package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Enrollment states, as stored (and shown by the API). An enrollment is a
// new device asking to become the account's one device; what each state
// means, which step moves it where, and the invariants are in one place:
// package device (device/doc.go). This file holds the atomic scripts of
// those steps. "ready" is not stored: it is how StateAt shows
// pending_recovery once the cool-down is over.
const (
	EnrollmentUnverified      = "unverified"
	EnrollmentPendingApproval = "pending_approval"
	EnrollmentPendingRecovery = "pending_recovery"
	EnrollmentReady           = "ready"
	EnrollmentApproved        = "approved"
	EnrollmentActive          = "active"
	EnrollmentCancelled       = "cancelled"
	EnrollmentExpired         = "expired"
)

// How an enrollment was created.
const (
	EnrollmentByPasskey = "passkey" // a passkey login with a key that is not the bound one
	EnrollmentByContact = "contact" // the account's contact, without a passkey
)

// enrollmentRetention keeps an enrollment's record after it ended (or its
// time ran out) so that a polling new device is told active, cancelled or
// expired rather than not found.
const enrollmentRetention = 24 * time.Hour

// Enrollment errors.
var (
	// ErrEnrollmentState means the enrollment is not in a state that
	// allows the step; errors.As an *EnrollmentStateError for the state.
	ErrEnrollmentState = errors.New("enrollment state does not allow this step")
	// ErrSuperseded means the account's device changed since the
	// enrollment began; the enrollment has been cancelled.
	ErrSuperseded = errors.New("the account's device changed since the enrollment began")
	// ErrNotApprover means the approving device is not the account's
	// active device.
	ErrNotApprover = errors.New("approver is not the account's active device")
	// ErrEnrollmentLimit means the account has too many live enrollments.
	ErrEnrollmentLimit = errors.New("too many live enrollments")
	// ErrFactorsWrong means the OTP or the recovery code (or both) was
	// wrong, or no OTP is outstanding; the caller cannot tell which.
	ErrFactorsWrong = errors.New("one-time code or recovery code wrong")
	// ErrContactChanged means the account's contact changed while a
	// contact change was being verified.
	ErrContactChanged = errors.New("the account's contact changed meanwhile")
)

// EnrollmentStateError carries the state that refused a step.
type EnrollmentStateError struct{ State string }

func (e *EnrollmentStateError) Error() string { return "enrollment is " + e.State }

// Is makes errors.Is(err, ErrEnrollmentState) hold.
func (e *EnrollmentStateError) Is(target error) bool { return target == ErrEnrollmentState }

// Enrollment is a new device's request to become the account's device.
type Enrollment struct {
	ID string
	// AccountID is empty for a decoy: an enrollment started with a contact
	// that has no account. It looks like any other to its requester, and
	// no step can ever succeed on it.
	AccountID string
	// JKT is the new device's DPoP key thumbprint, fixed at creation: every
	// later step must be proven with it, and it becomes the device key.
	JKT    string
	Label  string
	IP     string // coarse (a /24 or /48 network), shown to the bound device
	Origin string // EnrollmentByPasskey or EnrollmentByContact
	State  string // as stored; see StateAt
	// Replaces is the device that was bound when the enrollment began; it
	// can only complete while that device is still the account's device.
	Replaces string
	// LimitSubject is the non-secret subject of the per-account attempt
	// limits (the keyed hash of the contact), the same for decoys.
	LimitSubject  string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	CooldownUntil time.Time
	ApprovedBy    string // "device:<id>" or "operator:<name>"
	ApprovedAt    time.Time
	CancelledBy   string // "device:<id>", "contact", "system:superseded"
	CancelledAt   time.Time
	DeviceID      string // the new device's id, once active
	ActivatedAt   time.Time

	// Written at creation only, never read back.
	OTPHash    string
	OTPTries   int
	OTPExpires time.Time
}

// StateAt is the state as the API shows it at now: a live enrollment past
// its expiry is expired, and pending_recovery past its cool-down is ready.
func (e *Enrollment) StateAt(now time.Time) string {
	switch e.State {
	case EnrollmentUnverified, EnrollmentPendingApproval, EnrollmentPendingRecovery, EnrollmentApproved:
		if !now.Before(e.ExpiresAt) {
			return EnrollmentExpired
		}
		if e.State == EnrollmentPendingRecovery && !now.Before(e.CooldownUntil) {
			return EnrollmentReady
		}
	}
	return e.State
}

// NewEnrollmentID returns a fresh enrollment id in bucket b (the account's
// bucket, so that the enrollment shares the account's slot).
func NewEnrollmentID(b Bucket) (string, error) { return NewID("enr", b) }

// enrollmentLua is shared by the enrollment scripts. KEYS[1] is the
// enrollment, KEYS[2] the account's index of live enrollments. ARGV[1] is
// now (ms), ARGV[2] the retention (ms), ARGV[3] the account id the caller
// read ("" for a decoy): a record of another account is treated as absent.
const enrollmentLua = `
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local live = {unverified = true, pending_approval = true, pending_recovery = true, approved = true}
local index = nil
if ARGV[3] ~= '' then index = KEYS[2] end
local function enrollment()
  local f = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'account', 'replaces', 'cooldown_until', 'jkt', 'id')
  if not f[1] or f[3] ~= ARGV[3] then return nil end
  return {state = f[1], expires = tonumber(f[2] or '0'), account = f[3], replaces = f[4] or '',
    cooldown = tonumber(f[5] or '0') or 0, jkt = f[6] or '', id = f[7]}
end
local function ended(e)
  if index then redis.call('ZREM', index, e.id) end
  redis.call('PEXPIRE', KEYS[1], retention)
end
local function keep(e, expires)
  redis.call('HSET', KEYS[1], 'expires_at', expires)
  redis.call('PEXPIRE', KEYS[1], expires - now + retention)
  if index then
    redis.call('ZADD', index, expires, e.id)
    local ttl = expires - now + retention
    if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
  end
end
local function settle(e)
  if live[e.state] and now >= e.expires then
    redis.call('HSET', KEYS[1], 'state', 'expired', 'otp', '')
    ended(e)
    e.state = 'expired'
  end
  return e.state
end
local function supersede(e)
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelled_by', 'system:superseded', 'cancelled_at', now, 'otp', '')
  ended(e)
end
local function spendOTP(right)
  local o = redis.call('HMGET', KEYS[1], 'otp', 'otp_tries', 'otp_exp')
  if not o[1] or o[1] == '' or now >= tonumber(o[3] or '0') then return 'nootp' end
  if right(o[1]) then return 'ok' end
  local tries = (tonumber(o[2] or '0') or 0) - 1
  if tries <= 0 then
    redis.call('HSET', KEYS[1], 'otp', '', 'otp_tries', 0)
  else
    redis.call('HSET', KEYS[1], 'otp_tries', tries)
  end
  return 'wrong'
end
`

// createEnrollment writes a new enrollment; a visible one (not
// unverified) enters the account's index, at most ARGV[17] live at once.
var createEnrollment = redis.NewScript(enrollmentLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local expires = tonumber(ARGV[11])
if ARGV[9] == 'unverified' then index = nil end
if index then
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  if redis.call('ZCARD', index) >= tonumber(ARGV[17]) then return 'full' end
end
redis.call('HSET', KEYS[1], 'id', ARGV[4], 'account', ARGV[3], 'jkt', ARGV[5], 'label', ARGV[6], 'ip', ARGV[7],
  'origin', ARGV[8], 'state', ARGV[9], 'replaces', ARGV[10], 'created_at', ARGV[12], 'limit_subject', ARGV[13],
  'otp', ARGV[14], 'otp_tries', ARGV[15], 'otp_exp', ARGV[16])
keep({id = ARGV[4]}, expires)
return 'ok'
`)

// CreateEnrollment stores a new enrollment. An enrollment of an account
// that is not unverified counts against maxLive, the most live
// enrollments an account may have (ErrEnrollmentLimit). It returns
// ErrExists for a taken id.
func (s *Store) CreateEnrollment(ctx context.Context, e Enrollment, maxLive int, now time.Time) error {
	b, err := BucketOfKind("enr", e.ID)
	if err != nil {
		return fmt.Errorf("creating an enrollment: %w", err)
	}
	if e.AccountID != "" {
		if ab, err := BucketOf(e.AccountID); err != nil || ab != b {
			return fmt.Errorf("creating an enrollment: account and enrollment buckets differ: %w", ErrBadID)
		}
	}
	if !e.ExpiresAt.After(now) {
		return errors.New("creating an enrollment: already expired")
	}
	res, err := createEnrollment.Run(ctx, s.rdb, []string{s.keys.Enrollment(b, e.ID), s.keys.Enrollments(b, e.AccountID)},
		now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		e.ID, e.JKT, e.Label, e.IP, e.Origin, e.State, e.Replaces, e.ExpiresAt.UnixMilli(), e.CreatedAt.UnixMilli(),
		e.LimitSubject, e.OTPHash, e.OTPTries, unixMilli(e.OTPExpires), maxLive).Text()
	if err != nil {
		return wrap("creating an enrollment", err)
	}
	switch res {
	case "ok":
		return nil
	case "exists":
		return fmt.Errorf("creating an enrollment: %w", ErrExists)
	default:
		return fmt.Errorf("creating an enrollment: %w", ErrEnrollmentLimit)
	}
}

// unixMilli is t in ms, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Enrollment reads an enrollment. It returns ErrNotFound when there is
// none (or its retention has passed).
func (s *Store) Enrollment(ctx context.Context, id string) (*Enrollment, error) {
	b, err := BucketOfKind("enr", id)
	if err != nil {
		return nil, fmt.Errorf("reading an enrollment: %w", ErrNotFound)
	}
	m, err := s.rdb.HGetAll(ctx, s.keys.Enrollment(b, id)).Result()
	if err != nil {
		return nil, wrap("reading an enrollment", err)
	}
	if len(m) == 0 || m["id"] != id {
		return nil, fmt.Errorf("reading an enrollment: %w", ErrNotFound)
	}
	return enrollmentFrom(m), nil
}

func enrollmentFrom(m map[string]string) *Enrollment {
	return &Enrollment{
		ID: m["id"], AccountID: m["account"], JKT: m["jkt"], Label: m["label"], IP: m["ip"], Origin: m["origin"],
		State: m["state"], Replaces: m["replaces"], LimitSubject: m["limit_subject"],
		CreatedAt: millis(m["created_at"]), ExpiresAt: millis(m["expires_at"]), CooldownUntil: millis(m["cooldown_until"]),
		ApprovedBy: m["approved_by"], ApprovedAt: millis(m["approved_at"]),
		CancelledBy: m["cancelled_by"], CancelledAt: millis(m["cancelled_at"]),
		DeviceID: m["device_id"], ActivatedAt: millis(m["activated_at"]),
	}
}

// Enrollments returns the account's live, visible enrollments (every state
// but unverified, not yet expired at now), oldest first.
func (s *Store) Enrollments(ctx context.Context, accountID string, now time.Time) ([]Enrollment, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("listing enrollments: %w", ErrNotFound)
	}
	ids, err := s.rdb.ZRangeByScore(ctx, s.keys.Enrollments(b, accountID), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, wrap("listing enrollments", err)
	}
	if len(ids) == 0 {
		return []Enrollment{}, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.keys.Enrollment(b, id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, wrap("listing enrollments", err)
	}
	out := make([]Enrollment, 0, len(ids))
	for _, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 || m["account"] != accountID {
			continue
		}
		e := enrollmentFrom(m)
		switch e.StateAt(now) {
		case EnrollmentPendingApproval, EnrollmentPendingRecovery, EnrollmentReady, EnrollmentApproved:
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// enrollmentKeys names KEYS[1] and KEYS[2] of the enrollment scripts.
func (s *Store) enrollmentKeys(e *Enrollment) (Bucket, []string, error) {
	b, err := BucketOfKind("enr", e.ID)
	if err != nil {
		return 0, nil, ErrNotFound
	}
	return b, []string{s.keys.Enrollment(b, e.ID), s.keys.Enrollments(b, e.AccountID)}, nil
}

// enrollmentResult maps the common script answers to errors.
func enrollmentResult(doing, res string) error {
	switch {
	case res == "ok":
		return nil
	case res == "none":
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	case res == "wrong", res == "nootp":
		return fmt.Errorf("%s: %w", doing, ErrFactorsWrong)
	case res == "full":
		return fmt.Errorf("%s: %w", doing, ErrEnrollmentLimit)
	case res == "superseded":
		return fmt.Errorf("%s: %w", doing, ErrSuperseded)
	case res == "approver":
		return fmt.Errorf("%s: %w", doing, ErrNotApprover)
	case res == "frozen":
		return fmt.Errorf("%s: %w", doing, ErrAccountFrozen)
	case strings.HasPrefix(res, "state:"):
		return fmt.Errorf("%s: %w", doing, &EnrollmentStateError{State: strings.TrimPrefix(res, "state:")})
	default:
		return fmt.Errorf("%s: unexpected reply %q", doing, res)
	}
}

// setEnrollmentOTP replaces the outstanding OTP (unverified and
// pending_approval only). ARGV[4] otp hash, ARGV[5] tries, ARGV[6] expiry.
var setEnrollmentOTP = redis.NewScript(enrollmentLua + `
local e = enrollment()
if not e then return 'none' end
local st = settle(e)
if st ~= 'unverified' and st ~= 'pending_approval' then return 'state:' .. st end
redis.call('HSET', KEYS[1], 'otp', ARGV[4], 'otp_tries', ARGV[5], 'otp_exp', ARGV[6])
return 'ok'
`)

// SetEnrollmentOTP stores the keyed hash of a new OTP for the enrollment,
// replacing any earlier one, with tries guesses until expires. Only an
// unverified or pending_approval enrollment takes one.
func (s *Store) SetEnrollmentOTP(ctx context.Context, e *Enrollment, otpHash string, tries int, expires, now time.Time) error {
	_, keys, err := s.enrollmentKeys(e)
	if err != nil {
		return fmt.Errorf("storing an enrollment OTP: %w", err)
	}
	res, err := setEnrollmentOTP.Run(ctx, s.rdb, keys, now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		otpHash, tries, expires.UnixMilli()).Text()
	if err != nil {
		return wrap("storing an enrollment OTP", err)
	}
	return enrollmentResult("storing an enrollment OTP", res)
}

// verifyEnrollment: the contact's OTP turns unverified into
// pending_approval (visible to the bound device). ARGV[4] otp hash,
// ARGV[5] the most live enrollments.
var verifyEnrollment = redis.NewScript(enrollmentLua + `
local e = enrollment()
if not e then return 'none' end
local st = settle(e)
if st ~= 'unverified' then return 'state:' .. st end
local r = spendOTP(function(h) return e.account ~= '' and h == ARGV[4] end)
if r ~= 'ok' or not index then return 'wrong' end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
if redis.call('ZCARD', index) >= tonumber(ARGV[5]) then return 'full' end
redis.call('HSET', KEYS[1], 'state', 'pending_approval', 'otp', '', 'verified_at', now)
keep(e, e.expires)
return 'ok'
`)

// VerifyEnrollment checks the contact's OTP of an unverified enrollment
// and makes it pending_approval. A wrong guess spends a try and returns
// ErrFactorsWrong (so does a decoy, always); a full account returns
// ErrEnrollmentLimit.
func (s *Store) VerifyEnrollment(ctx context.Context, e *Enrollment, otpHash string, maxLive int, now time.Time) error {
	_, keys, err := s.enrollmentKeys(e)
	if err != nil {
		return fmt.Errorf("verifying an enrollment: %w", err)
	}
	res, err := verifyEnrollment.Run(ctx, s.rdb, keys, now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		otpHash, maxLive).Text()
	if err != nil {
		return wrap("verifying an enrollment", err)
	}
	return enrollmentResult("verifying an enrollment", res)
}

// recoverEnrollment checks both factors in one step: the OTP and an unused
// recovery code (KEYS[3], the account's recovery set). Anything wrong
// spends an OTP try. With ARGV[6] = "1" it also spends the recovery code
// (SREM) and starts the cool-down; else it only reports "checked".
// ARGV[4] otp hash, ARGV[5] recovery-code hash, ARGV[7] cancel-token hash,
// ARGV[8] cool-down end, ARGV[9] new expiry.
var recoverEnrollment = redis.NewScript(enrollmentLua + `
local e = enrollment()
if not e then return 'none' end
local st = settle(e)
if st ~= 'unverified' and st ~= 'pending_approval' then return 'state:' .. st end
local r = spendOTP(function(h)
  return e.account ~= '' and h == ARGV[4] and redis.call('SISMEMBER', KEYS[3], ARGV[5]) == 1
end)
if r ~= 'ok' then return r end
if ARGV[6] ~= '1' then return 'checked' end
redis.call('SREM', KEYS[3], ARGV[5])
redis.call('HSET', KEYS[1], 'state', 'pending_recovery', 'otp', '', 'cancel', ARGV[7], 'cooldown_until', ARGV[8],
  'recovered_at', now)
keep(e, tonumber(ARGV[9]))
return 'ok'
`)

// Recovery is the second factor step of a recovery without the old device.
type Recovery struct {
	OTPHash      string // keyed hash of the contact's OTP
	CodeHash     string // keyed hash of a recovery code
	CancelHash   string // keyed hash of the contact's one-time cancel token
	CooldownEnds time.Time
	ExpiresAt    time.Time // when the new device's chance to finish ends
}

// CheckRecovery reports whether the OTP and the recovery code are both
// right, without spending the code; a wrong pair spends an OTP try and
// returns ErrFactorsWrong (a decoy always does).
func (s *Store) CheckRecovery(ctx context.Context, e *Enrollment, r Recovery, now time.Time) error {
	return s.runRecovery(ctx, e, r, false, now)
}

// StartRecovery checks both factors again and, atomically, spends the
// recovery code and moves the enrollment to pending_recovery with the
// cool-down and the cancel token's hash.
func (s *Store) StartRecovery(ctx context.Context, e *Enrollment, r Recovery, now time.Time) error {
	return s.runRecovery(ctx, e, r, true, now)
}

func (s *Store) runRecovery(ctx context.Context, e *Enrollment, r Recovery, commit bool, now time.Time) error {
	b, keys, err := s.enrollmentKeys(e)
	if err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	keys = append(keys, s.keys.Recovery(b, e.AccountID))
	flag := "0"
	if commit {
		flag = "1"
	}
	res, err := recoverEnrollment.Run(ctx, s.rdb, keys, now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		r.OTPHash, r.CodeHash, flag, r.CancelHash, r.CooldownEnds.UnixMilli(), r.ExpiresAt.UnixMilli()).Text()
	if err != nil {
		return wrap("recovering", err)
	}
	if res == "checked" {
		return nil
	}
	return enrollmentResult("recovering", res)
}

// approveEnrollment: KEYS[3] the account. ARGV[4] approving device ("" for
// an operator), ARGV[5] who, ARGV[6] new expiry, ARGV[7] the states that
// may be approved, comma-separated and framed by commas.
var approveEnrollment = redis.NewScript(enrollmentLua + `
local e = enrollment()
if not e then return 'none' end
local st = settle(e)
if not string.find(ARGV[7], ',' .. st .. ',', 1, true) then return 'state:' .. st end
local a = redis.call('HMGET', KEYS[3], 'device_id', 'device_status', 'status')
if not a[1] then return 'none' end
if a[1] ~= e.replaces then supersede(e) return 'superseded' end
if ARGV[4] ~= '' and (ARGV[4] ~= a[1] or a[2] ~= 'active') then return 'approver' end
if a[3] == 'frozen' then return 'frozen' end
redis.call('HSET', KEYS[1], 'state', 'approved', 'otp', '', 'approved_by', ARGV[5], 'approved_at', now)
keep(e, tonumber(ARGV[6]))
return 'ok'
`)

// Approval says who approves an enrollment.
type Approval struct {
	// DeviceID is the approving device, which must be the account's active
	// device and the one the enrollment replaces; empty for an operator.
	DeviceID string
	// By is recorded: "device:<id>" or "operator:<name>".
	By string
	// ExpiresAt is how long the new device then has to finish.
	ExpiresAt time.Time
}

// ApproveEnrollment moves a pending enrollment to approved. The bound
// device may approve pending_approval and pending_recovery; an operator
// (after an identity check in a store) also unverified. It returns an
// *EnrollmentStateError, ErrSuperseded (and cancels the enrollment) when
// the account's device changed, ErrNotApprover, ErrAccountFrozen or
// ErrNotFound.
func (s *Store) ApproveEnrollment(ctx context.Context, e *Enrollment, a Approval, now time.Time) error {
	b, keys, err := s.enrollmentKeys(e)
	if err != nil || e.AccountID == "" {
		return fmt.Errorf("approving an enrollment: %w", ErrNotFound)
	}
	keys = append(keys, s.keys.Account(b, e.AccountID))
	states := ",pending_approval,pending_recovery,"
	if a.DeviceID == "" {
		states = ",unverified,pending_approval,pending_recovery,"
	}
	res, err := approveEnrollment.Run(ctx, s.rdb, keys, now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		a.DeviceID, a.By, a.ExpiresAt.UnixMilli(), states).Text()
	if err != nil {
		return wrap("approving an enrollment", err)
	}
	return enrollmentResult("approving an enrollment", res)
}

// cancelEnrollment: ARGV[4] who, ARGV[5] the cancel token's hash ("" when
// the caller is the bound device). Cancelling a cancelled enrollment
// again succeeds (idempotent retry).
var cancelEnrollment = redis.NewScript(enrollmentLua + `
local e = enrollment()
if not e then return 'none' end
if ARGV[5] ~= '' then
  local c = redis.call('HGET', KEYS[1], 'cancel')
  if not c or c == '' or c ~= ARGV[5] then return 'none' end
end
if e.state == 'cancelled' then return 'ok' end
local st = settle(e)
if not live[st] then return 'state:' .. st end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelled_by', ARGV[4], 'cancelled_at', now, 'otp', '')
ended(e)
return 'ok'
`)

// CancelEnrollment ends a live enrollment for good. by says who
// ("device:<id>", "contact", ...); cancelHash, when not empty, must match
// the contact's cancel token (else ErrNotFound). It returns an
// *EnrollmentStateError for an active or expired enrollment.
func (s *Store) CancelEnrollment(ctx context.Context, e *Enrollment, by, cancelHash string, now time.Time) error {
	_, keys, err := s.enrollmentKeys(e)
	if err != nil {
		return fmt.Errorf("cancelling an enrollment: %w", err)
	}
	res, err := cancelEnrollment.Run(ctx, s.rdb, keys, now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		by, cancelHash).Text()
	if err != nil {
		return wrap("cancelling an enrollment", err)
	}
	return enrollmentResult("cancelling an enrollment", res)
}

// activateEnrollment makes the new device the account's one device, in one
// step: the old credential (and its counter) goes, the new passkey and
// device record come, the account hash switches device_id, device_jkt and
// device_status (which ends every session, refresh token, access token and
// live code of the old device, since each is checked against them), gets
// probation_until, the old sessions are deleted, and the enrollment is
// active. KEYS[3] account, [4] devices, [5] credentials, [6] counters,
// [7] session index, [8...] the sessions. ARGV[4] jkt, [5] new device id,
// [6] device JSON, [7] credential key, [8] credential JSON, [9] sign
// count, [10] probation end.
var activateEnrollment = redis.NewScript(enrollmentLua + `
local e = enrollment()
if not e or e.jkt ~= ARGV[4] then return 'none' end
local st = settle(e)
if st == 'pending_recovery' and now < e.cooldown then return 'state:pending_recovery' end
if st ~= 'approved' and st ~= 'pending_recovery' then return 'state:' .. st end
local a = redis.call('HMGET', KEYS[3], 'device_id', 'status')
if not a[1] then return 'none' end
if a[1] ~= e.replaces then supersede(e) return 'superseded' end
if a[2] == 'frozen' then return 'frozen' end
redis.call('DEL', KEYS[5], KEYS[6])
redis.call('HSET', KEYS[5], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[6], ARGV[7], ARGV[9])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
redis.call('HSET', KEYS[3], 'device_id', ARGV[5], 'device_jkt', ARGV[4], 'device_status', 'active',
  'probation_until', ARGV[10])
for i = 8, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', KEYS[7])
redis.call('HSET', KEYS[1], 'state', 'active', 'otp', '', 'cancel', '', 'device_id', ARGV[5], 'activated_at', now)
ended(e)
return 'ok'
`)

// Activation is what finishing an enrollment installs.
type Activation struct {
	Device         Device
	Credential     CredentialRecord
	ProbationUntil time.Time
}

// ActivateEnrollment installs the new device and its passkey as the
// account's one device and revokes the old one, all at once or not at all
// (see activateEnrollment). The enrollment must be approved, or
// pending_recovery with the cool-down over, and the device it replaces
// must still be the account's device. It returns an
// *EnrollmentStateError, ErrSuperseded, ErrAccountFrozen or ErrNotFound
// (also for a key other than the enrollment's).
func (s *Store) ActivateEnrollment(ctx context.Context, e *Enrollment, act Activation, now time.Time) error {
	b, keys, err := s.enrollmentKeys(e)
	if err != nil || e.AccountID == "" {
		return fmt.Errorf("activating an enrollment: %w", ErrNotFound)
	}
	device, err := json.Marshal(act.Device)
	if err != nil {
		return fmt.Errorf("encoding the device: %w", err)
	}
	cred, err := json.Marshal(act.Credential)
	if err != nil {
		return fmt.Errorf("encoding the credential: %w", err)
	}
	index := s.keys.Sessions(b, e.AccountID)
	ids, err := s.rdb.SMembers(ctx, index).Result()
	if err != nil {
		return wrap("activating an enrollment", err)
	}
	keys = append(keys, s.keys.Account(b, e.AccountID), s.keys.Devices(b, e.AccountID),
		s.keys.Credentials(b, e.AccountID), s.keys.Counters(b, e.AccountID), index)
	for _, id := range ids {
		// A session created after this read is not deleted, but it is dead
		// all the same: its device is no longer the account's device.
		if sb, err := BucketOfKind("sess", id); err == nil && sb == b {
			keys = append(keys, s.keys.Session(b, id))
		}
	}
	res, err := activateEnrollment.Run(ctx, s.rdb, keys, now.UnixMilli(), enrollmentRetention.Milliseconds(), e.AccountID,
		act.Device.JKT, act.Device.ID, device, CredentialKey(act.Credential.Credential.ID), cred,
		act.Credential.Credential.Authenticator.SignCount, act.ProbationUntil.UnixMilli()).Text()
	if err != nil {
		return wrap("activating an enrollment", err)
	}
	return enrollmentResult("activating an enrollment", res)
}

// ProbationUntil returns the end of the account's probation window (set
// when a new device became active), or the zero time when there is none.
// During it payment limits are lowered and top-ups are off; the redeem
// script reads the same field of the account hash.
func (s *Store) ProbationUntil(ctx context.Context, accountID string) (time.Time, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the probation window: %w", ErrNotFound)
	}
	v, err := s.rdb.HGet(ctx, s.keys.Account(b, accountID), "probation_until").Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("reading the probation window", err)
	}
	return millis(v), nil
}

// ContactChange is a change of the account's contact in progress: the new
// address must be verified with an OTP, from the session that began it.
type ContactChange struct {
	ID         string
	AccountID  string
	SessionID  string
	OldContact string
	OldHash    string
	NewContact string
	NewKind    string
	NewHash    string
	TriesLeft  int
	// State is "" while the new address's OTP is outstanding, then
	// pending (the cool-down runs: AppliesAt), and at last applied,
	// cancelled or failed (the new address was taken meanwhile).
	State     string
	AppliesAt time.Time
	// ProbationUntil, when set, is the end of the probation window
	// ChangeContact starts with the switch (lower limits, no top-ups, as
	// after a new device); it never shortens a window under way. It is an
	// argument of ChangeContact, not stored with the change.
	ProbationUntil time.Time
}

// NewContactChangeID returns a contact-change id in the account's bucket.
func NewContactChangeID(accountID string) (string, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return "", err
	}
	return NewID("cch", b)
}

// PutContactChange stores a contact change with the keyed hash of the OTP
// sent to the new address.
func (s *Store) PutContactChange(ctx context.Context, cc ContactChange, otpHash string, ttl time.Duration) error {
	b, err := BucketOfKind("cch", cc.ID)
	if err != nil {
		return fmt.Errorf("storing a contact change: %w", err)
	}
	if ab, err := BucketOf(cc.AccountID); err != nil || ab != b {
		return fmt.Errorf("storing a contact change: %w", ErrBadID)
	}
	key := s.keys.ContactChange(b, cc.ID)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "account", cc.AccountID, "session", cc.SessionID, "old_contact", cc.OldContact, "old_hash", cc.OldHash,
		"new_contact", cc.NewContact, "new_kind", cc.NewKind, "new_hash", cc.NewHash,
		"otp", otpHash, "tries", cc.TriesLeft, "verified", "0")
	pipe.PExpire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap("storing a contact change", err)
	}
	return nil
}

// ContactChange reads a contact change in progress.
func (s *Store) ContactChange(ctx context.Context, id string) (*ContactChange, error) {
	b, err := BucketOfKind("cch", id)
	if err != nil {
		return nil, fmt.Errorf("reading a contact change: %w", ErrNotFound)
	}
	m, err := s.rdb.HGetAll(ctx, s.keys.ContactChange(b, id)).Result()
	if err != nil {
		return nil, wrap("reading a contact change", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("reading a contact change: %w", ErrNotFound)
	}
	tries, _ := strconv.Atoi(m["tries"])
	return &ContactChange{ID: id, AccountID: m["account"], SessionID: m["session"], OldContact: m["old_contact"],
		OldHash: m["old_hash"], NewContact: m["new_contact"], NewKind: m["new_kind"], NewHash: m["new_hash"], TriesLeft: tries,
		State: m["state"], AppliesAt: millis(m["applies_at"])}, nil
}

// VerifyContactChangeOTP spends one try of the change's OTP (the same
// script and rules as a sign-up's: 5 tries, then the change is gone). It
// returns nil, ErrOTPWrong or ErrNotFound.
func (s *Store) VerifyContactChangeOTP(ctx context.Context, id, otpHash string) error {
	b, err := BucketOfKind("cch", id)
	if err != nil {
		return fmt.Errorf("verifying a contact change: %w", ErrNotFound)
	}
	return s.spendOTPTry(ctx, "verifying a contact change", s.keys.ContactChange(b, id), otpHash)
}

func probationMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
