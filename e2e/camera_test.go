package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"testing"

	"github.com/paycode/paycode/tokens"
)

// A fake camera for Chromium: --use-file-for-fake-video-capture plays a
// Y4M file (YUV4MPEG2, 4:2:0) in a loop as the camera. The test writes the
// file from a real code's barcode before each scan; Chromium opens the
// file anew each time a page starts the camera (getUserMedia), and the
// scanner page stops the camera after every read.

const camW, camH = 640, 480

// writeY4M writes img, centred on white, as a one-frame Y4M video of
// camW x camH (luma from the grey level, neutral chroma). The file is
// written beside path and renamed over it, so Chromium never reads half a
// frame.
func writeY4M(t *testing.T, path string, img image.Image) {
	t.Helper()
	canvas := image.NewGray(image.Rect(0, 0, camW, camH))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	b := img.Bounds()
	if b.Dx() > camW || b.Dy() > camH {
		t.Fatalf("the barcode (%dx%d) does not fit the camera's frame", b.Dx(), b.Dy())
	}
	at := image.Pt((camW-b.Dx())/2, (camH-b.Dy())/2)
	draw.Draw(canvas, b.Sub(b.Min).Add(at), img, b.Min, draw.Src)

	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	fmt.Fprintf(w, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", camW, camH)
	for range 2 {
		w.WriteString("FRAME\n")
		w.Write(canvas.Pix)
		w.Write(bytes.Repeat([]byte{128}, camW*camH/2)) // U and V, a quarter each
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// codeImage is the server's own rendering of a code (the PNGs the
// shopper's app can show): its Code 128, or its QR code.
func codeImage(t *testing.T, digits string, qr bool) image.Image {
	t.Helper()
	c, err := tokens.ParseCode(digits, "99")
	if err != nil {
		t.Fatalf("the page's code %q: %v", digits, err)
	}
	var raw []byte
	if qr {
		raw, err = tokens.QRPNG(c, 8)
	} else {
		raw, err = tokens.Code128PNG(c, 3)
	}
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// blankImage is what the camera shows between scans: nothing to read.
func blankImage() image.Image { return image.NewGray(image.Rect(0, 0, 8, 8)) }
