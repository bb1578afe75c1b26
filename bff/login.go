package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/webauthn"
)

const (
	codeNewDevice    = "new_device"
	codeDeviceLocked = "device_locked"
)

// loginStart begins a usernameless passkey login bound to this request's
// DPoP key.
func (s *Server) loginStart(c *fiber.Ctx) error {
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	if err := s.ceremonyLimit(c, "ceremony-key", proof.JKT); err != nil {
		return err
	}
	id, err := store.NewCeremonyID("")
	if err != nil {
		return err
	}
	opts, err := s.rp.BeginLogin(c.UserContext(), id, webauthn.Challenge{Purpose: webauthn.PurposeLogin, JKT: proof.JKT}, nil)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"login_id": id, "options": opts})
}

// owner is what the lookup of one assertion read: the account its user
// handle names and the account's credential records. Handlers use it after
// the ceremony instead of reading either again.
type owner struct {
	acct *store.Account
	recs []store.CredentialRecord
}

// lookup returns the LookupUser of one ceremony: the user handle is the
// account id; the account's credentials are the candidates. It fills o.
func (s *Server) lookup(o *owner) webauthn.LookupUser {
	return func(ctx context.Context, userHandle, credentialID []byte) (*webauthn.User, error) {
		acct, err := s.store.Account(ctx, string(userHandle))
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown account", webauthn.ErrRejected)
		} else if err != nil {
			return nil, err
		}
		recs, err := s.store.Credentials(ctx, acct.ID)
		if err != nil {
			return nil, err
		}
		o.acct, o.recs = acct, recs
		u := &webauthn.User{ID: []byte(acct.ID), Name: acct.Contact, DisplayName: acct.Contact}
		for _, r := range recs {
			u.Credentials = append(u.Credentials, r.Credential)
		}
		return u, nil
	}
}

// record is the stored record of a credential of the account.
func (o *owner) record(id []byte) (store.CredentialRecord, bool) {
	for _, r := range o.recs {
		if bytes.Equal(r.Credential.ID, id) {
			return r, true
		}
	}
	return store.CredentialRecord{}, false
}

// checkAssertion writes back the counter and flags of a validated
// assertion and applies the clone policy. A counter that did not increase
// on a device-bound credential locks the device: a copy of its key exists.
func (s *Server) checkAssertion(c *fiber.Ctx, a *webauthn.Assertion, o *owner) error {
	acct := o.acct
	rec, _ := o.record(a.Credential.ID)
	rec.Credential, rec.AccountID = *a.Credential, acct.ID
	regressed, err := s.store.RecordAssertion(c.UserContext(), rec)
	if err != nil {
		return err
	}
	if !regressed {
		return nil
	}
	// Synced passkeys live on several devices by design (only audited); a
	// device-bound one locks its device (device.ErrDeviceLocked: the
	// uniform passkey failure).
	err = s.devices.OnCounterRegression(c.UserContext(), s.deviceRequest(c), newdevice.Regression{
		AccountID: acct.ID, DeviceID: rec.DeviceID, CredentialKey: store.CredentialKey(a.Credential.ID),
		SignCount: a.Credential.Authenticator.SignCount, BackupEligible: a.Credential.Flags.BackupEligible,
	})
	return s.deviceProblem(err)
}

// loginFinish validates the assertion. A valid passkey proven with a key
// that is not the account's bound device key gets 403 new_device and
// never a session: the last login does not win. The answer carries the
// enrollment_id of the new device's request (pending_approval, its key
// fixed to this request's), which the bound device can approve.
// device_label (optional) names the new device in that request.
func (s *Server) loginFinish(c *fiber.Ctx) error {
	var req struct {
		LoginID     string          `json:"login_id"`
		Credential  json.RawMessage `json:"credential"`
		DeviceLabel string          `json:"device_label"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.LoginID == "":
		return missing("login_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	label, err := enrollLabel(req.DeviceLabel)
	if err != nil {
		return err
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var o owner
	a, err := s.rp.FinishLogin(ctx, req.LoginID, webauthn.Expect{Purpose: webauthn.PurposeLogin, JKT: proof.JKT}, req.Credential, s.lookup(&o))
	if err != nil {
		return passkeyProblem(err)
	}
	acct := o.acct
	if err := s.checkAssertion(c, a, &o); err != nil {
		return err
	}
	if acct.DeviceStatus == store.DeviceLocked {
		s.audit(c, "login.refused_locked", acct.ID, acct.DeviceID, nil)
		return problemText(fiber.StatusForbidden, codeDeviceLocked, text.M(text.DeviceLocked))
	}
	if proof.JKT != acct.DeviceJKT || acct.DeviceStatus != store.DeviceActive {
		// Still never a session for a new key; with new devices switched
		// off, not even an enrollment.
		if err := s.requireNewDevices(c); err != nil {
			s.audit(c, "login.new_device_refused", acct.ID, "", map[string]string{"jkt": proof.JKT})
			return err
		}
		s.audit(c, "login.new_device", acct.ID, "", map[string]string{"jkt": proof.JKT})
		e, err := s.devices.FromLogin(ctx, s.deviceRequest(c), acct, proof.JKT, label)
		if err != nil {
			return s.deviceProblem(err)
		}
		p := problemText(fiber.StatusForbidden, codeNewDevice, text.M(text.NewDeviceElsewhere))
		p.Extra = map[string]any{"enrollment_id": e.ID}
		return p
	}
	is, err := s.startSession(c, acct, proof.JKT)
	if err != nil {
		return err
	}
	return s.sendTokens(c, fiber.StatusOK, s.tokenBody(is), is.refresh, is.session.AbsoluteExpiry)
}
