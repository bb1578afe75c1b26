package tokens

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/code128"
	"github.com/boombuler/barcode/qr"
)

// Barcode geometry. A scale is the width of one module (the narrowest bar
// or space of Code 128, one cell of QR) in pixels; it is bounded so that a
// client cannot make the server render a giant image.
const (
	MinBarcodeScale = 1
	MaxBarcodeScale = 16

	// Code128QuietModules is the white margin left and right of a Code 128
	// symbol, in modules: the minimum of ISO/IEC 15417.
	Code128QuietModules = 10
	// Code128Modules is the width of a code's Code 128 symbol in modules:
	// Start C, 12 digit pairs, the check symbol (11 modules each) and the
	// stop pattern (13).
	Code128Modules = (1+CodeLength/2+1)*11 + 13
	// MinCode128Height is the least height of a Code 128 image in pixels;
	// otherwise it is 15% of the image width (quiet zones included), rounded
	// up, as ISO/IEC 15417 recommends for hand-held scanning.
	MinCode128Height = 50

	// QRQuietModules is the white margin around a QR symbol, in modules: the
	// minimum of ISO/IEC 18004.
	QRQuietModules = 4
)

// ErrBarcodeScale: the scale is outside [MinBarcodeScale, MaxBarcodeScale].
var ErrBarcodeScale = fmt.Errorf("tokens: barcode scale must be %d to %d", MinBarcodeScale, MaxBarcodeScale)

var (
	errBarcodeZeroCode = errors.New("tokens: cannot render the zero Code")
	// errCode128NotSetC: the encoder did not produce the symbol that code
	// set C gives. Never returned by boombuler/barcode v1.1.0 for 24 digits;
	// a guard against a change of its set-selection heuristic.
	errCode128NotSetC = errors.New("tokens: Code 128 encoder did not use code set C only")
)

// code128StartC is the Start C symbol (value 105, bar/space widths 211232)
// as modules, 1 = bar.
var code128StartC = [11]bool{true, true, false, true, false, false, true, true, true, false, false}

// barcodePalette: index 0 is white, so a new image is all quiet zone; two
// entries make image/png write a 1-bit paletted PNG.
var barcodePalette = color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0}}

// Code128PNG renders the code's 24 digits as a Code 128 barcode, a 1-bit
// paletted PNG.
//
// The symbol uses code set C only: Start C, then one symbol per digit pair
// (12 for 24 digits), the mod-103 check symbol and Stop, Code128Modules (167)
// modules wide, the shortest Code 128 encoding of 24 digits. boombuler's
// code128.Encode has no option to force a set; it chooses set C by itself
// when the text starts with at least four digits and stays in it while two
// more digits follow, so an all-digit text of even length is set C from end
// to end. Code128PNG does not rely on that heuristic alone: it checks the
// symbol's width, its start pattern and its check value against the set C
// encoding of the digits, and fails rather than render anything else.
//
// Geometry: a module is scale pixels wide, with Code128QuietModules (10)
// white modules left and right, so the image is (167+20)*scale pixels wide
// and max(MinCode128Height, ceil(15% of that width)) pixels high: 187x50 at
// scale 1, 374x57 at 2, 748x113 at 4. A scale outside [MinBarcodeScale,
// MaxBarcodeScale] is ErrBarcodeScale. Errors never contain the digits.
func Code128PNG(c Code, scale int) ([]byte, error) {
	if scale < MinBarcodeScale || scale > MaxBarcodeScale {
		return nil, ErrBarcodeScale
	}
	bars, err := code128Bars(c)
	if err != nil {
		return nil, err
	}
	width, height := code128Size(scale)
	img := image.NewPaletted(image.Rect(0, 0, width, height), barcodePalette)
	row := img.Pix[:width] // the first row; the others are copies of it
	for m, dark := range bars {
		if dark {
			x := (Code128QuietModules + m) * scale
			for i := range scale {
				row[x+i] = 1
			}
		}
	}
	for y := 1; y < height; y++ {
		copy(img.Pix[y*img.Stride:y*img.Stride+width], row)
	}
	return encodePNG(img)
}

