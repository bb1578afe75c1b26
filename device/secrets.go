package device

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/paycode/paycode/tokens"
)

// The keyed hashes of accounts' contacts, OTPs and recovery codes: the one
// definition, which sign-up (bff/signup.go) uses too, so that what sign-up
// writes is what recovery and the contact lookup find.

// ContactHash is the keyed hash under which a contact is indexed and
// limited (never the raw address).
func (s *Service) ContactHash(contact string) string {
	return tokens.KeyedHash(s.Secret, "contact", contact)
}

// OTPHash is the keyed hash of an OTP, bound to the record it was sent
// for (an enrollment or a contact change), so equal codes of different
// records do not hash alike.
func (s *Service) OTPHash(recordID string, otp tokens.Secret) string {
	return tokens.KeyedHash(s.Secret, "otp:"+recordID, otp.Reveal())
}

// RecoveryCodeHash is the keyed hash of a recovery code, normalised (case,
// dashes and spaces do not matter).
func (s *Service) RecoveryCodeHash(code tokens.Secret) string {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, code.Reveal())
	return tokens.KeyedHash(s.Secret, "recovery", norm)
}

// cancelHash is the keyed hash under which the contact's cancel code of a
// recovery is stored.
func (s *Service) cancelHash(code tokens.Secret) string {
	return tokens.KeyedHash(s.Secret, "enrollment-cancel", code.Reveal())
}

// contactCancelHash is the keyed hash under which the old address's cancel
// code of a contact change is stored.
func (s *Service) contactCancelHash(code tokens.Secret) string {
	return tokens.KeyedHash(s.Secret, "contact-change-cancel", code.Reveal())
}

// NewOTP draws a 6-digit code uniformly (no modulo bias).
func NewOTP() (tokens.Secret, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return tokens.Secret{}, fmt.Errorf("drawing an OTP: %w", err)
	}
	return tokens.NewSecret([]byte(fmt.Sprintf("%06d", n.Int64()))), nil
}

// coarseIP keeps the network of an address (/24, /48): enough for the
// owner to recognise a place, not a person's address.
func coarseIP(raw string) string {
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// MaskContact shows enough of an address for its owner to recognise it.
func MaskContact(contact string) string {
	if local, domain, ok := strings.Cut(contact, "@"); ok {
		r := []rune(local)
		return string(r[:1]) + "***@" + domain
	}
	if len(contact) > 4 {
		return strings.Repeat("*", len(contact)-4) + contact[len(contact)-4:]
	}
	return "****"
}

// whenText writes a moment for a notification (UTC, to the minute).
func whenText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }
