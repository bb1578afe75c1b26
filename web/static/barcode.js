// The payment code's Code 128 barcode, drawn from its digits as SVG.
//
// The server's PNGs are bitmaps at a fixed scale; shrunk to fit a phone
// they blur (a scanner then misses them). Here every module is a whole
// number of the device's real pixels (devicePixelRatio), as many as fit
// the width, so the bars stay crisp at any density and zoom. The code is
// all digits and its length even, so code set C encodes it: start C, one
// symbol per pair of digits, the modulo-103 check symbol, stop. The
// server's own encoder (tokens.Code128PNG, boombuler/barcode) makes the
// same bars; the browser test compares them and decodes a screenshot.

// The 107 symbols' bar and space widths (bar first), by value; 106 is
// the stop symbol (with its final bar).
const PATTERNS = [
  '212222', '222122', '222221', '121223', '121322', '131222', '122213', '122312', '132212', '221213',
  '221312', '231212', '112232', '122132', '122231', '113222', '123122', '123221', '223211', '221132',
  '221231', '213212', '223112', '312131', '311222', '321122', '321221', '312212', '322112', '322211',
  '212123', '212321', '232121', '111323', '131123', '131321', '112313', '132113', '132311', '211313',
  '231113', '231311', '112133', '112331', '132131', '113123', '113321', '133121', '313121', '211331',
  '231131', '213113', '213311', '213131', '311123', '311321', '331121', '312113', '312311', '332111',
  '314111', '221411', '431111', '111224', '111422', '121124', '121421', '141122', '141221', '112214',
  '112412', '122114', '122411', '142112', '142211', '241211', '221114', '413111', '241112', '134111',
  '111242', '121142', '121241', '114212', '124112', '124211', '411212', '421112', '421211', '212141',
  '214121', '412121', '111143', '111341', '131141', '114113', '114311', '411113', '411311', '113141',
  '114131', '311141', '411131', '211412', '211214', '211232', '2331112',
];
const START_C = 105;
const STOP = 106;
export const QUIET = 10; // modules of white on each side

// modules returns the barcode as a string of '1' (bar) and '0' (space)
// modules, without the quiet zones.
export function modules(digits) {
  if (!/^([0-9]{2})+$/.test(digits)) throw new Error('code 128 set C needs an even number of digits');
  const values = [START_C];
  for (let i = 0; i < digits.length; i += 2) values.push(Number(digits.slice(i, i + 2)));
  let sum = START_C;
  for (let i = 1; i < values.length; i++) sum += values[i] * i;
  values.push(sum % 103, STOP);
  let out = '';
  for (const v of values) {
    [...PATTERNS[v]].forEach((w, i) => { out += (i % 2 === 0 ? '1' : '0').repeat(Number(w)); });
  }
  return out;
}

// draw renders digits into svg (an <svg> element), as wide as fits
// maxCssWidth with whole device pixels per module, and height cssHeight.
export function draw(svg, digits, maxCssWidth, cssHeight) {
  const bars = modules(digits);
  const total = bars.length + 2 * QUIET;
  const dpr = window.devicePixelRatio || 1;
  const perModule = Math.max(1, Math.floor((maxCssWidth * dpr) / total));
  const width = (total * perModule) / dpr;
  svg.setAttribute('viewBox', `0 0 ${total} 1`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(cssHeight));
  svg.dataset.modulePx = String(perModule);
  const nodes = [];
  const bg = document.createElementNS(svg.namespaceURI, 'rect');
  bg.setAttribute('width', String(total));
  bg.setAttribute('height', '1');
  bg.setAttribute('fill', '#fff');
  nodes.push(bg);
  for (let i = 0; i < bars.length;) {
    if (bars[i] !== '1') { i++; continue; }
    let j = i;
    while (j < bars.length && bars[j] === '1') j++;
    const r = document.createElementNS(svg.namespaceURI, 'rect');
    r.setAttribute('x', String(QUIET + i));
    r.setAttribute('width', String(j - i));
    r.setAttribute('height', '1');
    r.setAttribute('fill', '#000');
    nodes.push(r);
    i = j;
  }
  svg.replaceChildren(...nodes);
}

// qrScale is the server's QR scale (pixels per module) that fills about
// cssWidth at this device's density: the image is then shown at
// naturalWidth / devicePixelRatio CSS pixels, one image pixel per device
// pixel.
export function qrScale(cssWidth, qrModules = 29) {
  const dpr = window.devicePixelRatio || 1;
  return Math.min(16, Math.max(1, Math.floor((cssWidth * dpr) / qrModules)));
}
