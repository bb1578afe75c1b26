// paycode customer PWA: plain ES modules, no build step, no dependencies.
//
//   app.js      boot, and the shopper's screens: sign-up, pay, history,
//               account (approve a new phone, contact, log out)
//   device.js   a new phone: ask the old one, or recover (OTP + recovery
//               code, cool-down), then finish; the contact's cancel page
//   events.js   the account's event stream (fetch streaming: DPoP)
//   api.js      device key, DPoP proofs, tokens, WebAuthn JSON
//   i18n.js     every text, from the server's catalogue (ja, en)
//   barcode.js  Code 128 drawn from the digits, crisp at any density
//   ui.js       one screen at a time, errors and notices
//
// Nothing here keeps a payment code beyond the screen that shows it: no
// storage, no cache (sw.js keeps only the app shell and the texts).

import * as api from './api.js';
import * as i18n from './i18n.js';
import { t, money, storeName } from './i18n.js';
import { draw, qrScale } from './barcode.js';
import { $, show, screen, onEnter, showError, clearError, notice, renderNotice, busy, normalizeContact, digitsOnly, errorText } from './ui.js';
import { startEvents, stopEvents } from './events.js';
import * as device from './device.js';

// ---------- connection ----------
// The app works from the service worker's shell offline; it says so,
// keeps the screen the shopper was on, and never shows a code it cannot
// renew (the register needs a live one anyway).
let probe = null;
export function setOffline(off) {
  const was = document.body.dataset.offline === '1';
  document.body.dataset.offline = off ? '1' : '0';
  $('offline').hidden = !off;
  // The browser may think it is online while paycode is out of reach:
  // ask the API (never the service worker's copy) until it answers.
  clearInterval(probe);
  if (off) {
    probe = setInterval(() => {
      fetch('/v1/text/' + i18n.lang(), { method: 'HEAD', cache: 'no-store' })
        .then((r) => { if (r.ok) setOffline(false); }, () => {});
    }, 5000);
  }
  if (was && !off) device.online();
  if (was && !off && payActive) {
    if (api.session) {
      loadWallet();
      nextCode();
      startEvents(onEvent, sessionLost);
    } else {
      // Started offline: the session comes back through the refresh cookie.
      api.refresh().then(enterPay, (e) => (e.offline ? setOffline(true) : sessionLost(t('pwa.session.ended'))));
    }
  }
  if (off && payActive) codeStatus();
}
window.addEventListener('offline', () => setOffline(true));
document.addEventListener('paycode:offline', () => setOffline(true));
window.addEventListener('online', () => setOffline(false));

// failed shows an error, or the offline state when the server could not be
// reached.
export function failed(e) {
  if (e && e.offline) {
    setOffline(true);
    return;
  }
  console.error(e);
  showError(e);
}

// ---------- sign-up ----------
let signup = null; // {id, contact, label}

async function submitContact(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  await busy(form, async () => {
    const contact = normalizeContact($('contact').value);
    const label = $('device-label').value.trim() || api.deviceLabel();
    const r = await api.request('POST', '/v1/signup/contact', { contact, lang: i18n.lang() });
    signup = { id: r.signup_id, contact, label };
    $('otp-sent').textContent = t('pwa.otp.sent', { contact });
    $('otp').value = '';
    show('otp');
    $('otp').focus();
  });
}

async function submitOTP(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  await busy(form, async () => {
    if (!signup) throw new Error(t('pwa.otp.restart'));
    const v = await api.request('POST', '/v1/signup/verify', { signup_id: signup.id, otp: digitsOnly($('otp').value) });
    const credential = await api.createPasskey(v.options);
    const tk = await api.request('POST', '/v1/signup/finish', { signup_id: signup.id, credential, device_label: signup.label });
    api.takeTokens(tk);
    signup = null;
    showCodes(tk.recovery_codes || []);
  });
}

// ---------- recovery codes: shown once ----------
let codes = [];

function showCodes(list) {
  codes = list;
  $('recovery-codes').replaceChildren(...list.map((c) => {
    const li = document.createElement('li');
    li.textContent = c;
    return li;
  }));
  $('recovery-saved').checked = false;
  $('recovery-done').disabled = true;
  show('codes');
}

function codesText() {
  return `${t('pwa.codes.file_header')}\n\n${codes.join('\n')}\n`;
}

async function copyCodes() {
  try {
    await navigator.clipboard.writeText(codesText());
    notice('pwa.codes.copied');
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('recovery-codes'));
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    notice('pwa.codes.select');
  }
}

