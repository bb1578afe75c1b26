package tokens

import (
	"strconv"
)

// The barcodes as SVG: the same modules as the PNGs (code128Bars, qrCells,
// the same quiet zones and proportions), drawn as one path of rectangles
// with shape-rendering crispEdges, so they stay sharp at any pixel density
// and cost no image encoding: a few hundred bytes of text built in one
// pass. width and height are the PNG's pixel size at scale, the size a
// client shows them at unless it sizes them itself; the viewBox is in
// modules (Code 128: modules across, and the PNG's height in modules).

const svgHead = `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" shape-rendering="crispEdges" width="`

// Code128SVG renders the code's 24 digits as a Code 128 barcode in SVG,
// the symbol and geometry of Code128PNG at scale (which it checks the same
// way). Errors never contain the digits.
func Code128SVG(c Code, scale int) ([]byte, error) {
	if scale < MinBarcodeScale || scale > MaxBarcodeScale {
		return nil, ErrBarcodeScale
	}
	bars, err := code128Bars(c)
	if err != nil {
		return nil, err
	}
	width, height := code128Size(scale)
	wm := Code128Modules + 2*Code128QuietModules
	// The height in modules (the PNG's height over scale, exactly): the
	// viewBox keeps the PNG's aspect ratio.
	hm := strconv.FormatFloat(float64(height)/float64(scale), 'f', -1, 64)
	b := make([]byte, 0, 1024)
	b = svgOpen(b, width, height, wm, hm)
	for m := 0; m < len(bars); {
		if !bars[m] {
			m++
			continue
		}
		n := 1
		for m+n < len(bars) && bars[m+n] {
			n++
		}
		b = append(b, 'M')
		b = strconv.AppendInt(b, int64(Code128QuietModules+m), 10)
		b = append(b, " 0h"...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, 'v')
		b = append(b, hm...)
		b = append(b, 'h')
		b = strconv.AppendInt(b, int64(-n), 10)
		b = append(b, 'z')
		m += n
	}
	return append(b, `"/></svg>`...), nil
}

// QRSVG renders the code's 24 digits as a QR code in SVG, the symbol and
// geometry of QRPNG at scale. Errors never contain the digits.
func QRSVG(c Code, scale int) ([]byte, error) {
	if scale < MinBarcodeScale || scale > MaxBarcodeScale {
		return nil, ErrBarcodeScale
	}
	cells, dim, err := qrCells(c)
	if err != nil {
		return nil, err
	}
	side := dim + 2*QRQuietModules
	b := make([]byte, 0, 2048)
	b = svgOpen(b, side*scale, side*scale, side, strconv.Itoa(side))
	for y := range dim {
		row := cells[y*dim : (y+1)*dim]
		for x := 0; x < dim; {
			if !row[x] {
				x++
				continue
			}
			n := 1
			for x+n < dim && row[x+n] {
				n++
			}
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(QRQuietModules+x), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(QRQuietModules+y), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, "v1h"...)
			b = strconv.AppendInt(b, int64(-n), 10)
			b = append(b, 'z')
			x += n
		}
	}
	return append(b, `"/></svg>`...), nil
}

// svgOpen writes the root element, the white background (the quiet zone)
// and the start of the dark path.
func svgOpen(b []byte, width, height, vbW int, vbH string) []byte {
	b = append(b, svgHead...)
	b = strconv.AppendInt(b, int64(width), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(height), 10)
	b = append(b, `" viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(vbW), 10)
	b = append(b, ' ')
	b = append(b, vbH...)
	b = append(b, `"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`...)
	return b
}
