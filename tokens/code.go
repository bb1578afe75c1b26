package tokens

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strconv"
)

// Payment code layout: CodeLength ASCII digits,
//
//	PP BBBB RRRRRRRRRRRRRRRRR C
//
// an issuer prefix P (2 digits), the account's routing bucket B (4 digits,
// zero-padded), CodeRandomDigits random digits R and a Luhn check digit C.
const (
	CodeLength       = 24
	CodePrefixDigits = 2
	CodeBucketDigits = 4
	CodeRandomDigits = 17
	// MaxCodeBucket is the largest routing bucket a code can carry.
	MaxCodeBucket = 9999

	bucketOffset = CodePrefixDigits
	randomOffset = bucketOffset + CodeBucketDigits
	checkOffset  = randomOffset + CodeRandomDigits // == CodeLength-1
)

// codeRandomBound is 10^CodeRandomDigits, the exclusive upper bound of the
// random part.
var codeRandomBound = new(big.Int).Exp(big.NewInt(10), big.NewInt(CodeRandomDigits), nil)

// Payment code failures. Every failure of ParseCode wraps ErrInvalidCode
// (errors.Is); the four reasons wrap it too and say which check failed. A
// caller answers all of them the same way (code_unknown) so that a guesser
// learns nothing from the reason; the reason is for metrics and logs.
var (
	ErrInvalidCode = errors.New("invalid payment code")
	// ErrCodeLength: the input is not exactly CodeLength bytes long.
	ErrCodeLength error = &codeError{"payment code has the wrong length"}
	// ErrCodeDigits: the input holds something other than the ASCII digits
	// 0-9 (a space, a sign, a letter, a full-width or other Unicode digit).
	ErrCodeDigits error = &codeError{"payment code has a character that is not an ASCII digit"}
	// ErrCodePrefix: the input's issuer prefix is not this issuer's.
	ErrCodePrefix error = &codeError{"payment code has another issuer prefix"}
	// ErrCodeCheck: the Luhn check digit does not match (a mistyped or
	// misread code).
	ErrCodeCheck error = &codeError{"payment code check digit does not match"}
)

// Configuration errors of NewCode and ParseCode: programming or
// configuration mistakes, not bad input, so they do not wrap ErrInvalidCode.
var (
	// ErrIssuerPrefix: the configured issuer prefix is not two ASCII digits.
	ErrIssuerPrefix = errors.New("tokens: the issuer prefix must be two ASCII digits, 00 to 99")
	// ErrCodeBucket: the routing bucket is above MaxCodeBucket.
	ErrCodeBucket = errors.New("tokens: the routing bucket must be 0 to 9999")
)

// codeError is a code failure that is also an ErrInvalidCode.
type codeError struct{ msg string }

func (e *codeError) Error() string { return e.msg }
func (e *codeError) Unwrap() error { return ErrInvalidCode }

// Code is a payment code: 24 ASCII digits, a bearer secret for the minute it
// lives. Like Secret, its digits are unexported, it cannot be compared with
// == (Equal is constant-time), and printing it in any way (fmt with any verb,
// slog, String) shows only the masked form "PP-BBBB-…-C": the issuer prefix,
// the routing bucket and the check digit, never the random digits. JSON and
// text marshalling fail. Digits is for the one place the digits leave the
// process: the response to the device that asked for the code, and its
// barcode images. The zero Code is empty: IsZero reports it, and ParseCode
// and NewCode return it with every error.
type Code struct {
	// s holds the 24 digits; Secret keeps them out of reach of fmt and
	// reflection and makes Code incomparable.
	s Secret
}

// NewCode returns a fresh code for an account whose routing bucket is bucket,
// under the issuer prefix prefix: CodeRandomDigits digits drawn uniformly
// from crypto/rand (rand.Int, which rejects rather than reduces modulo, so
// every value of the random part is equally likely) and a Luhn check digit.
// A prefix that is not two ASCII digits is ErrIssuerPrefix, a bucket above
// MaxCodeBucket is ErrCodeBucket; a failure of the random source is returned
// wrapped.
func NewCode(prefix string, bucket uint16) (Code, error) {
	if !validPrefix(prefix) {
		return Code{}, ErrIssuerPrefix
	}
	if bucket > MaxCodeBucket {
		return Code{}, fmt.Errorf("%w: got %d", ErrCodeBucket, bucket)
	}
	r, err := rand.Int(rand.Reader, codeRandomBound)
	if err != nil {
		return Code{}, fmt.Errorf("new payment code: %w", err)
	}
	b := make([]byte, 0, CodeLength)
	b = append(b, prefix...)
	b = appendPadded(b, uint64(bucket), CodeBucketDigits)
	b = appendPadded(b, r.Uint64(), CodeRandomDigits)
	check, err := LuhnCheckDigit(string(b))
	if err != nil { // cannot happen: b is digits only
		return Code{}, fmt.Errorf("new payment code: %w", err)
	}
	b = append(b, check)
	c := Code{s: NewSecret(b)}
	clear(b)
	return c, nil
}