function downloadCodes() {
  const url = URL.createObjectURL(new Blob([codesText()], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'paycode-recovery-codes.txt';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  notice('pwa.codes.downloaded');
}

function codesDone() {
  codes = [];
  $('recovery-codes').replaceChildren(); // shown once
  enterPay();
}

// ---------- login ----------
async function login(ev) {
  await busy(ev.currentTarget, async () => {
    const start = await api.request('POST', '/v1/login/start', {});
    const credential = await api.getPasskey(start.options);
    try {
      const tk = await api.request('POST', '/v1/login/finish', { login_id: start.login_id, credential, device_label: api.deviceLabel() });
      api.takeTokens(tk);
      enterPay();
    } catch (e) {
      if (e.code === 'new_device' && e.problem.enrollment_id) {
        // A passkey of an account bound to another phone: this phone may
        // only join through step-up (device.js).
        await device.begin({ id: e.problem.enrollment_id, origin: 'login', label: api.deviceLabel() });
        return;
      }
      throw e;
    }
  });
}

// ---------- pay ----------
let payActive = false;
let currentCode = null; // {code, expires_at, receivedAt, lifetime}
let rotateTimer = null;
let tickTimer = null;
let wakeLock = null;
let balance = null;
let lastMessage = null; // {kind, data} of the newest paid/declined message, re-rendered on a language change

export function enterPay() {
  clearError();
  payActive = true;
  $('paid').hidden = true;
  $('declined').hidden = true;
  lastMessage = null;
  show('pay');
  loadWallet();
  nextCode();
  startEvents(onEvent, sessionLost);
}

function leavePay() {
  payActive = false;
  document.body.dataset.events = 'closed';
  clearTimeout(rotateTimer);
  stopEvents();
  clearCode();
}

function renderBalance() {
  $('balance').textContent = balance == null ? '–' : money(balance.amount, balance.currency);
  $('zero-hint').hidden = !(balance && balance.amount === 0);
}

async function loadWallet() {
  try {
    const w = await api.authed('GET', '/v1/wallet');
    balance = { amount: w.balance, currency: w.currency };
    renderBalance();
  } catch (e) {
    failed(e);
  }
}

function clearCode() {
  currentCode = null;
  clearInterval(tickTimer);
  tickTimer = null;
  // An <svg> has no hidden property: the attribute itself.
  $('code-128').setAttribute('hidden', '');
  $('code-128').replaceChildren();
  $('code-qr').hidden = true;
  $('code-qr').removeAttribute('src');
  $('code-digits').textContent = '';
  $('code-expiry').textContent = '';
  $('ring-text').textContent = '';
  document.body.dataset.code = 'none';
  releaseWake();
  codeStatus();
}

// codeStatus says why no code is shown, in the card itself (never an
// empty white box).
function codeStatus() {
  const el = $('code-status');
  if (currentCode) {
    el.textContent = '';
    return;
  }
  if (document.body.dataset.offline === '1') el.textContent = t('pwa.pay.offline_code');
  else if (!$('code-verify').hidden) el.textContent = t('pwa.pay.verify_hint');
  else el.textContent = t('pwa.pay.loading');
}

let codeInFlight = null;
function nextCode() {
  codeInFlight ??= fetchCode().finally(() => { codeInFlight = null; });
  return codeInFlight;
}

function cardWidth() {
  const card = $('code-card');
  if (!card.clientWidth) return Math.min(document.documentElement.clientWidth, 480) - 56; // hidden: about the same
  const style = getComputedStyle(card);
  return card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

async function fetchCode() {
  clearTimeout(rotateTimer);
  // A code is drawn only for the pay screen, in front.
  if (!payActive || document.hidden || !api.session || screen() !== 'pay') return;
  $('code-verify').hidden = true;
  try {
    // The QR at the scale that fills ~60 % of the card in device pixels.
    const scale = qrScale(Math.min(cardWidth() * 0.6, 240));
    const c = await api.authed('POST', '/v1/codes', { scale });
    if (!payActive) return;
    const receivedAt = Date.now();
    currentCode = { code: c.code, expiresAt: Date.parse(c.expires_at), receivedAt };
    currentCode.lifetime = Math.max(1000, currentCode.expiresAt - receivedAt);
    renderCode(c);
    // Rotate at refresh_at; bounded so a skewed clock neither spins nor stalls.
    const wait = Math.min(Math.max(Date.parse(c.refresh_at) - Date.now(), 5_000), 60_000);
    rotateTimer = setTimeout(nextCode, wait);
  } catch (e) {
    clearCode();
    if (e.name === 'NotAllowedError' || e.code === 'insufficient_user_authentication') {
      // The passkey prompt needs the shopper: offer a button.
      $('code-verify').hidden = false;
      codeStatus();
      return;
    }
    if (e.offline) return failed(e);
    if (e.status === 401) return sessionLost(t('pwa.session.ended'));
    failed(e);
    rotateTimer = setTimeout(nextCode, 10_000);
  }
}

function renderCode(c) {
  const svg = $('code-128');
  draw(svg, c.code, cardWidth(), 88);
  svg.removeAttribute('hidden');
  const qr = $('code-qr');
  qr.onload = () => {
    // One image pixel per device pixel: crisp, never resampled.
    const dpr = window.devicePixelRatio || 1;
    qr.width = qr.naturalWidth / dpr;
    qr.height = qr.naturalHeight / dpr;
    qr.hidden = false;
  };
  qr.src = c.qr_png;
  $('code-digits').textContent = c.code.match(/.{1,4}/g).join(' ');
  $('code-expiry').textContent = t('pwa.pay.valid_until', { time: i18n.clockTime(currentCode.expiresAt) });
  document.body.dataset.code = 'shown';
  codeStatus();
  tick();
  clearInterval(tickTimer);
  tickTimer = setInterval(tick, 1000);
  holdWake();
}

// tick moves the countdown ring; at zero the code is gone from the screen.
function tick() {
  if (!currentCode) return;
  if (screen() !== 'pay') {
    // Another screen: the code (and the wake lock) go; a new one comes back with the pay screen.
    clearTimeout(rotateTimer);
    clearCode();
    return;
  }
  const left = currentCode.expiresAt - Date.now();
  if (left <= 0) {
    clearCode();
    if (payActive && document.body.dataset.offline !== '1') nextCode();
    return;
  }
  const c = 2 * Math.PI * 19;
  const fg = $('ring-fg');
  fg.setAttribute('stroke-dasharray', String(c));
  fg.setAttribute('stroke-dashoffset', String(c * (1 - Math.min(1, left / currentCode.lifetime))));
  fg.classList.toggle('low', left < 10_000);
  $('ring-text').textContent = String(Math.ceil(left / 1000));
}

// A code is shown at the register: the screen must not dim meanwhile.
async function holdWake() {
  if (!('wakeLock' in navigator) || wakeLock || document.hidden) return;
  try {
    const lock = await navigator.wakeLock.request('screen');
    if (!currentCode) { lock.release().catch(() => {}); return; }
    wakeLock = lock;
    document.body.dataset.wakelock = 'held';
    lock.addEventListener('release', () => {
      if (wakeLock === lock) wakeLock = null;
      document.body.dataset.wakelock = 'released';
    });
  } catch {
    document.body.dataset.wakelock = 'refused';
  }
}
function releaseWake() {
  if (wakeLock) wakeLock.release().catch(() => {});
  wakeLock = null;
}

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (currentCode && payActive) draw($('code-128'), currentCode.code, cardWidth(), 88);
  }, 100);
});

