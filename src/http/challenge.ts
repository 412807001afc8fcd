/**
 * RFC 6750 §3: the `error_description` attribute of a `WWW-Authenticate: Bearer` challenge "MUST
 * NOT include characters outside the set %x20-21 / %x23-5B / %x5D-7E": printable ASCII without
 * `"` and `\`. Our messages are sentences for people and may hold `"` (quoted names), `…` (token
 * hints such as `mm_tok_AbCd…wxyz`), other non-ASCII text or, in principle, control characters.
 */

/** Longest description kept: a challenge is a header, not a place for paragraphs. */
export const MAX_ERROR_DESCRIPTION = 200;

function allowed(code: number): boolean {
  return code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c;
}

/**
 * `text` made safe for `error_description="…"`: `"` becomes `'`, `\` becomes `/`, `…` becomes
 * `...`, any other character outside RFC 6750's set becomes `?` (a character, not a byte: a
 * surrogate pair is one `?`), and the result is cut to 200 characters. Text that is already safe
 * (the usual case) is returned as it is, without allocating. Never throws.
 */
export function safeErrorDescription(text: string): string {
  let i = 0;
  while (i < text.length && allowed(text.charCodeAt(i))) i++;
  if (i === text.length && text.length <= MAX_ERROR_DESCRIPTION) return text;
  let out = text.slice(0, i);
  for (; i < text.length && out.length < MAX_ERROR_DESCRIPTION; i++) {
    const code = text.charCodeAt(i);
    if (allowed(code)) out += text[i];
    else if (code === 0x22) out += "'";
    else if (code === 0x5c) out += '/';
    else if (code === 0x2026) out += '...';
    else {
      // A high surrogate followed by its low surrogate is one character: one replacement.
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i++;
      }
      out += '?';
    }
  }
  return out.slice(0, MAX_ERROR_DESCRIPTION);
}

/** Does `text` hold only RFC 6750's `error_description` characters? (For tests and assertions.) */
export function isSafeErrorDescription(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!allowed(text.charCodeAt(i))) return false;
  return true;
}
