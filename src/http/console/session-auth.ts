import type { IncomingMessage } from 'node:http';
import type { LiveSession } from '../../console/sessions';
import type { ErrorCode } from '../../errors';
import type { Services } from '../../services';
import type { VerifiedToken } from '../../tokens/service';
import { REALM } from '../auth';
import { clearedCookie, cookieName, isSecure, readCookie } from './cookies';
import { crossOriginProblem } from './same-origin';

/** The header that carries the session's CSRF token on requests that change something. */
export const CSRF_HEADER = 'x-csrf-token';
/** Set by the console on requests it makes by itself (refreshing after a change): they do not count as use for the idle timeout. */
export const BACKGROUND_HEADER = 'mechamental-background';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type SessionAuthOutcome =
  | { ok: true; sessionId: string; session: LiveSession; token: VerifiedToken }
  | { ok: false; status: number; code: ErrorCode; message: string; reason: string; headers: Record<string, string> };

/** Whether the request carries an Authorization header (then the Bearer token decides, never a cookie). */
export function hasAuthorization(req: IncomingMessage): boolean {
  return req.headers.authorization !== undefined;
}

/** The session id from the request's cookie, if it has one. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const id = readCookie(req, cookieName(isSecure(req)));
  return id === undefined || id === '' ? undefined : id;
}

/**
 * Authenticates a request by its console session cookie: the session must work (see
 * ConsoleSessionService.check: it reads the database every time, so signing out or revoking the
 * admin token ends it at the next request), and a request that changes something (anything but
 * GET, HEAD, OPTIONS) must also be same-origin and carry the session's CSRF token in X-CSRF-Token.
 * An ended session answers 401 and clears the cookie; a cross-origin or token-less change 403
 * `csrf_rejected`.
 */
export async function authenticateSession(services: Services, req: IncomingMessage, sessionId: string): Promise<SessionAuthOutcome> {
  const secure = isSecure(req);
  const background = req.headers[BACKGROUND_HEADER] === '1';
  const check = await services.console.check(sessionId, { background });
  if (!check.ok) {
    return { ok: false, status: 401, code: 'unauthorized', message: check.message, reason: `session_${check.reason}`, headers: { 'WWW-Authenticate': REALM, 'Set-Cookie': clearedCookie(secure) } };
  }
  if (!SAFE_METHODS.has(req.method ?? 'GET')) {
    const problem = crossOriginProblem(req, secure);
    if (problem !== undefined) return { ok: false, status: 403, code: 'csrf_rejected', message: problem, reason: 'csrf_origin', headers: {} };
    const presented = req.headers[CSRF_HEADER];
    if (!services.console.csrfMatches(sessionId, typeof presented === 'string' ? presented : undefined)) {
      return {
        ok: false,
        status: 403,
        code: 'csrf_rejected',
        message: `the request lacks this session's CSRF token (header X-CSRF-Token, from GET /console/api/session); reload the console and try again`,
        reason: 'csrf_token',
        headers: {},
      };
    }
  }
  const session = check.session;
  return {
    ok: true,
    sessionId,
    session,
    token: { id: session.adminTokenId, kind: 'admin', appId: null, app: null, expiresAt: session.adminTokenExpiresAt, rateLimit: null, pipelines: null, allowedIps: null },
  };
}
