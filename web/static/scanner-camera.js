// The scanner's camera: reads a shopper's payment code (Code 128 or QR)
// from the back camera.
//
// Decoder: the browser's BarcodeDetector where it has one that reads both
// formats (Chrome on Android and macOS, Safari); else the vendored
// @zxing/library (web/static/vendor/zxing, pure JavaScript, loaded by
// scanner.html as the global ZXing), as on Chromium for Linux and Firefox.
// <body data-decoder> says which one read the last code ("native" or
// "zxing"); the browser test removes BarcodeDetector so that the vendored
// path is the one it tests.
//
// A read counts only when it is a payment code: 24 ASCII digits whose
// Luhn check digit matches (a misread is simply not taken, the camera
// goes on).

import { validCode } from './scanner-code.js';

let stream = null;
let stopped = true;

async function nativeDetector() {
  if (!('BarcodeDetector' in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes('code_128') || !formats.includes('qr_code')) return null;
    const d = new window.BarcodeDetector({ formats: ['code_128', 'qr_code'] });
    return { name: 'native', read: async (video) => (await d.detect(video)).map((b) => b.rawValue) };
  } catch {
    return null;
  }
}

function zxingDetector() {
  const Z = window.ZXing;
  if (!Z) return null;
  const hints = new Map();
  hints.set(Z.DecodeHintType.POSSIBLE_FORMATS, [Z.BarcodeFormat.CODE_128, Z.BarcodeFormat.QR_CODE]);
  hints.set(Z.DecodeHintType.TRY_HARDER, true);
  const reader = new Z.MultiFormatReader();
  reader.setHints(hints);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return {
    name: 'zxing',
    read: async (video) => {
      if (!video.videoWidth) return [];
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const bitmap = new Z.BinaryBitmap(new Z.HybridBinarizer(new Z.HTMLCanvasElementLuminanceSource(canvas)));
      try {
        return [reader.decodeWithState(bitmap).getText()];
      } catch {
        return []; // nothing readable in this frame
      } finally {
        reader.reset();
      }
    },
  };
}

// available reports whether this browser can scan at all.
export const available = () => !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

// scan shows the camera in video until a payment code is read (resolves
// its digits) or stop() is called (resolves null). A refused or missing
// camera rejects (the error's name: NotAllowedError, NotFoundError, ...).
export async function scan(video) {
  stop();
  const detector = (await nativeDetector()) || zxingDetector();
  if (!detector) throw Object.assign(new Error('no decoder'), { name: 'NotSupportedError' });
  stopped = false;
  const s = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: 'environment', width: { ideal: 1280 } } });
  if (stopped) { s.getTracks().forEach((tr) => tr.stop()); return null; }
  stream = s;
  video.srcObject = s;
  await video.play().catch(() => {});
  try {
    while (!stopped) {
      for (const raw of await detector.read(video)) {
        const digits = String(raw).replace(/\s/g, '');
        if (validCode(digits)) {
          document.body.dataset.decoder = detector.name;
          return digits;
        }
      }
      await new Promise((r) => setTimeout(r, 80));
    }
    return null;
  } finally {
    stop();
    video.srcObject = null;
  }
}

// stop turns the camera off (the light on the tablet goes out).
export function stop() {
  stopped = true;
  if (stream) stream.getTracks().forEach((tr) => tr.stop());
  stream = null;
}
