package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DPoP proof failures. Every failure of a proof wraps ErrInvalidDPoP
// (errors.Is); ErrDPoPReplay and ErrUseDPoPNonce wrap it too and say more.
var (
	ErrInvalidDPoP = errors.New("invalid DPoP proof")
	// ErrDPoPReplay: the proof was valid but its jti was already used with
	// this key.
	ErrDPoPReplay error = &dpopError{"DPoP proof replayed"}
	// ErrUseDPoPNonce: the proof was valid but lacks the nonce the server
	// demands, or carries another one; the caller answers with
	// error="use_dpop_nonce" and a fresh DPoP-Nonce (RFC 9449 8).
	ErrUseDPoPNonce error = &dpopError{"DPoP nonce required"}
)

// dpopError is a DPoP failure that is also an ErrInvalidDPoP.
type dpopError struct{ msg string }

func (e *dpopError) Error() string { return e.msg }
func (e *dpopError) Unwrap() error { return ErrInvalidDPoP }

// DPoP limits and defaults.
const (
	DPoPType           = "dpop+jwt"
	DefaultDPoPMaxAge  = 60 * time.Second
	DefaultDPoPMaxSkew = 5 * time.Second
	MaxDPoPProofBytes  = 8 << 10
	MaxDPoPJTILength   = 256
	maxHTUBytes        = 4096
)

// ReplayCache remembers DPoP jti values; the Redis layer implements it with
// SET NX and a TTL. ClaimJTI records (jkt, jti) for ttl and reports fresh ==
// true if it was not recorded before, false if it was (a replay). It is keyed
// by the jti scoped by the key thumbprint, never by a hash of the proof, so
// that a re-encoded or re-signed copy of a proof (ECDSA signatures are
// malleable) is still the same proof. An error means the cache could not
// answer; the caller fails closed (503).
type ReplayCache interface {
	ClaimJTI(ctx context.Context, jkt, jti string, ttl time.Duration) (fresh bool, err error)
}

// DPoPVerifier verifies DPoP proofs (RFC 9449). Its fields are read-only
// after first use; it is safe for concurrent use if Replay is.
type DPoPVerifier struct {
	Replay  ReplayCache
	Now     func() time.Time // nil = time.Now
	MaxAge  time.Duration    // how old iat may be; 0 = DefaultDPoPMaxAge
	MaxSkew time.Duration    // how far in the future iat may be; 0 = DefaultDPoPMaxSkew
}

// DPoPRequest is what a proof must match.
type DPoPRequest struct {
	// Method is the HTTP method, compared exactly with htm ("GET", "POST").
	Method string
	// URL is the request's absolute URL as the server sees it from its
	// configured public base URL plus the request path as received (still
	// percent-encoded); query and fragment are ignored. Both it and htu are
	// normalised with NormalizeHTU before comparison.
	URL string
	// AccessToken, when non-empty, must be hashed in the proof's ath.
	AccessToken string
	// Nonce, when non-empty, must be the proof's nonce (else ErrUseDPoPNonce).
	Nonce string
}

// DPoPProof is a verified proof. It proves possession of Key, nothing more:
// the caller compares JKT with the thumbprint the session or access token is
// bound to (cnf.jkt).
type DPoPProof struct {
	JKT      string // RFC 7638 thumbprint of the proof's jwk
	Key      crypto.PublicKey
	JTI      string
	IssuedAt time.Time
}

