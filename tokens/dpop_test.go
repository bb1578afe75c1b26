package tokens_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/tokens/dpoptest"
)

const (
	testURL   = "https://pay.example.com/v1/codes"
	testToken = "eyJ.access.token"
)

func testKeys(t *testing.T) map[string]*dpoptest.Key {
	return map[string]*dpoptest.Key{"ES256": dpoptest.NewES256(t), "EdDSA": dpoptest.NewEdDSA(t)}
}

func TestDPoPAccepted(t *testing.T) {
	for alg, k := range testKeys(t) {
		cases := []struct {
			name  string
			req   tokens.DPoPRequest
			proof func() string
		}{
			{
				name:  "plain",
				req:   tokens.DPoPRequest{Method: "POST", URL: testURL},
				proof: func() string { return k.Proof("POST", testURL, "", "", t0) },
			},
			{
				name:  "with access token",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL, AccessToken: testToken},
				proof: func() string { return k.Proof("GET", testURL, testToken, "", t0) },
			},
			{
				name:  "with nonce",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL, Nonce: "n-1"},
				proof: func() string { return k.Proof("GET", testURL, "", "n-1", t0) },
			},
			{
				name:  "iat exactly MaxAge old",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string { return k.Proof("GET", testURL, "", "", t0.Add(-60*time.Second)) },
			},
			{
				name:  "iat exactly MaxSkew ahead",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string { return k.Proof("GET", testURL, "", "", t0.Add(5*time.Second)) },
			},
			{
				name: "fractional iat",
				req:  tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string {
					return k.ProofWith(func(_, c map[string]any) { c["iat"] = float64(t0.Unix()) - 0.5 }, "GET", testURL, "", t0)
				},
			},
			{
				name:  "htu with default port and upper case",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string { return k.Proof("GET", "HTTPS://Pay.Example.COM:443/v1/codes", "", "", t0) },
			},
			{
				name:  "htu with query and fragment (ignored)",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string { return k.Proof("GET", testURL+"?amount=100#x", "", "", t0) },
			},
			{
				name:  "request URL with query (ignored)",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL + "?page=2"},
				proof: func() string { return k.Proof("GET", testURL, "", "", t0) },
			},
			{
				name:  "htu with percent-encoded unreserved character",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string { return k.Proof("GET", "https://pay.example.com/v1/%63odes", "", "", t0) },
			},
			{
				name:  "empty path is /",
				req:   tokens.DPoPRequest{Method: "GET", URL: "https://pay.example.com/"},
				proof: func() string { return k.Proof("GET", "https://pay.example.com", "", "", t0) },
			},
			{
				name:  "explicit non-default port",
				req:   tokens.DPoPRequest{Method: "GET", URL: "http://localhost:8080/v1/me"},
				proof: func() string { return k.Proof("GET", "http://LOCALHOST:8080/v1/me", "", "", t0) },
			},
			{
				name:  "ath present without a token is ignored",
				req:   tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string { return k.Proof("GET", testURL, "some-token", "", t0) },
			},
			{
				name: "jti of 256 characters",
				req:  tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string {
					return k.ProofWith(func(_, c map[string]any) { c["jti"] = strings.Repeat("j", 256) }, "GET", testURL, "", t0)
				},
			},
			{
				name: "jwk with kid, alg and use",
				req:  tokens.DPoPRequest{Method: "GET", URL: testURL},
				proof: func() string {
					return k.ProofWith(func(h, _ map[string]any) {
						jwk := h["jwk"].(map[string]any)
						jwk["kid"], jwk["alg"], jwk["use"] = "device-1", alg, "sig"
					}, "GET", testURL, "", t0)
				},
			},
		}
		for _, tc := range cases {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				replay := newMemReplay()
				v := &tokens.DPoPVerifier{Replay: replay, Now: clock(t0)}
				proof := tc.proof()
				_, claims, _ := parts(t, proof)
				got, err := v.Verify(context.Background(), proof, tc.req)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.JKT != k.JKT() {
					t.Errorf("JKT = %q, want %q", got.JKT, k.JKT())
				}
				if got.JTI != claims["jti"] {
					t.Errorf("JTI = %q, want %q", got.JTI, claims["jti"])
				}
				if pub, ok := got.Key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(k.Public()) {
					t.Errorf("Key = %v, want the proof's key", got.Key)
				}
				if d := got.IssuedAt.Sub(t0); d < -61*time.Second || d > 5*time.Second {
					t.Errorf("IssuedAt = %v, far from %v", got.IssuedAt, t0)
				}
				if replay.Calls() != 1 || replay.ttls[0] != 65*time.Second {
					t.Errorf("ClaimJTI calls = %d ttls = %v, want one call with 65s", replay.Calls(), replay.ttls)
				}
			})
		}
	}
}

