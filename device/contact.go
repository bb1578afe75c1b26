package device

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// ChangeContactStart begins changing the account's contact to contact (of
// kind "email" or "phone", normalised by the caller). It needs a
// user-verified passkey assertion on this session within StepUpWindow,
// and sends an OTP to the new address, which has to prove it is
// reachable. Nothing about whether the address has an account is
// revealed.
//
// It returns ErrStepUpRequired, ErrSameContact, a *RateLimitError (per
// account, per IP, per contact) or ErrNoticeFailed.
func (s *Service) ChangeContactStart(ctx context.Context, req Request, sess *store.Session, contact, kind string) (*store.ContactChange, error) {
	now := s.now()
	if now.Sub(sess.AuthTime) > s.StepUpWindow {
		return nil, ErrStepUpRequired
	}
	acct, err := s.Store.Account(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	if contact == acct.Contact {
		return nil, ErrSameContact
	}
	hash := s.ContactHash(contact)
	if err := s.limit(ctx, LimitContactChange, acct.ID); err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitOTPPerIP, req.IP); err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitOTPPerContact, hash); err != nil {
		return nil, err
	}
	id, err := store.NewContactChangeID(acct.ID)
	if err != nil {
		return nil, err
	}
	otp, err := NewOTP()
	if err != nil {
		return nil, err
	}
	cc := store.ContactChange{ID: id, AccountID: acct.ID, SessionID: sess.ID, OldContact: acct.Contact,
		OldHash: s.ContactHash(acct.Contact), NewContact: contact, NewKind: kind, NewHash: hash, TriesLeft: s.OTPTries}
	if err := s.Store.PutContactChange(ctx, cc, s.OTPHash(id, otp), s.OTPTTL); err != nil {
		return nil, err
	}
	// The one message that goes to an address not yet on the account: the
	// code that verifies it.
	if err := s.Notifier.Notify(ctx, notify.Message{ID: id, Type: messageContactOTP, To: contact, CreatedAt: now,
		Text: text.M(text.NoticeContactOTP, "code", otp.Reveal()).Render(s.langOf(acct))}); err != nil {
		return nil, mark(ErrNoticeFailed, err)
	}
	s.audit(ctx, req, Customer, auditContactStarted, acct.ID, sess.DeviceID, map[string]string{"change": id, "kind": kind})
	return &cc, nil
}