// isCode128SetC reports whether bc is the set C encoding of digits (an even
// number of ASCII digits): as wide as Start C, one symbol per pair, the
// check symbol and Stop; starting with Start C; and carrying the check value
// that set C gives, (105 + sum of i*pair_i) mod 103. A set B symbol or a code
// switch anywhere would change the width, and a different pair value the
// check value.
func isCode128SetC(bc barcode.BarcodeIntCS, digits string) bool {
	if bc.Bounds().Dx() != (1+len(digits)/2+1)*11+13 || bc.Bounds().Dy() != 1 {
		return false
	}
	for i, bar := range code128StartC {
		if isDark(bc.At(i, 0)) != bar {
			return false
		}
	}
	sum := 105
	for i := 0; i < len(digits); i += 2 {
		pair := int(digits[i]-'0')*10 + int(digits[i+1]-'0')
		sum += (i/2 + 1) * pair
	}
	return bc.CheckSum() == sum%103
}

// QRPNG renders the code's 24 digits as a QR code, a 1-bit paletted PNG: error
// correction level M, numeric mode (24 digits fit version 1, 21x21 modules),
// a module of scale x scale pixels and a quiet zone of QRQuietModules (4)
// modules on every side: 58x58 pixels at scale 2, 116x116 at 4. A scale
// outside [MinBarcodeScale, MaxBarcodeScale] is ErrBarcodeScale. Errors never
// contain the digits.
func QRPNG(c Code, scale int) ([]byte, error) {
	if scale < MinBarcodeScale || scale > MaxBarcodeScale {
		return nil, ErrBarcodeScale
	}
	cells, dim, err := qrCells(c)
	if err != nil {
		return nil, err
	}
	side := (dim + 2*QRQuietModules) * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), barcodePalette)
	for my := range dim {
		for mx := range dim {
			if !cells[my*dim+mx] {
				continue
			}
			x0, y0 := (QRQuietModules+mx)*scale, (QRQuietModules+my)*scale
			for y := y0; y < y0+scale; y++ {
				row := img.Pix[y*img.Stride:]
				for x := x0; x < x0+scale; x++ {
					row[x] = 1
				}
			}
		}
	}
	return encodePNG(img)
}

// code128Size is the pixel size of a Code 128 image at scale.
func code128Size(scale int) (width, height int) {
	width = (Code128Modules + 2*Code128QuietModules) * scale
	return width, max(MinCode128Height, (width*15+99)/100)
}

// code128Bars is the code's Code 128 symbol (set C only, checked: see
// Code128PNG) as Code128Modules modules, true for a bar.
func code128Bars(c Code) ([]bool, error) {
	if c.IsZero() {
		return nil, errBarcodeZeroCode
	}
	digits := c.Digits()
	bc, err := code128.Encode(digits)
	if err != nil {
		// The library's message quotes the content: do not pass it on.
		return nil, errors.New("tokens: Code 128 encoding failed")
	}
	if !isCode128SetC(bc, digits) {
		return nil, errCode128NotSetC
	}
	bars := make([]bool, Code128Modules)
	for m := range bars {
		bars[m] = isDark(bc.At(m, 0))
	}
	return bars, nil
}

// qrCells is the code's QR symbol (level M, numeric) as dim x dim cells,
// row by row, true for a dark one.
func qrCells(c Code) ([]bool, int, error) {
	if c.IsZero() {
		return nil, 0, errBarcodeZeroCode
	}
	bc, err := qr.Encode(c.Digits(), qr.M, qr.Numeric)
	if err != nil {
		return nil, 0, errors.New("tokens: QR encoding failed")
	}
	dim := bc.Bounds().Dx()
	if dim != bc.Bounds().Dy() || dim < 21 {
		return nil, 0, errors.New("tokens: QR encoder returned a malformed symbol")
	}
	cells := make([]bool, dim*dim)
	for my := range dim {
		for mx := range dim {
			cells[my*dim+mx] = isDark(bc.At(mx, my))
		}
	}
	return cells, dim, nil
}

// isDark reports whether a barcode pixel is a bar (dark) rather than a space.
func isDark(c color.Color) bool {
	return color.GrayModel.Convert(c).(color.Gray).Y < 0x80
}

// pngBuffers reuses the encoder's compressor state between images: without
// it every PNG allocates about 0.8 MB of deflate tables (measured with
// BenchmarkIssueCode: 89% of the issuance path's allocations).
type pngBuffers struct{ p sync.Pool }

func (b *pngBuffers) Get() *png.EncoderBuffer {
	if v, ok := b.p.Get().(*png.EncoderBuffer); ok {
		return v
	}
	return nil
}

func (b *pngBuffers) Put(v *png.EncoderBuffer) { b.p.Put(v) }

var pngEncoder = png.Encoder{CompressionLevel: png.BestCompression, BufferPool: &pngBuffers{}}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := &pngEncoder
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("tokens: encode barcode PNG: %w", err)
	}
	return buf.Bytes(), nil
}