// TestDPoPRejected tries every way to make a proof the server must refuse.
// Each case says which attack it stands for. None of them may reach the
// replay cache: an invalid proof must not use up a legitimate client's jti.
func TestDPoPRejected(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Point, err := p384.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p384JWK := map[string]any{"kty": "EC", "crv": "P-384", "x": b64.EncodeToString(p384Point[1:49]), "y": b64.EncodeToString(p384Point[49:])}
	rsaJWK := map[string]any{"kty": "RSA", "n": b64.EncodeToString(rsaKey.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes())}

	for alg, k := range testKeys(t) {
		other := dpoptest.NewES256(t)
		if alg == "ES256" {
			other = dpoptest.NewEdDSA(t)
		}
		sameAlgOther := dpoptest.NewES256(t)
		if alg == "EdDSA" {
			sameAlgOther = dpoptest.NewEdDSA(t)
		}
		claims := func() map[string]any {
			return map[string]any{"jti": "jti-1", "htm": "GET", "htu": testURL, "iat": t0.Unix()}
		}
		header := func(alg string) map[string]any {
			return map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": k.PublicJWK()}
		}
		mut := func(f func(h, c map[string]any)) func() string {
			return func() string { return k.ProofWith(f, "GET", testURL, "", t0) }
		}
		valid := func() string { return k.Proof("GET", testURL, "", "", t0) }

		// The byte strings an attacker might hope the server uses as an HMAC
		// secret if it let the token pick HS256 with the public key.
		pkix, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		jwkJSON, _ := json.Marshal(k.PublicJWK())
		var rawPub []byte
		switch p := k.Public().(type) {
		case *ecdsa.PublicKey:
			rawPub, _ = p.Bytes()
		case ed25519.PublicKey:
			rawPub = p
		}
		hmacSecrets := map[string][]byte{
			"JWK JSON": jwkJSON,
			"PKIX DER": pkix,
			"PEM":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
			"raw key":  rawPub,
		}

		type tc struct {
			name  string
			proof func() string
			req   tokens.DPoPRequest // zero Method/URL: GET testURL
			want  error              // nil: ErrInvalidDPoP
		}
		cases := []tc{
			// Token confusion: a JWT that is not a DPoP proof (an ID token,
			// an access token) signed by the client key, replayed as a proof.
			{name: "typ missing", proof: mut(func(h, _ map[string]any) { delete(h, "typ") })},
			{name: "typ JWT", proof: mut(func(h, _ map[string]any) { h["typ"] = "JWT" })},
			{name: "typ at+jwt", proof: mut(func(h, _ map[string]any) { h["typ"] = "at+jwt" })},
			{name: "typ other case", proof: mut(func(h, _ map[string]any) { h["typ"] = "DPoP+JWT" })},
			{name: "typ not a string", proof: mut(func(h, _ map[string]any) { h["typ"] = 1 })},

			// alg=none: an unsigned proof for a victim's public key.
			{name: "alg none unsigned", proof: func() string { return jws(t, header("none"), claims(), nil) }},
			// alg=none on a captured proof, signature kept.
			{name: "alg none with the original signature", proof: func() string {
				_, c, sig := parts(t, valid())
				return jws(t, header("none"), c, sig)
			}},
			// Signature stripping: a captured proof without its signature.
			{name: "signature stripped", proof: func() string {
				p := valid()
				return p[:strings.LastIndexByte(p, '.')+1]
			}},
			{name: "alg missing", proof: mut(func(h, _ map[string]any) { delete(h, "alg") })},
			// RSA: an algorithm outside the pinned set, with its own key.
			{name: "RS256 with an RSA jwk", proof: func() string {
				h := map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": rsaJWK}
				in := signingInput(t, h, claims())
				d := sha256.Sum256([]byte(in))
				sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, d[:])
				if err != nil {
					t.Fatal(err)
				}
				return in + "." + b64.EncodeToString(sig)
			}},
			{name: "RS256 header with the client jwk", proof: mut(func(h, _ map[string]any) { h["alg"] = "RS256" })},
			// Unsupported curve: a P-384 key, as ES384 and as ES256.
			{name: "ES384 with a P-384 jwk", proof: func() string {
				h := map[string]any{"typ": "dpop+jwt", "alg": "ES384", "jwk": p384JWK}
				in := signingInput(t, h, claims())
				return in + "." + b64.EncodeToString(signECDSARaw(t, p384, crypto.SHA384, in))
			}},
			{name: "ES256 with a P-384 jwk", proof: func() string {
				h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": p384JWK}
				in := signingInput(t, h, claims())
				return in + "." + b64.EncodeToString(signECDSARaw(t, p384, crypto.SHA256, in))
			}},
			// Algorithm/key confusion: the header alg names the other
			// algorithm than the jwk's key type.
			{name: "alg does not fit the jwk", proof: mut(func(h, _ map[string]any) { h["alg"] = other.Alg() })},

			{name: "jwk missing", proof: mut(func(h, _ map[string]any) { delete(h, "jwk") })},
			// A client (or attacker) that ships a private key in the header.
			{name: "jwk with private d", proof: mut(func(h, _ map[string]any) {
				var d [32]byte
				_, _ = rand.Read(d[:])
				h["jwk"].(map[string]any)["d"] = b64.EncodeToString(d[:])
			})},
			{name: "jwk symmetric", proof: mut(func(h, _ map[string]any) {
				h["jwk"] = map[string]any{"kty": "oct", "k": b64.EncodeToString([]byte("secret"))}
			})},
			{name: "jwk not an object", proof: mut(func(h, _ map[string]any) { h["jwk"] = k.JKT() })},
			// Key substitution: the victim's public key in the header, the
			// signature by the attacker's own key (same algorithm).
			{name: "signature by a different key than the jwk", proof: mut(func(h, _ map[string]any) {
				h["jwk"] = sameAlgOther.PublicJWK()
			})},
			// Splicing: claims of one proof with the signature of another.
			{name: "signature of other claims", proof: func() string {
				a, b := valid(), k.Proof("POST", testURL, "", "", t0)
				return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
			}},
			// Tampering: claims changed after signing.
			{name: "claims modified after signing", proof: func() string {
				p := k.Proof("POST", testURL, "", "", t0)
				h, c, sig := parts(t, p)
				c["htm"] = "GET"
				return jws(t, h, c, sig)
			}},
			{name: "signature bit flipped", proof: func() string {
				h, c, sig := parts(t, valid())
				sig[len(sig)/2] ^= 1
				return jws(t, h, c, sig)
			}},
			// An ECDSA signature in ASN.1 DER instead of JWS r||s.
			{name: "DER signature", proof: func() string {
				h, c, _ := parts(t, valid())
				in := signingInput(t, h, c)
				priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				d := sha256.Sum256([]byte(in))
				der, err := ecdsa.SignASN1(rand.Reader, priv, d[:])
				if err != nil {
					t.Fatal(err)
				}
				h["jwk"] = publicJWK(t, &priv.PublicKey)
				h["alg"] = "ES256"
				return jws(t, h, c, der)
			}},
			// Unknown critical extensions must not be ignored (RFC 7515 4.1.11).
			{name: "crit header", proof: mut(func(h, _ map[string]any) { h["crit"] = []string{"exp"} })},
			// Parser differential: duplicate members, which parsers resolve
			// differently (first wins here, last wins there).
			{name: "duplicate header member", proof: func() string {
				jwk, _ := json.Marshal(k.PublicJWK())
				h := []byte(`{"typ":"JWT","alg":"` + k.Alg() + `","jwk":` + string(jwk) + `,"typ":"dpop+jwt"}`)
				in := signingInput(t, h, claims())
				return in + "." + b64.EncodeToString(k.SignBytes([]byte(in)))
			}},
			{name: "duplicate claim", proof: func() string {
				c := []byte(`{"jti":"j","htm":"GET","htu":"https://evil.example.com/","iat":` + jsonInt(t0.Unix()) + `,"htu":"` + testURL + `"}`)
				in := signingInput(t, header(k.Alg()), c)
				return in + "." + b64.EncodeToString(k.SignBytes([]byte(in)))
			}},
			// Resource exhaustion: a huge proof is refused before parsing.
			{name: "larger than 8 KiB", proof: mut(func(_, c map[string]any) { c["pad"] = strings.Repeat("A", 8<<10) })},
			{name: "empty", proof: func() string { return "" }},
			{name: "two segments", proof: func() string { p := valid(); return p[:strings.LastIndexByte(p, '.')] }},
			{name: "four segments", proof: func() string { return valid() + ".x" }},
			{name: "not base64url", proof: func() string { return "!!!." + strings.SplitN(valid(), ".", 2)[1] }},
			{name: "padded base64", proof: func() string {
				s := strings.Split(valid(), ".")
				return s[0] + "=." + s[1] + "." + s[2]
			}},

			// Replay with a forged identity: no jti, or one that cannot be stored.
			{name: "jti missing", proof: mut(func(_, c map[string]any) { delete(c, "jti") })},
			{name: "jti empty", proof: mut(func(_, c map[string]any) { c["jti"] = "" })},
			{name: "jti of 257 characters", proof: mut(func(_, c map[string]any) { c["jti"] = strings.Repeat("j", 257) })},
			{name: "jti not a string", proof: mut(func(_, c map[string]any) { c["jti"] = 12345 })},

			// Request retargeting: a proof captured for one call used for another.
			{name: "wrong htm", proof: func() string { return k.Proof("POST", testURL, "", "", t0) }},
			{name: "htm lower case", proof: func() string { return k.Proof("get", testURL, "", "", t0) }},
			{name: "htm missing", proof: mut(func(_, c map[string]any) { delete(c, "htm") })},
			{name: "htu other host", proof: func() string { return k.Proof("GET", "https://evil.example.com/v1/codes", "", "", t0) }},
			{name: "htu other host with our host as prefix", proof: func() string {
				return k.Proof("GET", "https://pay.example.com.evil.example/v1/codes", "", "", t0)
			}},
			{name: "htu with our host as userinfo", proof: func() string {
				return k.Proof("GET", "https://pay.example.com@evil.example/v1/codes", "", "", t0)
			}},
			{name: "htu other path", proof: func() string { return k.Proof("GET", "https://pay.example.com/v1/wallet", "", "", t0) }},
			{name: "htu path prefix", proof: func() string { return k.Proof("GET", "https://pay.example.com/v1/codes/x", "", "", t0) }},
			{name: "htu other scheme", proof: func() string { return k.Proof("GET", "http://pay.example.com/v1/codes", "", "", t0) }},
			{name: "htu other port", proof: func() string { return k.Proof("GET", "https://pay.example.com:8443/v1/codes", "", "", t0) }},
			{name: "htu relative", proof: func() string { return k.Proof("GET", "/v1/codes", "", "", t0) }},
			{name: "htu missing", proof: mut(func(_, c map[string]any) { delete(c, "htu") })},
			{name: "htu encoded slash", proof: func() string { return k.Proof("GET", "https://pay.example.com/v1%2Fcodes", "", "", t0) }},

			// Pre-computed or long-captured proofs.
			{name: "iat 61s old", proof: func() string { return k.Proof("GET", testURL, "", "", t0.Add(-61*time.Second)) }},
			{name: "iat 6s in the future", proof: func() string { return k.Proof("GET", testURL, "", "", t0.Add(6*time.Second)) }},
			{name: "iat missing", proof: mut(func(_, c map[string]any) { delete(c, "iat") })},
			{name: "iat a string", proof: mut(func(_, c map[string]any) { c["iat"] = jsonInt(t0.Unix()) })},
			{name: "iat huge", proof: mut(func(_, c map[string]any) { c["iat"] = 1e300 })},
			{name: "iat negative", proof: mut(func(_, c map[string]any) { c["iat"] = -1 })},
			{name: "exp in the past", proof: mut(func(_, c map[string]any) { c["exp"] = t0.Add(-time.Minute).Unix() })},

			// Stolen access token used with the attacker's own proof: ath
			// binds the proof to the token.
			{
				name:  "ath for another token",
				proof: func() string { return k.Proof("GET", testURL, "another-token", "", t0) },
				req:   tokens.DPoPRequest{AccessToken: testToken},
			},
			{
				name:  "ath missing when a token is presented",
				proof: valid,
				req:   tokens.DPoPRequest{AccessToken: testToken},
			},
			{
				name:  "ath not a string",
				proof: mut(func(_, c map[string]any) { c["ath"] = 1 }),
				req:   tokens.DPoPRequest{AccessToken: testToken},
			},

			// Pre-generated proofs when the server demands a fresh nonce.
			{
				name:  "nonce required but missing",
				proof: valid,
				req:   tokens.DPoPRequest{Nonce: "server-nonce"},
				want:  tokens.ErrUseDPoPNonce,
			},
			{
				name:  "nonce mismatched",
				proof: func() string { return k.Proof("GET", testURL, "", "old-nonce", t0) },
				req:   tokens.DPoPRequest{Nonce: "server-nonce"},
				want:  tokens.ErrUseDPoPNonce,
			},
		}
		// Algorithm confusion: HS256 keyed with the public key in every form
		// an HMAC-accepting verifier might use.
		for name, secret := range hmacSecrets {
			cases = append(cases, tc{name: "HS256 keyed with the " + name, proof: func() string {
				in := signingInput(t, header("HS256"), claims())
				return in + "." + b64.EncodeToString(hs256(secret, in))
			}})
		}

		for _, c := range cases {
			t.Run(alg+"/"+c.name, func(t *testing.T) {
				replay := newMemReplay()
				v := &tokens.DPoPVerifier{Replay: replay, Now: clock(t0)}
				req := c.req
				if req.Method == "" {
					req.Method, req.URL = "GET", testURL
				}
				want := c.want
				if want == nil {
					want = tokens.ErrInvalidDPoP
				}
				got, err := v.Verify(context.Background(), c.proof(), req)
				if !errors.Is(err, want) || !errors.Is(err, tokens.ErrInvalidDPoP) {
					t.Fatalf("Verify error = %v, want %v", err, want)
				}
				if errors.Is(err, tokens.ErrDPoPReplay) {
					t.Errorf("Verify error = %v, must not be a replay", err)
				}
				if got != nil {
					t.Errorf("Verify returned %+v with an error", got)
				}
				if n := replay.Calls(); n != 0 {
					t.Errorf("ClaimJTI called %d times for an invalid proof", n)
				}
				t.Log(err)
			})
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func publicJWK(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	m, err := tokens.PublicJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Attack: replaying a captured proof (same jti) within its lifetime.
func TestDPoPReplay(t *testing.T) {
	for alg, k := range testKeys(t) {
		t.Run(alg, func(t *testing.T) {
			replay := newMemReplay()
			v := &tokens.DPoPVerifier{Replay: replay, Now: clock(t0)}
			req := tokens.DPoPRequest{Method: "GET", URL: testURL}
			proof := k.Proof("GET", testURL, "", "", t0)
			if _, err := v.Verify(context.Background(), proof, req); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			// Later, but still within the proof's lifetime.
			v.Now = clock(t0.Add(30 * time.Second))
			got, err := v.Verify(context.Background(), proof, req)
			if !errors.Is(err, tokens.ErrDPoPReplay) || !errors.Is(err, tokens.ErrInvalidDPoP) {
				t.Fatalf("second Verify error = %v, want ErrDPoPReplay (an ErrInvalidDPoP)", err)
			}
			if got != nil {
				t.Errorf("second Verify returned a proof")
			}
			// A new proof with a fresh jti is fine.
			if _, err := v.Verify(context.Background(), k.Proof("GET", testURL, "", "", t0), req); err != nil {
				t.Fatalf("fresh proof: %v", err)
			}
		})
	}

	// The same jti from two different keys is two different proofs: the
	// cache is scoped by thumbprint, so one client cannot burn another's jti.
	t.Run("jti scoped by key", func(t *testing.T) {
		v := &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0)}
		req := tokens.DPoPRequest{Method: "GET", URL: testURL}
		for _, k := range []*dpoptest.Key{dpoptest.NewES256(t), dpoptest.NewES256(t)} {
			p := k.ProofWith(func(_, c map[string]any) { c["jti"] = "same" }, "GET", testURL, "", t0)
			if _, err := v.Verify(context.Background(), p, req); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
	})
}

// Attack: ECDSA signature malleability. (r, n-s) is a second valid signature
// of the same proof; a replay cache keyed by a hash of the proof text would
// take it for a new proof. Keyed by jti, it is the same proof.
func TestDPoPMalleatedSignatureIsReplay(t *testing.T) {
	k := dpoptest.NewES256(t)
	proof := k.Proof("GET", testURL, "", "", t0)
	i := strings.LastIndexByte(proof, '.')
	input, sig := proof[:i], mustB64(t, proof[i+1:])
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	sPrime := new(big.Int).Sub(elliptic.P256().Params().N, s)
	mutated := make([]byte, 64)
	r.FillBytes(mutated[:32])
	sPrime.FillBytes(mutated[32:])
	malleated := input + "." + b64.EncodeToString(mutated)
	if malleated == proof {
		t.Fatal("the malleated proof is identical")
	}

	// The mutated signature is cryptographically valid...
	digest := sha256.Sum256([]byte(input))
	if !ecdsa.Verify(k.Public().(*ecdsa.PublicKey), digest[:], r, sPrime) {
		t.Fatal("(r, n-s) does not verify; the test would prove nothing")
	}
	req := tokens.DPoPRequest{Method: "GET", URL: testURL}
	// ...and the verifier accepts it on its own (a fresh cache)...
	alone := &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0)}
	if _, err := alone.Verify(context.Background(), malleated, req); err != nil {
		t.Fatalf("malleated proof on a fresh cache: %v; want accepted (valid signature)", err)
	}
	// ...so only the jti stops it after the original was used.
	v := &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0)}
	if _, err := v.Verify(context.Background(), proof, req); err != nil {
		t.Fatalf("original: %v", err)
	}
	got, err := v.Verify(context.Background(), malleated, req)
	if !errors.Is(err, tokens.ErrDPoPReplay) || got != nil {
		t.Fatalf("malleated after original = %v, %v; want nil, ErrDPoPReplay", got, err)
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A Redis outage must not turn into "proof invalid" (401, client retries with
// new proofs) nor into acceptance: the error is distinct, for a 503.
func TestDPoPReplayCacheError(t *testing.T) {
	k := dpoptest.NewEdDSA(t)
	down := errors.New("redis: connection refused")
	replay := newMemReplay()
	replay.err = down
	v := &tokens.DPoPVerifier{Replay: replay, Now: clock(t0)}
	got, err := v.Verify(context.Background(), k.Proof("GET", testURL, "", "", t0), tokens.DPoPRequest{Method: "GET", URL: testURL})
	if err == nil || got != nil {
		t.Fatalf("Verify = %v, %v; want an error", got, err)
	}
	if errors.Is(err, tokens.ErrInvalidDPoP) {
		t.Errorf("error %v is ErrInvalidDPoP; a cache failure must not look like a bad proof", err)
	}
	if !errors.Is(err, down) {
		t.Errorf("error %v does not wrap the cache error", err)
	}
}

func TestDPoPVerifierMisconfigured(t *testing.T) {
	k := dpoptest.NewES256(t)
	proof := k.Proof("GET", testURL, "", "", t0)
	cases := []struct {
		name string
		v    *tokens.DPoPVerifier
		req  tokens.DPoPRequest
	}{
		{"no replay cache", &tokens.DPoPVerifier{Now: clock(t0)}, tokens.DPoPRequest{Method: "GET", URL: testURL}},
		{"negative MaxAge", &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0), MaxAge: -time.Second}, tokens.DPoPRequest{Method: "GET", URL: testURL}},
		{"no method", &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0)}, tokens.DPoPRequest{URL: testURL}},
		{"relative request URL", &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0)}, tokens.DPoPRequest{Method: "GET", URL: "/v1/codes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.v.Verify(context.Background(), proof, c.req)
			if err == nil || got != nil {
				t.Fatalf("Verify = %v, %v; want an error", got, err)
			}
			if errors.Is(err, tokens.ErrInvalidDPoP) {
				t.Errorf("error %v blames the client for a server misconfiguration", err)
			}
		})
	}
}

