package device

import (
	"context"
	"errors"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// Recover is the recovery without the old device: the contact's OTP and
// one unused recovery code, both right in this one call. In this order:
//
//  1. the attempt limits (per IP, per account) are spent;
//  2. both factors are checked, without spending anything but an OTP try
//     when wrong;
//  3. the contact is warned, with a one-time cancel code; if the warning
//     cannot be sent, nothing changes (no code spent, no cool-down);
//  4. in one atomic step both factors are checked again, the recovery code
//     is spent and the cool-down starts;
//  5. the step is audited and the bound device is told.
//
// It returns ErrNotFound, a *RateLimitError, ErrFactorsWrong (which factor
// was wrong is not said; a decoy always gets it), a *StateError (only
// unverified and pending_approval may recover) or ErrNoticeFailed.
func (s *Service) Recover(ctx context.Context, req Request, id, jkt string, otp, recoveryCode tokens.Secret) (*store.Enrollment, error) {
	e, err := s.ofNewDevice(ctx, req, id, jkt)
	if err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitRecoverPerIP, req.IP); err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitRecoverPerEnrollment, e.ID); err != nil {
		return nil, err
	}
	now := s.now()
	secret, err := tokens.RandomSecret(32)
	if err != nil {
		return nil, err
	}
	cancelCode := tokens.NewSecret([]byte(e.ID + "." + secret.Reveal()))
	r := store.Recovery{
		OTPHash:      s.OTPHash(e.ID, otp),
		CodeHash:     s.RecoveryCodeHash(recoveryCode),
		CancelHash:   s.cancelHash(cancelCode),
		CooldownEnds: now.Add(s.RecoveryCooldown),
	}
	r.ExpiresAt = r.CooldownEnds.Add(s.readyWindow())
	wrong := func(err error) error {
		if errors.Is(err, store.ErrFactorsWrong) {
			if e.AccountID != "" {
				s.audit(ctx, req, Customer, auditRecoveryFailed, e.AccountID, "", map[string]string{"enrollment": e.ID})
			}
			return mark(ErrFactorsWrong, err)
		}
		return enrollmentErr(err)
	}
	if err := s.Store.CheckRecovery(ctx, e, r, now); err != nil {
		return nil, wrong(err)
	}
	acct, err := s.Store.Account(ctx, e.AccountID)
	if err != nil {
		return nil, err
	}
	// The owner hears of it before it starts: if the warning cannot go
	// out, nothing changes.
	m := text.M(text.NoticeRecoveryStarted, "label", e.Label, "network", e.IP, "after", whenText(r.CooldownEnds),
		"cancel_code", cancelCode.Reveal())
	if s.CancelURL != "" {
		m = text.M(text.NoticeRecoveryStartedLink, "label", e.Label, "network", e.IP, "after", whenText(r.CooldownEnds),
			"cancel_code", cancelCode.Reveal(), "cancel_link", s.CancelURL+cancelCode.Reveal())
	}
	if err := s.tell(ctx, acct, notify.TypeSecurity, m, map[string]string{
		"enrollment_id": e.ID, "cancel_token": cancelCode.Reveal(), "cooldown_until": r.CooldownEnds.UTC().Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	if err := s.Store.StartRecovery(ctx, e, r, now); err != nil {
		return nil, wrong(err)
	}
	// (RFC 3339 has whole seconds: the stored cool-down, in ms, writes the
	// same.)
	return s.committed(ctx, req, e, step{actor: Customer, audit: auditRecoveryStarted, event: EventPending,
		fields: map[string]string{"cooldown_until": r.CooldownEnds.UTC().Format(time.RFC3339)}}, now)
}