export function sessionLost(msg) {
  // This phone approved another: its session ends because it was replaced.
  if (handedOver) return replaced();
  leavePay();
  api.endSession();
  show('welcome');
  showError(msg);
}

// replaced is this phone after another became the account's phone.
async function replaced() {
  leavePay();
  api.endSession();
  await api.kvPut('revoked', true).catch(() => {});
  show('revoked');
}

function renderMessage() {
  if (!lastMessage) return;
  const d = lastMessage.data;
  const store = storeName(d.store_name, d.store);
  const amount = money(d.amount, d.currency);
  if (lastMessage.kind === 'paid') {
    $('paid').textContent = t(d.kind === 'topup' ? 'pwa.pay.topped_up' : 'pwa.pay.paid', { amount, store });
    $('paid').hidden = false;
    $('declined').hidden = true;
  } else {
    const id = 'pwa.decline.' + d.reason;
    $('declined').textContent = t(i18n.has(id) ? id : 'pwa.decline.other', { amount, store });
    $('declined').hidden = false;
    $('paid').hidden = true;
  }
}

function onEvent(type, ev) {
  const d = (ev && ev.data) || {};
  if (type === 'code.redeemed') {
    lastMessage = { kind: 'paid', data: d };
    renderMessage();
    if (typeof d.balance === 'number') {
      balance = { amount: d.balance, currency: d.currency };
      renderBalance();
    }
    ledger.stale = true;
    loadWallet();
    nextCode();
  } else if (type === 'code.declined') {
    lastMessage = { kind: 'declined', data: d };
    renderMessage();
    // A used or lapsed code is no good any more: show the next one.
    if (d.reason === 'code_used' || d.reason === 'code_expired') nextCode();
  } else if (type === 'code.expired') {
    if (!currentCode || currentCode.expiresAt <= Date.now() + 1000) nextCode();
  } else if (type === 'device.revoked') {
    replaced();
  } else if (type === 'enrollment.pending') {
    pendingPrompt(d);
  }
}

