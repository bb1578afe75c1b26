package tokens_test

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paycode/paycode/tokens"
)

const testPrefix = "99"

// validVector is prefix 99, bucket 0042, random part 12345678901234567 and
// its Luhn check digit 3, computed by an independent implementation.
const validVector = "990042123456789012345673"

func newCode(t testing.TB, prefix string, bucket uint16) tokens.Code {
	t.Helper()
	c, err := tokens.NewCode(prefix, bucket)
	if err != nil {
		t.Fatalf("NewCode(%q, %d): %v", prefix, bucket, err)
	}
	return c
}

func TestLuhnVectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"79927398713", true},
		{"79927398710", false},
		{"79927398711", false},
		{"4111111111111111", true}, // Visa test card
		{"4111111111111112", false},
		{"5555555555554444", true}, // Mastercard test card
		{"378282246310005", true},  // American Express test card
		{"378282246310006", false},
		{"00", true},
		{"18", true},
		{"10", false},
		{validVector, true},
		{"000000000000000000000000", true},
		{"129999000000000000000000", true},
		{"", false},                  // nothing to check
		{"0", false},                 // a check digit alone checks nothing
		{"7992739871a", false},       // not a digit
		{"7992739871 3", false},      // space
		{"+79927398713", false},      // sign
		{"7992739871３", false},       // full-width digit
		{"-4111111111111111", false}, // sign
	} {
		if got := tokens.LuhnValid(tc.in); got != tc.want {
			t.Errorf("LuhnValid(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestLuhnCheckDigit(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    byte
	}{
		{"7992739871", '3'},
		{"411111111111111", '1'},
		{"99004212345678901234567", '3'},
		{"00000000000000000000000", '0'},
		{"1", '8'},
		{"0", '0'},
	} {
		got, err := tokens.LuhnCheckDigit(tc.payload)
		if err != nil || got != tc.want {
			t.Errorf("LuhnCheckDigit(%q) = %q, %v; want %q", tc.payload, got, err, tc.want)
		}
		if !tokens.LuhnValid(tc.payload + string(got)) {
			t.Errorf("LuhnValid(%q + check digit) = false", tc.payload)
		}
	}
	// Every payload length and every position, against LuhnValid.
	for n := 1; n <= 30; n++ {
		p := strings.Repeat("7", n-1) + "2"
		d, err := tokens.LuhnCheckDigit(p)
		if err != nil {
			t.Fatal(err)
		}
		for c := byte('0'); c <= '9'; c++ {
			if got := tokens.LuhnValid(p + string(c)); got != (c == d) {
				t.Errorf("len %d: LuhnValid(payload+%c) = %v, check digit is %c", n, c, got, d)
			}
		}
	}
	for _, bad := range []struct {
		in   string
		want error
	}{
		{"", tokens.ErrCodeLength},
		{"12a4", tokens.ErrCodeDigits},
		{"１２", tokens.ErrCodeDigits},
		{" 12", tokens.ErrCodeDigits},
	} {
		if _, err := tokens.LuhnCheckDigit(bad.in); !errors.Is(err, bad.want) {
			t.Errorf("LuhnCheckDigit(%q) error = %v, want %v", bad.in, err, bad.want)
		}
	}
}

func TestNewCodeLayout(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		bucket uint16
		want   string // digits 0-5
	}{
		{"99", 42, "990042"},
		{"00", 0, "000000"},
		{"12", 9999, "129999"},
		{"07", 700, "070700"},
		{"50", 1234, "501234"},
	} {
		c := newCode(t, tc.prefix, tc.bucket)
		d := c.Digits()
		if len(d) != tokens.CodeLength || !regexp.MustCompile(`^[0-9]{24}$`).MatchString(d) {
			t.Fatalf("Digits() is not 24 ASCII digits (len %d)", len(d))
		}
		if d[:6] != tc.want {
			t.Errorf("NewCode(%q, %d): digits 0-5 = %q, want %q", tc.prefix, tc.bucket, d[:6], tc.want)
		}
		if c.Prefix() != tc.prefix || c.Bucket() != tc.bucket {
			t.Errorf("Prefix, Bucket = %q, %d; want %q, %d", c.Prefix(), c.Bucket(), tc.prefix, tc.bucket)
		}
		if !tokens.LuhnValid(d) {
			t.Errorf("NewCode(%q, %d) fails Luhn", tc.prefix, tc.bucket)
		}
		if c.IsZero() {
			t.Error("fresh code IsZero")
		}
	}
}

