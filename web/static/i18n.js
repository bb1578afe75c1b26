// Text: every word the app shows comes from the server's message catalogue
// (package text; /text/{lang}.json, kept offline by the service worker).
// The app's own strings have ids "pwa.<screen>.<what>"; a problem's code is
// the id of its generic text. The language is the one the shopper chose
// with the switch on the page, else the browser's first of ja and en.

const LANGS = ['ja', 'en'];
const STORED = 'paycode.lang';

function browserLang() {
  for (const tag of navigator.languages || [navigator.language]) {
    const l = String(tag || '').toLowerCase().split('-')[0];
    if (LANGS.includes(l)) return l;
  }
  return 'en';
}

let current = (() => {
  try {
    const l = localStorage.getItem(STORED);
    if (LANGS.includes(l)) return l;
  } catch { /* storage off: the browser's language */ }
  return browserLang();
})();
let messages = {};
const listeners = [];

export const lang = () => current;
export const otherLang = () => (current === 'ja' ? 'en' : 'ja');
export const locale = () => (current === 'ja' ? 'ja-JP' : 'en-JP');
export function onLangChange(fn) { listeners.push(fn); }

// load fetches the catalogue of the current language. It resolves false
// when neither the network nor the service worker's copy has it.
export async function load() {
  try {
    const r = await fetch(`/text/${current}.json`, { credentials: 'same-origin' });
    if (!r.ok) return false;
    const d = await r.json();
    if (d && d.messages) messages = d.messages;
    return true;
  } catch {
    return false;
  }
}

// setLang switches the app's language (and remembers the choice).
export async function setLang(l) {
  if (!LANGS.includes(l) || l === current) return;
  current = l;
  try { localStorage.setItem(STORED, l); } catch { /* remembered for this page only */ }
  await load();
  apply(document);
  for (const fn of listeners) fn(l);
}

// expand fills {name} and {name!q} like the server's templates.
function expand(tmpl, args) {
  return tmpl.replace(/\{([a-z_]+)(!q)?\}/g, (m, name, q) => {
    if (!args || !(name in args)) return m;
    const v = String(args[name]);
    return q ? (current === 'ja' ? `「${v}」` : `"${v}"`) : v;
  });
}

export function has(id) { return Object.hasOwn(messages, id); }

// t is the text of id in the current language, with its arguments.
export function t(id, args) {
  const m = has(id) ? messages[id] : '';
  if (typeof m !== 'string' || !m) return id;
  return expand(m, args);
}

// apply fills every element under root that names its text:
// data-t="id" (textContent) and data-t-attr="attr=id;attr=id".
export function apply(root) {
  document.documentElement.lang = current;
  // The switch names the other language in that language.
  const sw = document.getElementById('lang-switch');
  if (sw) sw.lang = otherLang();
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-attr]')) {
    for (const pair of el.dataset.tAttr.split(';')) {
      const [attr, id] = pair.split('=');
      if (attr && id) el.setAttribute(attr.trim(), t(id.trim()));
    }
  }
}

// problemText says what a problem means, in this order: the app's own
// text for the code (pwa.problem.<code>: the shopper's words where the
// API's are a developer's), the problem's own detail when the server wrote
// it in the app's language (it is the more precise text: requests carry
// the app's Accept-Language), the code's generic text (one without
// placeholders), the server's detail in another language, and a generic
// sentence with the status.
//
// The scanner page says the same with its own ids (setApp('scanner')):
// scanner.problem.<code> in a clerk's words.
const OWN = { pwa: 'pwa.problem.', scanner: 'scanner.problem.' };
const STATUS = { pwa: 'pwa.problem.status', scanner: 'scanner.problem.status' };
let app = 'pwa';
export function setApp(name) { if (OWN[name]) app = name; }

export function problemText(p, status) {
  const code = (p && p.code) || '';
  if (code && has(OWN[app] + code)) return t(OWN[app] + code);
  if (code.startsWith(app + '.') && has(code)) return t(code);
  if (p && p.detail && p.lang === current) return p.detail;
  const m = code && has(code) ? messages[code] : '';
  if (typeof m === 'string' && m && !m.includes('{')) return m;
  return (p && (p.detail || p.title)) || t(STATUS[app], { status });
}

// Amounts in the wallet's currency (minor units: yen).
export function money(amount, currency = 'JPY') {
  try {
    return new Intl.NumberFormat(locale(), { style: 'currency', currency }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

export function dateTime(d) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(d));
}

export function clockTime(d) {
  return new Intl.DateTimeFormat(locale(), { timeStyle: 'medium' }).format(new Date(d));
}

// duration writes a number of seconds as h:mm:ss or m:ss.
export function duration(s) {
  s = Math.max(0, Math.ceil(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

// storeName is a store's display name in the app's language, else its id.
export function storeName(name, id) {
  if (name && typeof name === 'object') return name[current] || name.en || name.ja || id || '';
  return id || '';
}