func TestDPoPCustomWindow(t *testing.T) {
	k := dpoptest.NewES256(t)
	v := &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0), MaxAge: 10 * time.Second, MaxSkew: time.Second}
	req := tokens.DPoPRequest{Method: "GET", URL: testURL}
	if _, err := v.Verify(context.Background(), k.Proof("GET", testURL, "", "", t0.Add(-11*time.Second)), req); !errors.Is(err, tokens.ErrInvalidDPoP) {
		t.Errorf("11s old with MaxAge 10s: %v, want ErrInvalidDPoP", err)
	}
	if _, err := v.Verify(context.Background(), k.Proof("GET", testURL, "", "", t0.Add(2*time.Second)), req); !errors.Is(err, tokens.ErrInvalidDPoP) {
		t.Errorf("2s ahead with MaxSkew 1s: %v, want ErrInvalidDPoP", err)
	}
	replay := newMemReplay()
	v.Replay = replay
	if _, err := v.Verify(context.Background(), k.Proof("GET", testURL, "", "", t0.Add(-10*time.Second)), req); err != nil {
		t.Fatalf("10s old: %v", err)
	}
	if replay.ttls[0] != 11*time.Second {
		t.Errorf("jti TTL = %v, want MaxAge+MaxSkew = 11s", replay.ttls[0])
	}
}

