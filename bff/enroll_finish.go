package bff

import (
	"context"
	"encoding/json"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/webauthn"
)

// enrollmentFinishStart begins the new device's passkey registration, once
// device says it may finish (approved, or the cool-down over).
func (s *Server) enrollmentFinishStart(c *fiber.Ctx) error {
	if err := s.requireNewDevices(c); err != nil {
		return err
	}
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	id, jkt, err := s.newDeviceCall(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	e, acct, err := s.devices.FinishStart(ctx, s.deviceRequest(c), id, jkt)
	if err != nil {
		return s.deviceProblem(err)
	}
	if err := s.ceremonyLimit(c, "ceremony-key", e.JKT); err != nil {
		return err
	}
	ceremonyID, err := store.NewCeremonyID(acct.ID)
	if err != nil {
		return err
	}
	// The user handle is the account id; nothing is excluded, so a synced
	// passkey of the account on this device may be replaced.
	user := &webauthn.User{ID: []byte(acct.ID), Name: acct.Contact, DisplayName: acct.Contact}
	opts, err := s.rp.BeginRegistration(ctx, ceremonyID, webauthn.Challenge{
		Purpose: webauthn.PurposeEnroll, JKT: e.JKT, AccountID: acct.ID, Subject: e.ID}, user)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"enrollment_id": e.ID, "finish_id": ceremonyID, "options": opts})
}

// enrollmentFinish registers the new device's passkey and makes the device
// the account's one device (device.Service.Finish: the old device is
// revoked in the same atomic step), then starts the new device's session.
func (s *Server) enrollmentFinish(c *fiber.Ctx) error {
	if err := s.requireNewDevices(c); err != nil {
		return err
	}
	var req struct {
		FinishID   string          `json:"finish_id"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.FinishID == "":
		return missing("finish_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	id, jkt, err := s.newDeviceCall(c)
	if err != nil {
		return err
	}
	register := func(ctx context.Context, e *store.Enrollment) (*gowebauthn.Credential, error) {
		cred, _, err := s.rp.FinishRegistration(ctx, req.FinishID, webauthn.Expect{
			Purpose: webauthn.PurposeEnroll, JKT: e.JKT, AccountID: e.AccountID, Subject: e.ID}, req.Credential)
		if err != nil {
			return nil, passkeyProblem(err)
		}
		return cred, nil
	}
	act, err := s.devices.Finish(c.UserContext(), s.deviceRequest(c), id, jkt, register)
	if err != nil {
		return s.deviceProblem(err)
	}
	is, err := s.startSession(c, act.Account, act.JKT)
	if err != nil {
		return err
	}
	return s.sendTokens(c, fiber.StatusCreated, s.tokenBody(is), is.refresh, is.session.AbsoluteExpiry)
}
