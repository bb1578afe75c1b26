package bff

import (
	"math"
	"strconv"

	"github.com/go-redis/redis_rate/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/text"
)

// Rate limits. They are counted in Redis, so they hold across replicas;
// subjects are client IPs or keyed hashes, never raw contacts.
var (
	limitOTPPerContact = redis_rate.Limit{Rate: 3, Burst: 3, Period: 600e9}    // 3 OTP sends per contact per 10 min
	limitOTPPerIP      = redis_rate.Limit{Rate: 10, Burst: 10, Period: 3600e9} // 10 OTP sends per IP per hour
	limitVerifyPerIP   = redis_rate.Limit{Rate: 30, Burst: 30, Period: 3600e9} // OTP guesses per IP per hour
	// Passkey ceremonies (login, re-authentication, approval, a new
	// device's passkey) are limited per the narrowest subject the call
	// proves: the DPoP key before an account is known (login, a new
	// device's finish), the session's account after. A carrier NAT puts
	// thousands of shoppers behind one address and each logs in now and
	// then; the per-IP limit is only a ceiling against a client that mints
	// a key per call (it bounds the challenges one address keeps in Redis:
	// 3000 a minute, each 5 minutes, about 15,000).
	limitCeremonyPerKey     = redis_rate.PerMinute(10)
	limitCeremonyPerAccount = redis_rate.PerMinute(30)
	limitCeremonyPerIP      = redis_rate.PerMinute(3000)
	// Terminal tokens: a store's lanes share its address; 30 a minute per
	// address (a token lasts minutes).
	limitTerminalTokenPerIP = redis_rate.PerMinute(30)
	// Refresh is limited per device key (the DPoP key every refresh is
	// proven with): a carrier NAT puts thousands of shoppers behind one
	// address, and each refreshes every few minutes. The per-IP limit
	// stays only as a ceiling against a flood that mints a key per call.
	// No per-account limit is spent before the token is checked: the
	// account id in a refresh token is readable, so a stranger could spend
	// the owner's.
	limitRefreshPerKey = redis_rate.PerMinute(12)
	limitRefreshPerIP  = redis_rate.PerMinute(3000)
)

// limit spends one unit of name's limit for subject, or answers 429 with
// Retry-After.
func (s *Server) limit(c *fiber.Ctx, name, subject string, l redis_rate.Limit) error {
	res, err := s.store.Allow(c.UserContext(), "rl:"+name, subject, l)
	if err != nil {
		return err
	}
	if res.Allowed > 0 {
		return nil
	}
	s.metrics.limited.WithLabelValues(name).Inc()
	p := problemText(fiber.StatusTooManyRequests, codeRateLimited, text.M(text.RateLimited))
	p.Headers = map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(int(math.Ceil(res.RetryAfter.Seconds())))}
	return p
}

// ceremonyLimit spends one passkey ceremony of subject's own limit
// ("ceremony-key" for a DPoP key thumbprint, "ceremony-account" for an
// account id) and one of the client IP's ceiling.
func (s *Server) ceremonyLimit(c *fiber.Ctx, name, subject string) error {
	l := limitCeremonyPerKey
	if name == "ceremony-account" {
		l = limitCeremonyPerAccount
	}
	if err := s.limit(c, name, subject, l); err != nil {
		return err
	}
	return s.limit(c, "ceremony-ip", s.clientIP(c), limitCeremonyPerIP)
}
