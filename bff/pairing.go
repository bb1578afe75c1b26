package bff

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// Pairing codes (issue 14): instead of registering a terminal's public key
// by hand, an operator creates a one-time code for a store
// (POST /v1/terminal-pairings on the admin listener, or paycodectl
// terminal pair) and the scanner page redeems it once with the public key
// it made (POST /v1/terminal/pairings), becoming a registered terminal of
// that store. Then it gets tokens like any terminal.
//
//   - A code is 12 Crockford base32 characters (60 random bits), shown
//     "ABCD-EFGH-JKLM"; it is read case-insensitively, with or without the
//     hyphens, O read as 0 and I or L as 1.
//   - It is never stored: the pairing is named by the id the terminal will
//     get, a keyed hash of the code (pairingTerminalID), so neither a key,
//     a value, a log line nor an audit field holds it.
//   - It lives pairingTTL (10 minutes) and is spent by its first
//     redemption: the pairing's deletion and the terminal's registration
//     are one script (store.RedeemPairing), so of two concurrent
//     redemptions one registers a terminal and the other is refused.
//   - It is scoped to the operator's store and label: the redeeming page
//     names neither (an unknown member such as store_id is refused).
//   - An unknown, spent or expired code gets one answer, 400
//     invalid_pairing_code. Attempts are limited per IP and in total
//     (429 rate_limited) before the code is looked at, and audited:
//     terminal_pairing.created, .redeemed, .failed.

const (
	codeInvalidPairingCode = "invalid_pairing_code"

	pairingTTL     = 10 * time.Minute
	pairingCodeLen = 12
)

var (
	limitPairingPerIP  = redis_rate.Limit{Rate: 10, Burst: 10, Period: 10 * time.Minute} // redemption attempts per IP
	limitPairingGlobal = redis_rate.PerMinute(120)                                       // redemption attempts in total
)

// crockford is Crockford's base32 alphabet.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newPairingCode draws a code: 12 characters, 60 random bits.
func newPairingCode() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return crockford.EncodeToString(b[:])[:pairingCodeLen], nil
}

// showPairingCode groups a code in fours: "ABCD-EFGH-JKLM".
func showPairingCode(code string) string { return code[:4] + "-" + code[4:8] + "-" + code[8:] }

// normalizePairingCode reads a code as a person typed it; false when it
// cannot be one.
func normalizePairingCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		case !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZ", r):
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > pairingCodeLen {
			return "", false
		}
	}
	return b.String(), b.Len() == pairingCodeLen
}

// pairingTerminalID is the id a code's terminal gets, and the name of its
// pairing: a keyed hash of the code, in the form of a terminal id.
func (s *Server) pairingTerminalID(code string) string {
	h, _ := hex.DecodeString(tokens.KeyedHash(s.cfg.Secret, "terminal-pairing", code))
	return "term_" + strings.ToLower(base32.StdEncoding.EncodeToString(h[:15])) // 120 bits, 24 characters
}

// adminCreatePairing opens a pairing code for a store's new terminal.
func (s *Server) adminCreatePairing(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		StoreID string `json:"store_id"`
		Label   string `json:"label"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if !validStoreID(req.StoreID) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.StoreIDRequired))
	}
	if !validLabel(req.Label) {
		return problemText(fiber.StatusBadRequest, codeInvalidLabel, text.M(text.TerminalLabel))
	}
	now := s.now()
	p := store.Pairing{StoreID: req.StoreID, Label: req.Label, Operator: req.Operator, CreatedAt: now, ExpiresAt: now.Add(pairingTTL)}
	var code string
	for attempt := 0; ; attempt++ {
		var err error
		if code, err = newPairingCode(); err != nil {
			return err
		}
		p.TerminalID = s.pairingTerminalID(code)
		err = s.store.CreatePairing(c.UserContext(), p)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrExists) || attempt == 2 {
			return err
		}
	}
	s.metrics.pairings.WithLabelValues("created").Inc()
	s.auditAs(c, "operator:"+req.Operator, "terminal_pairing.created", "", "", map[string]string{
		"store": req.StoreID, "label": req.Label, "expires_at": p.ExpiresAt.UTC().Format(time.RFC3339), "reason": req.Reason})
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"pairing_code": showPairingCode(code), "expires_at": p.ExpiresAt.UTC(),
		"store_id": p.StoreID, "label": p.Label})
}

// terminalPairing redeems a pairing code with the page's public key.
func (s *Server) terminalPairing(c *fiber.Ctx) error {
	var req struct {
		PairingCode  string `json:"pairing_code"`
		PublicKeyPEM string `json:"public_key_pem"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if req.PairingCode == "" {
		return missing("pairing_code")
	}
	ip := s.clientIP(c)
	if err := s.limit(c, "pairing-ip", ip, limitPairingPerIP); err != nil {
		return err
	}
	if err := s.limit(c, "pairing-global", "all", limitPairingGlobal); err != nil {
		return err
	}
	// The key is checked before the code is spent: a page with a bad key
	// keeps its code.
	if _, err := tokens.ParsePublicKeyPEM([]byte(req.PublicKeyPEM)); err != nil {
		p := problemText(fiber.StatusBadRequest, codeInvalidPublicKey, text.M(text.InvalidPublicKey))
		p.Err = err
		return p
	}
	code, ok := normalizePairingCode(req.PairingCode)
	var term *store.Terminal
	err := store.ErrNotFound
	if ok {
		term, err = s.store.RedeemPairing(c.UserContext(), s.pairingTerminalID(code), req.PublicKeyPEM, s.now())
	}
	if errors.Is(err, store.ErrNotFound) {
		s.metrics.pairings.WithLabelValues("failed").Inc()
		s.auditAs(c, "system", "terminal_pairing.failed", "", "", map[string]string{"reason": "unknown_spent_or_expired"})
		return problemText(fiber.StatusBadRequest, codeInvalidPairingCode, text.M(text.InvalidPairingCode))
	} else if err != nil {
		return err
	}
	s.metrics.pairings.WithLabelValues("redeemed").Inc()
	s.auditAs(c, "system", "terminal_pairing.redeemed", "", "", map[string]string{
		"terminal": term.ID, "store": term.StoreID, "label": term.Label})
	body := fiber.Map{"terminal_id": term.ID, "store_id": term.StoreID, "label": term.Label}
	if err := s.addStoreName(c, body, term.StoreID); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(body)
}

// addStoreName adds a store's display name to an answer for a terminal:
// store_name in the client's language (the store id when the store has no
// name) and store_names {en, ja} (null when it has none).
func (s *Server) addStoreName(c *fiber.Ctx, body fiber.Map, storeID string) error {
	names, err := s.store.StoreNames(c.UserContext(), storeID)
	if err != nil {
		return err
	}
	body["store_name"], body["store_names"] = storeID, storeNameMap(names, storeID)
	if n, ok := names[storeID]; ok {
		body["store_name"] = n.En
		if text.Negotiate(c.Get(fiber.HeaderAcceptLanguage)) == text.Ja {
			body["store_name"] = n.Ja
		}
	}
	return nil
}
