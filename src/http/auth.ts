import { isPromise, type MaybePromise } from '../db/store';
import type { ErrorCode } from '../errors';
import { safeErrorDescription } from './challenge';
import type { PipelineTarget, VerifiedToken, VerifyResult } from '../tokens/service';

/** RFC 6750 challenges, hoisted: the same strings on every answer. */
export const REALM = 'Bearer realm="mechamental"';
export const CHALLENGE_INVALID_REQUEST = `${REALM}, error="invalid_request"`;
export const CHALLENGE_INSUFFICIENT_SCOPE = `${REALM}, error="insufficient_scope"`;
/** RFC 6750 §3: insufficient_scope naming the scope the request needed; `scope` must hold only %x21 / %x23-5B / %x5D-7E (a slug does). */
export function scopeChallenge(scope: string): string {
  return `${CHALLENGE_INSUFFICIENT_SCOPE}, scope="${scope}"`;
}
/** The header every answer to a valid token carries: when that token lapses (RFC 3339). */
export const EXPIRATION_HEADER = 'Mechamental-Token-Expiration';

/**
 * Token verification as the HTTP layer calls it; given `pipeline`, the answer may carry it too (see
 * TokenService.verify). Synchronous on SQLite, a promise on PostgreSQL; storage failures throw.
 */
export type Verify = (value: string, pipeline?: string) => MaybePromise<VerifyResult>;

export type AuthOutcome =
  | { ok: true; token: VerifiedToken; pipeline?: PipelineTarget | null }
  | {
      ok: false;
      status: number;
      code: ErrorCode;
      message: string;
      challenge: string;
      reason: string;
      /** The presented token's id, when the token is known (revoked, expired): for the access log. */
      tokenId?: string;
    };

/** Query parameters that would carry a bearer token (RFC 6750 §2.3 and common variants). */
const QUERY_TOKEN = /(?:^|[?&;])(?:access_token|token|api_key|apikey|key|bearer)=|mm_(?:tok|adm)_/i;

/** The RFC 6750 challenge for a token that was presented but does not work. */
export function invalidTokenChallenge(message: string): string {
  return `${REALM}, error="invalid_token", error_description="${safeErrorDescription(message)}"`;
}

const UNAUTHORIZED: AuthOutcome = {
  ok: false,
  status: 401,
  code: 'unauthorized',
  message: 'authentication is required: send the header "Authorization: Bearer <token>"',
  challenge: REALM,
  reason: 'missing',
};
const WRONG_SCHEME: AuthOutcome = { ...UNAUTHORIZED, message: 'only the Bearer scheme is accepted: send "Authorization: Bearer <token>"', reason: 'scheme' };
const TWO_HEADERS: AuthOutcome = {
  ok: false,
  status: 400,
  code: 'invalid_request',
  message: 'the request carries more than one Authorization header; send exactly one',
  challenge: CHALLENGE_INVALID_REQUEST,
  reason: 'invalid_request',
};
const QUERY: AuthOutcome = {
  ...TWO_HEADERS,
  message: 'tokens are not accepted in the query string (it ends up in logs and browser history); send "Authorization: Bearer <token>"',
};
const EMPTY_BEARER: AuthOutcome = {
  ok: false,
  status: 401,
  code: 'invalid_token',
  message: 'the Bearer token is missing',
  challenge: invalidTokenChallenge('the Bearer token is missing'),
  reason: 'malformed',
};

const FAILURE_CODE = { malformed: 'invalid_token', unknown: 'invalid_token', revoked: 'token_revoked', expired: 'token_expired' } as const;

/**
 * Authenticates a request from its raw headers and URL, per SPEC's table: no header or another
 * scheme → 401 unauthorized; two Authorization headers or a token in the query → 400
 * invalid_request; malformed/unknown/revoked/expired → 401 with an RFC 6750 challenge. The scheme
 * name is case-insensitive. `verify` reads the database every time (no cache), so a revoke from
 * any process is seen by the next request. Nothing here quotes the presented value.
 */
export function authenticate(rawHeaders: string[], url: string, verify: Verify): MaybePromise<AuthOutcome> {
  let header: string | typeof DUPLICATE | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') header = header === undefined ? rawHeaders[i + 1]! : DUPLICATE;
  }
  return authenticateHeader(header, url, verify);
}

/** Marks "more than one Authorization header" for `authenticateHeader`. */
export const DUPLICATE: unique symbol = Symbol('duplicate Authorization header');

/**
 * `authenticate` for a caller that has already scanned the headers (the trigger hot path), which
 * may name the `pipeline` it wants, so that `verify` fetches it in the same read.
 */
export function authenticateHeader(header: string | typeof DUPLICATE | undefined, url: string, verify: Verify, pipeline?: string): MaybePromise<AuthOutcome> {
  const q = url.indexOf('?');
  if (q !== -1 && QUERY_TOKEN.test(url.slice(q))) return QUERY;
  if (header === DUPLICATE) return TWO_HEADERS;
  if (header === undefined) return UNAUTHORIZED;
  // The scheme ends at the first space; a tab there (a common copy-paste slip) is read as a space.
  let space = header.indexOf(' ');
  if (space === -1 || space > 6) {
    const tab = header.indexOf('\t');
    if (tab !== -1 && (space === -1 || tab < space)) space = tab;
  }
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.length !== 6 || scheme.toLowerCase() !== 'bearer') return WRONG_SCHEME;
  const value = space === -1 ? '' : header.slice(space + 1).trim();
  if (value === '') return EMPTY_BEARER;
  const result = pipeline === undefined ? verify(value) : verify(value, pipeline);
  return isPromise(result) ? result.then(outcomeOf) : outcomeOf(result);
}

function outcomeOf(result: VerifyResult): AuthOutcome {
  if (result.ok) return result;
  const outcome: AuthOutcome = {
    ok: false,
    status: 401,
    code: FAILURE_CODE[result.reason],
    message: result.message,
    challenge: invalidTokenChallenge(result.message),
    reason: result.reason,
  };
  if (result.tokenId !== undefined) outcome.tokenId = result.tokenId;
  return outcome;
}
