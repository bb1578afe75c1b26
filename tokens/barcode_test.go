package tokens_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paycode/paycode/tokens"
)

// barcodeCodes returns codes to render: fixed vectors at the edges of the
// layout (prefix 00, bucket 0 and 9999, all zeros, all nines) and codes
// whose random part comes from a fixed seed, so that a decoder failure is
// reproducible, never a flake.
func barcodeCodes(t *testing.T) []tokens.Code {
	t.Helper()
	vectors := []struct{ s, prefix string }{
		{validVector, "99"},
		{"000000000000000000000000", "00"},
		{"129999000000000000000000", "12"},
	}
	nines := strings.Repeat("9", 23)
	d, _ := tokens.LuhnCheckDigit(nines)
	vectors = append(vectors, struct{ s, prefix string }{nines + string(d), "99"})
	rng := rand.New(rand.NewPCG(2019, 7))
	for range 10 {
		p := fmt.Sprintf("%02d%04d%017d", rng.IntN(100), rng.IntN(10000), rng.Int64N(1e17))
		d, _ := tokens.LuhnCheckDigit(p)
		vectors = append(vectors, struct{ s, prefix string }{p + string(d), p[:2]})
	}
	var codes []tokens.Code
	for _, v := range vectors {
		c, err := tokens.ParseCode(v.s, v.prefix)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	return codes
}

// decodePNG decodes a PNG and checks it is a small paletted or gray image.
func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	// IHDR: bit depth 1, colour type 3 (palette): one bit per pixel.
	if len(b) < 26 || string(b[1:4]) != "PNG" || string(b[12:16]) != "IHDR" || b[24] != 1 || b[25] != 3 {
		t.Errorf("not a 1-bit paletted PNG")
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	switch img.(type) {
	case *image.Paletted, *image.Gray:
	default:
		t.Fatalf("image is %T, want paletted or gray", img)
	}
	return img
}

func dark(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return (r+g+b)/3 < 0x8000
}

// Independent Code 128 decoder for the tests: the bar/space widths of every
// symbol value (ISO/IEC 15417 table), written out here rather than taken
// from the library under test.
var code128Widths = strings.Fields(`212222 222122 222221 121223 121322 131222 122213 122312 132212 221213
221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222
321122 321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311 211313
231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 231131 213113 213311 213131 311123
311321 331121 312113 312311 332111 314111 221411 431111 111224 111422 121124 121421 141122 141221 112214
112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 124112
124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 114311 411113 411311 113141
114131 311141 411131 211412 211214 211232 2331112`)

// modulesOf turns a width pattern into modules, true = bar.
func modulesOf(widths string) string {
	var b strings.Builder
	for i, w := range widths {
		ch := "0"
		if i%2 == 0 {
			ch = "1"
		}
		b.WriteString(strings.Repeat(ch, int(w-'0')))
	}
	return b.String()
}

// readCode128 reads the module row of a Code 128 image rendered at scale,
// checks the quiet zones and decodes the symbol values, check symbol and
// stop included.
func readCode128(t *testing.T, img image.Image, scale int) []int {
	t.Helper()
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	q := tokens.Code128QuietModules * scale
	// The quiet zones: the first and last 10 modules are white on every row.
	for y := range h {
		for x := range q {
			if dark(img, x, y) || dark(img, w-1-x, y) {
				t.Fatalf("quiet zone pixel (%d,%d) or (%d,%d) is dark", x, y, w-1-x, y)
			}
		}
	}
	// Every row is the same, every module is scale pixels of one colour.
	var mods strings.Builder
	for x := q; x < w-q; x += scale {
		d := dark(img, x, 0)
		for i := range scale {
			for y := range h {
				if dark(img, x+i, y) != d {
					t.Fatalf("pixel (%d,%d) differs from its module", x+i, y)
				}
			}
		}
		if d {
			mods.WriteByte('1')
		} else {
			mods.WriteByte('0')
		}
	}
	m := mods.String()
	if len(m) != tokens.Code128Modules {
		t.Fatalf("symbol is %d modules wide, want %d (set C: Start C, 12 pairs, check, stop)", len(m), tokens.Code128Modules)
	}
	byPattern := make(map[string]int)
	for v, ws := range code128Widths {
		byPattern[modulesOf(ws)] = v
	}
	var vals []int
	for i := 0; i+11 <= len(m)-13; i += 11 {
		v, ok := byPattern[m[i:i+11]]
		if !ok {
			t.Fatalf("modules %d-%d are no Code 128 symbol", i, i+10)
		}
		vals = append(vals, v)
	}
	if stop := m[len(m)-13:]; stop != modulesOf(code128Widths[106]) {
		t.Fatalf("stop pattern = %s", stop)
	}
	return append(vals, 106)
}

// TestCode128SetC is the evidence that a code is encoded in set C only:
// decoding the image with the table above gives Start C (105), then exactly
// 12 data symbols whose values are the digit pairs (no set A/B symbol, no
// switch to set B or A, which would be the values 100 and 101, and 24 digits
// leave no room for one in 12 symbols), the mod-103 check symbol and Stop.
func TestCode128SetC(t *testing.T) {
	codes := barcodeCodes(t)
	for i := range 20 {
		codes = append(codes, newCode(t, testPrefix, uint16(i*499)))
	}
	for _, c := range codes {
		for _, scale := range []int{1, 2, 3} {
			b, err := tokens.Code128PNG(c, scale)
			if err != nil {
				t.Fatalf("Code128PNG(%v, %d): %v", c, scale, err)
			}
			vals := readCode128(t, decodePNG(t, b), scale)
			if len(vals) != 15 || vals[0] != 105 {
				t.Fatalf("%v: symbols %v, want Start C (105) + 12 pairs + check + stop", c, vals)
			}
			d := c.Digits()
			sum := 105
			for i := range 12 {
				pair := int(d[2*i]-'0')*10 + int(d[2*i+1]-'0')
				if vals[1+i] != pair {
					t.Fatalf("%v: symbol %d is %d, want the pair %d", c, i+1, vals[1+i], pair)
				}
				sum += (i + 1) * pair
			}
			if vals[13] != sum%103 {
				t.Fatalf("%v: check symbol %d, want %d", c, vals[13], sum%103)
			}
		}
	}
}

func TestBarcodeGeometry(t *testing.T) {
	c, _ := tokens.ParseCode(validVector, testPrefix)
	for _, tc := range []struct {
		scale              int
		code128W, code128H int
		qrSide             int
	}{
		{1, 187, 50, 29},
		{2, 374, 57, 58},
		{4, 748, 113, 116},
		{16, 2992, 449, 464},
	} {
		b, err := tokens.Code128PNG(c, tc.scale)
		if err != nil {
			t.Fatal(err)
		}
		img := decodePNG(t, b)
		if got := img.Bounds().Size(); got != image.Pt(tc.code128W, tc.code128H) {
			t.Errorf("Code 128 at scale %d is %v, want %dx%d", tc.scale, got, tc.code128W, tc.code128H)
		}
		t.Logf("Code 128 scale %2d: %dx%d px, %d bytes", tc.scale, img.Bounds().Dx(), img.Bounds().Dy(), len(b))

		b, err = tokens.QRPNG(c, tc.scale)
		if err != nil {
			t.Fatal(err)
		}
		img = decodePNG(t, b)
		if got := img.Bounds().Size(); got != image.Pt(tc.qrSide, tc.qrSide) {
			t.Errorf("QR at scale %d is %v, want %dx%d", tc.scale, got, tc.qrSide, tc.qrSide)
		}
		t.Logf("QR       scale %2d: %dx%d px, %d bytes", tc.scale, img.Bounds().Dx(), img.Bounds().Dy(), len(b))
		// Quiet zone: the first and last 4 modules of rows and columns.
		q, side := tokens.QRQuietModules*tc.scale, tc.qrSide
		for i := range q {
			for j := range side {
				if dark(img, i, j) || dark(img, side-1-i, j) || dark(img, j, i) || dark(img, j, side-1-i) {
					t.Fatalf("QR scale %d: quiet zone is not white at %d,%d", tc.scale, i, j)
				}
			}
		}
		// The finder pattern starts right after the quiet zone.
		if !dark(img, q, q) || !dark(img, side-1-q, q) || !dark(img, q, side-1-q) {
			t.Errorf("QR scale %d: no finder pattern corner at the quiet zone's edge", tc.scale)
		}
	}
}

// Attack: a client asking for a huge image (memory and CPU on the server).
func TestBarcodeScaleBounds(t *testing.T) {
	c, _ := tokens.ParseCode(validVector, testPrefix)
	for _, s := range []int{0, -1, tokens.MaxBarcodeScale + 1, 1 << 30} {
		if b, err := tokens.Code128PNG(c, s); !errors.Is(err, tokens.ErrBarcodeScale) || b != nil {
			t.Errorf("Code128PNG scale %d: %v", s, err)
		}
		if b, err := tokens.QRPNG(c, s); !errors.Is(err, tokens.ErrBarcodeScale) || b != nil {
			t.Errorf("QRPNG scale %d: %v", s, err)
		}
	}
	for _, s := range []int{tokens.MinBarcodeScale, tokens.MaxBarcodeScale} {
		if _, err := tokens.Code128PNG(c, s); err != nil {
			t.Errorf("Code128PNG scale %d: %v", s, err)
		}
		if _, err := tokens.QRPNG(c, s); err != nil {
			t.Errorf("QRPNG scale %d: %v", s, err)
		}
	}
	if _, err := tokens.Code128PNG(tokens.Code{}, 2); err == nil {
		t.Error("Code128PNG rendered the zero Code")
	}
	if _, err := tokens.QRPNG(tokens.Code{}, 2); err == nil {
		t.Error("QRPNG rendered the zero Code")
	}
}

// requireZbarimg returns the path of zbarimg, the independent decoder (Debian
// zbar-tools). Locally a missing zbarimg skips the test; in CI (CI or
// PAYCODE_TEST_REQUIRE_REDIS set) it fails it, so CI never skips this check.
func requireZbarimg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" {
			t.Fatalf("zbarimg not found (apt-get install zbar-tools); CI must decode the barcodes: %v", err)
		}
		t.Skipf("zbarimg not found (apt-get install zbar-tools): %v", err)
	}
	return p
}