func TestNewCodeRejects(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		bucket uint16
		want   error
	}{
		{"9", 1, tokens.ErrIssuerPrefix},
		{"999", 1, tokens.ErrIssuerPrefix},
		{"", 1, tokens.ErrIssuerPrefix},
		{"a9", 1, tokens.ErrIssuerPrefix},
		{"９９", 1, tokens.ErrIssuerPrefix},
		{"+9", 1, tokens.ErrIssuerPrefix},
		{"99", 10000, tokens.ErrCodeBucket},
		{"99", 65535, tokens.ErrCodeBucket},
	} {
		c, err := tokens.NewCode(tc.prefix, tc.bucket)
		if !errors.Is(err, tc.want) || !c.IsZero() {
			t.Errorf("NewCode(%q, %d) = %v, %v; want zero Code and %v", tc.prefix, tc.bucket, c, err, tc.want)
		}
		if errors.Is(err, tokens.ErrInvalidCode) {
			t.Errorf("NewCode(%q, %d): a configuration error must not look like bad client input", tc.prefix, tc.bucket)
		}
	}
}

func TestParseCodeRoundTrip(t *testing.T) {
	for i := range 1000 {
		bucket := uint16(i * 37 % 10000)
		c := newCode(t, testPrefix, bucket)
		p, err := tokens.ParseCode(c.Digits(), testPrefix)
		if err != nil {
			t.Fatalf("ParseCode(NewCode) #%d: %v", i, err)
		}
		if !p.Equal(c) || !c.Equal(p) || p.Digits() != c.Digits() {
			t.Fatalf("round trip #%d changed the code", i)
		}
		if p.Bucket() != bucket || p.Prefix() != testPrefix {
			t.Fatalf("round trip #%d: bucket %d prefix %q, want %d %q", i, p.Bucket(), p.Prefix(), bucket, testPrefix)
		}
	}
	c, err := tokens.ParseCode(validVector, testPrefix)
	if err != nil {
		t.Fatalf("ParseCode(vector): %v", err)
	}
	if c.Bucket() != 42 || c.Prefix() != "99" || c.Digits() != validVector {
		t.Errorf("vector parsed as bucket %d prefix %q", c.Bucket(), c.Prefix())
	}
	for _, v := range []struct{ s, prefix string }{
		{"000000000000000000000000", "00"},
		{"129999000000000000000000", "12"},
	} {
		if _, err := tokens.ParseCode(v.s, v.prefix); err != nil {
			t.Errorf("ParseCode(%q, %q): %v", v.s, v.prefix, err)
		}
	}
}

