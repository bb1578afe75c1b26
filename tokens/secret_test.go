package tokens_test

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/paycode/paycode/tokens"
)

// Attack: a secret (refresh token, OTP, recovery code) leaking into a log
// line, an error body or a JSON document through an innocent print.
func TestSecretNeverPrinted(t *testing.T) {
	const value = "rt-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	s := tokens.NewSecret([]byte(value))
	type exported struct{ Token tokens.Secret }
	type unexported struct{ token tokens.Secret }
	type nested struct {
		Name  string
		Inner *unexported
	}

	outputs := map[string]string{
		"String":          s.String(),
		"GoString":        s.GoString(),
		"LogValue":        s.LogValue().String(),
		"Sprint":          fmt.Sprint(s),
		"Sprintln":        fmt.Sprintln(s),
		"pointer":         fmt.Sprintf("%v", &s),
		"error wrap":      fmt.Errorf("refresh %v failed", s).Error(),
		"exported field":  fmt.Sprintf("%v %+v %#v", exported{s}, exported{s}, exported{s}),
		"nested":          fmt.Sprintf("%v %+v %#v", nested{"n", &unexported{s}}, nested{"n", &unexported{s}}, nested{"n", &unexported{s}}),
		"slice":           fmt.Sprintf("%v %#v %x", []tokens.Secret{s}, []tokens.Secret{s}, []tokens.Secret{s}),
		"map":             fmt.Sprintf("%v", map[string]tokens.Secret{"k": s}),
		"any":             fmt.Sprintf("%v", any(s)),
		"width/precision": fmt.Sprintf("%40.3v|%-9s|%08x", s, s, s),
	}
	// Every verb, on the Secret itself and on a struct holding it in an
	// unexported field (fmt cannot call methods there; it sees a pointer).
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%e", "%t", "%p", "%T"} {
		outputs["verb "+verb] = fmt.Sprintf(verb, s)
		outputs["unexported field "+verb] = fmt.Sprintf(verb, unexported{s})
	}
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("refresh", "token", s, slog.Any("any", s), slog.Group("g", "token", s))
		log.Info("struct", "exported", exported{s}, "unexported", unexported{s}, "ptr", &s)
		log.With("token", s).Info("with")
		outputs[name] = buf.String()
	}

	forbidden := []string{
		value,
		strings.Trim(fmt.Sprint([]byte(value)), "[]")[:20], // decimal bytes, as fmt prints a []byte
		hex.EncodeToString([]byte(value))[:16],
		base64.StdEncoding.EncodeToString([]byte(value))[:16],
		"rt-9f8e7d",
	}
	for name, out := range outputs {
		for _, f := range forbidden {
			if strings.Contains(strings.ToLower(out), strings.ToLower(f)) {
				t.Errorf("%s leaks the secret: %q", name, out)
			}
		}
	}
	if !regexp.MustCompile(`^secret:[0-9a-f]{8}$`).MatchString(s.String()) {
		t.Errorf("String = %q, want secret: and 8 hex digits", s.String())
	}
	if !strings.Contains(outputs["slog JSON"], s.String()) {
		t.Errorf("slog output lacks the fingerprint: %s", outputs["slog JSON"])
	}
	if tokens.NewSecret([]byte(value)).String() != s.String() {
		t.Error("the fingerprint of one value changes within a process")
	}
	if tokens.NewSecret([]byte(value+"x")).String() == s.String() {
		t.Error("two values share a fingerprint")
	}
	if got := (tokens.Secret{}).String(); got != "secret:empty" {
		t.Errorf("zero String = %q", got)
	}
}

// Attack: a six-digit OTP fingerprinted by a plain hash can be recovered from
// a log line by hashing all million candidates. The fingerprint is keyed per
// process, so it does not match an unkeyed SHA-256 prefix.
func TestSecretFingerprintIsKeyed(t *testing.T) {
	s := tokens.NewSecret([]byte("123456"))
	// SHA-256("123456") begins 8d969eef.
	if s.String() == "secret:8d969eef" {
		t.Fatal("fingerprint is an unkeyed SHA-256 prefix")
	}
}

