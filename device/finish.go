package device

import (
	"context"
	"fmt"
	"strconv"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// FinishStart checks that the new device may finish now (approved, or its
// recovery's cool-down over, and the replaced device still the account's);
// the caller then begins the passkey registration with the returned
// account (its id is the user handle) and the enrollment's key.
//
// It returns ErrNotFound, a *StateError (also for a decoy), ErrSuperseded
// (the enrollment is then cancelled) or ErrAccountFrozen.
func (s *Service) FinishStart(ctx context.Context, req Request, id, jkt string) (*store.Enrollment, *store.Account, error) {
	e, err := s.ofNewDevice(ctx, req, id, jkt)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if st := StateOf(e, now); e.AccountID == "" || (st != Approved && st != Ready) {
		return nil, nil, &StateError{State: st}
	}
	acct, err := s.Store.Account(ctx, e.AccountID)
	if err != nil {
		return nil, nil, err
	}
	if acct.DeviceID != e.Replaces {
		return nil, nil, s.supersede(ctx, e, now)
	}
	if acct.Status == store.AccountFrozen {
		return nil, nil, ErrAccountFrozen
	}
	return e, acct, nil
}

// Activated is what Finish made: the account as it now is (its one device
// is the new one) and the new device's id and key.
type Activated struct {
	Account        *store.Account
	Enrollment     *store.Enrollment
	DeviceID       string
	JKT            string
	ProbationUntil time.Time
}

// Finish registers the new device's passkey and makes the device the
// account's one device. register runs the registration ceremony the
// caller began with FinishStart and returns the verified credential; it
// runs after the enrollment is read (and proven with its key) and before
// anything changes, and whatever it returns is returned unchanged. Then,
// in one atomic step, the old device's passkey and sessions go, the new
// device and passkey come, and the probation window begins; then the old
// device is told (device.revoked), the steps are audited, and the contact
// is told (a notice that cannot be sent is logged: the change stands).
// The caller starts the new device's session.
//
// It returns ErrNotFound, register's error, a *StateError (also for a
// decoy, and for a recovery still in its cool-down), ErrSuperseded or
// ErrAccountFrozen.
func (s *Service) Finish(ctx context.Context, req Request, id, jkt string,
	register func(ctx context.Context, e *store.Enrollment) (*gowebauthn.Credential, error)) (*Activated, error) {
	e, err := s.ofNewDevice(ctx, req, id, jkt)
	if err != nil {
		return nil, err
	}
	if e.AccountID == "" {
		return nil, &StateError{State: StateOf(e, s.now())}
	}
	cred, err := register(ctx, e)
	if err != nil {
		return nil, err
	}
	now := s.now()
	b, err := store.BucketOf(e.AccountID)
	if err != nil {
		return nil, fmt.Errorf("activating an enrollment: %w", err)
	}
	deviceID, err := store.NewID("dev", b)
	if err != nil {
		return nil, err
	}
	probation := now.Add(s.Probation)
	err = s.Store.ActivateEnrollment(ctx, e, store.Activation{
		Device: store.Device{ID: deviceID, AccountID: e.AccountID, JKT: e.JKT, Label: e.Label,
			CredentialID: store.CredentialKey(cred.ID), CreatedAt: now},
		Credential:     store.CredentialRecord{Credential: *cred, AccountID: e.AccountID, DeviceID: deviceID, CreatedAt: now},
		ProbationUntil: probation,
	}, now)
	if err != nil {
		return nil, enrollmentErr(err)
	}
	// The device changed: audit and tell the old device first, from what
	// is known already; a failed read of the account after it is answered
	// as not confirmed, never as "nothing was changed".
	s.audit(ctx, req, Customer, auditDeviceRevoked, e.AccountID, e.Replaces, map[string]string{"reason": "replaced", "enrollment": e.ID, "replaced_by": deviceID})
	s.audit(ctx, req, Customer, auditActivated, e.AccountID, deviceID, map[string]string{"enrollment": e.ID, "origin": e.Origin,
		"approved_by": e.ApprovedBy, "replaces": e.Replaces, "probation_until": probation.UTC().Format(time.RFC3339),
		"backup_eligible": strconv.FormatBool(cred.Flags.BackupEligible)})
	s.publish(ctx, req, e.AccountID, EventDeviceRevoked, map[string]any{"device_id": e.Replaces, "replaced_by": deviceID, "enrollment_id": e.ID})
	acct, err := s.Store.Account(ctx, e.AccountID)
	if err != nil {
		return nil, fmt.Errorf("reading the account after activation: %w: %w", store.ErrUnconfirmed, err)
	}
	s.tellAfter(ctx, req, acct, text.M(text.NoticeDeviceReplaced, "label", e.Label, "until", whenText(probation)),
		map[string]string{"enrollment_id": e.ID})
	return &Activated{Account: acct, Enrollment: e, DeviceID: deviceID, JKT: e.JKT, ProbationUntil: probation}, nil
}