// Attack: malformed input (from a terminal, or a guesser probing the parser)
// must be refused locally, before any Redis round trip, with the zero Code
// and a reason that never echoes the input. The order of the checks is part
// of the contract: length, then digits, then prefix, then check digit.
func TestParseCodeFormat(t *testing.T) {
	swapLast := validVector[:23] + "4"
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", tokens.ErrCodeLength},
		{"23 digits", validVector[:23], tokens.ErrCodeLength},
		{"25 digits", validVector + "0", tokens.ErrCodeLength},
		{"25 digits, valid Luhn", "9900421234567890123456733", tokens.ErrCodeLength},
		{"very long", strings.Repeat("9", 1<<20), tokens.ErrCodeLength},
		{"letter", "99004212345678901234567a", tokens.ErrCodeDigits},
		{"letter in prefix", "9a0042123456789012345673", tokens.ErrCodeDigits},
		{"space inside", "990042 23456789012345673", tokens.ErrCodeDigits},
		{"leading space", " 99004212345678901234567", tokens.ErrCodeDigits},
		{"trailing newline", "99004212345678901234567\n", tokens.ErrCodeDigits},
		{"leading plus", "+99004212345678901234567", tokens.ErrCodeDigits},
		{"leading minus", "-99004212345678901234567", tokens.ErrCodeDigits},
		{"NUL", "9900421234567890123456\x003", tokens.ErrCodeDigits},
		// Full-width ０ is 3 bytes: 21 ASCII digits + 1 full-width is 24 bytes.
		{"full-width digit", "990042123456789012345" + "０", tokens.ErrCodeDigits},
		{"all full-width (wrong length)", strings.Repeat("０", 24), tokens.ErrCodeLength},
		{"Arabic-Indic digits", "99004212345678901234" + "٠١", tokens.ErrCodeDigits},
		{"wrong prefix", "980042123456789012345673", tokens.ErrCodePrefix},
		{"wrong prefix, valid Luhn", "000000000000000000000000", tokens.ErrCodePrefix},
		{"wrong check digit", swapLast, tokens.ErrCodeCheck},
		{"one digit changed", "990042123456789012345683", tokens.ErrCodeCheck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tokens.ParseCode(tc.in, testPrefix)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, tokens.ErrInvalidCode) {
				t.Errorf("error %v does not wrap ErrInvalidCode", err)
			}
			if !c.IsZero() || c.Digits() != "" {
				t.Errorf("failed parse returned a non-zero Code")
			}
			if len(tc.in) >= 8 && strings.Contains(err.Error(), tc.in[:8]) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
	if _, err := tokens.ParseCode(validVector, "9"); !errors.Is(err, tokens.ErrIssuerPrefix) || errors.Is(err, tokens.ErrInvalidCode) {
		t.Errorf("ParseCode with a bad configured prefix: %v, want ErrIssuerPrefix only", err)
	}
	for _, reason := range []error{tokens.ErrCodeLength, tokens.ErrCodeDigits, tokens.ErrCodePrefix, tokens.ErrCodeCheck} {
		if !errors.Is(reason, tokens.ErrInvalidCode) {
			t.Errorf("%v does not wrap ErrInvalidCode", reason)
		}
	}
}

// Attack: a code misread by a scanner or mistyped at the register paying
// from someone else's wallet. Luhn catches every single-digit error and every
// adjacent transposition except 09 <-> 90, so a near miss of a live code is
// refused before it is looked up.
func TestCodeDetectsSingleErrors(t *testing.T) {
	for n := range 100 {
		c := newCode(t, testPrefix, uint16(n*101%10000))
		d := c.Digits()
		for i := range len(d) {
			for r := byte('0'); r <= '9'; r++ {
				if r == d[i] {
					continue
				}
				m := d[:i] + string(r) + d[i+1:]
				if tokens.LuhnValid(m) {
					t.Fatalf("substitution at %d passes Luhn", i)
				}
				if _, err := tokens.ParseCode(m, testPrefix); !errors.Is(err, tokens.ErrInvalidCode) {
					t.Fatalf("substitution at %d parses: %v", i, err)
				}
			}
		}
		for i := range len(d) - 1 {
			a, b := d[i], d[i+1]
			if a == b {
				continue
			}
			m := d[:i] + string(b) + string(a) + d[i+2:]
			blind := (a == '0' && b == '9') || (a == '9' && b == '0')
			if got := tokens.LuhnValid(m); got != blind {
				t.Fatalf("transposition %c%c at %d: LuhnValid = %v, want %v", a, b, i, got, blind)
			}
			if _, err := tokens.ParseCode(m, testPrefix); !blind && !errors.Is(err, tokens.ErrInvalidCode) {
				t.Fatalf("transposition %c%c at %d parses: %v", a, b, i, err)
			}
		}
	}
	// The vector has 0-9 and 9-0 pairs? Make one that certainly does.
	p := "99004209090909090909090"
	ch, _ := tokens.LuhnCheckDigit(p)
	v := p + string(ch)
	sw := v[:6] + "9" + "0" + v[8:]
	if !tokens.LuhnValid(sw) {
		t.Errorf("09 -> 90 is Luhn's known blind spot; LuhnValid(%s) = false means the algorithm is not Luhn", sw)
	}
}