func (v *DPoPVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks one DPoP proof JWT against req, in this order:
//
//   - at most MaxDPoPProofBytes, three base64url segments, header and claims
//     each one JSON object without duplicate members;
//   - header typ exactly "dpop+jwt", no "crit", alg ES256 or EdDSA only (so
//     "none", HS*, RS*, ES384 ... are refused), and a jwk header that
//     ParsePublicJWK accepts (public, P-256 or Ed25519) and that fits alg;
//   - the signature, by that jwk (ES256 signatures are the 64-byte r||s form);
//   - exp and nbf when present (MaxSkew of leeway);
//   - jti (1 to MaxDPoPJTILength characters), htm == req.Method, htu ==
//     req.URL after normalisation, iat within [now-MaxAge, now+MaxSkew],
//     ath when req.AccessToken is set, nonce when req.Nonce is set.
//
// Only when all of that holds does it call Replay.ClaimJTI(jkt, jti,
// MaxAge+MaxSkew), so a forged or stale proof cannot use up a client's jti;
// a jti already claimed gives ErrDPoPReplay. Every proof failure wraps
// ErrInvalidDPoP and returns a nil proof. A ReplayCache error, or a request
// or verifier that is misconfigured, is returned wrapped but NOT as
// ErrInvalidDPoP: the caller must fail closed with 503 or 500.
func (v *DPoPVerifier) Verify(ctx context.Context, proof string, req DPoPRequest) (*DPoPProof, error) {
	maxAge, maxSkew := v.MaxAge, v.MaxSkew
	if maxAge == 0 {
		maxAge = DefaultDPoPMaxAge
	}
	if maxSkew == 0 {
		maxSkew = DefaultDPoPMaxSkew
	}
	if v.Replay == nil || maxAge < 0 || maxSkew < 0 {
		return nil, errors.New("verifying DPoP proof: verifier needs a ReplayCache and non-negative MaxAge and MaxSkew")
	}
	if req.Method == "" {
		return nil, errors.New("verifying DPoP proof: request has no method")
	}
	wantHTU, err := NormalizeHTU(req.URL)
	if err != nil {
		return nil, fmt.Errorf("verifying DPoP proof: request URL: %w", err)
	}

	if proof == "" {
		return nil, invalidDPoPf("empty")
	}
	if len(proof) > MaxDPoPProofBytes {
		return nil, invalidDPoPf("larger than %d bytes", MaxDPoPProofBytes)
	}
	segs := strings.Split(proof, ".")
	if len(segs) != 3 {
		return nil, invalidDPoPf("not a compact JWS")
	}
	header, err := decodeSegment(segs[0])
	if err != nil {
		return nil, invalidDPoPf("header: %v", err)
	}
	claims, err := decodeSegment(segs[1])
	if err != nil {
		return nil, invalidDPoPf("claims: %v", err)
	}

	// Header: typ, crit, alg, jwk.
	if typ, err := stringMember(header, "typ"); err != nil || typ != DPoPType {
		return nil, invalidDPoPf("typ is not %q", DPoPType)
	}
	if _, ok := header["crit"]; ok {
		return nil, invalidDPoPf("crit header parameters are not understood")
	}
	alg, err := stringMember(header, "alg")
	if err != nil || (alg != AlgES256 && alg != AlgEdDSA) {
		return nil, invalidDPoPf("alg is not %s or %s", AlgES256, AlgEdDSA)
	}
	rawJWK, ok := header["jwk"]
	if !ok {
		return nil, invalidDPoPf("no jwk header")
	}
	key, err := ParsePublicJWK(rawJWK)
	if err != nil {
		return nil, invalidDPoPf("jwk: %w", err)
	}
	switch key.(type) {
	case *ecdsa.PublicKey:
		ok = alg == AlgES256
	case ed25519.PublicKey:
		ok = alg == AlgEdDSA
	default:
		ok = false
	}
	if !ok {
		return nil, invalidDPoPf("alg %s does not fit the jwk", alg)
	}

	// Signature (and exp/nbf if present), by the jwt library, pinned to the
	// one algorithm the header and key agree on.
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithStrictDecoding(),
		jwt.WithJSONNumber(),
		jwt.WithTimeFunc(v.now),
		jwt.WithLeeway(maxSkew),
	)
	if _, err := parser.ParseWithClaims(proof, jwt.MapClaims{}, func(*jwt.Token) (any, error) {
		return key, nil
	}); err != nil {
		return nil, invalidDPoPf("%w", err)
	}

	// Claims.
	jti, err := stringMember(claims, "jti")
	if err != nil || jti == "" || len(jti) > MaxDPoPJTILength {
		return nil, invalidDPoPf("jti must be a string of 1 to %d characters", MaxDPoPJTILength)
	}
	if htm, err := stringMember(claims, "htm"); err != nil || htm != req.Method {
		return nil, invalidDPoPf("htm does not match the request method")
	}
	htu, err := stringMember(claims, "htu")
	if err != nil {
		return nil, invalidDPoPf("no htu")
	}
	if got, err := NormalizeHTU(htu); err != nil || got != wantHTU {
		return nil, invalidDPoPf("htu does not match the request URL")
	}
	iat, err := numericDateMember(claims, "iat")
	if err != nil {
		return nil, invalidDPoPf("%v", err)
	}
	now := v.now()
	if iat.Before(now.Add(-maxAge)) {
		return nil, invalidDPoPf("iat is more than %v old", maxAge)
	}
	if iat.After(now.Add(maxSkew)) {
		return nil, invalidDPoPf("iat is more than %v in the future", maxSkew)
	}
	if req.AccessToken != "" {
		ath, err := stringMember(claims, "ath")
		if err != nil {
			return nil, invalidDPoPf("no ath for the presented access token")
		}
		if subtle.ConstantTimeCompare([]byte(ath), []byte(ATH(req.AccessToken))) != 1 {
			return nil, invalidDPoPf("ath does not match the presented access token")
		}
	}
	if req.Nonce != "" {
		nonce, err := stringMember(claims, "nonce")
		if err != nil {
			return nil, fmt.Errorf("%w: no nonce", ErrUseDPoPNonce)
		}
		if subtle.ConstantTimeCompare([]byte(nonce), []byte(req.Nonce)) != 1 {
			return nil, fmt.Errorf("%w: wrong nonce", ErrUseDPoPNonce)
		}
	}

	jkt, err := Thumbprint(key)
	if err != nil {
		return nil, invalidDPoPf("%w", err)
	}
	fresh, err := v.Replay.ClaimJTI(ctx, jkt, jti, maxAge+maxSkew)
	if err != nil {
		return nil, fmt.Errorf("verifying DPoP proof: claiming jti: %w", err)
	}
	if !fresh {
		return nil, ErrDPoPReplay
	}
	return &DPoPProof{JKT: jkt, Key: key, JTI: jti, IssuedAt: iat}, nil
}

