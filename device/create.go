package device

import (
	"context"
	"errors"
	"fmt"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// ofNewDevice reads the enrollment a new-device call names and checks
// that the call is proven with the enrollment's fixed key (jkt, the
// thumbprint of the request's verified DPoP proof). Another key gets the
// same answer as an unknown id, and is audited.
func (s *Service) ofNewDevice(ctx context.Context, req Request, id, jkt string) (*store.Enrollment, error) {
	e, err := s.Store.Enrollment(ctx, id)
	if err != nil {
		return nil, enrollmentErr(err)
	}
	if jkt != e.JKT {
		if e.AccountID != "" {
			s.audit(ctx, req, Customer, auditWrongKey, e.AccountID, "", map[string]string{"enrollment": e.ID, "jkt": jkt})
		}
		return nil, ErrNotFound
	}
	return e, nil
}

// Status is the enrollment as its new device follows it. It returns
// ErrNotFound (also for another key).
func (s *Service) Status(ctx context.Context, req Request, id, jkt string) (*store.Enrollment, error) {
	return s.ofNewDevice(ctx, req, id, jkt)
}

// FromLogin makes the enrollment a valid passkey proven with an unknown
// device key gets (login's new_device answer): pending_approval, with that
// key fixed, shown to the bound device at once. The same key logging in
// again gets its live enrollment back (spending no limit).
//
// It returns a *RateLimitError (per IP, per account) or
// ErrTooManyEnrollments.
func (s *Service) FromLogin(ctx context.Context, req Request, acct *store.Account, jkt, label string) (*store.Enrollment, error) {
	now := s.now()
	live, err := s.Store.Enrollments(ctx, acct.ID, now)
	if err != nil {
		return nil, err
	}
	prompts := 0
	for i := range live {
		if live[i].JKT == jkt && live[i].Replaces == acct.DeviceID {
			return &live[i], nil
		}
		if live[i].Origin == string(ByPasskey) {
			prompts++
		}
	}
	// Whoever holds the passkey (a thief included) may put at most
	// MaxLoginPrompts prompts on the bound device at once, so the other
	// visible places stay free for the owner's own new device by contact
	// (issue 13: five prompts of a thief's wording blocked it).
	if prompts >= MaxLoginPrompts {
		return nil, ErrTooManyEnrollments
	}
	if err := s.limit(ctx, LimitEnrollPerIP, req.IP); err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitEnrollPerAccount, acct.ID); err != nil {
		return nil, err
	}
	b, err := store.BucketOf(acct.ID)
	if err != nil {
		return nil, fmt.Errorf("creating an enrollment: %w", err)
	}
	id, err := store.NewEnrollmentID(b)
	if err != nil {
		return nil, err
	}
	e := &store.Enrollment{ID: id, AccountID: acct.ID, JKT: jkt, Label: label, IP: coarseIP(req.IP),
		Origin: string(ByPasskey), State: string(PendingApproval), Replaces: acct.DeviceID,
		LimitSubject: s.ContactHash(acct.Contact), CreatedAt: now, ExpiresAt: now.Add(s.EnrollmentTTL)}
	if err := s.Store.CreateEnrollment(ctx, *e, s.maxLive(), now); err != nil {
		return nil, enrollmentErr(err)
	}
	s.audit(ctx, req, Customer, auditCreated, acct.ID, "", map[string]string{"enrollment": id, "origin": e.Origin, "jkt": jkt, "label": label})
	s.publish(ctx, req, acct.ID, EventPending, View(e, now))
	return e, nil
}

