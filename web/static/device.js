// A new phone joins the account only through step-up (device/doc.go has
// the states): the account's current phone approves it, or the owner
// recovers without it (the code sent to the account's contact and one
// recovery code) and waits out the cool-down, which the old phone and the
// contact can cancel. Then this phone registers its own passkey and the
// old phone is signed out.
//
// The enrollment in progress ({id, origin, mode, label}) is kept in
// IndexedDB, so a reload, or coming back after the cool-down, resumes it;
// every call is proven with this phone's device key, fixed when the
// enrollment was made.

import * as api from './api.js';
import * as i18n from './i18n.js';
import { t } from './i18n.js';
import { $, show, screen, clearError, notice, busy, normalizeContact, digitsOnly, showError } from './ui.js';

let hooks = { enterPay() {}, failed() {} };
let enr = null; // {id, origin: 'login'|'contact', mode: 'ask'|'lost', label}
let view = null; // the enrollment as the server last showed it
let pollTimer = null;
let tickTimer = null;
let finishing = false;
let cancelCode = null;
let endedWhy = null;

const POLL_WAIT = 2000; // waiting for the other phone's approval

// pollCooldown is how often the cool-down is followed: rarely while it is
// far from over (a day of GETs every few seconds helps nobody), every 3 s
// near the end. Coming back to the app asks at once (visibilitychange).
function pollCooldown() {
  const left = view && view.cooldown_until ? Date.parse(view.cooldown_until) - Date.now() : 0;
  return Math.min(60_000, Math.max(3000, left / 10));
}

async function save() {
  if (enr && enr.id) await api.kvPut('enrollment', enr);
}

async function forget() {
  stopPolling();
  enr = null;
  view = null;
  await api.kvDel('enrollment').catch(() => {});
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
  clearInterval(tickTimer);
  tickTimer = null;
}

const path = (suffix = '') => `/v1/enrollments/${encodeURIComponent(enr.id)}${suffix}`;

// begin opens the new-phone choice: with the enrollment a login's 403
// new_device made (it already waits for the other phone), or without one
// (from the welcome screen: the account's contact comes first).
export async function begin(e) {
  await forget();
  enr = e ? { ...e } : { origin: 'contact', label: api.deviceLabel() };
  await save();
  clearError();
  show('newdevice');
}

// resume continues a stored enrollment; false when there is none.
export async function resume() {
  const stored = await api.kvGet('enrollment');
  if (!stored || !stored.id) return false;
  enr = stored;
  try {
    await poll();
  } catch (e) {
    if (!e.offline) throw e;
    show(enr.mode === 'lost' ? 'recover' : 'wait');
    hooks.failed(e);
  }
  return true;
}

// online continues polling after the connection came back.
export function online() {
  if (enr && enr.id && ['wait', 'cooldown', 'recover', 'verify'].includes(screen())) poll().catch(hooks.failed);
}

// poll reads the enrollment and moves to the screen of its state.
async function poll() {
  clearTimeout(pollTimer);
  if (!enr || !enr.id) return;
  let v;
  try {
    v = await api.request('GET', path());
  } catch (e) {
    if (e.status === 404) return ended('not_found');
    throw e;
  }
  route(v);
}

function schedule(ms) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => poll().catch((e) => {
    if (e.offline) hooks.failed(e);
    else console.warn('enrollment status', e);
    schedule(ms); // keep following it
  }), ms);
}

// route shows the screen of the enrollment's state (only when it
// changes: the focus stays where the shopper is).
function route(v) {
  view = v;
  const go = (name) => { if (screen() !== name) show(name); };
  switch (v.state) {
    case 'unverified':
      go(enr.mode === 'lost' ? 'recover' : 'verify');
      break;
    case 'pending_approval':
      if (enr.mode === 'lost') {
        go('recover');
        break;
      }
      renderWait();
      go('wait');
      schedule(POLL_WAIT);
      break;
    case 'pending_recovery':
      renderCooldown();
      go('cooldown');
      clearInterval(tickTimer);
      tickTimer = setInterval(renderCooldown, 1000);
      schedule(pollCooldown());
      break;
    case 'approved':
    case 'ready':
      stopPolling();
      finish();
      break;
    case 'active':
      // Finished (on another tab of this phone): the session is there.
      forget().then(() => api.refresh()).then(hooks.enterPay, () => show('welcome'));
      break;
    default: // cancelled, expired
      ended(v.state === 'cancelled' ? 'cancelled_' + (v.cancelled_by || 'system') : 'expired');
  }
}

function renderWait() {
  $('wait-label').textContent = (view && view.label) || (enr && enr.label) || '';
}

function renderCooldown() {
  if (!view || !view.cooldown_until) return;
  const until = Date.parse(view.cooldown_until);
  const left = (until - Date.now()) / 1000;
  $('cooldown-left').textContent = left > 0 ? i18n.duration(left) : t('pwa.cooldown.checking');
  $('cooldown-until').textContent = t('pwa.cooldown.until', { time: i18n.dateTime(until) });
}

async function ended(why) {
  endedWhy = why;
  await forget();
  renderEnded();
  show('ended');
}

