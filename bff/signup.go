package bff

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/webauthn"
)

const (
	otpTTL   = 10 * time.Minute
	otpTries = 5

	codeInvalidContact = "invalid_contact"
	codeOTPInvalid     = "otp_invalid"
	codeInvalidLabel   = "invalid_device_label"
	codePasskey        = "passkey_rejected"
	codeContactTaken   = "contact_taken"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// normalizeContact returns the canonical contact and its kind: an e-mail
// address (lowercased, no display name) or an E.164 phone number.
func normalizeContact(raw string) (contact, kind string, ok bool) {
	raw = strings.TrimSpace(raw)
	if e164.MatchString(raw) {
		return raw, "phone", true
	}
	if len(raw) > 254 || !strings.Contains(raw, "@") {
		return "", "", false
	}
	addr, err := mail.ParseAddress(raw)
	if err != nil || addr.Name != "" || addr.Address != raw {
		return "", "", false
	}
	return strings.ToLower(raw), "email", true
}

func (s *Server) contactHash(contact string) string { return s.devices.ContactHash(contact) }

// signupContact starts a sign-up: it sends a one-time code to the contact.
// The answer is the same whether or not the contact already has an account
// (its owner is told someone tried instead, and no code can verify).
func (s *Server) signupContact(c *fiber.Ctx) error {
	if err := s.requireSignups(c); err != nil {
		return err
	}
	var req struct {
		Contact string `json:"contact"`
		Lang    string `json:"lang"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	lang, err := chosenLang(c, req.Lang)
	if err != nil {
		return err
	}
	contact, kind, ok := normalizeContact(req.Contact)
	if !ok {
		return problemText(fiber.StatusBadRequest, codeInvalidContact, text.M(text.InvalidContact)).about("contact")
	}
	hash := s.contactHash(contact)
	if err := s.limit(c, "otp-ip", s.clientIP(c), limitOTPPerIP); err != nil {
		return err
	}
	if err := s.limit(c, "otp-contact", hash, limitOTPPerContact); err != nil {
		return err
	}
	existing, existingLang := false, lang
	acctID, err := s.store.AccountByContact(c.UserContext(), hash)
	switch {
	case err == nil:
		existing = true
		// The owner is told in the account's language, not the requester's.
		existingLang = s.accountLang(c.UserContext(), acctID)
	case errors.Is(err, store.ErrNotFound):
		// The same read for an address without an account (of an id that
		// exists nowhere): the answer's timing must not say which it is.
		if decoy, _, err := store.NewAccountID(); err == nil {
			s.accountLang(c.UserContext(), decoy)
		}
	default:
		return err
	}
	id, _, err := store.NewSignupID()
	if err != nil {
		return err
	}
	otp, err := newdevice.NewOTP()
	if err != nil {
		return err
	}
	su := store.Signup{ID: id, Contact: contact, ContactKind: kind, ContactHash: hash, Existing: existing, TriesLeft: otpTries,
		Lang: string(lang)}
	if err := s.store.PutSignup(c.UserContext(), su, s.otpHash(id, otp), otpTTL); err != nil {
		return err
	}
	// The code goes out in the language the sign-up chose, which becomes
	// the account's (chosenLang).
	msg := notify.Message{ID: id, Type: notify.TypeSignupOTP, To: contact, CreatedAt: s.now(),
		Text: text.M(text.SignupOTPMessage, "code", otp.Reveal(), "minutes", strconv.Itoa(int(otpTTL.Minutes()))).Render(lang)}
	if existing {
		msg.Type = notify.TypeSignupExisting
		msg.Text = text.M(text.SignupExistingMessage).Render(existingLang)
	}
	if err := s.notifier.Notify(c.UserContext(), msg); err != nil {
		p := problemText(fiber.StatusServiceUnavailable, codeUnavailable, text.M(text.OTPNotSent))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "5"}
		p.Err = err
		return p
	}
	s.metrics.audit.WithLabelValues("signup.otp_sent").Inc()
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"signup_id": id, "expires_in": int(otpTTL.Seconds())})
}

// otpHash binds the OTP's keyed hash to its sign-up, so equal codes of
// different sign-ups do not hash alike.
func (s *Server) otpHash(signupID string, otp tokens.Secret) string {
	return s.devices.OTPHash(signupID, otp)
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// signupVerify checks the one-time code and begins the passkey
// registration, bound to the DPoP key of this request.
func (s *Server) signupVerify(c *fiber.Ctx) error {
	if err := s.requireSignups(c); err != nil {
		return err
	}
	var req struct {
		SignupID string `json:"signup_id"`
		OTP      string `json:"otp"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.SignupID == "" {
		return missing("signup_id")
	}
	if !sixDigits.MatchString(req.OTP) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.OTPFormat)).about("otp")
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	if err := s.limit(c, "verify-ip", s.clientIP(c), limitVerifyPerIP); err != nil {
		return err
	}
	otpWrong := problemText(fiber.StatusBadRequest, codeOTPInvalid, text.M(text.OTPInvalid))
	sb, err := store.BucketOfKind("sgn", req.SignupID)
	if err != nil {
		return otpWrong
	}
	err = s.store.VerifySignupOTP(c.UserContext(), req.SignupID, s.otpHash(req.SignupID, tokens.NewSecret([]byte(req.OTP))))
	switch {
	case err == nil:
	case errors.Is(err, store.ErrOTPWrong), errors.Is(err, store.ErrNotFound):
		otpWrong.Err = err
		return otpWrong
	default:
		return err
	}
	su, err := s.store.Signup(c.UserContext(), req.SignupID)
	if errors.Is(err, store.ErrNotFound) {
		return otpWrong
	} else if err != nil {
		return err
	}
	accountID, err := store.NewID("acct", sb)
	if err != nil {
		return err
	}
	user := &webauthn.User{ID: []byte(accountID), Name: su.Contact, DisplayName: su.Contact}
	opts, err := s.rp.BeginRegistration(c.UserContext(), req.SignupID,
		webauthn.Challenge{Purpose: webauthn.PurposeSignup, JKT: proof.JKT, AccountID: accountID}, user)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"signup_id": req.SignupID, "options": opts})
}