// zbar decodes file with only the given symbology enabled and returns the
// data, one line per symbol found.
func zbar(t *testing.T, zbarimg, file, symbology string) string {
	t.Helper()
	cmd := exec.Command(zbarimg, "--raw", "-q", "-Sdisable", "-S"+symbology+".enable", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zbarimg %s %s: %v; stderr: %s", symbology, filepath.Base(file), err, stderr.String())
	}
	return strings.TrimRight(string(out), "\n")
}

// The design's proof for barcodes: every image decodes back to exactly the
// code's digits with a decoder that shares no code with the encoder.
func TestBarcodesDecodeWithZbar(t *testing.T) {
	zbarimg := requireZbarimg(t)
	dir := t.TempDir()
	for i, c := range barcodeCodes(t) {
		for _, scale := range []int{1, 2, 3, 4, tokens.MaxBarcodeScale} {
			for _, kind := range []struct {
				name, symbology string
				render          func(tokens.Code, int) ([]byte, error)
			}{
				{"code128", "code128", tokens.Code128PNG},
				{"qr", "qrcode", tokens.QRPNG},
			} {
				b, err := kind.render(c, scale)
				if err != nil {
					t.Fatalf("%s %v scale %d: %v", kind.name, c, scale, err)
				}
				img := decodePNG(t, b)
				if scale == 1 {
					// zbar needs two pixels per module: at one it misses
					// about 1 in 10 Code 128 and 2 in 3 QR symbols that
					// TestCode128SetC shows to be correct. Clients scale
					// such an image up with nearest-neighbour filtering,
					// so decode it that way: pixel for pixel scale 2.
					b = upscalePNG(t, img, 2)
				}
				file := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.png", kind.name, i, scale))
				if err := os.WriteFile(file, b, 0o600); err != nil {
					t.Fatal(err)
				}
				if got := zbar(t, zbarimg, file, kind.symbology); got != c.Digits() {
					t.Errorf("%s %v scale %d: zbarimg read %q, want the code's digits", kind.name, c, scale, got)
				}
			}
		}
	}
}

