package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/webauthn"
)

const (
	codeNewDevice    = "new_device"
	codeDeviceLocked = "device_locked"
)

// loginStart begins a usernameless passkey login bound to this request's
// DPoP key, in one round trip: the device key's limit (ceremony-key,
// 10/min), the address's ceiling (ceremony-ip, 3000/min), the proof's jti
// and the challenge are one step in the slot of the address's bucket
// (store.BeginLogin). So the key's limit counts per key and address, and
// the jti is remembered per address: a start proof replayed from another
// address is not recognised. Neither matters: device keys cost nothing to
// make (the address's ceiling is what bounds a client with many), and a
// replayed start proof can only begin one more ceremony bound to the same
// key, which only that key's holder can finish, counted by that address's
// limits. Login starts keep their own ceiling (store's loginlim:, not
// bff's rl:ceremony-ip, which the other ceremonies share).
func (s *Server) loginStart(c *fiber.Ctx) error {
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	var claim deferredClaim
	proof, err := s.proveDPoPWith(c, "", &claim)
	if err != nil {
		return err
	}
	ip := s.clientIP(c)
	id, err := store.NewLoginID(ip)
	if err != nil {
		return err
	}
	var wait time.Duration
	put := func(ctx context.Context, id string, ch *webauthn.Challenge, ttl time.Duration) error {
		var err error
		wait, err = s.store.BeginLogin(ctx, store.LoginStart{ID: id, IP: ip,
			KeyLimit:  store.Rate{N: limitCeremonyPerKey.Rate, Per: limitCeremonyPerKey.Period},
			IPLimit:   store.Rate{N: limitCeremonyPerIP.Rate, Per: limitCeremonyPerIP.Period},
			Challenge: ch, TTL: ttl, JKT: proof.JKT, JTI: claim.jti, JTITTL: claim.ttl, Now: s.now()})
		return err
	}
	opts, err := s.rp.BeginLoginWith(c.UserContext(), id, webauthn.Challenge{Purpose: webauthn.PurposeLogin, JKT: proof.JKT}, nil, put)
	switch {
	case errors.Is(err, store.ErrReplay):
		return authProblemText(codeInvalidDPoP, text.M(text.DPoPReplayed), tokens.ErrDPoPReplay)
	case errors.Is(err, store.ErrKeyRateLimited):
		return s.limited("ceremony-key", wait)
	case errors.Is(err, store.ErrRateLimited):
		return s.limited("ceremony-ip", wait)
	case err != nil:
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
		return o.user(), nil
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

// takeLogin is the login's first round trip (store.ReadLogin): the
// finishing proof's jti claimed and the challenge taken, with the account
// the user handle names and its passkeys. The lookup it returns uses what
// was read, and fills o.
func (s *Server) takeLogin(o *owner, proof *tokens.DPoPProof, claim *deferredClaim) webauthn.TakeAndLookup {
	return func(ctx context.Context, id string, userHandle []byte) (*webauthn.Challenge, webauthn.LookupUser, error) {
		st, err := s.store.ReadLogin(ctx, store.LoginRead{CeremonyID: id, JKT: proof.JKT, JTI: claim.jti, JTITTL: claim.ttl,
			AccountID: string(userHandle)})
		if err != nil {
			return nil, nil, err
		}
		if st.Challenge == nil {
			return nil, nil, webauthn.ErrChallengeNotFound
		}
		lookup := func(_ context.Context, handle, _ []byte) (*webauthn.User, error) {
			if st.Account == nil || st.Account.ID != string(handle) {
				return nil, fmt.Errorf("%w: unknown account", webauthn.ErrRejected)
			}
			o.acct, o.recs = st.Account, st.Credentials
			return o.user(), nil
		}
		return st.Challenge, lookup, nil
	}
}

// user is the account as go-webauthn sees it.
func (o *owner) user() *webauthn.User {
	u := &webauthn.User{ID: []byte(o.acct.ID), Name: o.acct.Contact, DisplayName: o.acct.Contact}
	for _, r := range o.recs {
		u.Credentials = append(u.Credentials, r.Credential)
	}
	return u
}

// asserted is the stored record of the asserted credential with the
// assertion's new counter and flags.
func (o *owner) asserted(a *webauthn.Assertion) store.CredentialRecord {
	rec, _ := o.record(a.Credential.ID)
	rec.Credential, rec.AccountID = *a.Credential, o.acct.ID
	return rec
}

// checkAssertion writes back the counter and flags of a validated
// assertion and applies the clone policy (onRegression).
func (s *Server) checkAssertion(c *fiber.Ctx, a *webauthn.Assertion, o *owner) error {
	rec := o.asserted(a)
	regressed, err := s.store.RecordAssertion(c.UserContext(), rec)
	if err != nil {
		return err
	}
	return s.onRegression(c, a, rec, regressed)
}

// onRegression is the clone policy: a counter that did not increase on a
// device-bound credential locks the device: a copy of its key exists.
func (s *Server) onRegression(c *fiber.Ctx, a *webauthn.Assertion, rec store.CredentialRecord, regressed bool) error {
	if !regressed {
		return nil
	}
	// Synced passkeys live on several devices by design (only audited); a
	// device-bound one locks its device (device.ErrDeviceLocked: the
	// uniform passkey failure).
	err := s.devices.OnCounterRegression(c.UserContext(), s.deviceRequest(c), newdevice.Regression{
		AccountID: rec.AccountID, DeviceID: rec.DeviceID, CredentialKey: store.CredentialKey(a.Credential.ID),
		SignCount: a.Credential.Authenticator.SignCount, BackupEligible: a.Credential.Flags.BackupEligible,
	})
	return s.deviceProblem(err)
}

// loginSession stores the session of a login on the bound device in one
// step with the assertion's write-back (store.LoginSession). A regressed
// counter writes nothing: the clone policy decides, and a synced passkey
// (only audited) gets its session after all.
func (s *Server) loginSession(c *fiber.Ctx, a *webauthn.Assertion, o *owner) func(store.Session, string, time.Time) error {
	return func(sess store.Session, refreshHash string, now time.Time) error {
		ctx := c.UserContext()
		rec := o.asserted(a)
		regressed, err := s.store.LoginSession(ctx, rec, sess, refreshHash, s.cfg.SessionIdle, now)
		if errors.Is(err, store.ErrLoginChanged) {
			// Revoked, locked or replaced since the read: the uniform failure.
			return passkeyProblem(fmt.Errorf("%w: %w", webauthn.ErrRejected, err))
		} else if err != nil {
			return err
		}
		if !regressed {
			return nil
		}
		if err := s.onRegression(c, a, rec, true); err != nil {
			return err
		}
		return s.store.CreateSession(ctx, sess, refreshHash, s.cfg.SessionIdle, now)
	}
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
	var claim deferredClaim
	proof, err := s.proveDPoPWith(c, "", &claim)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var o owner
	a, err := s.rp.FinishLoginTaking(ctx, req.LoginID, webauthn.Expect{Purpose: webauthn.PurposeLogin, JKT: proof.JKT}, req.Credential,
		s.takeLogin(&o, proof, &claim))
	if errors.Is(err, store.ErrReplay) {
		return authProblemText(codeInvalidDPoP, text.M(text.DPoPReplayed), tokens.ErrDPoPReplay)
	} else if err != nil {
		return passkeyProblem(err)
	}
	acct := o.acct
	if proof.JKT == acct.DeviceJKT && acct.DeviceStatus == store.DeviceActive {
		// The bound device: the write-back and the session in one step.
		is, err := s.startSessionWith(c, acct, proof.JKT, s.loginSession(c, a, &o))
		if err != nil {
			return err
		}
		return s.sendTokens(c, fiber.StatusOK, s.tokenBody(is), is.refresh, is.session.AbsoluteExpiry)
	}
	if err := s.checkAssertion(c, a, &o); err != nil {
		return err
	}
	if acct.DeviceStatus == store.DeviceLocked {
		s.audit(c, "login.refused_locked", acct.ID, acct.DeviceID, nil)
		return problemText(fiber.StatusForbidden, codeDeviceLocked, text.M(text.DeviceLocked))
	}
	// Another key (or a revoked device): still never a session for it;
	// with new devices switched off, not even an enrollment.
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