// validLabel accepts 1-64 printable characters.
func validLabel(l string) bool {
	if l == "" || utf8.RuneCountInString(l) > 64 || !utf8.ValidString(l) {
		return false
	}
	for _, r := range l {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// signupFinish registers the passkey and, in the same request, the DPoP
// key as the account's one device; it returns the first session and the
// recovery codes (shown this once).
func (s *Server) signupFinish(c *fiber.Ctx) error {
	if err := s.requireSignups(c); err != nil {
		return err
	}
	var req struct {
		SignupID    string          `json:"signup_id"`
		Credential  json.RawMessage `json:"credential"`
		DeviceLabel string          `json:"device_label"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.SignupID == "":
		return missing("signup_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	if req.DeviceLabel == "" {
		req.DeviceLabel = "device"
	}
	if !validLabel(req.DeviceLabel) {
		return problemText(fiber.StatusBadRequest, codeInvalidLabel, text.M(text.InvalidDeviceLabel)).about("device_label")
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	// The account id was fixed when the ceremony began (it is the passkey's
	// user handle): it comes back with the consumed challenge.
	cred, ch, err := s.rp.FinishRegistration(ctx, req.SignupID, webauthn.Expect{Purpose: webauthn.PurposeSignup, JKT: proof.JKT}, req.Credential)
	if err != nil {
		return passkeyProblem(err)
	}
	accountID := ch.AccountID
	su, err := s.store.Signup(ctx, req.SignupID)
	if errors.Is(err, store.ErrNotFound) {
		return problemText(fiber.StatusBadRequest, codeOTPInvalid, text.M(text.SignupExpired))
	} else if err != nil {
		return err
	}
	now := s.now()
	deviceID, err := store.NewID("dev", mustBucket(accountID))
	if err != nil {
		return err
	}
	codes, hashes, err := s.newRecoveryCodes()
	if err != nil {
		return err
	}
	acct := store.Account{ID: accountID, Contact: su.Contact, ContactKind: su.ContactKind, Status: store.AccountActive,
		CreatedAt: now, DeviceID: deviceID, DeviceJKT: proof.JKT, DeviceStatus: store.DeviceActive, Lang: su.Lang}
	err = s.store.CreateAccount(ctx, store.NewAccount{
		SignupID: req.SignupID,
		Account:  acct,
		Device: store.Device{ID: deviceID, AccountID: accountID, JKT: proof.JKT, Label: req.DeviceLabel,
			CredentialID: store.CredentialKey(cred.ID), CreatedAt: now},
		Credential:     store.CredentialRecord{Credential: *cred, AccountID: accountID, DeviceID: deviceID, CreatedAt: now},
		RecoveryHashes: hashes,
		ContactHash:    su.ContactHash,
	})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrContactTaken):
		return problemText(fiber.StatusConflict, codeContactTaken, text.M(text.ContactTakenSignup))
	case errors.Is(err, store.ErrNotVerified), errors.Is(err, store.ErrExists):
		p := problemText(fiber.StatusBadRequest, codeOTPInvalid, text.M(text.SignupInvalid))
		p.Err = err
		return p
	default:
		return err
	}
	s.audit(c, "account.created", accountID, deviceID, map[string]string{
		"contact_kind": su.ContactKind, "backup_eligible": fmt.Sprint(cred.Flags.BackupEligible), "label": req.DeviceLabel})
	is, err := s.startSession(c, &acct, proof.JKT)
	if err != nil {
		return err
	}
	body := s.tokenBody(is)
	body.RecoveryCodes = codes
	return s.sendTokens(c, fiber.StatusCreated, body, is.refresh, is.session.AbsoluteExpiry)
}

func mustBucket(accountID string) store.Bucket {
	b, _ := store.BucketOf(accountID)
	return b
}

// passkeyProblem maps a ceremony failure to one uniform answer; store
// failures pass through (503).
func passkeyProblem(err error) error {
	if !errors.Is(err, webauthn.ErrRejected) {
		return err
	}
	p := problemText(fiber.StatusUnauthorized, codePasskey, text.M(text.PasskeyRejected))
	p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: "DPoP " + dpopAlgs}
	p.Err = err
	return p
}

// Recovery codes: ten codes of 10 characters (50 bits each) from an
// alphabet without look-alikes, shown once as "xxxxx-xxxxx" and stored
// only as keyed hashes.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

func (s *Server) newRecoveryCodes() (codes, hashes []string, err error) {
	for range 10 {
		var b strings.Builder
		for i := range 10 {
			if i == 5 {
				b.WriteByte('-')
			}
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(recoveryAlphabet))))
			if err != nil {
				return nil, nil, fmt.Errorf("drawing a recovery code: %w", err)
			}
			b.WriteByte(recoveryAlphabet[n.Int64()])
		}
		code := b.String()
		codes = append(codes, code)
		hashes = append(hashes, s.RecoveryCodeHash(code))
	}
	return codes, hashes, nil
}

// RecoveryCodeHash is the keyed hash of a recovery code, normalised
// (case, dashes and spaces do not matter).
func (s *Server) RecoveryCodeHash(code string) string {
	return s.devices.RecoveryCodeHash(tokens.NewSecret([]byte(code)))
}
