package bff

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/webauthn"
)

// Problem codes of enrollments.
const (
	// codeEnrollmentState: the enrollment is not in a state that allows
	// the step (409); the problem's "state" member says which it is in.
	codeEnrollmentState = "enrollment_state"
	// codeRecoveryInvalid: the OTP or the recovery code is wrong, or the
	// OTP has expired or used up its tries (400, one uniform answer).
	codeRecoveryInvalid = "recovery_invalid"
)

// deviceProblems is the one table from the new-device flows' errors to
// what the client sees (the cases that need more than a status, a code
// and a message are in deviceProblem).
var deviceProblems = []struct {
	err        error
	status     int
	code       string
	msg        text.ID
	retryAfter string
}{
	{newdevice.ErrNotFound, fiber.StatusNotFound, codeNotFound, text.EnrollmentNotFound, ""},
	{newdevice.ErrNotApprover, fiber.StatusForbidden, codeForbidden, text.EnrollmentNotApprover, ""},
	{newdevice.ErrAccountFrozen, fiber.StatusForbidden, codeAccountFrozen, text.EnrollmentAccountFrozen, ""},
	{newdevice.ErrTooManyEnrollments, fiber.StatusTooManyRequests, codeRateLimited, text.EnrollmentTooMany, "60"},
	{newdevice.ErrOTPWrong, fiber.StatusBadRequest, codeOTPInvalid, text.OTPInvalid, ""},
	{newdevice.ErrFactorsWrong, fiber.StatusBadRequest, codeRecoveryInvalid, text.RecoveryInvalid, ""},
	{newdevice.ErrCancelInvalid, fiber.StatusNotFound, codeNotFound, text.EnrollmentCancelInvalid, ""},
	{newdevice.ErrContactCancelInvalid, fiber.StatusNotFound, codeNotFound, text.ContactCancelInvalid, ""},
	{newdevice.ErrNoContactChange, fiber.StatusNotFound, codeNotFound, text.ContactChangeNone, ""},
	{newdevice.ErrNoticeFailed, fiber.StatusServiceUnavailable, codeUnavailable, text.EnrollmentNoticeFailed, "5"},
	{newdevice.ErrSameContact, fiber.StatusBadRequest, codeInvalidContact, text.ContactChangeSame, ""},
	{newdevice.ErrContactTaken, fiber.StatusConflict, codeContactTaken, text.ContactTaken, ""},
	{newdevice.ErrContactChanged, fiber.StatusConflict, codeContactTaken, text.ContactChangeChanged, ""},
}

// deviceProblem maps an error of a new-device flow to its problem;
// anything else passes through (503 or 500).
func (s *Server) deviceProblem(err error) error {
	var (
		p  *Problem
		se *newdevice.StateError
		re *newdevice.RateLimitError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return err // already answered (a ceremony the flow ran for the handler)
	case errors.As(err, &se):
		p := enrollmentStateProblem(se.State)
		p.Err = err
		return p
	case errors.As(err, &re):
		p := problemText(fiber.StatusTooManyRequests, codeRateLimited, text.M(text.RateLimited))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(int(math.Ceil(re.RetryAfter.Seconds())))}
		return p
	case errors.Is(err, newdevice.ErrSuperseded):
		p := problemText(fiber.StatusConflict, codeEnrollmentState, text.M(text.EnrollmentSuperseded))
		p.Extra = map[string]any{"state": newdevice.Cancelled}
		p.Err = err
		return p
	case errors.Is(err, newdevice.ErrStepUpRequired):
		return stepUpProblem(s.cfg.PaymentWindow)
	case errors.Is(err, newdevice.ErrDeviceLocked):
		return passkeyProblem(fmt.Errorf("%w: %w", webauthn.ErrRejected, err))
	case errors.Is(err, store.ErrUnconfirmed):
		// The step happened; reading it back did not. Never "nothing was
		// changed": the client reads the enrollment's state again.
		p := problemText(fiber.StatusServiceUnavailable, codeUnconfirmed, text.M(text.EnrollmentUnconfirmed))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "1"}
		p.Err = err
		return p
	}
	for _, d := range deviceProblems {
		if errors.Is(err, d.err) {
			p := problemText(d.status, d.code, text.M(d.msg))
			if d.retryAfter != "" {
				p.Headers = map[string]string{fiber.HeaderRetryAfter: d.retryAfter}
			}
			p.Err = err
			return p
		}
	}
	return err
}

// enrollmentStateMessages are the details of the states that have their
// own; any other state gets text.EnrollmentStateIs.
var enrollmentStateMessages = map[newdevice.State]text.ID{
	newdevice.Unverified:      text.EnrollmentStateUnverified,
	newdevice.PendingApproval: text.EnrollmentStatePendingApprove,
	newdevice.PendingRecovery: text.EnrollmentStatePendingRecover,
	newdevice.Ready:           text.EnrollmentStateReady,
	newdevice.Approved:        text.EnrollmentStateApproved,
	newdevice.Active:          text.EnrollmentStateActive,
	newdevice.Cancelled:       text.EnrollmentStateCancelled,
	newdevice.Expired:         text.EnrollmentStateExpired,
}

// enrollmentStateProblem is the 409 of a step the state does not allow;
// the "state" member says which state the enrollment is in.
func enrollmentStateProblem(state newdevice.State) *Problem {
	m := text.M(text.EnrollmentStateIs, "state", strings.ReplaceAll(string(state), "_", " "))
	if id, ok := enrollmentStateMessages[state]; ok {
		m = text.M(id)
	}
	p := problemText(fiber.StatusConflict, codeEnrollmentState, m)
	p.Extra = map[string]any{"state": state}
	return p
}

// otpFormatProblem answers an "otp" member that is not 6 digits.
func otpFormatProblem() *Problem {
	return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.OTPFormat)).about("otp")
}
