package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/go-redis/redis_rate/v10"
	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// A new device becomes the account's one device only through an
// enrollment. The flows, their order of steps and their invariants are
// package device's (device/doc.go); the handlers here decode and check the
// input, prove the DPoP key or the session, call device, and render the
// answer or the error (enroll_errors.go). The files: enroll.go (routes,
// shared), enroll_create.go (the new device asks), enroll_recover.go
// (recovery and its cancel code), enroll_approve.go (the bound device and
// the operator), enroll_finish.go (activation), contact.go (contact
// change).

// enrollmentRoutes registers the new-device resource (/v1/enrollments...)
// and the contact change.
func (s *Server) enrollmentRoutes(v1 fiber.Router) {
	// The new device: no session, every call proven with the enrollment's key.
	v1.Post("/enrollments", s.enrollmentCreate)
	v1.Post("/enrollments/cancel", s.enrollmentCancelWithToken)
	v1.Get("/enrollments/:enrollment_id", s.enrollmentStatus)
	v1.Post("/enrollments/:enrollment_id/otp", s.enrollmentSendOTP)
	v1.Post("/enrollments/:enrollment_id/verify", s.enrollmentVerify)
	v1.Post("/enrollments/:enrollment_id/recover", s.enrollmentRecover)
	v1.Post("/enrollments/:enrollment_id/finish/start", s.enrollmentFinishStart)
	v1.Post("/enrollments/:enrollment_id/finish", s.enrollmentFinish)

	// The bound device: a session, and for approval a fresh assertion.
	auth := s.requireSession
	v1.Get("/enrollments", auth, s.enrollmentList)
	v1.Post("/enrollments/:enrollment_id/approve/start", auth, s.enrollmentApproveStart)
	v1.Post("/enrollments/:enrollment_id/approve", auth, s.enrollmentApprove)
	v1.Post("/enrollments/:enrollment_id/cancel", auth, s.enrollmentCancel)
	v1.Post("/me/contact", auth, s.contactChangeStart)
	v1.Post("/me/contact/verify", auth, s.contactChangeVerify)
	v1.Post("/me/contact/cancel", auth, s.contactChangeCancelOwn)
	// The old address: its one-time cancel link, no session.
	v1.Post("/contact-changes/cancel", s.contactChangeCancel)
}

// enrollmentAdminRoutes registers the operator's enrollment calls on the
// admin listener (behind the admin token).
func (s *Server) enrollmentAdminRoutes(ops fiber.Router) {
	ops.Get("/accounts/:account_id/enrollments", s.operatorEnrollments)
	ops.Post("/enrollments/:enrollment_id/operator-approval", s.operatorApprove)
}

// newDevices builds the new-device flows on the server's store, notifier,
// clock, limits and configuration.
func (s *Server) newDevices() *newdevice.Service {
	return &newdevice.Service{
		Config: newdevice.Config{
			Secret:           s.cfg.Secret,
			EnrollmentTTL:    s.cfg.EnrollmentTTL,
			RecoveryCooldown: s.cfg.RecoveryCooldown,
			Probation:        s.cfg.Probation,
			StepUpWindow:     s.cfg.PaymentWindow,
			OTPTTL:           otpTTL,
			OTPTries:         otpTries,
			// The PWA's cancel page (web/static: #cancel=<code>).
			CancelURL:        s.cfg.PublicURL.String() + "/#cancel=",
			ContactCancelURL: s.cfg.PublicURL.String() + "/#contact-cancel=",
			ContactCooldown:  s.cfg.ContactCooldown,
		},
		Store:    s.store,
		Notifier: s.notifier,
		Limiter:  deviceLimiter{s},
		Now:      s.now,
		Log:      s.log,
		Audited:  func(typ string) { s.metrics.audit.WithLabelValues(typ).Inc() },
	}
}

// deviceLimiter counts device's limits in Redis, like Server.limit.
type deviceLimiter struct{ s *Server }