// The random part must be uniform over all 17 positions: a modulo bias, a
// formatting bug that drops leading zeros or a constant digit would show.
// Each of the 170 (position, value) counts over 2000 codes is
// Binomial(2000, 0.1), mean 200; a correct implementation falls outside
// [80, 320] somewhere with probability below 6e-15 (exact binomial tail,
// union bound), so this test does not flake. Every value appears at every
// position, and no two of the first 100 codes are equal (birthday bound
// 100²/2/10^17 = 5e-14).
func TestCodeRandomDistribution(t *testing.T) {
	const n = 2000
	var counts [tokens.CodeRandomDigits][10]int
	seen := make(map[string]bool)
	for i := range n {
		d := newCode(t, testPrefix, 42).Digits()
		r := d[6:23]
		for pos := range len(r) {
			counts[pos][r[pos]-'0']++
		}
		if i < 100 {
			if seen[r] {
				t.Fatalf("code %d repeats an earlier random part", i)
			}
			seen[r] = true
		}
	}
	for pos, row := range counts {
		for v, k := range row {
			if k < 80 || k > 320 {
				t.Errorf("random digit %d took value %d %d times in %d codes, want 80-320 (mean 200)", pos, v, k, n)
			}
		}
	}
}

// Attack: a live code leaking into a log line, an error or a JSON document
// through an innocent print; whoever reads it could pay with it.
func TestCodeNeverPrinted(t *testing.T) {
	c, err := tokens.ParseCode(validVector, testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	random := validVector[6:23]
	type exported struct{ Code tokens.Code }
	type unexported struct{ code tokens.Code }
	type nested struct {
		Name  string
		Inner *unexported
	}
	outputs := map[string]string{
		"String":          c.String(),
		"GoString":        c.GoString(),
		"LogValue":        c.LogValue().String(),
		"Sprint":          fmt.Sprint(c),
		"pointer":         fmt.Sprintf("%v", &c),
		"error wrap":      fmt.Errorf("redeem %v: %w", c, tokens.ErrCodeCheck).Error(),
		"exported field":  fmt.Sprintf("%v %+v %#v", exported{c}, exported{c}, exported{c}),
		"nested":          fmt.Sprintf("%v %+v %#v", nested{"n", &unexported{c}}, nested{"n", &unexported{c}}, nested{"n", &unexported{c}}),
		"slice":           fmt.Sprintf("%v %#v %x", []tokens.Code{c}, []tokens.Code{c}, []tokens.Code{c}),
		"map":             fmt.Sprintf("%v", map[string]tokens.Code{"k": c}),
		"width/precision": fmt.Sprintf("%40.3v|%-9s|%08x", c, c, c),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%e", "%t", "%p", "%T"} {
		outputs["verb "+verb] = fmt.Sprintf(verb, c)
		outputs["unexported field "+verb] = fmt.Sprintf(verb, unexported{c})
	}
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("redeem", "code", c, slog.Any("any", c), slog.Group("g", "code", c))
		log.Info("struct", "exported", exported{c}, "unexported", unexported{c}, "ptr", &c)
		log.With("code", c).Info("with")
		outputs[name] = buf.String()
	}
	// Windows of 9 digits cover the random part and cannot occur by chance
	// in a printed heap address (0xc0 and 8 hex digits) or code address.
	forbidden := []string{
		random[:9], random[4:13], random[8:],
		fmt.Sprintf("%x", random)[:12], // hex of the ASCII digits
		strings.Trim(fmt.Sprint([]byte(random)), "[]")[:12],
	}
	for name, out := range outputs {
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("%s leaks the random digits: %q", name, out)
			}
		}
	}
	if got, want := c.String(), "99-0042-…-3"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (tokens.Code{}).String(); got != "code:empty" {
		t.Errorf("zero String = %q", got)
	}

	if b, err := json.Marshal(c); err == nil {
		t.Errorf("json.Marshal(Code) = %s, want an error", b)
	}
	if b, err := json.Marshal(exported{c}); err == nil {
		t.Errorf("json.Marshal(struct with a Code) = %s, want an error", b)
	}
	if b, err := json.Marshal(map[string]any{"code": c}); err == nil {
		t.Errorf("json.Marshal(map with a Code) = %s, want an error", b)
	}
	var tm encoding.TextMarshaler = c
	if b, err := tm.MarshalText(); err == nil {
		t.Errorf("MarshalText = %q, want an error", b)
	}
}

