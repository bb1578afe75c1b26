package bff

import (
	"github.com/gofiber/fiber/v2"

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
// began the change, warns the old address, and then moves the contact
// (device.Service.ChangeContactVerify).
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
	return c.JSON(fiber.Map{"contact": cc.NewContact, "contact_kind": cc.NewKind})
}
