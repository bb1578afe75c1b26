package device

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// ofAccount reads the enrollment a bound-device (or operator) call names;
// it must be of accountID.
func (s *Service) ofAccount(ctx context.Context, id, accountID string) (*store.Enrollment, error) {
	e, err := s.Store.Enrollment(ctx, id)
	if err != nil {
		return nil, enrollmentErr(err)
	}
	if e.AccountID == "" || e.AccountID != accountID {
		return nil, ErrNotFound
	}
	return e, nil
}

// supersede cancels an enrollment whose replaced device is no longer the
// account's device, and returns ErrSuperseded (or the failure to cancel).
func (s *Service) supersede(ctx context.Context, e *store.Enrollment, now time.Time) error {
	err := s.Store.CancelEnrollment(ctx, e, string(Superseded), "", now)
	if err != nil && !errors.Is(err, store.ErrEnrollmentState) {
		return enrollmentErr(err)
	}
	return ErrSuperseded
}

// ApproveStart checks that the session's device may approve the
// enrollment now; the caller then begins the assertion (bound to this
// enrollment, the session and its key, answerable only by the device's own
// passkey). An enrollment whose replaced device is no longer the session's
// is cancelled.
//
// It returns ErrNotFound, a *StateError (only pending_approval,
// pending_recovery and ready can be approved) or ErrSuperseded.
func (s *Service) ApproveStart(ctx context.Context, req Request, sess *store.Session, id string) (*store.Enrollment, error) {
	e, err := s.ofAccount(ctx, id, sess.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch st := StateOf(e, now); st {
	case PendingApproval, PendingRecovery, Ready:
	default:
		return nil, &StateError{State: st}
	}
	if e.Replaces != sess.DeviceID {
		return nil, s.supersede(ctx, e, now)
	}
	return e, nil
}

// Approve approves the enrollment for the session's device. verify checks
// the fresh user-verified assertion the caller began with ApproveStart
// (its challenge consumed, made by the session's device's own passkey for
// this enrollment, counter written back); it runs after the enrollment is
// read and before anything changes, and whatever it returns is returned
// unchanged. A session alone never approves.
//
// It returns ErrNotFound, verify's error, a *StateError, ErrSuperseded
// (the enrollment is then cancelled), ErrNotApprover (the device is no
// longer the account's active device) or ErrAccountFrozen.
func (s *Service) Approve(ctx context.Context, req Request, sess *store.Session, id string,
	verify func(ctx context.Context, e *store.Enrollment) error) (*store.Enrollment, error) {
	e, err := s.ofAccount(ctx, id, sess.AccountID)
	if err != nil {
		return nil, err
	}
	if err := verify(ctx, e); err != nil {
		return nil, err
	}
	now := s.now()
	err = s.Store.ApproveEnrollment(ctx, e, store.Approval{DeviceID: sess.DeviceID, By: string(DeviceActor(sess.DeviceID)),
		ExpiresAt: now.Add(s.EnrollmentTTL)}, now)
	if err != nil {
		return nil, enrollmentErr(err)
	}
	return s.committed(ctx, req, e, step{actor: Customer, audit: auditApproved, deviceID: sess.DeviceID,
		fields: map[string]string{"method": "passkey"}, event: EventApproved}, now)
}

// ApproveByOperator approves an enrollment after an identity check in a
// store. The operator names the account (which must be the enrollment's),
// themselves and the reason; all of it goes to the audit trail, and the
// contact is told afterwards (a notice that cannot be sent is logged: the
// approval stands). An operator may also approve an unverified enrollment.
//
// It returns ErrNotFound, a *StateError, ErrSuperseded or
// ErrAccountFrozen.
func (s *Service) ApproveByOperator(ctx context.Context, req Request, id, accountID, operator, reason string) (*store.Enrollment, error) {
	e, err := s.ofAccount(ctx, id, accountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	actor := OperatorActor(operator)
	err = s.Store.ApproveEnrollment(ctx, e, store.Approval{By: string(actor), ExpiresAt: now.Add(s.EnrollmentTTL)}, now)
	if err != nil {
		return nil, enrollmentErr(err)
	}
	e, err = s.committed(ctx, req, e, step{actor: actor, audit: auditApproved,
		fields: map[string]string{"method": "operator", "reason": reason}, event: EventApproved}, now)
	if err != nil {
		return nil, err
	}
	if acct, err := s.Store.Account(ctx, e.AccountID); err == nil {
		s.tellAfter(ctx, req, acct, text.M(text.NoticeOperatorApproved, "label", e.Label), map[string]string{"enrollment_id": e.ID})
	} else {
		s.log().Error("security notice not delivered", "account", e.AccountID, "request_id", req.RequestID, "error", err.Error())
	}
	return e, nil
}

// Cancel lets the session's device refuse a new device, including a
// recovery in its cool-down. Cancelling a cancelled enrollment again
// succeeds.
//
// It returns ErrNotFound or a *StateError (active or expired).
func (s *Service) Cancel(ctx context.Context, req Request, sess *store.Session, id string) (*store.Enrollment, error) {
	e, err := s.ofAccount(ctx, id, sess.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.Store.CancelEnrollment(ctx, e, string(DeviceActor(sess.DeviceID)), "", now); err != nil {
		return nil, enrollmentErr(err)
	}
	return s.committed(ctx, req, e, step{actor: Customer, audit: auditCancelled, deviceID: sess.DeviceID,
		fields: map[string]string{"by": DeviceActor(sess.DeviceID).Kind()}, event: EventCancelled}, now)
}

// maxCancelCode bounds the cancel code read from a request.
const maxCancelCode = 200

// CancelWithToken lets the contact cancel a recovery with the one-time
// cancel code of the warning it received ("<enrollment id>.<secret>").
//
// It returns a *RateLimitError (attempts per IP), ErrCancelInvalid for any
// code that cancels nothing (one answer: malformed, unknown, wrong), or a
// *StateError (active or expired).
func (s *Service) CancelWithToken(ctx context.Context, req Request, code tokens.Secret) (*store.Enrollment, error) {
	if err := s.limit(ctx, LimitCancelTokenPerIP, req.IP); err != nil {
		return nil, err
	}
	raw := code.Reveal()
	id, _, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > maxCancelCode {
		return nil, ErrCancelInvalid
	}
	if _, err := store.BucketOfKind("enr", id); err != nil {
		return nil, ErrCancelInvalid
	}
	e, err := s.Store.Enrollment(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.AccountID == "") {
		return nil, ErrCancelInvalid
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.Store.CancelEnrollment(ctx, e, string(Contact), s.cancelHash(code), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, mark(ErrCancelInvalid, err)
	} else if err != nil {
		return nil, enrollmentErr(err)
	}
	return s.committed(ctx, req, e, step{actor: Customer, audit: auditCancelled,
		fields: map[string]string{"by": Contact.Kind()}, event: EventCancelled}, now)
}
