package bff

import (
	"math"
	"strconv"
	"time"

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
	limitCeremonyPerIP = redis_rate.PerMinute(30)                              // passkey ceremonies begun per IP
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
	return s.limited(name, res.RetryAfter)
}

// limited counts a refusal by the limit name and answers it: 429 with
// Retry-After.
func (s *Server) limited(name string, retryAfter time.Duration) error {
	s.metrics.limited.WithLabelValues(name).Inc()
	p := problemText(fiber.StatusTooManyRequests, codeRateLimited, text.M(text.RateLimited))
	p.Headers = map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(int(math.Ceil(retryAfter.Seconds())))}
	return p
}
