package device

import (
	"context"
	"strconv"

	"github.com/paycode/paycode/store"
)

// Regression is a validated passkey assertion whose sign counter did not
// increase over the stored one.
type Regression struct {
	AccountID string
	DeviceID  string // the device the credential belongs to
	// CredentialKey is the credential id as stored (store.CredentialKey).
	CredentialKey string
	SignCount     uint32
	// BackupEligible: a synced passkey (BE=1), which lives on several
	// devices by design.
	BackupEligible bool
}

// OnCounterRegression applies the clone policy to a counter that did not
// increase. On a synced passkey it is only audited (the device is proven
// by its DPoP key instead). On a device-bound one a copy of the key
// exists: the device is locked, which already stops every session of it,
// its sessions are removed too, and the lock is audited.
//
// It returns nil for a synced passkey, ErrDeviceLocked once the device is
// locked, or the store's error (then the assertion must be refused all
// the same).
func (s *Service) OnCounterRegression(ctx context.Context, req Request, r Regression) error {
	fields := map[string]string{"credential": r.CredentialKey, "sign_count": strconv.FormatUint(uint64(r.SignCount), 10)}
	if r.BackupEligible {
		s.audit(ctx, req, Customer, auditCounterSynced, r.AccountID, r.DeviceID, fields)
		return nil
	}
	if _, err := s.Store.SetDeviceStatus(ctx, r.AccountID, r.DeviceID, store.DeviceLocked); err != nil {
		return err
	}
	if _, err := s.Store.RevokeSessions(ctx, r.AccountID); err != nil {
		return err
	}
	s.audit(ctx, req, Customer, auditDeviceLocked, r.AccountID, r.DeviceID, fields)
	return ErrDeviceLocked
}
