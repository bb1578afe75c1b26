package device

import (
	"context"
	"errors"

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
// began the change, then, in this order: warns the old address (if the
// warning cannot be sent, nothing changes), moves the contact, audits it
// and tells the account's clients.
//
// It returns a *RateLimitError (guesses per IP), ErrOTPWrong (also for a
// change that is unknown or not this session's), ErrContactChanged,
// ErrNoticeFailed or ErrContactTaken.
func (s *Service) ChangeContactVerify(ctx context.Context, req Request, sess *store.Session, changeID string, otp tokens.Secret) (*store.ContactChange, error) {
	if err := s.limit(ctx, LimitVerifyPerIP, req.IP); err != nil {
		return nil, err
	}
	cc, err := s.Store.ContactChange(ctx, changeID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cc.AccountID != sess.AccountID || cc.SessionID != sess.ID)) {
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
	// The old address is told before the change: if it cannot be, nothing
	// changes.
	m := text.M(text.NoticeContactChanging, "new_contact", MaskContact(cc.NewContact))
	if err := s.tell(ctx, acct, notify.TypeSecurity, m, map[string]string{"change": cc.ID}); err != nil {
		return nil, err
	}
	// Probation follows, as after a new device: whoever moved the
	// contact (the owner, or someone holding the unlocked phone) gets
	// lower limits and no top-ups until it ends.
	if s.Probation > 0 {
		cc.ProbationUntil = s.now().Add(s.Probation)
	}
	cleanup, err := s.Store.ChangeContact(ctx, cc)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrContactTaken):
		return nil, mark(ErrContactTaken, err)
	case errors.Is(err, store.ErrContactChanged), errors.Is(err, store.ErrNotVerified):
		return nil, mark(ErrContactChanged, err)
	default:
		return nil, err
	}
	if cleanup != nil {
		s.log().Error("old contact index entry not removed", "account", acct.ID, "request_id", req.RequestID, "error", cleanup.Error())
	}
	s.audit(ctx, req, Customer, auditContactChanged, acct.ID, sess.DeviceID, map[string]string{"change": cc.ID, "kind": cc.NewKind})
	s.publish(ctx, req, acct.ID, EventContactChanged, map[string]any{"contact": MaskContact(cc.NewContact), "contact_kind": cc.NewKind})
	return cc, nil
}
