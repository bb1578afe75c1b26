package bff

import (
	"time"

	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// contactChangeStart begins changing the account's contact: it needs a
// recent user-verified assertion on this session (RFC 9470 step-up) and
// sends an OTP to the new address (device.Service.ChangeContactStart).
func (s *Server) contactChangeStart(c *fiber.Ctx) error {
	var req struct {
		Contact string `json:"contact"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	contact, kind, ok := normalizeContact(req.Contact)
	if !ok {
		return problemText(fiber.StatusBadRequest, codeInvalidContact, text.M(text.InvalidContact)).about("contact")
	}
	sess, _ := sessionOf(c)
	cc, err := s.devices.ChangeContactStart(c.UserContext(), s.deviceRequest(c), sess, contact, kind)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"contact_change_id": cc.ID, "expires_in": int(otpTTL.Seconds())})
}

// contactChangeVerify checks the new address's OTP on the session that
// began the change, warns the old address with a cancel link, and starts
// the cool-down (device.Service.ChangeContactVerify): 202, the change is
// pending until applies_at.
func (s *Server) contactChangeVerify(c *fiber.Ctx) error {
	var req struct {
		ContactChangeID string `json:"contact_change_id"`
		OTP             string `json:"otp"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if req.ContactChangeID == "" {
		return missing("contact_change_id")
	}
	if !sixDigits.MatchString(req.OTP) {
		return otpFormatProblem()
	}
	sess, _ := sessionOf(c)
	cc, err := s.devices.ChangeContactVerify(c.UserContext(), s.deviceRequest(c), sess, req.ContactChangeID, tokens.NewSecret([]byte(req.OTP)))
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(contactChangeView(cc))
}

// contactChangeView is a contact change as the account's device sees it
// (null when there is none): the new address, partly masked as in the
// warning, and when it applies. Once applied, the account's contact is
// the new one.
func contactChangeView(cc *store.ContactChange) any {
	if cc == nil {
		return nil
	}
	v := fiber.Map{"contact_change_id": cc.ID, "state": cc.State, "contact": newdevice.MaskContact(cc.NewContact),
		"contact_kind": cc.NewKind, "applies_at": nil}
	if !cc.AppliesAt.IsZero() {
		v["applies_at"] = cc.AppliesAt.UTC().Format(time.RFC3339)
	}
	return v
}

// contactChangeCancelOwn lets the account's device cancel its contact
// change during the cool-down.
func (s *Server) contactChangeCancelOwn(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	cc, err := s.devices.CancelOwnContactChange(c.UserContext(), s.deviceRequest(c), sess)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(contactChangeView(cc))
}

// contactChangeCancel lets the old address cancel a contact change in its
// cool-down with the one-time cancel code of its warning (the PWA's page
// behind the link posts it). Any failure is the same 404.
func (s *Server) contactChangeCancel(c *fiber.Ctx) error {
	token, err := cancelToken(c)
	if err != nil {
		return err
	}
	cc, err := s.devices.CancelContactChange(c.UserContext(), s.deviceRequest(c), token)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(fiber.Map{"contact_change_id": cc.ID, "state": cc.State})
}
