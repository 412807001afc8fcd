/** The deepest nesting of objects and arrays a request body may have (SPEC "Limits and hardening"). */
export const MAX_JSON_DEPTH = 64;

/** A request body read as a JSON object, or why it is not one (a sentence for a 400 `invalid_json`). */
export type JsonObjectResult = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

const NOT_JSON = 'the body is not valid JSON; send a JSON object such as {"message": "Hello"}';
const NOT_OBJECT = 'the body must be a JSON object such as {"message": "Hello"}';

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]

/**
 * Parses a request body that must be a JSON object. Refuses, each with a sentence for the caller:
 * text that is not JSON, JSON that is not an object (or an empty body), and nesting of
 * objects and arrays deeper than `maxDepth` (the top-level object is depth 1).
 *
 * The depth is judged before `JSON.parse`, by one linear pass over the bytes that tracks strings and
 * their escapes, without recursion: a body of any depth costs O(length) and cannot overflow the
 * stack, here or later (JSON.stringify and structured clone recurse). UTF-8 is safe to scan byte by
 * byte: every byte of a multi-byte character is ≥ 0x80, so none looks like `"`, `\`, or a bracket.
 * A body shorter than `maxDepth + 1` bytes cannot hold that many brackets and skips the scan, which
 * keeps the common small body as cheap as a bare JSON.parse. The scan may be fooled by text that is
 * not JSON at all (brackets never closed, say); JSON.parse refuses that text anyway.
 */
export function parseJsonObject(body: Buffer, maxDepth = MAX_JSON_DEPTH): JsonObjectResult {
  if (body.length > maxDepth && nestingExceeds(body, maxDepth)) {
    return { ok: false, message: `the body nests objects or arrays more than ${maxDepth} levels deep; send a flatter JSON object` };
  }
  // An empty body says nothing at all; "send an object" is the useful answer (as before).
  if (body.length === 0) return { ok: false, message: NOT_OBJECT };
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, message: NOT_JSON };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, message: NOT_OBJECT };
  return { ok: true, value: value as Record<string, unknown> };
}

/** Whether brackets outside strings nest deeper than `maxDepth` anywhere in `body` (stops at the first such place). */
function nestingExceeds(body: Buffer, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++; // the escaped character, whatever it is, cannot end the string
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return false;
}
