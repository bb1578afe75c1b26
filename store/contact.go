package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A contact change is a step-up with a cool-down (issue 13): once the new
// address proved itself (VerifyContactChangeOTP), PendContactChange
// starts the cool-down, during which the OLD address stays the account's
// contact and can cancel with its one-time link (EndContactChange); when
// it is over, ChangeContact moves the contact. Who applies it does not
// matter: every replica's worker reads the global schedule
// (Keys.ContactChangesDue), and a read of the account may apply a due
// change itself; each step is a compare-and-set on the change's state and
// the account's pointer (contact_change), so two replicas applying the
// same change do it once.

// contactChangeRetention keeps a change's record after its cool-down, so
// that a late cancel link is answered (ended, not unknown) and a second
// replica that applies it finds it applied.
const contactChangeRetention = 72 * time.Hour

// ErrContactChangeEnded means the change is no longer in its cool-down
// (applied, cancelled, failed or replaced by a newer one).
var ErrContactChangeEnded = errors.New("the contact change is over")

// ErrContactChangeEarly means the change's cool-down has not ended.
var ErrContactChangeEarly = errors.New("the contact change's cool-down has not ended")

// pendContact: KEYS account, change. ARGV account id, change id, applies
// at (ms), cancel hash, expire at (ms). The change must be verified, of
// this account, not yet pending, and the account's contact still the old
// one. It replaces any change the account had pending (that one then
// ends when it is applied or cancelled: the pointer no longer names it).
var pendContact = redis.NewScript(`
local v = redis.call('HMGET', KEYS[2], 'verified', 'account', 'state', 'old_contact')
if v[1] ~= '1' or v[2] ~= ARGV[1] then return 'unverified' end
if v[3] and v[3] ~= '' then return 'unverified' end
if redis.call('HGET', KEYS[1], 'contact') ~= v[4] then return 'changed' end
redis.call('HSET', KEYS[2], 'state', 'pending', 'applies_at', ARGV[3], 'cancel', ARGV[4], 'otp', '')
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[1], 'contact_change', ARGV[2], 'contact_change_at', ARGV[3])
return 'ok'
`)

// PendContactChange starts the cool-down of a verified change: it applies
// at appliesAt unless the old address (cancelHash: the keyed hash of its
// one-time cancel code) or the account's device cancels it first. The
// schedule entry is written first, so a change is never pending without
// one (an entry without a pending change is dropped by the worker).
//
// It returns ErrNotVerified (not verified, not this account's, or pending
// already) or ErrContactChanged (the account's contact moved meanwhile).
func (s *Store) PendContactChange(ctx context.Context, cc *ContactChange, appliesAt time.Time, cancelHash string) error {
	b, err := BucketOfKind("cch", cc.ID)
	if err != nil {
		return fmt.Errorf("starting a contact change's cool-down: %w", ErrNotFound)
	}
	if err := s.rdb.ZAdd(ctx, s.keys.ContactChangesDue(), redis.Z{Score: float64(appliesAt.UnixMilli()), Member: cc.ID}).Err(); err != nil {
		return wrap("scheduling a contact change", err)
	}
	res, err := pendContact.Run(ctx, s.rdb, []string{s.keys.Account(b, cc.AccountID), s.keys.ContactChange(b, cc.ID)},
		cc.AccountID, cc.ID, appliesAt.UnixMilli(), cancelHash, appliesAt.Add(contactChangeRetention).UnixMilli()).Text()
	if err != nil {
		return wrap("starting a contact change's cool-down", err)
	}
	switch res {
	case "ok":
		cc.State, cc.AppliesAt = "pending", appliesAt
		return nil
	case "changed":
		return ErrContactChanged
	}
	return ErrNotVerified
}

// applyContact: KEYS account, change. ARGV account id, change id, now
// (ms), probation end (ms, 0: none). The change must be pending, due,
// still the account's pending change, and the account's contact still
// the old one; the probation window is extended, never shortened.
var applyContact = redis.NewScript(`
local v = redis.call('HMGET', KEYS[2], 'state', 'account', 'applies_at', 'old_contact', 'new_contact', 'new_kind')
if v[2] ~= ARGV[1] then return 'unknown' end
if v[1] == 'applied' then return 'applied' end
if v[1] ~= 'pending' then return 'ended' end
if tonumber(v[3]) > tonumber(ARGV[3]) then return 'early' end
local a = redis.call('HMGET', KEYS[1], 'contact', 'contact_change')
if a[2] ~= ARGV[2] then
  redis.call('HSET', KEYS[2], 'state', 'cancelled', 'cancelled_by', 'system', 'cancelled_at', ARGV[3])
  return 'ended'
end
if a[1] ~= v[4] then
  redis.call('HSET', KEYS[2], 'state', 'cancelled', 'cancelled_by', 'system', 'cancelled_at', ARGV[3])
  redis.call('HDEL', KEYS[1], 'contact_change', 'contact_change_at')
  return 'changed'
end
redis.call('HSET', KEYS[1], 'contact', v[5], 'contact_kind', v[6])
redis.call('HDEL', KEYS[1], 'contact_change', 'contact_change_at')
local pu = tonumber(ARGV[4])
if pu > 0 and pu > tonumber(redis.call('HGET', KEYS[1], 'probation_until') or '0') then
  redis.call('HSET', KEYS[1], 'probation_until', ARGV[4])
end
redis.call('HSET', KEYS[2], 'state', 'applied', 'applied_at', ARGV[3])
return 'ok'
`)