// appendPadded appends v in decimal, zero-padded on the left to width digits.
// v must be below 10^width.
func appendPadded(b []byte, v uint64, width int) []byte {
	var buf [20]byte
	d := strconv.AppendUint(buf[:0], v, 10)
	for range width - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

// ParseCode parses a code typed, scanned or sent by a terminal and checks, in
// this order, that it is exactly CodeLength bytes (ErrCodeLength), all ASCII
// digits 0-9 with no space, sign or Unicode digit (ErrCodeDigits), that it
// starts with prefix (ErrCodePrefix) and that its Luhn check digit matches
// (ErrCodeCheck); all four wrap ErrInvalidCode, and none echoes the input.
// These checks are local and cheap: call ParseCode before anything touches
// Redis, so malformed input never costs a round trip. A valid Code says
// nothing about whether the code was issued, is live or unused; that is the
// redeem script's business. A prefix that is not two ASCII digits is
// ErrIssuerPrefix (a configuration error). Every error comes with the zero
// Code.
func ParseCode(s string, prefix string) (Code, error) {
	if !validPrefix(prefix) {
		return Code{}, ErrIssuerPrefix
	}
	if len(s) != CodeLength {
		return Code{}, ErrCodeLength
	}
	if !allDigits(s) {
		return Code{}, ErrCodeDigits
	}
	if s[:CodePrefixDigits] != prefix {
		return Code{}, ErrCodePrefix
	}
	if !LuhnValid(s) {
		return Code{}, ErrCodeCheck
	}
	return Code{s: NewSecret([]byte(s))}, nil
}

// Digits returns the 24 digits, or "" for the zero Code. Call it only where
// the code must leave the process to its owner (the response to the device
// and the barcode images), never for logging, storing or comparing: store
// KeyedName, compare with Equal.
func (c Code) Digits() string { return c.s.Reveal() }

// Prefix returns the issuer prefix, the first two digits ("" for the zero
// Code). It is not secret.
func (c Code) Prefix() string {
	if c.IsZero() {
		return ""
	}
	return c.s.Reveal()[:CodePrefixDigits]
}

// Bucket returns the routing bucket, digits 3 to 6 (0 for the zero Code). It
// is not secret: it picks the Redis hash slot that every key of the account
// shares, so a redemption stays one atomic script in Redis Cluster.
func (c Code) Bucket() uint16 {
	if c.IsZero() {
		return 0
	}
	var b uint16
	for _, d := range []byte(c.s.Reveal()[bucketOffset:randomOffset]) {
		b = b*10 + uint16(d-'0')
	}
	return b
}

// IsZero reports whether c is the zero (empty) Code.
func (c Code) IsZero() bool { return c.s.IsZero() }

// Equal reports whether both codes have the same digits, in constant time. A
// zero Code equals nothing, itself included.
func (c Code) Equal(o Code) bool { return c.s.Equal(o.s) }

// KeyedName returns the name the code is stored under in Redis:
// KeyedHash(key, "code", digits), that is hex(HMAC-SHA-256(key,
// "code" || 0x00 || digits)), so that neither a key name nor a dump reveals
// a code, and the 10^17 random digits cannot be searched offline without
// the key. The caller adds the bucket's hash tag. KeyedName of the zero
// Code is a programming error and panics, as KeyedHash does for an empty
// key: there is no name for "no code".
func (c Code) KeyedName(key []byte) string {
	if c.IsZero() {
		panic("tokens: KeyedName of the zero Code")
	}
	return KeyedHash(key, "code", c.s.Reveal())
}

// String returns the masked form "PP-BBBB-…-C" (prefix, bucket, check digit),
// for example "99-0042-…-7", or "code:empty". The check digit is a function
// of the other digits, so the masked form narrows a code down to one in
// 10^16, not fewer.
func (c Code) String() string {
	if c.IsZero() {
		return "code:empty"
	}
	d := c.s.Reveal()
	return d[:CodePrefixDigits] + "-" + d[bucketOffset:randomOffset] + "-…-" + d[checkOffset:]
}

// LogValue makes slog print the masked form.
func (c Code) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, %d, ...) print the
// masked form, never the digits.
func (c Code) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// GoString is the masked form too.
func (c Code) GoString() string { return c.String() }

var errCodeMarshal = errors.New("tokens: a payment Code cannot be serialised; store KeyedName of it, send Digits of it")

// MarshalJSON always fails.
func (c Code) MarshalJSON() ([]byte, error) { return nil, errCodeMarshal }

// MarshalText always fails.
func (c Code) MarshalText() ([]byte, error) { return nil, errCodeMarshal }

// LuhnValid reports whether digits is at least two ASCII digits (a payload
// and its check digit) and passes the Luhn (mod 10) check, as card numbers
// do: doubling every second digit from the right, the digit sum is a
// multiple of 10. It catches every single-digit error and every transposition
// of adjacent digits except 09 <-> 90.
func LuhnValid(digits string) bool {
	if len(digits) < 2 || !allDigits(digits) {
		return false
	}
	return luhnSum(digits, false)%10 == 0
}

// LuhnCheckDigit returns the check digit to append to payload, as an ASCII
// byte '0' to '9', so that payload followed by it passes LuhnValid. An empty
// payload wraps ErrCodeLength; one that is not all ASCII digits wraps
// ErrCodeDigits.
func LuhnCheckDigit(payload string) (byte, error) {
	if len(payload) == 0 {
		return 0, fmt.Errorf("luhn check digit: %w", ErrCodeLength)
	}
	if !allDigits(payload) {
		return 0, fmt.Errorf("luhn check digit: %w", ErrCodeDigits)
	}
	// The check digit will sit at the right, so the payload's last digit is
	// the first to be doubled.
	return byte('0' + (10-luhnSum(payload, true)%10)%10), nil
}

// luhnSum returns the Luhn sum of digits (ASCII digits only), doubling every
// second digit from the right: the rightmost one if doubleFirst, the one
// left of it otherwise.
func luhnSum(digits string, doubleFirst bool) int {
	sum := 0
	double := doubleFirst
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum
}

// allDigits reports whether s holds only the ASCII digits 0-9. It works on
// bytes, so a multi-byte Unicode digit (full-width, Arabic-Indic, ...) is
// never a digit.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validPrefix(p string) bool { return len(p) == CodePrefixDigits && allDigits(p) }