// Interoperability: the example proof of RFC 9449 Figure 2 (made by someone
// else's implementation) verifies, and its key has the thumbprint the RFC
// gives in section 6.1.
func TestDPoPRFC9449Example(t *testing.T) {
	const proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	v := &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(time.Unix(1562262616, 0))}
	got, err := v.Verify(context.Background(), proof, tokens.DPoPRequest{Method: "POST", URL: "https://server.example.com/token"})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.JKT != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" || got.JTI != "-BwC3ESc6acc2lTc" {
		t.Errorf("proof = %+v, want the RFC's jkt and jti", got)
	}
}

func TestNormalizeHTU(t *testing.T) {
	ok := []struct{ in, want string }{
		{"https://pay.example.com/v1/codes", "https://pay.example.com/v1/codes"},
		{"HTTPS://PAY.Example.com/v1/codes", "https://pay.example.com/v1/codes"},
		{"https://pay.example.com:443/v1/codes", "https://pay.example.com/v1/codes"},
		{"http://pay.example.com:80/x", "http://pay.example.com/x"},
		{"http://pay.example.com:443/x", "http://pay.example.com:443/x"},
		{"https://pay.example.com:80/x", "https://pay.example.com:80/x"},
		{"https://pay.example.com:/x", "https://pay.example.com/x"},
		{"https://pay.example.com:08443/x", "https://pay.example.com:8443/x"},
		{"https://pay.example.com", "https://pay.example.com/"},
		{"https://pay.example.com?q=1", "https://pay.example.com/"},
		{"https://pay.example.com/a?q=1#f", "https://pay.example.com/a"},
		{"https://pay.example.com/a#f?q", "https://pay.example.com/a"},
		{"https://pay.example.com/%7e%41b%2fc%3a", "https://pay.example.com/~Ab%2Fc%3A"},
		{"https://pay.example.com/a/./b/../c", "https://pay.example.com/a/c"},
		{"https://pay.example.com/../../a", "https://pay.example.com/a"},
		{"https://pay.example.com/a/%2E%2E/b", "https://pay.example.com/b"},
		{"https://pay.example.com/a/..", "https://pay.example.com/"},
		{"https://pay.example.com/a/", "https://pay.example.com/a/"},
		{"https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"},
	}
	for _, c := range ok {
		t.Run(c.in, func(t *testing.T) {
			got, err := tokens.NormalizeHTU(c.in)
			if err != nil || got != c.want {
				t.Fatalf("NormalizeHTU(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
	bad := []string{
		"",
		"/v1/codes",
		"pay.example.com/v1/codes",
		"ftp://pay.example.com/x",
		"https:pay.example.com/x",
		"https:///x",
		"https://user@pay.example.com/x",
		"https://pay.example.com:99999/x",
		"https://pay.example.com:-1/x",
		"https://pay.example.com:8a/x",
		"https://pay.example.com:1:2/x",
		"https://pay%2eexample.com/x",
		"https://[fe80::1%25eth0]/x",
		"https://[::1/x",
		"https://[1.2.3.4]/x",
		"https://pay.example.com/a b",
		"https://pay.example.com/a\\b",
		"https://pay.example.com/%zz",
		"https://pay.example.com/%4",
		"https://pay.example.com/[x]",
		"https://päy.example.com/x",
		"https://pay.example.com/\x00",
		"https://" + strings.Repeat("a", 5000) + "/",
	}
	for _, in := range bad {
		t.Run("bad "+in[:min(len(in), 40)], func(t *testing.T) {
			if got, err := tokens.NormalizeHTU(in); err == nil {
				t.Fatalf("NormalizeHTU(%q) = %q, want an error", in, got)
			}
		})
	}
}

func TestATH(t *testing.T) {
	// base64url(SHA-256("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")), the
	// access token of RFC 9449 7.1, is the ath of its Figure 13.
	if got := tokens.ATH("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Errorf("ATH = %q", got)
	}
}

// FuzzVerifyDPoP feeds arbitrary strings, seeded with valid proofs of both
// algorithms, to Verify. It must never panic, never return a proof together
// with an error, and every failure must be ErrInvalidDPoP (the request and
// cache here are fine, so nothing else may fail).
func FuzzVerifyDPoP(f *testing.F) {
	es, ed := dpoptest.NewES256(f), dpoptest.NewEdDSA(f)
	for _, k := range []*dpoptest.Key{es, ed} {
		f.Add(k.Proof("GET", testURL, "", "", t0))
		f.Add(k.Proof("GET", testURL, testToken, "", t0))
		f.Add(k.Proof("GET", "HTTPS://pay.example.com:443/v1/./codes?x", testToken, "", t0))
		f.Add(k.ProofWith(func(h, _ map[string]any) { h["alg"] = "none" }, "GET", testURL, testToken, t0))
		f.Add(k.ProofWith(func(h, _ map[string]any) { h["jwk"].(map[string]any)["d"] = "AAAA" }, "GET", testURL, testToken, t0))
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, proof string) {
		v := &tokens.DPoPVerifier{Replay: newMemReplay(), Now: clock(t0)}
		got, err := v.Verify(context.Background(), proof, tokens.DPoPRequest{Method: "GET", URL: testURL, AccessToken: testToken})
		if err != nil {
			if got != nil {
				t.Fatalf("Verify returned %+v with error %v", got, err)
			}
			if !errors.Is(err, tokens.ErrInvalidDPoP) {
				t.Fatalf("Verify error %v is not ErrInvalidDPoP", err)
			}
			return
		}
		if got == nil || got.JTI == "" || got.Key == nil {
			t.Fatalf("Verify = %+v with no error; want a complete proof", got)
		}
		if jkt, err := tokens.Thumbprint(got.Key); err != nil || jkt != got.JKT {
			t.Fatalf("JKT %q is not the key's thumbprint %q (%v)", got.JKT, jkt, err)
		}
	})
}
