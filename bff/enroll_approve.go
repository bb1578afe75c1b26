package bff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/webauthn"
)

// enrollmentApproveStart begins the assertion that approves a new device,
// once device says the session's device may approve it: only the
// credential of the session's device may answer, and the challenge is
// bound to this enrollment, session and key.
func (s *Server) enrollmentApproveStart(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	id, err := enrollmentID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	e, err := s.devices.ApproveStart(ctx, s.deviceRequest(c), sess, id)
	if err != nil {
		return s.deviceProblem(err)
	}
	if err := s.ceremonyLimit(c, "ceremony-account", sess.AccountID); err != nil {
		return err
	}
	recs, err := s.store.Credentials(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	allow := deviceCredentials(recs, sess.DeviceID)
	if len(allow) == 0 {
		m := text.M(text.SessionNoPasskey)
		p := authProblem(codeInvalidToken, m.Render(text.En), nil)
		p.Msg = &m
		return p
	}
	ceremonyID, err := store.NewCeremonyID(sess.AccountID)
	if err != nil {
		return err
	}
	opts, err := s.rp.BeginLogin(ctx, ceremonyID, webauthn.Challenge{Purpose: webauthn.PurposeApprove, JKT: sess.JKT,
		AccountID: sess.AccountID, SessionID: sess.ID, Subject: e.ID}, allow)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"enrollment_id": e.ID, "approval_id": ceremonyID, "options": opts, "enrollment": newdevice.View(e, s.now())})
}

// enrollmentApprove approves with the fresh user-verified assertion begun
// for this enrollment (device.Service.Approve). A session alone is not
// enough, and the body has no member that could name another method.
func (s *Server) enrollmentApprove(c *fiber.Ctx) error {
	var req struct {
		ApprovalID string          `json:"approval_id"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.ApprovalID == "":
		return missing("approval_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	sess, _ := sessionOf(c)
	id, err := enrollmentID(c)
	if err != nil {
		return err
	}
	// The assertion: its challenge consumed, made for this enrollment,
	// session and key, by the session's device's own passkey, with UV.
	verify := func(ctx context.Context, e *store.Enrollment) error {
		var o owner
		a, err := s.rp.FinishLogin(ctx, req.ApprovalID, webauthn.Expect{Purpose: webauthn.PurposeApprove, JKT: sess.JKT,
			AccountID: sess.AccountID, SessionID: sess.ID, Subject: e.ID}, req.Credential, s.lookup(&o))
		if err != nil {
			return passkeyProblem(err)
		}
		if string(a.User.ID) != sess.AccountID {
			return passkeyProblem(fmt.Errorf("%w: assertion for another account", webauthn.ErrRejected))
		}
		if rec, ok := o.record(a.Credential.ID); !ok || rec.DeviceID != sess.DeviceID {
			return passkeyProblem(fmt.Errorf("%w: assertion by a credential of another device", webauthn.ErrRejected))
		}
		return s.checkAssertion(c, a, &o)
	}
	e, err := s.devices.Approve(c.UserContext(), s.deviceRequest(c), sess, id, verify)
	if err != nil {
		// Every failed approval is audited (who tried to let which new
		// device in, and why it was refused); outages are not failures.
		perr := s.deviceProblem(err)
		if p := toProblem(perr); p != nil && p.Status < 500 {
			s.audit(c, "enrollment.approval_failed", sess.AccountID, sess.DeviceID, map[string]string{"enrollment": id, "reason": p.Code})
		}
		return perr
	}
	return c.JSON(newdevice.View(e, s.now()))
}

// enrollmentCancel lets the bound device refuse a new device, including a
// recovery in its cool-down.
func (s *Server) enrollmentCancel(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	id, err := enrollmentID(c)
	if err != nil {
		return err
	}
	e, err := s.devices.Cancel(c.UserContext(), s.deviceRequest(c), sess, id)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(newdevice.View(e, s.now()))
}

// validReason accepts 1-500 printable characters.
func validReason(r string) bool {
	if r == "" || utf8.RuneCountInString(r) > 500 || !utf8.ValidString(r) {
		return false
	}
	for _, x := range r {
		if !unicode.IsPrint(x) {
			return false
		}
	}
	return true
}

func accountNotFound() *Problem {
	return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoSuchAccount))
}

// operatorEnrollments lists an account's visible live enrollments for an
// operator (admin listener).
func (s *Server) operatorEnrollments(c *fiber.Ctx) error {
	accountID := c.Params("account_id")
	if _, err := store.BucketOf(accountID); err != nil {
		return accountNotFound()
	}
	ctx := c.UserContext()
	if _, err := s.store.Account(ctx, accountID); errors.Is(err, store.ErrNotFound) {
		return accountNotFound()
	} else if err != nil {
		return err
	}
	views, probation, err := s.enrollmentSummary(ctx, accountID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"account_id": accountID, "enrollments": views, "probation_until": probation})
}

// operatorApprove approves an enrollment after an identity check in a
// store (device.Service.ApproveByOperator). The operator names the account
// (which must match), themselves and the reason.
func (s *Server) operatorApprove(c *fiber.Ctx) error {
	var req struct {
		AccountID string `json:"account_id"`
		Operator  string `json:"operator"`
		Reason    string `json:"reason"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.AccountID == "":
		return missing("account_id")
	case !validLabel(req.Operator) || strings.ContainsAny(req.Operator, ": "):
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.EnrollmentOperatorName)).about("operator")
	case !validReason(req.Reason):
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.EnrollmentOperatorReason)).about("reason")
	}
	id, err := enrollmentID(c)
	if err != nil {
		return err
	}
	e, err := s.devices.ApproveByOperator(c.UserContext(), s.deviceRequest(c), id, req.AccountID, req.Operator, req.Reason)
	if err != nil {
		return s.deviceProblem(err)
	}
	return c.JSON(newdevice.View(e, s.now()))
}