// ---------- history ----------
const ledger = { entries: [], next: null, stale: true }; // the history screen's pages

async function loadHistory(more) {
  const q = more && ledger.next ? `?before=${encodeURIComponent(ledger.next)}` : '';
  const r = await api.authed('GET', '/v1/wallet/history' + q);
  ledger.entries = more ? ledger.entries.concat(r.entries) : r.entries;
  ledger.next = r.next;
  ledger.stale = false;
  renderHistory();
}

function renderHistory() {
  const list = $('history-list');
  list.replaceChildren(...ledger.entries.map((e) => {
    const li = document.createElement('li');
    const kind = document.createElement('span');
    kind.className = 'h-kind';
    kind.textContent = t('pwa.history.' + (['payment', 'topup', 'refund'].includes(e.kind) ? e.kind : 'other'));
    const amount = document.createElement('span');
    amount.className = 'h-amount' + (e.amount > 0 ? ' plus' : '');
    const sign = e.amount > 0 ? '+' : '−';
    amount.textContent = sign + money(Math.abs(e.amount), e.currency || 'JPY');
    const store = document.createElement('span');
    store.className = 'h-store';
    store.textContent = storeName(e.store_name, e.store_id);
    const when = document.createElement('time');
    when.className = 'h-time';
    when.dateTime = e.at;
    when.textContent = i18n.dateTime(e.at);
    li.append(kind, amount, store, when);
    return li;
  }));
  $('history-empty').hidden = ledger.entries.length > 0;
  $('history-more').hidden = !ledger.next;
}

async function openHistory(ev) {
  await busy(ev.currentTarget, async () => {
    await loadHistory(false);
    show('history');
  });
}

// ---------- account ----------
let me = null;

async function openAccount() {
  try {
    me = await api.authed('GET', '/v1/me');
  } catch (e) {
    return failed(e);
  }
  clearError();
  renderAccount();
  show('account');
}

function renderAccount() {
  if (!me) return;
  $('account-contact').textContent = me.account.contact;
  $('account-device').textContent = me.device.label;
  $('account-codes').textContent = String(me.account.recovery_codes_left);
  $('account-lang').textContent = t('pwa.lang.name.' + (me.account.lang || 'en'));
  // A contact change in its cool-down: where it goes and when.
  const cc = me.contact_change;
  $('account-contact-change').hidden = !cc;
  $('account-contact-change-text').textContent = cc
    ? t('pwa.contact.pending', { contact: cc.contact, time: i18n.dateTime(cc.applies_at) }) : '';
  const pending = me.pending_enrollments || [];
  $('account-no-requests').hidden = pending.length > 0;
  $('account-requests').replaceChildren(...pending.map((e) => {
    const li = document.createElement('li');
    const p = document.createElement('p');
    p.textContent = t('pwa.account.request', { label: e.label, time: i18n.dateTime(e.created_at) });
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'primary';
    b.textContent = t('pwa.prompt.review');
    b.addEventListener('click', () => openApprove(e));
    li.append(p, b);
    return li;
  }));
}

// The account's language follows the app's: one choice for the app and
// for the messages paycode sends.
i18n.onLangChange(async (l) => {
  rerender();
  if (!api.session) {
    document.body.dataset.langSaved = l;
    return;
  }
  try {
    await api.authed('PUT', '/v1/me/language', { lang: l });
    if (me) me.account.lang = l;
    renderAccount();
    document.body.dataset.langSaved = l; // tests wait for it
  } catch (e) {
    if (!e.offline) console.warn('language not saved', e);
  }
});

