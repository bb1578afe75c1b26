// paycode customer PWA: plain ES module, no build step, no dependencies.
//
// Device key: a non-extractable WebCrypto ECDSA P-256 key kept in
// IndexedDB signs a DPoP proof (RFC 9449) for every API call. The access
// token lives in memory only; the refresh token is an HttpOnly cookie the
// script never sees.

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();

// ---------- base64url ----------
function b64u(buf) {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function b64uDecode(str) {
  const s = atob(str.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((str.length + 3) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}
const b64uJSON = (v) => b64u(enc.encode(JSON.stringify(v)));

// ---------- device key in IndexedDB ----------
function idb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('paycode', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('kv');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
async function kv(mode, fn) {
  const db = await idb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction('kv', mode);
      const req = fn(tx.objectStore('kv'));
      tx.oncomplete = () => resolve(req && req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}
const kvGet = (k) => kv('readonly', (s) => s.get(k));
const kvPut = (k, v) => kv('readwrite', (s) => s.put(v, k));

let devicePromise = null;
function deviceKey() {
  devicePromise ??= (async () => {
    let d = await kvGet('device');
    if (!d) {
      const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
      d = { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
      await kvPut('device', d);
    }
    return d;
  })();
  devicePromise.catch(() => { devicePromise = null; });
  return devicePromise;
}

async function dpopProof(method, path, token) {
  const { privateKey, jwk } = await deviceKey();
  const claims = {
    jti: b64u(crypto.getRandomValues(new Uint8Array(16))),
    htm: method,
    htu: location.origin + path.split('?')[0],
    iat: Math.floor(Date.now() / 1000),
  };
  if (token) claims.ath = b64u(await crypto.subtle.digest('SHA-256', enc.encode(token)));
  const input = b64uJSON({ typ: 'dpop+jwt', alg: 'ES256', jwk }) + '.' + b64uJSON(claims);
  // WebCrypto ECDSA signatures are already the JWS form: r || s.
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, enc.encode(input));
  return input + '.' + b64u(sig);
}

// ---------- text ----------
// The server's message catalogue (GET /v1/text/{lang}) in the browser's
// language: a problem's code is the id of its text, so the app says what
// went wrong in that language, the server's detail as the fallback.
const lang = (() => {
  for (const tag of navigator.languages || [navigator.language]) {
    const l = String(tag || '').toLowerCase().split('-')[0];
    if (l === 'ja' || l === 'en') return l;
  }
  return 'en';
})();
let messages = {};
fetch(`/v1/text/${lang}`, { credentials: 'same-origin' })
  .then((r) => (r.ok ? r.json() : null))
  .then((d) => { if (d && d.messages) messages = d.messages; })
  .catch(() => { /* offline: the server's details stand in */ });

// problemText is the problem's own detail when the server wrote it in the
// app's language (it is the more precise text: requests carry the app's
// Accept-Language), else the text of its code (one that needs no
// arguments), else whatever detail or title the problem has.
function problemText(p, status) {
  if (p && p.detail && p.lang === lang) return p.detail;
  const t = p && p.code && Object.hasOwn(messages, p.code) ? messages[p.code] : '';
  if (typeof t === 'string' && t && !t.includes('{')) return t;
  return (p && (p.detail || p.title)) || `The server answered ${status}.`;
}

// ---------- API ----------
class ApiError extends Error {
  constructor(status, problem, challenge) {
    super(problemText(problem, status));
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || '';
    this.challenge = challenge || '';
  }
}

let session = null; // {access, expiresAt, accountId}

async function request(method, path, body, token) {
  const headers = { DPoP: await dpopProof(method, path, token), 'Accept-Language': lang };
  if (token) headers.Authorization = 'DPoP ' + token;
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: 'No connection to paycode. Check your network and try again.' });
  }
  const type = r.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await r.json().catch(() => null) : null;
  if (!r.ok) {
    const challenge = r.headers.get('WWW-Authenticate') || '';
    const p = data || {};
    p.lang = (r.headers.get('Content-Language') || '').toLowerCase();
    if (!p.code && challenge.includes('insufficient_user_authentication')) p.code = 'insufficient_user_authentication';
    throw new ApiError(r.status, p, challenge);
  }
  return data;
}

function takeTokens(t) {
  session = { access: t.access_token, expiresAt: Date.now() + (t.expires_in || 60) * 1000, accountId: t.account_id };
  kvPut('account', t.account_id).catch(() => {});
}

// refresh is single-flight: a refresh token is spent on use, and presenting
// a spent one revokes the whole session.
let refreshing = null;
function refresh() {
  refreshing ??= request('POST', '/v1/session/refresh', {})
    .then((t) => { takeTokens(t); return true; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function reauth() {
  const start = await authed('POST', '/v1/session/reauth/start', {}, false);
  const credential = await getPasskey(start.options);
  const t = await authed('POST', '/v1/session/reauth/finish', { reauth_id: start.reauth_id, credential }, false);
  takeTokens(t);
}

// authed calls the API with the access token, refreshing it when it is
// about to expire or was refused, and running a passkey step-up when the
// server asks for a recent user verification.
async function authed(method, path, body, stepUp = true) {
  if (!session) throw new ApiError(401, { detail: 'Please log in.' });
  if (Date.now() > session.expiresAt - 30_000) await refresh();
  try {
    return await request(method, path, body, session.access);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    if (e.code === 'insufficient_user_authentication') {
      if (!stepUp) throw e;
      await reauth();
    } else {
      await refresh();
    }
    return request(method, path, body, session.access);
  }
}

// ---------- WebAuthn JSON <-> objects ----------
function creationOptions(json) {
  const o = json.publicKey || json;
  if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(o);
  }
  return {
    ...o,
    challenge: b64uDecode(o.challenge),
    user: { ...o.user, id: b64uDecode(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64uDecode(c.id) })),
  };
}
function requestOptions(json) {
  const o = json.publicKey || json;
  if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(o);
  }
  return {
    ...o,
    challenge: b64uDecode(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64uDecode(c.id) })),
  };
}
function credentialJSON(c) {
  if (typeof c.toJSON === 'function') return c.toJSON();
  const r = c.response;
  const response = { clientDataJSON: b64u(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64u(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = b64u(r.authenticatorData);
    response.signature = b64u(r.signature);
    if (r.userHandle) response.userHandle = b64u(r.userHandle);
  }
  return {
    id: c.id, rawId: b64u(c.rawId), type: c.type, response,
    authenticatorAttachment: c.authenticatorAttachment || undefined,
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  };
}
async function getPasskey(options) {
  const c = await navigator.credentials.get({ publicKey: requestOptions(options) });
  if (!c) throw new ApiError(0, { detail: 'No passkey was used.' });
  return credentialJSON(c);
}

// ---------- UI helpers ----------
const screens = ['loading', 'welcome', 'signup', 'otp', 'recovery', 'login', 'pay'];
function show(name) {
  for (const s of screens) $('screen-' + s).hidden = s !== name;
  $('logout').hidden = name !== 'pay';
  const h = $('screen-' + name).querySelector('h2');
  if (h && name !== 'pay') { h.tabIndex = -1; h.focus(); }
}
function showError(e) {
  let msg = e && e.message ? e.message : String(e);
  if (e && e.name === 'NotAllowedError') msg = 'The passkey prompt was cancelled or timed out. Try again.';
  else if (e && e.name === 'InvalidStateError') msg = 'This device already has a passkey for this account.';
  $('error').textContent = msg;
  $('error').hidden = false;
}
function clearError() { $('error').hidden = true; $('error').textContent = ''; }
function notice(text) { $('notice').textContent = text; }

// busy disables the form's buttons while fn runs and shows its errors.
async function busy(el, fn) {
  const buttons = el.tagName === 'FORM' ? [...el.querySelectorAll('button')] : [el];
  buttons.forEach((b) => { b.disabled = true; });
  clearError();
  try {
    await fn();
  } catch (e) {
    console.error(e);
    showError(e);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function money(amount, currency = 'JPY') {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

// ---------- sign-up ----------
let signup = null; // {id, contact, label}

async function submitContact(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  await busy(form, async () => {
    const contact = $('contact').value.trim();
    const label = $('device-label').value.trim() || 'My phone';
    if (!contact) throw new Error('Enter your e-mail address or phone number.');
    await deviceKey();
    const r = await request('POST', '/v1/signup/contact', { contact });
    signup = { id: r.signup_id, contact, label };
    $('otp-to').textContent = contact;
    $('otp').value = '';
    show('otp');
    $('otp').focus();
  });
}

async function submitOTP(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  await busy(form, async () => {
    const otp = $('otp').value.trim();
    if (!/^[0-9]{6}$/.test(otp)) throw new Error('The code has 6 digits.');
    const v = await request('POST', '/v1/signup/verify', { signup_id: signup.id, otp });
    const cred = await navigator.credentials.create({ publicKey: creationOptions(v.options) });
    if (!cred) throw new Error('No passkey was created.');
    const t = await request('POST', '/v1/signup/finish', {
      signup_id: signup.id, credential: credentialJSON(cred), device_label: signup.label,
    });
    takeTokens(t);
    signup = null;
    const list = $('recovery-codes');
    list.replaceChildren(...(t.recovery_codes || []).map((c) => {
      const li = document.createElement('li');
      li.textContent = c;
      return li;
    }));
    $('recovery-saved').checked = false;
    $('recovery-done').disabled = true;
    show('recovery');
  });
}

// ---------- login ----------
async function login(ev) {
  await busy(ev.currentTarget, async () => {
    const start = await request('POST', '/v1/login/start', {});
    const credential = await getPasskey(start.options);
    try {
      takeTokens(await request('POST', '/v1/login/finish', { login_id: start.login_id, credential }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 403 && e.code === 'new_device') {
        throw new ApiError(403, {
          detail: 'This passkey belongs to an account that is bound to another device. For your safety a new device ' +
            'never replaces the old one silently: approve this device from your current phone, or recover with your ' +
            'contact and a recovery code.' + (e.problem.enrollment_id ? ` (request ${e.problem.enrollment_id})` : ''),
        });
      }
      throw e;
    }
    enterPay();
  });
}

async function logout() {
  try { await authed('POST', '/v1/session/logout', {}, false); } catch { /* the session may be gone already */ }
  leavePay();
  session = null;
  show('welcome');
}

// ---------- pay screen ----------
let payActive = false;
let rotateTimer = 0;
let currentCode = null;
let events = null; // AbortController of the event stream

function enterPay() {
  clearError();
  payActive = true;
  $('paid').hidden = true;
  show('pay');
  loadWallet();
  nextCode();
  startEvents();
}

function leavePay() {
  payActive = false;
  document.body.dataset.events = 'closed';
  clearTimeout(rotateTimer);
  if (events) events.abort();
  events = null;
  clearCode();
}

function clearCode() {
  currentCode = null;
  for (const id of ['code-qr', 'code-128']) { $(id).hidden = true; $(id).removeAttribute('src'); }
  $('code-digits').textContent = '';
  $('code-expiry').textContent = '';
}

async function loadWallet() {
  try {
    const w = await authed('GET', '/v1/wallet');
    $('balance').textContent = money(w.balance, w.currency);
  } catch (e) {
    showError(e);
  }
}

let codeInFlight = null;
function nextCode() {
  codeInFlight ??= fetchCode().finally(() => { codeInFlight = null; });
  return codeInFlight;
}

async function fetchCode() {
  clearTimeout(rotateTimer);
  if (!payActive || document.hidden) return;
  $('code-verify').hidden = true;
  try {
    const c = await authed('POST', '/v1/codes', {});
    if (!payActive) return;
    currentCode = c;
    $('code-qr').src = c.qr_png;
    $('code-128').src = c.code128_png;
    $('code-qr').hidden = false;
    $('code-128').hidden = false;
    $('code-digits').textContent = c.code.match(/.{1,4}/g).join(' ');
    $('code-expiry').textContent = 'Valid until ' + new Date(c.expires_at).toLocaleTimeString();
    // Rotate at refresh_at; bounded so a skewed clock neither spins nor stalls.
    const wait = Math.min(Math.max(Date.parse(c.refresh_at) - Date.now(), 5_000), 60_000);
    rotateTimer = setTimeout(nextCode, wait);
  } catch (e) {
    clearCode();
    if (e.name === 'NotAllowedError' || e.code === 'insufficient_user_authentication') {
      // The passkey prompt needs the user: offer a button.
      $('code-verify').hidden = false;
      showError(e.name === 'NotAllowedError' ? new Error('Verify with your passkey to show a payment code.') : e);
      return;
    }
    if (e.status === 401) return sessionLost('Your session has ended. Please log in again.');
    showError(e);
    rotateTimer = setTimeout(nextCode, 10_000);
  }
}

function sessionLost(msg) {
  leavePay();
  session = null;
  show('welcome');
  showError(new Error(msg));
}

function onEvent(type, ev) {
  const d = (ev && ev.data) || {};
  if (type === 'code.redeemed') {
    const where = d.store ? ` at ${d.store}` : '';
    const text = d.kind === 'topup' ? `Topped up ${money(d.amount, d.currency)}${where}` : `Paid ${money(d.amount, d.currency)}${where}`;
    $('paid').textContent = text;
    $('paid').hidden = false;
    if (typeof d.balance === 'number') $('balance').textContent = money(d.balance, d.currency);
    loadWallet();
    nextCode();
  } else if (type === 'code.expired') {
    if (!currentCode || Date.parse(currentCode.expires_at) <= Date.now() + 1000) nextCode();
  } else if (type === 'device.revoked') {
    sessionLost('This device was removed from your account.');
  } else if (type === 'enrollment.pending') {
    notice(`A new device${d.label ? ` ("${d.label}")` : ''} asks to take over this account. If it is not you, do nothing.`);
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

// startEvents reads GET /v1/events with fetch() (EventSource cannot send
// DPoP headers), and reconnects with Last-Event-ID.
function startEvents() {
  if (events) events.abort();
  const ctl = new AbortController();
  events = ctl;
  const { signal } = ctl;
  let lastId = '';
  let retry = 3000;
  (async () => {
    while (!signal.aborted) {
      try {
        if (Date.now() > session.expiresAt - 30_000) await refresh();
        const token = session.access;
        const headers = { DPoP: await dpopProof('GET', '/v1/events', token), Authorization: 'DPoP ' + token, Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const r = await fetch('/v1/events', { headers, cache: 'no-store', signal });
        if (r.status === 401) {
          await refresh(); // a refused token: renew it, then reconnect after the retry delay
          throw new Error('events: 401');
        }
        if (!r.ok || !r.body) throw new Error(`events: ${r.status}`);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        // Tests and styles can see when the page is listening.
        document.body.dataset.events = 'open';
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf = (buf + value).replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = 'message', data = '', id = null;
            for (const line of block.split('\n')) {
              if (!line || line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (field === 'event') type = val;
              else if (field === 'data') data += (data ? '\n' : '') + val;
              else if (field === 'id') id = val;
              else if (field === 'retry' && /^[0-9]+$/.test(val)) retry = Number(val);
            }
            if (id) lastId = id;
            if (!data) continue;
            let parsed = null;
            try { parsed = JSON.parse(data); } catch { continue; }
            onEvent(type, parsed);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        document.body.dataset.events = 'closed';
        if (e instanceof ApiError && e.status === 401) return sessionLost('Your session has ended. Please log in again.');
        console.warn('event stream', e);
      }
      document.body.dataset.events = 'closed';
      await sleep(retry, signal);
    }
  })();
}

// ---------- start ----------
async function boot() {
  $('go-signup').addEventListener('click', () => { clearError(); show('signup'); $('contact').focus(); });
  $('go-login').addEventListener('click', () => { clearError(); show('login'); });
  for (const b of document.querySelectorAll('button.back')) b.addEventListener('click', () => { clearError(); show('welcome'); });
  $('form-contact').addEventListener('submit', submitContact);
  $('form-otp').addEventListener('submit', submitOTP);
  $('do-login').addEventListener('click', login);
  $('logout').addEventListener('click', logout);
  $('recovery-saved').addEventListener('change', (e) => { $('recovery-done').disabled = !e.target.checked; });
  $('recovery-done').addEventListener('click', () => {
    $('recovery-codes').replaceChildren(); // shown once
    enterPay();
  });
  $('code-new').addEventListener('click', () => { clearError(); nextCode(); });
  $('code-verify').addEventListener('click', (ev) => busy(ev.currentTarget, async () => {
    await reauth();
    await nextCode();
  }));
  document.addEventListener('visibilitychange', () => {
    if (!payActive) return;
    if (document.hidden) { clearTimeout(rotateTimer); clearCode(); } else nextCode();
  });

  if (!window.isSecureContext || !window.PublicKeyCredential || !crypto.subtle || !window.indexedDB) {
    show('welcome');
    showError(new Error('This browser cannot hold a passkey and a device key here (it needs HTTPS, passkeys and IndexedDB).'));
    return;
  }
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});

  // A returning device may still have a session (refresh cookie).
  try {
    const known = await kvGet('account');
    if (known) {
      await refresh();
      enterPay();
      return;
    }
  } catch { /* no session: show the welcome screen */ }
  show('welcome');
}

boot();