func (l deviceLimiter) Limit(ctx context.Context, lim newdevice.Limit, subject string) error {
	res, err := l.s.store.Allow(ctx, "rl:"+lim.Name, subject, redis_rate.Limit{Rate: lim.Rate, Burst: lim.Rate, Period: lim.Per})
	if err != nil {
		return err
	}
	if res.Allowed > 0 {
		return nil
	}
	l.s.metrics.limited.WithLabelValues(lim.Name).Inc()
	return &newdevice.RateLimitError{Limit: lim.Name, RetryAfter: res.RetryAfter}
}

// deviceRequest is what device records of the call (copied: Fiber reuses
// its memory).
func (s *Server) deviceRequest(c *fiber.Ctx) newdevice.Request {
	return newdevice.Request{IP: s.clientIP(c), RequestID: requestID(c)}
}

// decodeExactJSON is decodeJSON that also refuses members the call does
// not define, so that no client can believe a member such as "method" or
// "to" had an effect.
func decodeExactJSON(c *fiber.Ctx, v any) error {
	if err := decodeJSON(c, v); err != nil {
		return err
	}
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		p := problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.RequestUnknownMember)).about(unknownMember(err))
		p.Err = err
		return p
	}
	return nil
}

// unknownMember is the member encoding/json names in its error for a
// member DisallowUnknownFields refused ("" for any other error). It is
// the request's own member name, cut to a plain identifier so that
// nothing else of the body is echoed.
func unknownMember(err error) string {
	name, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return ""
	}
	name = strings.Trim(name, `"`)
	if !validMemberName.MatchString(name) {
		return ""
	}
	return name
}

var validMemberName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

func enrollmentNotFound() *Problem {
	return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.EnrollmentNotFound))
}

// enrollmentID reads the enrollment id of the path and checks its form.
func enrollmentID(c *fiber.Ctx) (string, error) {
	id := c.Params("enrollment_id")
	if _, err := store.BucketOfKind("enr", id); err != nil {
		return "", enrollmentNotFound()
	}
	return id, nil
}

// newDeviceCall reads what every call of a new device carries: the
// enrollment id of the path and the key its DPoP proof is signed with
// (device checks it is the enrollment's).
func (s *Server) newDeviceCall(c *fiber.Ctx) (id, jkt string, err error) {
	if id, err = enrollmentID(c); err != nil {
		return "", "", err
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return "", "", err
	}
	return id, proof.JKT, nil
}

// enrollLabel checks a new device's label; empty means "new device".
func enrollLabel(l string) (string, error) {
	if l == "" {
		return "new device", nil
	}
	if !validLabel(l) {
		return "", problemText(fiber.StatusBadRequest, codeInvalidLabel, text.M(text.InvalidDeviceLabel))
	}
	return l, nil
}

// enrollmentSummary is what /v1/me shows: the live enrollments the bound
// device may approve or cancel, and the end of the probation window (nil
// when there is none).
func (s *Server) enrollmentSummary(ctx context.Context, accountID string) ([]map[string]any, any, error) {
	views, until, err := s.devices.Summary(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	if until == nil {
		return views, nil, nil
	}
	return views, *until, nil
}

// enrollmentStatus lets the new device follow its enrollment.
func (s *Server) enrollmentStatus(c *fiber.Ctx) error {
	id, jkt, err := s.newDeviceCall(c)
	if err != nil {
		return err
	}
	e, err := s.devices.Status(c.UserContext(), s.deviceRequest(c), id, jkt)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(newdevice.View(e, s.now()))
}

// enrollmentList shows the bound device the enrollments it may approve or
// cancel.
func (s *Server) enrollmentList(c *fiber.Ctx) error {
	sess, _ := sessionOf(c)
	views, _, err := s.enrollmentSummary(c.UserContext(), sess.AccountID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"enrollments": views})
}