// upscalePNG scales img up by k with nearest-neighbour filtering, as a
// browser does with image-rendering: pixelated, and encodes it as PNG.
func upscalePNG(t *testing.T, img image.Image, k int) []byte {
	t.Helper()
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()*k, b.Dy()*k))
	for y := range out.Bounds().Dy() {
		for x := range out.Bounds().Dx() {
			out.Set(x, y, img.At(b.Min.X+x/k, b.Min.Y+y/k))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// requireRsvg returns the path of rsvg-convert (Debian librsvg2-bin), which
// renders the SVG barcodes for zbarimg; missing, it skips locally and fails
// in CI, like requireZbarimg.
func requireRsvg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rsvg-convert")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" {
			t.Fatalf("rsvg-convert not found (apt-get install librsvg2-bin); CI must decode the SVG barcodes: %v", err)
		}
		t.Skipf("rsvg-convert not found (apt-get install librsvg2-bin): %v", err)
	}
	return p
}

// The SVG barcodes (the API's default) decode to exactly the code's digits
// once rendered by an independent SVG renderer (librsvg) and read by
// zbarimg, at the PNG's pixel size for scales 2 to 4 and zoomed to two
// pixels a module for scale 1 (as a browser on a dense screen does). The
// rendered image has the PNG's size.
func TestSVGBarcodesDecodeWithZbar(t *testing.T) {
	zbarimg := requireZbarimg(t)
	rsvg := requireRsvg(t)
	dir := t.TempDir()
	for i, c := range barcodeCodes(t) {
		for _, scale := range []int{1, 2, 4} {
			for _, kind := range []struct {
				name, symbology string
				svg, png        func(tokens.Code, int) ([]byte, error)
			}{
				{"code128", "code128", tokens.Code128SVG, tokens.Code128PNG},
				{"qr", "qrcode", tokens.QRSVG, tokens.QRPNG},
			} {
				b, err := kind.svg(c, scale)
				if err != nil {
					t.Fatalf("%s %v scale %d: %v", kind.name, c, scale, err)
				}
				if bytes.Contains(b, []byte(c.Digits())) {
					t.Fatalf("%s SVG carries the digits as text", kind.name)
				}
				in := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.svg", kind.name, i, scale))
				out := strings.TrimSuffix(in, ".svg") + ".png"
				if err := os.WriteFile(in, b, 0o600); err != nil {
					t.Fatal(err)
				}
				zoom := "1"
				if scale == 1 {
					zoom = "2"
				}
				if msg, err := exec.Command(rsvg, "-z", zoom, "-o", out, in).CombinedOutput(); err != nil {
					t.Fatalf("rsvg-convert: %v: %s", err, msg)
				}
				if scale > 1 {
					p, _ := kind.png(c, scale)
					want, got := decodePNG(t, p).Bounds(), readPNG(t, out).Bounds()
					if want != got {
						t.Errorf("%s scale %d: SVG renders %v; the PNG is %v", kind.name, scale, got, want)
					}
				}
				if got := zbar(t, zbarimg, out, kind.symbology); got != c.Digits() {
					t.Errorf("%s %v scale %d: zbarimg read %q from the SVG, want the code's digits", kind.name, c, scale, got)
				}
			}
		}
	}
}

func readPNG(t *testing.T, file string) image.Image {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// BenchmarkBarcodes compares the two renderings of one code's pair.
func BenchmarkBarcodes(b *testing.B) {
	c, err := tokens.NewCode("42", 1234)
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range []struct {
		name            string
		code128, qrcode func(tokens.Code, int) ([]byte, error)
	}{{"svg", tokens.Code128SVG, tokens.QRSVG}, {"png", tokens.Code128PNG, tokens.QRPNG}} {
		b.Run(kind.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := kind.code128(c, 4); err != nil {
					b.Fatal(err)
				}
				if _, err := kind.qrcode(c, 4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