// invalidDPoPf describes a proof failure; the result wraps ErrInvalidDPoP
// and whatever args wrap with %w.
func invalidDPoPf(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalidDPoP, fmt.Errorf(format, args...))
}

// decodeSegment decodes one JWS segment: canonical unpadded base64url of one
// JSON object without duplicate members.
func decodeSegment(seg string) (map[string]json.RawMessage, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, errors.New("not unpadded base64url")
	}
	return decodeObject(b)
}

// numericDateMember reads a NumericDate (RFC 7519 2): a JSON number of
// seconds since the epoch, fractions allowed, within the years 1970-5138.
func numericDateMember(m map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, fmt.Errorf("no %s", name)
	}
	// encoding/json would also accept a string holding a number.
	var n json.Number
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return time.Time{}, fmt.Errorf("%s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("%s is not a plausible time", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// ATH returns base64url(SHA-256(accessToken)) without padding: the ath claim
// of a DPoP proof sent with that token (RFC 9449 4.2).
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NormalizeHTU returns the normalised form of an absolute http(s) URL without
// its query and fragment, for comparing htu with the request URL (RFC 9449
// 4.3 step 9). Normalisation follows RFC 3986 6.2.2 and 6.2.3: scheme and
// host lowercased, the default port (80, 443) and an empty port dropped,
// percent-encodings of unreserved characters decoded and the others
// uppercased, dot segments removed, and an empty path written "/". IPv6
// literals are written in RFC 5952 form.
//
// It is strict rather than lenient: characters that may not appear in a URI,
// userinfo, percent signs in the host, non-ASCII (IDN) hosts, zone ids and
// malformed percent-encodings are errors, so that a proof and a request
// only match when they name the same resource.
func NormalizeHTU(raw string) (string, error) {
	if len(raw) > maxHTUBytes {
		return "", fmt.Errorf("URL longer than %d bytes", maxHTUBytes)
	}
	for i := 0; i < len(raw); i++ {
		if !isURIChar(raw[i]) {
			return "", fmt.Errorf("URL has a character not allowed in a URI at offset %d", i)
		}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", errors.New("not an absolute URL")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", errors.New("scheme is not http or https")
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}

	if strings.ContainsAny(authority, "@%") {
		return "", errors.New("userinfo or percent-encoding in the authority")
	}
	var host, port string
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", errors.New("unterminated IPv6 literal")
		}
		addr, err := netip.ParseAddr(authority[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", errors.New("malformed IPv6 literal")
		}
		host = "[" + addr.String() + "]"
		after := authority[end+1:]
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return "", errors.New("malformed authority")
			}
			port = p
		}
	} else {
		host, port, _ = strings.Cut(authority, ":")
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
				return "", errors.New("malformed host")
			}
		}
		host = strings.ToLower(host)
	}
	if host == "" {
		return "", errors.New("no host")
	}
	if port != "" {
		if len(port) > 5 {
			return "", errors.New("malformed port")
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", errors.New("malformed port")
			}
		}
		n, _ := strconv.Atoi(port)
		switch {
		case n > 65535:
			return "", errors.New("malformed port")
		case scheme == "http" && n == 80, scheme == "https" && n == 443:
			port = ""
		default:
			port = strconv.Itoa(n)
		}
	}

	if strings.ContainsAny(path, "[]") {
		return "", errors.New("brackets in the path")
	}
	path, err := normalizePercent(path)
	if err != nil {
		return "", err
	}
	if path == "" {
		path = "/"
	}
	path = removeDotSegments(path)

	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out + path, nil
}

// normalizePercent decodes percent-encoded unreserved characters and
// uppercases the hex digits of the others (RFC 3986 6.2.2.1, 6.2.2.2).
func normalizePercent(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New("malformed percent-encoding")
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(s[i+1 : i+3]))
		}
		i += 2
	}
	return b.String(), nil
}

// removeDotSegments is RFC 3986 5.2.4.
func removeDotSegments(in string) string {
	var out strings.Builder
	dropLast := func() {
		s := out.String()
		i := strings.LastIndexByte(s, '/')
		if i < 0 {
			i = 0
		}
		out.Reset()
		out.WriteString(s[:i])
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			dropLast()
		case in == "/..":
			in = "/"
			dropLast()
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := len(in)
			if i := strings.IndexByte(in[start:], '/'); i >= 0 {
				end = start + i
			}
			out.WriteString(in[:end])
			in = in[end:]
		}
	}
	return out.String()
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isUnreserved(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// isURIChar reports whether c may appear in a URI (RFC 3986 2: unreserved,
// reserved, or the '%' of a percent-encoding).
func isURIChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte(":/?#[]@!$&'()*+,;=%", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