// Create starts an enrollment from a new device that has no passkey of the
// account, by the account's contact (normalised by the caller); jkt is the
// request's proven key, fixed from now on. The result is the same whether
// or not the contact has an account: without one it is a decoy, and no
// message goes out. With one, an OTP goes to the account's verified
// contact, the only address it ever goes to.
//
// It returns a *RateLimitError (per IP, per contact), ErrNoticeFailed
// (the OTP could not be sent) or ErrTooManyEnrollments.
func (s *Service) Create(ctx context.Context, req Request, contact, label, jkt string) (*store.Enrollment, error) {
	hash := s.ContactHash(contact)
	if err := s.limit(ctx, LimitEnrollPerIP, req.IP); err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitEnrollPerContact, hash); err != nil {
		return nil, err
	}
	acct, err := s.accountOfContact(ctx, contact, hash)
	if err != nil {
		return nil, err
	}
	now := s.now()
	otp, err := NewOTP()
	if err != nil {
		return nil, err
	}
	e := store.Enrollment{JKT: jkt, Label: label, IP: coarseIP(req.IP), Origin: string(ByContact),
		State: string(Unverified), LimitSubject: hash, CreatedAt: now, ExpiresAt: now.Add(s.EnrollmentTTL),
		OTPTries: s.OTPTries, OTPExpires: now.Add(s.OTPTTL)}
	var b store.Bucket
	if acct != nil {
		if b, err = store.BucketOf(acct.ID); err != nil {
			return nil, fmt.Errorf("creating an enrollment: %w", err)
		}
		e.AccountID, e.Replaces = acct.ID, acct.DeviceID
	} else if b, err = store.RandomBucket(); err != nil {
		return nil, err
	}
	if e.ID, err = store.NewEnrollmentID(b); err != nil {
		return nil, err
	}
	// A decoy (no account) keeps the hash of a code nobody is sent, and its
	// script never accepts any code: it only makes both cases look alike.
	e.OTPHash = s.OTPHash(e.ID, otp)
	if err := s.Store.CreateEnrollment(ctx, e, s.maxLive(), now); err != nil {
		return nil, enrollmentErr(err)
	}
	if acct == nil {
		if err := s.decoy(ctx); err != nil {
			return nil, err
		}
		s.audit(ctx, req, Customer, auditUnknownContact, "", "", map[string]string{"enrollment": e.ID})
		return &e, nil
	}
	m := text.M(text.NoticeEnrollmentOTP, "code", otp.Reveal(), "label", label)
	if err := s.tell(ctx, acct, messageEnrollmentOTP, m, map[string]string{"enrollment_id": e.ID}); err != nil {
		return nil, err
	}
	s.audit(ctx, req, Customer, auditCreated, acct.ID, "", map[string]string{"enrollment": e.ID, "origin": e.Origin, "jkt": jkt, "label": label})
	return &e, nil
}

// accountOfContact is the account whose verified contact is contact, or
// nil when there is none (a stale index entry counts as none).
func (s *Service) accountOfContact(ctx context.Context, contact, hash string) (*store.Account, error) {
	acctID, err := s.Store.AccountByContact(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	acct, err := s.Store.Account(ctx, acctID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && acct.Contact != contact) {
		return nil, nil // the address is no account's contact
	}
	return acct, err
}

// SendOTP sends a (new) OTP to the account's verified contact: for a
// recovery of an enrollment made by login, or when the first one was lost.
// Nothing is ever sent anywhere else, and a decoy answers alike.
//
// It returns ErrNotFound, a *RateLimitError (per IP, per contact), a
// *StateError (only unverified and pending_approval take an OTP) or
// ErrNoticeFailed.
func (s *Service) SendOTP(ctx context.Context, req Request, id, jkt string) (*store.Enrollment, error) {
	e, err := s.ofNewDevice(ctx, req, id, jkt)
	if err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitEnrollOTPPerIP, req.IP); err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitEnrollPerContact, e.LimitSubject); err != nil {
		return nil, err
	}
	now := s.now()
	otp, err := NewOTP()
	if err != nil {
		return nil, err
	}
	if err := s.Store.SetEnrollmentOTP(ctx, e, s.OTPHash(e.ID, otp), s.OTPTries, now.Add(s.OTPTTL), now); err != nil {
		return nil, enrollmentErr(err)
	}
	if e.AccountID == "" {
		return e, s.decoy(ctx)
	}
	acct, err := s.Store.Account(ctx, e.AccountID)
	if err != nil {
		return nil, err
	}
	m := text.M(text.NoticeRecoveryOTP, "code", otp.Reveal(), "label", e.Label)
	if err := s.tell(ctx, acct, messageEnrollmentOTP, m, map[string]string{"enrollment_id": e.ID}); err != nil {
		return nil, err
	}
	s.audit(ctx, req, Customer, auditOTPSent, e.AccountID, "", map[string]string{"enrollment": e.ID})
	return e, nil
}

// Verify checks the contact's OTP of an enrollment made by contact; it then
// waits for the bound device's approval, which is when the bound device
// first sees it.
//
// It returns ErrNotFound, a *RateLimitError (guesses per IP), ErrOTPWrong
// (also, always, for a decoy), a *StateError or ErrTooManyEnrollments.
func (s *Service) Verify(ctx context.Context, req Request, id, jkt string, otp tokens.Secret) (*store.Enrollment, error) {
	e, err := s.ofNewDevice(ctx, req, id, jkt)
	if err != nil {
		return nil, err
	}
	if err := s.limit(ctx, LimitVerifyPerIP, req.IP); err != nil {
		return nil, err
	}
	now := s.now()
	err = s.Store.VerifyEnrollment(ctx, e, s.OTPHash(e.ID, otp), s.maxLive(), now)
	if errors.Is(err, store.ErrFactorsWrong) {
		return nil, mark(ErrOTPWrong, err)
	} else if err != nil {
		return nil, enrollmentErr(err)
	}
	return s.committed(ctx, req, e, step{actor: Customer, audit: auditVerified, event: EventPending}, now)
}
