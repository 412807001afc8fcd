import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Token values: `mm_tok_` (trigger) or `mm_adm_` (admin), then 30 base62 characters from the
 * CSPRNG, then 6 base62 characters encoding the CRC32 of everything before them.
 *
 * Invariants: a value leaves this module only in the create/rotate answer; what is stored is its
 * SHA-256 (`hashValue`) and a display hint (`hintFor`) that reveals 4 random characters at most.
 * `parseValue` decides "malformed" from the text alone, so garbage never reaches the database.
 */
export type TokenKind = 'trigger' | 'admin';

export const VALUE_PREFIX: Record<TokenKind, string> = { trigger: 'mm_tok_', admin: 'mm_adm_' };
export const ID_PREFIX: Record<TokenKind, string> = { trigger: 'tok_', admin: 'adm_' };

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const PREFIX_LENGTH = 7;
export const VALUE_LENGTH = PREFIX_LENGTH + RANDOM_LENGTH + CHECKSUM_LENGTH;

/** Uniform random characters from `alphabet` (rejection sampling, no modulo bias). */
function randomString(alphabet: string, length: number): string {
  let out = '';
  // Draw bytes in bulk and reject the biased tail; faster than one randomInt call per character.
  const limit = 256 - (256 % alphabet.length);
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      const byte = bytes[i]!;
      if (byte < limit) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** CRC-32 (zlib's polynomial, reflected) of each byte value. */
const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * zlib's CRC-32 of `text` as UTF-8. What a checksum covers is ASCII (a prefix and base62), summed
 * here in JavaScript: zlib.crc32's call into C++ cost ~1 % of a trigger request in a profile.
 */
export function crc32Of(text: string): number {
  let c = -1;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crc32(text) >>> 0; // not ASCII: zlib encodes it as UTF-8
    c = CRC_TABLE[(c ^ code) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ -1) >>> 0;
}

/** The 6-character base62 encoding of the CRC32 of `text`. */
export function checksum(text: string): string {
  let n = crc32Of(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** A new secret value of the given kind. Call sites must hand it to the user once and drop it. */
export function generateValue(kind: TokenKind): string {
  const body = VALUE_PREFIX[kind] + randomString(BASE62, RANDOM_LENGTH);
  return body + checksum(body);
}

/** A new public id: `tok_`/`adm_` + 20 lowercase base32 characters (100 random bits). */
export function generateId(kind: TokenKind): string {
  return ID_PREFIX[kind] + randomString(BASE32, 20);
}

/** An opaque random suffix for other public ids (runs, requests). */
export function randomSuffix(length: number): string {
  return randomString(BASE32, length);
}

export type ParsedValue = { ok: true; kind: TokenKind } | { ok: false; problem: string };

/** Each ASCII code's base62 digit (-1: not base62). */
const BASE62_DIGIT = (() => {
  const digits = new Int8Array(128).fill(-1);
  for (let i = 0; i < BASE62.length; i++) digits[BASE62.charCodeAt(i)] = i;
  return digits;
})();

/** The CRC-32 register after each prefix (crc32Of before its final inversion): the checksum covers it. */
const PREFIX_CRC: Record<TokenKind, number> = {
  trigger: crc32Of(VALUE_PREFIX.trigger) ^ -1,
  admin: crc32Of(VALUE_PREFIX.admin) ^ -1,
};

const PARSED: Record<TokenKind, ParsedValue> = {
  trigger: Object.freeze({ ok: true, kind: 'trigger' }),
  admin: Object.freeze({ ok: true, kind: 'admin' }),
};

/**
 * Checks prefix, length, alphabet and checksum without touching the database. The problem text
 * never quotes the value. Runs on every trigger request: one pass over the characters, no
 * intermediate strings (the checksum characters are decoded and compared as a number, which is the
 * same test as encoding the CRC: 6 base62 digits hold any 32-bit value in exactly one way).
 */
export function parseValue(value: string): ParsedValue {
  let kind: TokenKind;
  if (value.startsWith(VALUE_PREFIX.trigger)) kind = 'trigger';
  else if (value.startsWith(VALUE_PREFIX.admin)) kind = 'admin';
  else return { ok: false, problem: 'the token does not start with mm_tok_ or mm_adm_' };
  if (value.length !== VALUE_LENGTH) {
    return { ok: false, problem: `the token has ${value.length} characters; mechamental tokens have ${VALUE_LENGTH}` };
  }
  const cut = VALUE_LENGTH - CHECKSUM_LENGTH;
  let crc = PREFIX_CRC[kind];
  let stated = 0;
  for (let i = PREFIX_LENGTH; i < VALUE_LENGTH; i++) {
    const code = value.charCodeAt(i);
    const digit = code < 128 ? BASE62_DIGIT[code]! : -1;
    if (digit < 0) return { ok: false, problem: 'the token contains characters outside 0-9, A-Z, a-z' };
    if (i < cut) crc = CRC_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
    else stated = stated * 62 + digit;
  }
  if (stated !== (crc ^ -1) >>> 0) return { ok: false, problem: 'the token checksum does not match (was it copied in full?)' };
  return PARSED[kind];
}

/** SHA-256 of the whole value, hex: the only form in which a value is stored. */
export function hashValue(value: string): string {
  // One-shot crypto.hash (Node >= 20.12): no Hash object per call on the verification hot path.
  return hash('sha256', value, 'hex');
}

/** Display hint such as `mm_tok_AbCd…wxyz`: enough to recognise a token, useless to present one. */
export function hintFor(value: string): string {
  return `${value.slice(0, PREFIX_LENGTH + 4)}…${value.slice(-4)}`;
}

/** Anything that looks like a token value in `text`, replaced by `mm_…` (for messages that quote what a user typed). */
export function redactTokenValues(text: string): string {
  return text.replace(/mm_(?:tok|adm)_[0-9A-Za-z]*/gi, 'mm_…');
}
