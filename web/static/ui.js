// Screens and the messages around them: one screen is shown at a time,
// errors go to one alert, notices to one status line.

import { t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

const SIGNED_IN = new Set(['pay', 'history', 'account', 'approve', 'contact']);
let currentScreen = 'loading';
const enterHooks = {};

export const screen = () => currentScreen;
export function onEnter(name, fn) { enterHooks[name] = fn; }

// show shows one screen, moves the focus to its heading (so a screen
// reader starts there and the tab order begins at the top), and says in
// <body data-screen> which it is (tests and styles read it).
export function show(name, { focus = true } = {}) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'screen-' + name;
  if (name !== currentScreen) notice(null);
  currentScreen = name;
  document.body.dataset.screen = name;
  const nav = $('nav-account'); // the shopper's app only
  if (nav) nav.hidden = !SIGNED_IN.has(name) || name === 'account';
  const h = $('screen-' + name).querySelector('h2');
  if (h && focus) {
    h.tabIndex = -1;
    h.focus({ preventScroll: false });
  }
  if (enterHooks[name]) enterHooks[name]();
}

// errorText is what a failure means to the shopper.
export function errorText(e) {
  if (e && e.name === 'NotAllowedError') return t('pwa.passkey.cancelled');
  if (e && e.name === 'InvalidStateError') return t('pwa.passkey.exists');
  if (e && e.name === 'SecurityError') return t('pwa.passkey.security');
  return (e && e.message) || String(e);
}

export function showError(e) {
  const el = $('error');
  el.textContent = typeof e === 'string' ? e : errorText(e);
  el.hidden = false;
}
export function clearError() { $('error').hidden = true; $('error').textContent = ''; }

// notice says something went well (one status line). It names a text id,
// so that a change of language says it again in the new one; a new
// screen clears it.
let noticeMsg = null;
export function notice(id, args) {
  noticeMsg = id ? { id, args } : null;
  $('notice').textContent = id ? t(id, args) : '';
}
export function renderNotice() { $('notice').textContent = noticeMsg ? t(noticeMsg.id, noticeMsg.args) : ''; }

// busy disables the form's (or the button's) buttons while fn runs and
// shows what went wrong.
export async function busy(el, fn) {
  const buttons = el.tagName === 'FORM' ? [...el.querySelectorAll('button')] : [el];
  buttons.forEach((b) => { b.disabled = true; });
  clearError();
  try {
    await fn();
  } catch (e) {
    console.error(e);
    showError(e);
    // The app shows its offline state too (app.js listens).
    if (e && e.offline) document.dispatchEvent(new Event('paycode:offline'));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// normalizeContact turns what people type into the API's form: an e-mail
// address as it is, a phone number as E.164 ("090-1234-5678" is Japanese:
// +819012345678).
export function normalizeContact(raw) {
  const s = raw.trim();
  if (s.includes('@')) return s;
  const digits = s.replace(/[\s\-().]/g, '').replace(/[０-９＋]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
  if (/^\+[0-9]+$/.test(digits)) return digits;
  if (/^0[0-9]{9,10}$/.test(digits)) return '+81' + digits.slice(1);
  return s;
}

// digitsOnly reads a one-time code typed with spaces or full-width digits.
export function digitsOnly(raw) {
  return raw.replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/[^0-9]/g, '');
}