function renderEnded() {
  if (!endedWhy) return;
  const id = 'pwa.ended.' + endedWhy;
  $('ended-text').textContent = t(i18n.has(id) ? id : 'pwa.ended.expired');
}

// finish registers this phone's passkey; the account then moves here.
// It starts by itself when the state allows it; a browser that wants a
// tap for the passkey prompt gets the button of the ready screen.
async function finish() {
  if (finishing || !enr) return;
  finishing = true;
  try {
    const st = await api.request('POST', path('/finish/start'), {});
    const credential = await api.createPasskey(st.options);
    const tk = await api.request('POST', path('/finish'), { finish_id: st.finish_id, credential });
    api.takeTokens(tk);
    await forget();
    await api.kvDel('revoked').catch(() => {});
    hooks.enterPay();
    notice('pwa.ready.done');
  } catch (e) {
    if (screen() !== 'ready') show('ready');
    if (e.offline) hooks.failed(e);
    else showError(e);
  } finally {
    finishing = false;
  }
}

// ---------- the contact's cancel link ----------
// cancelPage is the page behind a cancel link: kind 'enrollment' (a
// recovery's warning, #cancel=) or 'contact' (a contact change's warning
// to the old address, #contact-cancel=). One screen, its words by kind.
let cancelKind = 'enrollment';
const CANCEL_TEXTS = {
  enrollment: { 'cancel-h': 'pwa.cancel.title', 'cancel-body': 'pwa.cancel.body', 'cancel-do': 'pwa.cancel.submit', 'cancel-done': 'pwa.cancel.done' },
  contact: { 'cancel-h': 'pwa.contact_cancel.title', 'cancel-body': 'pwa.contact_cancel.body', 'cancel-do': 'pwa.contact_cancel.submit', 'cancel-done': 'pwa.contact_cancel.done' },
};
export function cancelPage(code, kind = 'enrollment') {
  cancelCode = code;
  cancelKind = kind;
  // The code leaves the address bar and the history at once.
  history.replaceState(null, '', '/');
  for (const [id, key] of Object.entries(CANCEL_TEXTS[kind])) $(id).dataset.t = key;
  i18n.apply($('screen-cancel'));
  $('cancel-done').hidden = true;
  $('cancel-do').hidden = false;
  show('cancel');
}

export function rerender() {
  renderWait();
  renderCooldown();
  renderEnded();
}

function wire() {
  $('newdevice-ask').addEventListener('click', async () => {
    enr.mode = 'ask';
    await save();
    clearError();
    if (enr.id) {
      await poll().catch(hooks.failed);
    } else {
      show('find');
    }
  });
  const lost = async (ev) => busy(ev.currentTarget, async () => {
    enr.mode = 'lost';
    await save();
    if (enr.id) {
      // The code goes to the account's contact (never anywhere else).
      await api.request('POST', path('/otp'), {});
      stopPolling();
      show('recover');
      notice('pwa.recover.sent');
    } else {
      show('find');
    }
  });
  $('newdevice-lost').addEventListener('click', lost);
  $('wait-lost').addEventListener('click', lost);
  $('form-find').addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(ev.currentTarget, async () => {
      const contact = normalizeContact($('find-contact').value);
      const r = await api.request('POST', '/v1/enrollments', { contact, device_label: enr.label });
      enr.id = r.enrollment_id;
      await save();
      show(enr.mode === 'lost' ? 'recover' : 'verify');
      notice('pwa.recover.sent');
    });
  });
  $('form-verify').addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(ev.currentTarget, async () => {
      route(await api.request('POST', path('/verify'), { otp: digitsOnly($('verify-otp').value) }));
    });
  });
  $('form-recover').addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(ev.currentTarget, async () => {
      const v = await api.request('POST', path('/recover'), {
        otp: digitsOnly($('recover-otp').value), recovery_code: $('recover-code').value.trim(),
      });
      $('recover-otp').value = '';
      $('recover-code').value = '';
      route(v);
    });
  });
  $('recover-resend').addEventListener('click', (ev) => busy(ev.currentTarget, async () => {
    await api.request('POST', path('/otp'), {});
    notice('pwa.recover.sent');
  }));
  $('ready-finish').addEventListener('click', (ev) => busy(ev.currentTarget, finish));
  for (const b of document.querySelectorAll('button.start-over')) {
    b.addEventListener('click', async () => {
      await forget();
      clearError();
      show('welcome');
    });
  }
  $('cancel-do').addEventListener('click', (ev) => busy(ev.currentTarget, async () => {
    const where = cancelKind === 'contact' ? '/v1/contact-changes/cancel' : '/v1/enrollments/cancel';
    await api.request('POST', where, { cancel_token: cancelCode });
    cancelCode = null;
    $('cancel-do').hidden = true;
    $('cancel-done').hidden = false;
  }));
  $('cancel-leave').addEventListener('click', () => location.replace('/'));
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && enr && enr.id && ['wait', 'cooldown'].includes(screen())) poll().catch(hooks.failed);
  });
}

export function init(h) {
  hooks = h;
  wire();
}
