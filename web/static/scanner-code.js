// Payment codes as a clerk types them: the shopper's app shows the 24
// digits in groups of four ("1234 5678 ..."), the last one a Luhn check
// digit (tokens/code.go), so a mistyped digit is caught before anything
// is sent (and never counts as a wrong guess at the server).

import { digitsOnly } from './ui.js';

export const CODE_LENGTH = 24;

// luhnOK reports whether digits ends in its Luhn check digit.
export function luhnOK(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

export const validCode = (s) => typeof s === 'string' && s.length === CODE_LENGTH && /^[0-9]+$/.test(s) && luhnOK(s);

// readTyped turns what was typed (spaces, hyphens, full-width digits) into
// {digits, state}: state 'short' (keep typing), 'long', 'check' (the check
// digit does not match: a typo) or 'ok'.
export function readTyped(raw) {
  const digits = digitsOnly(raw);
  if (digits.length < CODE_LENGTH) return { digits, state: 'short' };
  if (digits.length > CODE_LENGTH) return { digits, state: 'long' };
  return { digits, state: luhnOK(digits) ? 'ok' : 'check' };
}

// group writes digits as the shopper's app shows them.
export const group = (digits) => (digits.match(/.{1,4}/g) || []).join(' ');
