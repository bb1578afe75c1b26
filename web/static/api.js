// The API client: the device key, DPoP proofs, the session's tokens and the
// WebAuthn JSON forms. No UI here.
//
// Device key: a non-extractable WebCrypto ECDSA P-256 key kept in
// IndexedDB signs a DPoP proof (RFC 9449) for every API call. The access
// token lives in memory only; the refresh token is an HttpOnly cookie the
// script never sees.

import { lang, problemText, t } from './i18n.js';
import { openKV } from './kv.js';
import { b64u, b64uDecode, newP256Key, randomId, sha256, signES256 } from './jws.js';

const store = openKV('paycode');

// IndexedDB (kv.js): the device key ('device'), the account it is bound to
// ('account'), a new device's enrollment in progress ('enrollment'),
// whether this phone was replaced ('revoked'). Never a payment code, a
// token or a balance.
export const kvGet = store.get;
export const kvPut = store.put;
export const kvDel = store.del;
export { b64u };

let devicePromise = null;
function deviceKey() {
  devicePromise ??= (async () => {
    let d = await kvGet('device');
    if (!d) {
      const pair = await newP256Key();
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
    jti: randomId(),
    htm: method,
    htu: location.origin + path.split('?')[0],
    iat: Math.floor(Date.now() / 1000),
  };
  if (token) claims.ath = b64u(await sha256(token));
  return signES256(privateKey, { typ: 'dpop+jwt', jwk }, claims);
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