// ChangeContact applies a pending contact change whose cool-down is over.
// The contact index is global (not in the account's slot), so it moves in
// three steps, each safe on its own: claim the new address (SET NX; it
// returns ErrContactTaken when another account has it), switch the
// account hash (compare-and-set on the change's state, the account's
// pointer and the old address; the claim is released unless the change
// is applied, by this call or another replica's), then delete the old
// address's entry if it still points here. A failure of that last step
// leaves a stale index entry but the change made; it is returned as
// cleanup, with err nil.
//
// It returns ErrContactChangeEarly, ErrContactChangeEnded (already
// applied: check cc.State, "applied"; or cancelled, failed or replaced),
// ErrContactChanged (the contact moved otherwise; the change is
// cancelled), ErrContactTaken or ErrNotFound.
func (s *Store) ChangeContact(ctx context.Context, cc *ContactChange, now time.Time) (cleanup, err error) {
	b, err := BucketOfKind("cch", cc.ID)
	if err != nil {
		return nil, fmt.Errorf("changing the contact: %w", ErrNotFound)
	}
	if ab, err := BucketOf(cc.AccountID); err != nil || ab != b {
		return nil, fmt.Errorf("changing the contact: %w", ErrNotFound)
	}
	if cc.AppliesAt.After(now) {
		return nil, ErrContactChangeEarly
	}
	newKey := s.keys.Contact(cc.NewHash)
	claimed, err := s.rdb.SetNX(ctx, newKey, cc.AccountID, 0).Result()
	if err != nil {
		return nil, wrap("claiming the new contact", err)
	}
	if !claimed {
		owner, err := s.rdb.Get(ctx, newKey).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap("claiming the new contact", err)
		}
		if owner != cc.AccountID {
			return nil, ErrContactTaken
		}
	}
	res, err := applyContact.Run(ctx, s.rdb, []string{s.keys.Account(b, cc.AccountID), s.keys.ContactChange(b, cc.ID)},
		cc.AccountID, cc.ID, now.UnixMilli(), probationMillis(cc.ProbationUntil)).Text()
	if err != nil {
		// Unknown outcome: keep the claim (if the switch happened, the
		// index must lead here; if not, the next attempt reuses it).
		return nil, wrap("switching the contact", err)
	}
	switch res {
	case "ok":
		cc.State = "applied"
	case "applied":
		cc.State = "applied"
		return nil, ErrContactChangeEnded
	default:
		if claimed {
			if rerr := releaseContact.Run(ctx, s.rdb, []string{newKey}, cc.AccountID).Err(); rerr != nil && !errors.Is(rerr, redis.Nil) {
				return nil, wrap("releasing the new contact", rerr)
			}
		}
		switch res {
		case "early":
			return nil, ErrContactChangeEarly
		case "changed":
			return nil, ErrContactChanged
		case "unknown":
			return nil, fmt.Errorf("changing the contact: %w", ErrNotFound)
		}
		return nil, ErrContactChangeEnded
	}
	s.rdb.ZRem(ctx, s.keys.ContactChangesDue(), cc.ID) // best effort: the worker drops a stale entry
	if err := releaseContact.Run(ctx, s.rdb, []string{s.keys.Contact(cc.OldHash)}, cc.AccountID).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return wrap("releasing the old contact", err), nil
	}
	return nil, nil
}

// endContact: KEYS account, change. ARGV account id, change id, state
// (cancelled|failed), by, now (ms), cancel hash ("" for none: the device
// or the system). Only a pending change that is still the account's ends;
// a wrong cancel hash changes nothing.
var endContact = redis.NewScript(`
local v = redis.call('HMGET', KEYS[2], 'state', 'account', 'cancel')
if v[2] ~= ARGV[1] then return 'unknown' end
if v[1] ~= 'pending' then return 'ended' end
if ARGV[6] ~= '' and v[3] ~= ARGV[6] then return 'wrong' end
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'cancelled_by', ARGV[4], 'cancelled_at', ARGV[5], 'cancel', '')
if redis.call('HGET', KEYS[1], 'contact_change') == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'contact_change', 'contact_change_at')
end
return 'ok'
`)

// EndContactChange ends a pending change: cancelled (by the old address,
// whose cancelHash must match and is then spent, or by the account's
// device with cancelHash "") or failed (by the system: the new address
// was taken meanwhile). It returns ErrNotFound for a change that is
// unknown or whose cancel hash does not match, and ErrContactChangeEnded
// when it is no longer pending.
func (s *Store) EndContactChange(ctx context.Context, cc *ContactChange, state, by, cancelHash string, now time.Time) error {
	b, err := BucketOfKind("cch", cc.ID)
	if err != nil {
		return fmt.Errorf("ending a contact change: %w", ErrNotFound)
	}
	res, err := endContact.Run(ctx, s.rdb, []string{s.keys.Account(b, cc.AccountID), s.keys.ContactChange(b, cc.ID)},
		cc.AccountID, cc.ID, state, by, now.UnixMilli(), cancelHash).Text()
	if err != nil {
		return wrap("ending a contact change", err)
	}
	switch res {
	case "ok":
		cc.State = state
		s.rdb.ZRem(ctx, s.keys.ContactChangesDue(), cc.ID) // best effort, as in ChangeContact
		return nil
	case "ended":
		return ErrContactChangeEnded
	}
	return fmt.Errorf("ending a contact change: %w", ErrNotFound)
}

// DueContactChanges returns up to limit ids of contact changes whose
// cool-down ended by now, oldest first.
func (s *Store) DueContactChanges(ctx context.Context, now time.Time, limit int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.keys.ContactChangesDue(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: limit}).Result()
	if err != nil {
		return nil, wrap("reading the due contact changes", err)
	}
	return ids, nil
}

// DropDueContactChange removes a change from the schedule (it was applied
// or ended, or it is unknown).
func (s *Store) DropDueContactChange(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, s.keys.ContactChangesDue(), id).Err(); err != nil {
		return wrap("dropping a due contact change", err)
	}
	return nil
}
