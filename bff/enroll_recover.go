package bff

import (
	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// enrollmentRecover is the recovery without the old device: the contact's
// OTP and one unused recovery code, both in this one request
// (device.Service.Recover: the owner is warned before anything changes).
func (s *Server) enrollmentRecover(c *fiber.Ctx) error {
	var req struct {
		OTP          string `json:"otp"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case !sixDigits.MatchString(req.OTP):
		return otpFormatProblem()
	case req.RecoveryCode == "":
		return missing("recovery_code")
	case len(req.RecoveryCode) > 32:
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.EnrollmentRecoveryCodeLong)).about("recovery_code")
	}
	id, jkt, err := s.newDeviceCall(c)
	if err != nil {
		return err
	}
	e, err := s.devices.Recover(c.UserContext(), s.deviceRequest(c), id, jkt,
		tokens.NewSecret([]byte(req.OTP)), tokens.NewSecret([]byte(req.RecoveryCode)))
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(newdevice.View(e, s.now()))
}

// enrollmentCancelWithToken lets the contact cancel a recovery with the
// one-time cancel code of the warning it received. Any failure is the
// same 404.
func (s *Server) enrollmentCancelWithToken(c *fiber.Ctx) error {
	token, err := cancelToken(c)
	if err != nil {
		return err
	}
	e, err := s.devices.CancelWithToken(c.UserContext(), s.deviceRequest(c), token)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(fiber.Map{"enrollment_id": e.ID, "state": newdevice.StateOf(e, s.now())})
}

// cancelToken reads the one-time cancel code of a warning's link (a
// recovery's or a contact change's): {"cancel_token": "..."}.
func cancelToken(c *fiber.Ctx) (tokens.Secret, error) {
	var req struct {
		CancelToken string `json:"cancel_token"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return tokens.Secret{}, err
	}
	if req.CancelToken == "" {
		return tokens.Secret{}, missing("cancel_token")
	}
	return tokens.NewSecret([]byte(req.CancelToken)), nil
}
