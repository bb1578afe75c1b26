package bff

import (
	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// enrollmentCreate starts an enrollment from a new device that has no
// passkey of the account, by the account's contact. The answer is the same
// whether or not the contact has an account (device.Service.Create).
func (s *Server) enrollmentCreate(c *fiber.Ctx) error {
	if err := s.requireNewDevices(c); err != nil {
		return err
	}
	var req struct {
		Contact     string `json:"contact"`
		DeviceLabel string `json:"device_label"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	contact, _, ok := normalizeContact(req.Contact)
	if !ok {
		return problemText(fiber.StatusBadRequest, codeInvalidContact, text.M(text.InvalidContact)).about("contact")
	}
	label, err := enrollLabel(req.DeviceLabel)
	if err != nil {
		return err
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	e, err := s.devices.Create(c.UserContext(), s.deviceRequest(c), contact, label, proof.JKT)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"enrollment_id": e.ID, "state": newdevice.Unverified,
		"expires_in": int(s.cfg.EnrollmentTTL.Seconds())})
}

// enrollmentSendOTP sends a (new) OTP to the account's verified contact
// (device.Service.SendOTP); a decoy answers alike.
func (s *Server) enrollmentSendOTP(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	id, jkt, err := s.newDeviceCall(c)
	if err != nil {
		return err
	}
	e, err := s.devices.SendOTP(c.UserContext(), s.deviceRequest(c), id, jkt)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"enrollment_id": e.ID, "expires_in": int(otpTTL.Seconds())})
}

// enrollmentVerify checks the contact's OTP of an enrollment made by
// contact; it then waits for the bound device's approval.
func (s *Server) enrollmentVerify(c *fiber.Ctx) error {
	var req struct {
		OTP string `json:"otp"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if !sixDigits.MatchString(req.OTP) {
		return otpFormatProblem()
	}
	id, jkt, err := s.newDeviceCall(c)
	if err != nil {
		return err
	}
	e, err := s.devices.Verify(c.UserContext(), s.deviceRequest(c), id, jkt, tokens.NewSecret([]byte(req.OTP)))
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(newdevice.View(e, s.now()))
}