func TestSecretNotSerialisable(t *testing.T) {
	s := tokens.NewSecret([]byte("value"))
	for name, v := range map[string]any{
		"value":   s,
		"pointer": &s,
		"field":   struct{ S tokens.Secret }{s},
		"map":     map[string]any{"s": s},
		"slice":   []tokens.Secret{s},
		"zero":    tokens.Secret{},
	} {
		if b, err := json.Marshal(v); err == nil {
			t.Errorf("json.Marshal(%s) = %s, want an error", name, b)
		}
	}
	if _, err := encoding.TextMarshaler(s).MarshalText(); err == nil {
		t.Error("MarshalText succeeded")
	}
}

func TestSecretEqual(t *testing.T) {
	// == would be a variable-time comparison (or an identity check): it
	// must not compile.
	if reflect.TypeFor[tokens.Secret]().Comparable() {
		t.Error("Secret is comparable with ==")
	}
	a := tokens.NewSecret([]byte("abc"))
	cases := []struct {
		name string
		x, y tokens.Secret
		want bool
	}{
		{"same value", a, tokens.NewSecret([]byte("abc")), true},
		{"itself", a, a, true},
		{"other value", a, tokens.NewSecret([]byte("abd")), false},
		{"prefix", a, tokens.NewSecret([]byte("ab")), false},
		{"longer", a, tokens.NewSecret([]byte("abcd")), false},
		// A missing stored value must never match a missing presented value.
		{"zero and zero", tokens.Secret{}, tokens.Secret{}, false},
		{"empty and empty", tokens.NewSecret(nil), tokens.NewSecret([]byte{}), false},
		{"value and zero", a, tokens.Secret{}, false},
		{"zero and value", tokens.Secret{}, a, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.x.Equal(c.y); got != c.want {
				t.Fatalf("Equal = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSecretValue(t *testing.T) {
	b := []byte("original")
	s := tokens.NewSecret(b)
	b[0] = 'X'
	if s.Reveal() != "original" {
		t.Errorf("NewSecret did not copy: Reveal = %q", s.Reveal())
	}
	if s.IsZero() || !(tokens.Secret{}).IsZero() || !tokens.NewSecret(nil).IsZero() {
		t.Error("IsZero is wrong")
	}
	if (tokens.Secret{}).Reveal() != "" {
		t.Error("zero Reveal is not empty")
	}
}

func TestRandomSecret(t *testing.T) {
	for _, n := range []int{16, 32, 1024} {
		s, err := tokens.RandomSecret(n)
		if err != nil {
			t.Fatalf("RandomSecret(%d): %v", n, err)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s.Reveal())
		if err != nil || len(raw) != n {
			t.Fatalf("RandomSecret(%d) = %d bytes of base64url, %v", n, len(raw), err)
		}
		other, _ := tokens.RandomSecret(n)
		if other.Equal(s) {
			t.Fatalf("two RandomSecret(%d) are equal", n)
		}
	}
	for _, n := range []int{-1, 0, 8, 15, 1025} {
		if _, err := tokens.RandomSecret(n); err == nil {
			t.Errorf("RandomSecret(%d) succeeded", n)
		}
	}
}

func TestKeyedHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	// hex(HMAC-SHA256(key, "refresh\x00tok-123")), computed with Python's hmac.
	const want = "1220d363030ea8c743db304bb67b01f9f801c6247a45215175ea4fa31b4bb24a"
	if got := tokens.KeyedHash(key, "refresh", "tok-123"); got != want {
		t.Errorf("KeyedHash = %s, want %s", got, want)
	}
	// Domain separation: moving bytes between purpose and value changes the
	// hash, and another purpose or key gives another name.
	distinct := map[string]bool{}
	for _, h := range []string{
		tokens.KeyedHash(key, "refresh", "tok-123"),
		tokens.KeyedHash(key, "refreshtok-123", ""),
		tokens.KeyedHash(key, "refres", "htok-123"),
		tokens.KeyedHash(key, "otp", "tok-123"),
		tokens.KeyedHash([]byte("another key, also 32 bytes long!"), "refresh", "tok-123"),
	} {
		distinct[h] = true
	}
	if len(distinct) != 5 {
		t.Errorf("KeyedHash collisions: %v", distinct)
	}
	for name, f := range map[string]func(){
		"empty key":      func() { tokens.KeyedHash(nil, "otp", "1") },
		"NUL in purpose": func() { tokens.KeyedHash(key, "o\x00tp", "1") },
	} {
		t.Run("panics on "+name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}