// ChangeContactVerify checks the new address's OTP on the session that
// began the change, then, in this order: warns the old address with a
// one-time cancel link (if the warning cannot be queued, nothing
// changes), and starts the cool-down (Config.ContactCooldown). The
// contact moves only when the cool-down is over (ApplyContactChange),
// unless the old address or the account's device cancels first; until
// then the old address stays the account's contact (recovery codes and
// notices go there).
//
// It returns a *RateLimitError (guesses per IP), ErrOTPWrong (also for a
// change that is unknown or not this session's), ErrContactChanged,
// ErrNoticeFailed or ErrContactTaken.
func (s *Service) ChangeContactVerify(ctx context.Context, req Request, sess *store.Session, changeID string, otp tokens.Secret) (*store.ContactChange, error) {
	if err := s.limit(ctx, LimitVerifyPerIP, req.IP); err != nil {
		return nil, err
	}
	cc, err := s.Store.ContactChange(ctx, changeID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cc.AccountID != sess.AccountID || cc.SessionID != sess.ID || cc.State != "")) {
		return nil, ErrOTPWrong
	} else if err != nil {
		return nil, err
	}
	err = s.Store.VerifyContactChangeOTP(ctx, cc.ID, s.OTPHash(cc.ID, otp))
	switch {
	case err == nil:
	case errors.Is(err, store.ErrOTPWrong), errors.Is(err, store.ErrNotFound):
		return nil, mark(ErrOTPWrong, err)
	default:
		return nil, err
	}
	acct, err := s.Store.Account(ctx, cc.AccountID)
	if err != nil {
		return nil, err
	}
	if acct.Contact != cc.OldContact {
		return nil, ErrContactChanged
	}
	// Another account's address is refused now (the OTP proved the
	// requester holds it); if it is taken during the cool-down, the
	// change fails when it would apply.
	if owner, err := s.Store.AccountByContact(ctx, cc.NewHash); err == nil && owner != acct.ID {
		return nil, ErrContactTaken
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	secret, err := tokens.RandomSecret(32)
	if err != nil {
		return nil, err
	}
	cancelCode := tokens.NewSecret([]byte(cc.ID + "." + secret.Reveal()))
	appliesAt := s.now().Add(s.ContactCooldown)
	// The old address is told before the cool-down starts, with the link
	// that cancels it: if it cannot be, nothing changes.
	masked := MaskContact(cc.NewContact)
	m := text.M(text.NoticeContactChanging, "new_contact", masked, "after", whenText(appliesAt), "cancel_code", cancelCode.Reveal())
	if s.ContactCancelURL != "" {
		m = text.M(text.NoticeContactChangingLink, "new_contact", masked, "after", whenText(appliesAt),
			"cancel_code", cancelCode.Reveal(), "cancel_link", s.ContactCancelURL+cancelCode.Reveal())
	}
	if err := s.tell(ctx, acct, notify.TypeSecurity, m, map[string]string{"change": cc.ID,
		"cancel_token": cancelCode.Reveal(), "applies_at": appliesAt.UTC().Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	err = s.Store.PendContactChange(ctx, cc, appliesAt, s.contactCancelHash(cancelCode))
	switch {
	case err == nil:
	case errors.Is(err, store.ErrContactChanged), errors.Is(err, store.ErrNotVerified):
		return nil, mark(ErrContactChanged, err)
	default:
		return nil, err
	}
	when := appliesAt.UTC().Format(time.RFC3339)
	s.audit(ctx, req, Customer, auditContactPending, acct.ID, sess.DeviceID, map[string]string{"change": cc.ID, "kind": cc.NewKind, "applies_at": when})
	s.publish(ctx, req, acct.ID, EventContactPending, map[string]any{"contact": masked, "contact_kind": cc.NewKind, "applies_at": when})
	return cc, nil
}

// ApplyContactChange applies a contact change whose cool-down is over:
// the account's contact moves to the new address, probation starts (as
// after a new device: whoever moved the contact, the owner or someone
// holding the unlocked phone, gets lower limits and no top-ups until it
// ends), and it is audited and published. It is safe to call on any
// replica, any number of times: the store applies a change once. A change
// that is not due, or no longer pending, is returned unchanged with a nil
// error; a change whose new address was taken meanwhile fails (audited).
func (s *Service) ApplyContactChange(ctx context.Context, req Request, changeID string) (*store.ContactChange, error) {
	cc, err := s.Store.ContactChange(ctx, changeID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if cc.State != "pending" || cc.AppliesAt.After(now) {
		return cc, nil
	}
	if s.Probation > 0 {
		cc.ProbationUntil = now.Add(s.Probation)
	}
	cleanup, err := s.Store.ChangeContact(ctx, cc, now)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrContactChangeEarly), errors.Is(err, store.ErrContactChangeEnded):
		return cc, nil
	case errors.Is(err, store.ErrContactTaken):
		if err := s.Store.EndContactChange(ctx, cc, "failed", string(System), "", now); err != nil &&
			!errors.Is(err, store.ErrContactChangeEnded) {
			return nil, err
		}
		s.audit(ctx, req, System, auditContactFailed, cc.AccountID, "", map[string]string{"change": cc.ID, "reason": "contact_taken"})
		s.publish(ctx, req, cc.AccountID, EventContactCancelled, map[string]any{"by": System.Kind(), "reason": "contact_taken"})
		return cc, nil
	case errors.Is(err, store.ErrContactChanged):
		s.audit(ctx, req, System, auditContactFailed, cc.AccountID, "", map[string]string{"change": cc.ID, "reason": "contact_changed"})
		return cc, nil
	default:
		return nil, err
	}
	if cleanup != nil {
		s.log().Error("old contact index entry not removed", "account", cc.AccountID, "request_id", req.RequestID, "error", cleanup.Error())
	}
	s.audit(ctx, req, System, auditContactChanged, cc.AccountID, "", map[string]string{"change": cc.ID, "kind": cc.NewKind})
	s.publish(ctx, req, cc.AccountID, EventContactChanged, map[string]any{"contact": MaskContact(cc.NewContact), "contact_kind": cc.NewKind})
	return cc, nil
}

// ApplyDueContactChanges applies the changes whose cool-down ended (at
// most limit of them) and drops from the schedule those that are over.
// Every replica's worker calls it; the store makes each change happen
// once. It returns how many it applied.
func (s *Service) ApplyDueContactChanges(ctx context.Context, limit int64) (int, error) {
	ids, err := s.Store.DueContactChanges(ctx, s.now(), limit)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, id := range ids {
		cc, err := s.ApplyContactChange(ctx, Request{}, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return applied, err
		case cc.State == "pending":
			continue // not due after all (a clock apart): kept
		case cc.State == "applied":
			applied++
		}
		if err := s.Store.DropDueContactChange(ctx, id); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// SettleContactChange applies the account's pending contact change if its
// cool-down is over, so that a read of the account never shows a change
// that is due as still pending, whether or not a worker ran. It returns
// the account as it is after.
func (s *Service) SettleContactChange(ctx context.Context, req Request, acct *store.Account) (*store.Account, error) {
	if acct.ContactChangeID == "" || acct.ContactChangeAt.After(s.now()) {
		return acct, nil
	}
	if _, err := s.ApplyContactChange(ctx, req, acct.ContactChangeID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return s.Store.Account(ctx, acct.ID)
}

// PendingContactChange returns the account's contact change in its
// cool-down, or nil when there is none.
func (s *Service) PendingContactChange(ctx context.Context, acct *store.Account) (*store.ContactChange, error) {
	if acct.ContactChangeID == "" {
		return nil, nil
	}
	cc, err := s.Store.ContactChange(ctx, acct.ContactChangeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || cc.State != "pending" {
		return nil, err
	}
	return cc, nil
}

// CancelContactChange lets the old address cancel a contact change in its
// cool-down with the one-time cancel code of its warning ("<change
// id>.<secret>"); the code is spent.
//
// It returns a *RateLimitError (attempts per IP) or ErrContactCancelInvalid
// for any code that cancels nothing (malformed, unknown, wrong, used, or
// the change is over).
func (s *Service) CancelContactChange(ctx context.Context, req Request, code tokens.Secret) (*store.ContactChange, error) {
	if err := s.limit(ctx, LimitCancelTokenPerIP, req.IP); err != nil {
		return nil, err
	}
	raw := code.Reveal()
	id, _, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > maxCancelCode {
		return nil, ErrContactCancelInvalid
	}
	if _, err := store.BucketOfKind("cch", id); err != nil {
		return nil, ErrContactCancelInvalid
	}
	cc, err := s.Store.ContactChange(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, mark(ErrContactCancelInvalid, err)
	} else if err != nil {
		return nil, err
	}
	err = s.Store.EndContactChange(ctx, cc, "cancelled", string(Contact), s.contactCancelHash(code), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrContactChangeEnded) {
		return nil, mark(ErrContactCancelInvalid, err)
	} else if err != nil {
		return nil, err
	}
	s.audit(ctx, req, Customer, auditContactCancelled, cc.AccountID, "", map[string]string{"change": cc.ID, "by": Contact.Kind()})
	s.publish(ctx, req, cc.AccountID, EventContactCancelled, map[string]any{"by": Contact.Kind()})
	return cc, nil
}

// CancelOwnContactChange lets the session's device cancel the account's
// contact change in its cool-down. It returns ErrNoContactChange when
// there is none.
func (s *Service) CancelOwnContactChange(ctx context.Context, req Request, sess *store.Session) (*store.ContactChange, error) {
	acct, err := s.Store.Account(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	cc, err := s.PendingContactChange(ctx, acct)
	if err != nil {
		return nil, err
	}
	if cc == nil {
		return nil, ErrNoContactChange
	}
	err = s.Store.EndContactChange(ctx, cc, "cancelled", string(DeviceActor(sess.DeviceID)), "", s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrContactChangeEnded) {
		return nil, mark(ErrNoContactChange, err)
	} else if err != nil {
		return nil, err
	}
	s.audit(ctx, req, Customer, auditContactCancelled, cc.AccountID, sess.DeviceID, map[string]string{"change": cc.ID, "by": "device"})
	s.publish(ctx, req, cc.AccountID, EventContactCancelled, map[string]any{"by": "device"})
	return cc, nil
}
