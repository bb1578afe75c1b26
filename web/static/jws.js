// Compact JWS signed in the browser with a non-extractable WebCrypto key:
// the shopper's DPoP proofs (api.js) and the scanner's RFC 7523 client
// assertions (scanner-api.js). ES256 only: WebCrypto's ECDSA signature is
// already the JWS form, r || s (RFC 7518 §3.4), so no DER conversion.

const enc = new TextEncoder();

export function b64u(buf) {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64uDecode(str) {
  const s = atob(str.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((str.length + 3) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}

export const b64uJSON = (v) => b64u(enc.encode(JSON.stringify(v)));

export const sha256 = (s) => crypto.subtle.digest('SHA-256', enc.encode(s));

export const randomId = (n = 16) => b64u(crypto.getRandomValues(new Uint8Array(n)));

// newP256Key makes a P-256 ECDSA key pair whose private half cannot be
// exported (IndexedDB keeps the CryptoKey object itself).
export const newP256Key = () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);

// signES256 returns header.claims.signature.
export async function signES256(privateKey, header, claims) {
  const input = b64uJSON({ ...header, alg: 'ES256' }) + '.' + b64uJSON(claims);
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, enc.encode(input));
  return input + '.' + b64u(sig);
}

// publicKeyPEM is the SubjectPublicKeyInfo of a public key as PEM, the
// form paycodectl and the admin API register.
export async function publicKeyPEM(publicKey) {
  const der = b64u(await crypto.subtle.exportKey('spki', publicKey)).replace(/-/g, '+').replace(/_/g, '/');
  const padded = der + '='.repeat((4 - (der.length % 4)) % 4);
  return '-----BEGIN PUBLIC KEY-----\n' + padded.match(/.{1,64}/g).join('\n') + '\n-----END PUBLIC KEY-----\n';
}
