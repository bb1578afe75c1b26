// The scanner page's terminal client: its key, its pairing, its client
// assertions and its calls. No UI here.
//
// Key: a non-extractable WebCrypto ECDSA P-256 key made once and kept in
// IndexedDB ('paycode-scanner', key 'key'); the page shows its public half
// as PEM for `paycodectl terminal register --public-key-file`, or sends it
// with a one-time pairing code. What it is paired as ('terminal': id,
// store, label) is kept beside it; the terminal token is in memory only
// and is fetched again with a fresh RFC 7523 client assertion (ES256,
// iss = sub = the terminal id, aud = this origin's token endpoint, a
// random jti, exp one minute ahead) when it is about to expire.

import { lang } from './i18n.js';
import { ApiError, OfflineError } from './api.js';
import { openKV } from './kv.js';
import { newP256Key, publicKeyPEM, randomId, signES256 } from './jws.js';

const store = openKV('paycode-scanner');

let keyPromise = null;
// key is the page's key pair: {privateKey, pem}.
export function key() {
  keyPromise ??= (async () => {
    let k = await store.get('key');
    if (!k) {
      const pair = await newP256Key();
      k = { privateKey: pair.privateKey, pem: await publicKeyPEM(pair.publicKey) };
      await store.put('key', k);
    }
    return k;
  })();
  keyPromise.catch(() => { keyPromise = null; });
  return keyPromise;
}

// paired is what this page is registered as, or null:
// {id, storeId, storeName, label}.
export const paired = () => store.get('terminal');

export async function setPaired(t) { token = null; await store.put('terminal', t); }

// unpair forgets the registration and the key: the next pairing registers
// a new key (the operator suspends the old terminal id).
export async function unpair() {
  token = null;
  keyPromise = null;
  await store.del('terminal');
  await store.del('key');
}

// send makes one request and turns a failure into an ApiError (an
// OfflineError when no answer came back: the request may or may not have
// reached the server).
async function send(method, path, { body, form, bearer, idem } = {}) {
  const headers = { 'Accept-Language': lang() };
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  if (idem) headers['Idempotency-Key'] = idem;
  if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  } else if (body !== undefined) {
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
    const p = data || {};
    p.lang = (r.headers.get('Content-Language') || '').toLowerCase();
    const e = new ApiError(r.status, p);
    e.retryAfter = Number(r.headers.get('Retry-After')) || 0;
    throw e;
  }
  return { data: data || {}, replayed: r.headers.get('Idempotent-Replayed') === 'true' };
}

// names is the store's display names of a pairing or token answer:
// {en, ja} (store_names), else the one name in the page's language
// (store_name), else null.
const names = (d) => d.store_names || d.store_name || null;

// redeemPairing registers this page's key with a one-time pairing code.
export async function redeemPairing(code) {
  const { pem } = await key();
  const { data } = await send('POST', '/v1/terminal/pairings', { body: { pairing_code: code, public_key_pem: pem } });
  const t = { id: data.terminal_id, storeId: data.store_id, storeName: names(data), label: data.label || '' };
  await setPaired(t);
  return t;
}

// The terminal token, in memory only: {access, expiresAt}.
let token = null;
let fetching = null;

async function assertion(terminalID) {
  const { privateKey } = await key();
  const now = Math.floor(Date.now() / 1000);
  return signES256(privateKey, { typ: 'JWT' }, {
    iss: terminalID, sub: terminalID, aud: location.origin + '/v1/terminal/token',
    jti: randomId(), iat: now, exp: now + 60,
  });
}

// fetchToken exchanges a fresh client assertion for a terminal token
// (single flight). A 401 invalid_client means this key is not (or no
// longer) an active terminal: unregistered, suspended or never paired.
function fetchToken() {
  fetching ??= (async () => {
    const t = await paired();
    if (!t) throw new ApiError(401, { code: 'invalid_client' });
    const { data } = await send('POST', '/v1/terminal/token', {
      form: {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(t.id),
      },
    });
    token = { access: data.access_token, expiresAt: Date.now() + (data.expires_in || 60) * 1000 };
    // The token answer names the store and the register (the operator may
    // have renamed either since the pairing): remember them.
    const now = { ...t, storeName: names(data) ?? t.storeName, storeId: data.store_id || t.storeId, label: data.label || t.label };
    if (JSON.stringify(now) !== JSON.stringify(t)) await store.put('terminal', now);
    return token;
  })().finally(() => { fetching = null; });
  return fetching;
}

// checkPairing gets a token now: it proves the registration works.
export async function checkPairing() { token = null; await fetchToken(); }

// call is a terminal API call with the token, fetching one first when it
// is missing or about to expire, and once more when the server refused it
// (expired, or the server's keys rotated). The same Idempotency-Key goes
// with both sends.
export async function call(method, path, { body, idem } = {}) {
  if (!token || Date.now() > token.expiresAt - 15_000) await fetchToken();
  try {
    return await send(method, path, { body, idem, bearer: token.access });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401 || e.code !== 'invalid_token') throw e;
    await fetchToken();
    return send(method, path, { body, idem, bearer: token.access });
  }
}