func TestCodeEqual(t *testing.T) {
	a, _ := tokens.ParseCode(validVector, testPrefix)
	b, _ := tokens.ParseCode(validVector, testPrefix)
	other := newCode(t, testPrefix, 42)
	if !a.Equal(b) {
		t.Error("equal codes are not Equal")
	}
	if a.Equal(other) {
		t.Error("different codes are Equal")
	}
	var z tokens.Code
	if z.Equal(z) || z.Equal(a) || a.Equal(z) {
		t.Error("the zero Code equals something")
	}
	if !z.IsZero() || z.Digits() != "" || z.Prefix() != "" || z.Bucket() != 0 {
		t.Error("zero Code is not empty")
	}
}

func TestCodeKeyedName(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	c, _ := tokens.ParseCode(validVector, testPrefix)
	name := c.KeyedName(key)
	if want := tokens.KeyedHash(key, "code", validVector); name != want {
		t.Errorf("KeyedName = %s, want KeyedHash(key, \"code\", digits) = %s", name, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(name) || strings.Contains(name, validVector[6:12]) {
		t.Errorf("KeyedName = %q, want 64 hex digits that reveal nothing", name)
	}
	if c.KeyedName(bytes.Repeat([]byte{8}, 32)) == name {
		t.Error("KeyedName does not depend on the key")
	}
	if tokens.KeyedHash(key, "otp", validVector) == name {
		t.Error("KeyedName is not separated from other purposes")
	}
	defer func() {
		if recover() == nil {
			t.Error("KeyedName of the zero Code did not panic")
		}
	}()
	_ = tokens.Code{}.KeyedName(key)
}

// FuzzParseCode: no input panics the parser; a failure returns the zero Code;
// a success is exactly the input, 24 ASCII digits with the prefix and a
// valid check digit, and parses again to an equal Code.
func FuzzParseCode(f *testing.F) {
	f.Add(validVector, testPrefix)
	f.Add("000000000000000000000000", "00")
	f.Add("129999000000000000000000", "12")
	for i := range 8 {
		c := newCode(f, testPrefix, uint16(i*1250))
		d := c.Digits()
		f.Add(d, testPrefix)
		f.Add(d[:23], testPrefix)
		f.Add(d+"0", testPrefix)
		f.Add(d[:23]+strconv.Itoa((int(d[23]-'0')+1)%10), testPrefix)
		f.Add(d[:1]+string(d[2])+string(d[1])+d[3:], testPrefix)
		f.Add(d[:10]+"０"[:1]+d[11:], testPrefix)
		f.Add(d, "98")
		f.Add(" "+d[1:], testPrefix)
		f.Add("+"+d[1:], testPrefix)
	}
	f.Add("990042123456789012345"+"０", testPrefix)
	f.Add(validVector, "")
	f.Add(validVector, "９")
	f.Fuzz(func(t *testing.T, s, prefix string) {
		c, err := tokens.ParseCode(s, prefix)
		if err != nil {
			if !c.IsZero() || c.Digits() != "" {
				t.Fatalf("ParseCode(%q, %q) failed (%v) but returned a non-zero Code", s, prefix, err)
			}
			if !errors.Is(err, tokens.ErrInvalidCode) && !errors.Is(err, tokens.ErrIssuerPrefix) {
				t.Fatalf("ParseCode(%q, %q): unexpected error %v", s, prefix, err)
			}
			return
		}
		if c.IsZero() || c.Digits() != s {
			t.Fatalf("ParseCode(%q, %q) succeeded with Digits %q", s, prefix, c.Digits())
		}
		if len(s) != tokens.CodeLength || !regexp.MustCompile(`^[0-9]{24}$`).MatchString(s) || !strings.HasPrefix(s, prefix) || !tokens.LuhnValid(s) {
			t.Fatalf("ParseCode accepted %q with prefix %q", s, prefix)
		}
		if want, _ := strconv.Atoi(s[2:6]); int(c.Bucket()) != want || c.Prefix() != prefix {
			t.Fatalf("ParseCode(%q): bucket %d prefix %q", s, c.Bucket(), c.Prefix())
		}
		again, err := tokens.ParseCode(c.Digits(), prefix)
		if err != nil || !again.Equal(c) {
			t.Fatalf("re-parse of %q: %v", s, err)
		}
		if strings.Contains(c.String(), s[6:12]) {
			t.Fatalf("String %q reveals random digits", c.String())
		}
	})
}