function rerender() {
  renderNotice();
  renderBalance();
  renderMessage();
  if (currentCode) $('code-expiry').textContent = t('pwa.pay.valid_until', { time: i18n.clockTime(currentCode.expiresAt) });
  codeStatus();
  renderHistory();
  renderAccount();
  renderApprove();
  if (signup) $('otp-sent').textContent = t('pwa.otp.sent', { contact: signup.contact });
  $('prompt-text').textContent = prompted ? t('pwa.prompt.text', { label: prompted.label }) : '';
  device.rerender();
}

// ---------- a new phone asks: approve or refuse ----------
let prompted = null; // the enrollment view of the prompt
let handedOver = false; // this phone approved a new phone
let approving = null; // the enrollment view on the approve screen

function pendingPrompt(view) {
  if (!view || !view.id) return;
  if (view.state !== 'pending_approval' && view.state !== 'pending_recovery') {
    if (prompted && prompted.id === view.id) { prompted = null; $('prompt').hidden = true; }
    return;
  }
  prompted = view;
  $('prompt-text').textContent = t('pwa.prompt.text', { label: view.label });
  $('prompt').hidden = false;
}

function openApprove(view) {
  approving = view;
  $('prompt').hidden = true;
  clearError();
  renderApprove();
  show('approve');
}

function renderApprove() {
  if (!approving) return;
  // The new phone's name is the client's own words: text only (never
  // markup), inside <q>, beside "as the new phone named itself".
  $('approve-label').textContent = approving.label;
  $('approve-network').textContent = approving.ip || '–';
  $('approve-time').textContent = i18n.dateTime(approving.created_at);
  const rec = approving.state === 'pending_recovery';
  $('approve-recovery').hidden = !rec;
  if (rec) $('approve-recovery').textContent = t('pwa.approve.recovering', { time: i18n.dateTime(approving.cooldown_until) });
}

async function approve(ev) {
  await busy(ev.currentTarget, async () => {
    const id = approving.id;
    const start = await api.authed('POST', `/v1/enrollments/${id}/approve/start`, {});
    const credential = await api.getPasskey(start.options);
    await api.authed('POST', `/v1/enrollments/${id}/approve`, { approval_id: start.approval_id, credential });
    handedOver = true;
    approving = null;
    prompted = null;
    show('pay');
    notice('pwa.approve.done');
  });
}

async function refuse(ev) {
  await busy(ev.currentTarget, async () => {
    await api.authed('POST', `/v1/enrollments/${approving.id}/cancel`, {});
    approving = null;
    prompted = null;
    show('pay');
    notice('pwa.approve.refused');
  });
}

// ---------- contact change ----------
let contactChange = null;

async function submitNewContact(ev) {
  ev.preventDefault();
  await busy(ev.currentTarget, async () => {
    const contact = normalizeContact($('new-contact').value);
    const r = await api.authed('POST', '/v1/me/contact', { contact });
    contactChange = { id: r.contact_change_id, contact };
    $('form-contact-otp').hidden = false;
    notice('pwa.otp.sent', { contact });
    $('contact-otp').focus();
  });
}

async function submitContactOTP(ev) {
  ev.preventDefault();
  await busy(ev.currentTarget, async () => {
    const r = await api.authed('POST', '/v1/me/contact/verify', { contact_change_id: contactChange.id, otp: digitsOnly($('contact-otp').value) });
    contactChange = null;
    await openAccount();
    notice('pwa.contact.done', { time: i18n.dateTime(r.applies_at) });
  });
}

function openContact() {
  contactChange = null;
  $('new-contact').value = '';
  $('contact-otp').value = '';
  $('form-contact-otp').hidden = true;
  clearError();
  show('contact');
}

async function logout(ev) {
  await busy(ev.currentTarget, async () => {
    try {
      await api.authed('POST', '/v1/session/logout');
    } catch (e) {
      if (e.status !== 401) throw e;
    }
    leavePay();
    api.endSession();
    show('welcome');
    notice('pwa.account.logged_out');
  });
}

