package bff

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

const (
	codeInsufficientAuth = "insufficient_user_authentication"
	codeAccountFrozen    = "account_frozen"
	codeBadScale         = "invalid_scale"
	defaultBarcodeScale  = 4
)

// codeRoutes registers payment codes and the event stream.
func (s *Server) codeRoutes(v1 fiber.Router) {
	v1.Post("/codes", s.requireSession, s.issueCode)
	v1.Get("/events", s.requireSession, s.events)
}

// codeResponse is the issuance answer. The barcodes are data URIs, SVG by
// default (vector: crisp at any pixel density, and no image encoding on the
// server), PNG with ?images=png, absent with ?images=none for apps that draw
// their own; the fields keep their names whatever the format. They carry
// the code itself, so they get the code's protection (sent once,
// over the same DPoP-authenticated response, Cache-Control: no-store) and
// never become URLs that an <img> would fetch without the DPoP proof or that
// a cache or history could keep. The server does not keep the digits, so it
// could not render them again later anyway.
type codeResponse struct {
	Code       string    `json:"code"`
	ExpiresAt  time.Time `json:"expires_at"`
	RefreshAt  time.Time `json:"refresh_at"`
	Code128PNG string    `json:"code128_png,omitempty"`
	QRPNG      string    `json:"qr_png,omitempty"`
}

// barcodeFormats are the values of ?images: the renderers and the data
// URI's media type; "none" has none.
var barcodeFormats = map[string]struct {
	mediaType   string
	code128, qr func(tokens.Code, int) ([]byte, error)
}{
	"svg":  {"data:image/svg+xml;base64,", tokens.Code128SVG, tokens.QRSVG},
	"png":  {"data:image/png;base64,", tokens.Code128PNG, tokens.QRPNG},
	"none": {},
}

// issueCode gives the bound device a fresh payment code, only within the
// payment window after a user-verified passkey assertion (else the RFC 9470
// step-up challenge).
func (s *Server) issueCode(c *fiber.Ctx) error {
	var req struct {
		Scale *int `json:"scale"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	images := c.Query("images", "svg")
	format, ok := barcodeFormats[images]
	if !ok {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.ImagesFormat)).about("images")
	}
	scale := defaultBarcodeScale
	if req.Scale != nil {
		scale = *req.Scale
	}
	if scale < tokens.MinBarcodeScale || scale > tokens.MaxBarcodeScale {
		return problemText(fiber.StatusBadRequest, codeBadScale, text.M(text.ScaleRange,
			"min", strconv.Itoa(tokens.MinBarcodeScale), "max", strconv.Itoa(tokens.MaxBarcodeScale)))
	}
	sess, _ := sessionOf(c)
	now := s.now()
	if now.Sub(sess.AuthTime) > s.cfg.PaymentWindow {
		return stepUpProblem(s.cfg.PaymentWindow)
	}
	if sess.AccountStatus == store.AccountFrozen {
		return problemText(fiber.StatusForbidden, codeAccountFrozen, text.M(text.FrozenNoCodes))
	}
	bucket, err := store.BucketOf(sess.AccountID)
	if err != nil {
		return err
	}
	code, err := tokens.NewCode(s.cfg.CodePrefix, uint16(bucket))
	if err != nil {
		return err
	}
	rec := store.CodeRecord{Name: code.KeyedName(s.cfg.Secret), AccountID: sess.AccountID, DeviceID: sess.DeviceID,
		SessionID: sess.ID, IssuedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL)}
	// One round trip: the device and account checks, the limits (a client
	// rotates every 30 s: they leave room for retries and several screens,
	// not for a flood; per account and per device key, never per IP, so a
	// carrier NAT does not matter), the code, the live-code pointer and the
	// code.issued event.
	res, err := s.store.Issue(c.UserContext(), store.CodeIssue{Record: rec, TTL: s.cfg.CodeTTL, Grace: s.cfg.CodeGrace,
		PerMinute: int64(s.cfg.CodesPerMinute), JKT: sess.JKT,
		Event: &store.Event{Type: "code.issued", Time: now, Data: map[string]any{"code_id": store.CodeID(rec.Name), "expires_at": rec.ExpiresAt}}})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrRateLimited):
		s.metrics.limited.WithLabelValues("codes-account").Inc()
		p := problemText(fiber.StatusTooManyRequests, codeRateLimited, text.M(text.RateLimited))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(int(math.Ceil(res.RetryAfter.Seconds())))}
		return p
	case errors.Is(err, store.ErrAccountFrozen):
		return problemText(fiber.StatusForbidden, codeAccountFrozen, text.M(text.FrozenNoCodes))
	case errors.Is(err, store.ErrDeviceRevoked):
		return authProblemText(codeInvalidToken, text.M(text.DeviceReplaced), err)
	default:
		return err
	}
	resp := codeResponse{Code: code.Digits(), ExpiresAt: rec.ExpiresAt, RefreshAt: now.Add(s.cfg.CodeRotate)}
	if format.code128 != nil {
		c128, err := format.code128(code, scale)
		if err != nil {
			return err
		}
		qr, err := format.qr(code, scale)
		if err != nil {
			return err
		}
		resp.Code128PNG = format.mediaType + base64.StdEncoding.EncodeToString(c128)
		resp.QRPNG = format.mediaType + base64.StdEncoding.EncodeToString(qr)
	}
	s.metrics.codes.Inc()
	return c.Status(fiber.StatusCreated).JSON(resp)
}

// stepUpProblem is RFC 9470's challenge: the session's last user-verified
// assertion is too old for this action.
func stepUpProblem(window time.Duration) *Problem {
	maxAge := strconv.Itoa(int(window.Seconds()))
	p := problemText(fiber.StatusUnauthorized, codeInsufficientAuth, text.M(text.InsufficientAuth))
	p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: `DPoP error="insufficient_user_authentication", error_description="A recent passkey verification is required", max_age=` + maxAge + `, ` + dpopAlgs}
	return p
}
