// The API client: the device key, DPoP proofs, the session's tokens and the
// WebAuthn JSON forms. No UI here.
//
// Device key: a non-extractable WebCrypto ECDSA P-256 key kept in
// IndexedDB signs a DPoP proof (RFC 9449) for every API call. The access
// token lives in memory only; the refresh token is an HttpOnly cookie the
// script never sees.

import { lang, problemText, t } from './i18n.js';

const enc = new TextEncoder();

// ---------- base64url ----------
export function b64u(buf) {
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

// ---------- IndexedDB ----------
// One object store of small values: the device key ('device'), the account
// it is bound to ('account'), a new device's enrollment in progress
// ('enrollment'), whether this phone was replaced ('revoked'). Never a
// payment code, a token or a balance.
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
export const kvGet = (k) => kv('readonly', (s) => s.get(k));
export const kvPut = (k, v) => kv('readwrite', (s) => s.put(v, k));
export const kvDel = (k) => kv('readwrite', (s) => s.delete(k));

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

// forgetDevice deletes this browser's device key and everything bound to
// it: the next call makes a new key, so this browser is a new device.
export async function forgetDevice() {
  session = null;
  devicePromise = null;
  for (const k of ['device', 'account', 'enrollment', 'revoked']) await kvDel(k).catch(() => {});
}

export async function dpopProof(method, path, token) {
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

// ---------- API ----------
export class ApiError extends Error {
  constructor(status, problem, challenge) {
    super(problemText(problem, status));
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || '';
    this.challenge = challenge || '';
  }
}

// offline is set when a request could not reach the server at all.
export class OfflineError extends ApiError {
  constructor() {
    super(0, { code: 'pwa.offline.request' });
    this.offline = true;
  }
}

export let session = null; // {access, expiresAt, accountId}

export async function request(method, path, body, token) {
  const headers = { DPoP: await dpopProof(method, path, token), 'Accept-Language': lang() };
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
    throw new OfflineError();
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

export function takeTokens(tk) {
  session = { access: tk.access_token, expiresAt: Date.now() + (tk.expires_in || 60) * 1000, accountId: tk.account_id };
  kvPut('account', tk.account_id).catch(() => {});
}

export function endSession() { session = null; }

// refresh is single-flight: a refresh token is spent on use, and presenting
// a spent one revokes the whole session.
let refreshing = null;
export function refresh() {
  refreshing ??= request('POST', '/v1/session/refresh', {})
    .then((tk) => { takeTokens(tk); return true; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

export async function reauth() {
  const start = await authed('POST', '/v1/session/reauth/start', {}, false);
  const credential = await getPasskey(start.options);
  const tk = await authed('POST', '/v1/session/reauth/finish', { reauth_id: start.reauth_id, credential }, false);
  takeTokens(tk);
}

// authed calls the API with the access token, refreshing it when it is
// about to expire or was refused, and running a passkey step-up when the
// server asks for a recent user verification.
export async function authed(method, path, body, stepUp = true) {
  if (!session) throw new ApiError(401, { code: 'pwa.session.ended' });
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
export async function getPasskey(options) {
  const c = await navigator.credentials.get({ publicKey: requestOptions(options) });
  if (!c) throw new ApiError(0, { code: 'pwa.passkey.none' });
  return credentialJSON(c);
}
export async function createPasskey(options) {
  const c = await navigator.credentials.create({ publicKey: creationOptions(options) });
  if (!c) throw new ApiError(0, { code: 'pwa.passkey.none' });
  return credentialJSON(c);
}

// deviceLabel names this phone for the account's other phone and for the
// owner's list: the browser and the platform, nothing more identifying.
export function deviceLabel() {
  const ua = navigator.userAgent;
  const os = /iPhone/.test(ua) ? 'iPhone' : /iPad/.test(ua) ? 'iPad' : /Android/.test(ua) ? 'Android'
    : /Mac OS X/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : '';
  const label = [browser, os].filter(Boolean).join(' · ');
  return label || t('pwa.device.default');
}