// ---------- start ----------
function wire() {
  $('lang-switch').addEventListener('click', () => i18n.setLang(i18n.otherLang()));
  $('nav-account').addEventListener('click', openAccount);
  $('go-signup').addEventListener('click', () => {
    clearError();
    if (!$('device-label').value) $('device-label').value = api.deviceLabel();
    show('signup');
    $('contact').focus();
  });
  $('go-login').addEventListener('click', () => { clearError(); show('login'); });
  $('go-newphone').addEventListener('click', () => { clearError(); device.begin(null); });
  for (const b of document.querySelectorAll('button.back')) b.addEventListener('click', () => { clearError(); show('welcome'); });
  for (const b of document.querySelectorAll('button.to-pay')) b.addEventListener('click', () => { clearError(); show('pay'); });
  for (const b of document.querySelectorAll('button.to-account')) b.addEventListener('click', openAccount);
  $('form-contact').addEventListener('submit', submitContact);
  $('form-otp').addEventListener('submit', submitOTP);
  $('codes-copy').addEventListener('click', copyCodes);
  $('codes-download').addEventListener('click', downloadCodes);
  $('codes-print').addEventListener('click', () => window.print());
  $('recovery-saved').addEventListener('change', (e) => { $('recovery-done').disabled = !e.target.checked; });
  $('recovery-done').addEventListener('click', codesDone);
  $('do-login').addEventListener('click', login);
  $('code-new').addEventListener('click', () => { clearError(); nextCode(); });
  $('code-verify').addEventListener('click', (ev) => busy(ev.currentTarget, async () => {
    await api.reauth();
    await nextCode();
  }));
  $('go-history').addEventListener('click', openHistory);
  $('history-more').addEventListener('click', (ev) => busy(ev.currentTarget, () => loadHistory(true)));
  $('logout').addEventListener('click', logout);
  $('go-contact').addEventListener('click', openContact);
  $('form-new-contact').addEventListener('submit', submitNewContact);
  $('form-contact-otp').addEventListener('submit', submitContactOTP);
  $('contact-change-cancel').addEventListener('click', (ev) => busy(ev.currentTarget, async () => {
    await api.authed('POST', '/v1/me/contact/cancel', {});
    await openAccount();
    notice('pwa.contact.cancelled');
  }));
  $('prompt-review').addEventListener('click', () => { if (prompted) openApprove(prompted); });
  $('approve-yes').addEventListener('click', approve);
  $('approve-no').addEventListener('click', refuse);
  $('revoked-again').addEventListener('click', async () => {
    await api.forgetDevice();
    clearError();
    show('welcome');
  });
  // The cancel link may open in a window of the app that is already open.
  window.addEventListener('hashchange', () => {
    if (location.hash.startsWith('#cancel=')) device.cancelPage(decodeURIComponent(location.hash.slice('#cancel='.length)));
  });
  document.addEventListener('visibilitychange', () => {
    if (!payActive) return;
    if (document.hidden) { clearTimeout(rotateTimer); clearCode(); } else nextCode();
  });
  onEnter('pay', () => { if (payActive && api.session && !currentCode && !codeInFlight) nextCode(); });
  onEnter('history', () => { if (ledger.stale) loadHistory(false).catch(failed); });
}

async function boot() {
  const texts = await i18n.load();
  i18n.apply(document);
  wire();
  device.init({ enterPay, failed });
  setOffline(!navigator.onLine);

  if (!texts && !navigator.onLine) {
    show('welcome');
    return;
  }
  if (!window.isSecureContext || !window.PublicKeyCredential || !crypto.subtle || !window.indexedDB) {
    show('welcome');
    showError(t('pwa.unsupported'));
    return;
  }
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});

  // The contact's cancel link opens here (#cancel=<code>), whoever's
  // phone or computer it is.
  if (location.hash.startsWith('#cancel=')) {
    device.cancelPage(decodeURIComponent(location.hash.slice('#cancel='.length)));
    return;
  }
  if (location.hash.startsWith('#contact-cancel=')) {
    device.cancelPage(decodeURIComponent(location.hash.slice('#contact-cancel='.length)), 'contact');
    return;
  }
  try {
    if (await api.kvGet('revoked')) {
      show('revoked');
      return;
    }
    if (await device.resume()) return;
    if (await api.kvGet('account')) {
      // A returning phone may still have a session (the refresh cookie).
      try {
        await api.refresh();
      } catch (e) {
        if (e.offline) {
          // Signed in, but no network: the pay screen, offline; never
          // the sign-up screen.
          payActive = true;
          setOffline(true);
          show('pay');
          codeStatus();
          return;
        }
        throw e;
      }
      enterPay();
      return;
    }
  } catch (e) {
    show('welcome');
    if (e && e.status === 401) showError(t('pwa.session.ended'));
    else if (e) console.warn(errorText(e));
    return;
  }
  show('welcome');
}

export { nextCode, screen };
boot();
