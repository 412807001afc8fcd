import express, { type Express, type RequestHandler, type Response } from 'express';
import type { LiveSession } from '../../console/sessions';
import type { Logger } from '../../log';
import type { Services } from '../../services';
import { isLoopbackHost } from '../host-check';
import { toHttpError } from '../errors';
import { consoleAssets, gzippedOf, type ConsoleAsset } from './assets';
import type { ConsoleChangeFeed } from './change-feed';
import { clearedCookie, isSecure, sessionCookie } from './cookies';
import { crossOriginProblem } from './same-origin';
import { hasAuthorization, sessionIdOf } from './session-auth';

/**
 * Headers on every answer under /console/ (and the `/` redirect): the console runs only its own
 * scripts and styles from this origin (no inline code, no CDN, no request elsewhere), cannot be
 * framed, sends no Referer, and nothing is sniffed into another type.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** What the console's answers carry besides its own data: the session (with its CSRF token) and where the trigger is. */
function sessionAnswer(services: Services, sessionId: string, session: LiveSession, triggerUrl: string): unknown {
  return { session: services.console.describe(sessionId, session), trigger_url: triggerUrl };
}

export interface ConsoleRouteDeps {
  feed: ConsoleChangeFeed;
  logger: Logger;
  /** The admin API's authentication (Bearer or session cookie with its CSRF checks), from app.ts. */
  requireAdmin: RequestHandler;
  /** `all`: one listener serves everything; `admin`: the admin listener, the trigger is elsewhere. */
  surface: 'all' | 'admin';
  urls?: { main(): string };
  sendError(res: Response, status: number, code: string, message: string, headers?: Record<string, string>): void;
}

interface ConsoleLocals {
  route?: string;
  consoleSessionId?: string;
  consoleSession?: LiveSession;
  token?: { id: string };
}

function locals(res: Response): ConsoleLocals {
  return res.locals as ConsoleLocals;
}

const SIGN_IN_BODY = express.json({ limit: 4096, type: () => true, strict: true });

/**
 * Serves the web console on `app`: `/` → `/console/`; `/console/` (index.html, never cached) and
 * `/console/assets/*` (content-hashed, cached for a year); and the console's own API, which is all
 * about its session (the data comes from the admin API, with the same authentication):
 * - `POST /console/api/sign-in` `{"code"}` (from `mechamental console`) or `{"token": "mm_adm_…"}`:
 *   same-origin only; sets the session cookie; answers the session (with its CSRF token);
 * - `GET /console/api/session`: the session, for a console that was reloaded (`null` without a
 *   cookie; 401 saying why when the cookie's session has ended);
 * - `POST /console/api/sign-out`: ends it (CSRF-checked like every change);
 * - `GET /console/api/changes`: the change feed (server-sent events).
 */
export function mountConsole(app: Express, services: Services, deps: ConsoleRouteDeps): void {
  const label =
    (route: string): RequestHandler =>
    (_req, res, next) => {
      locals(res).route = route;
      res.set(CONSOLE_SECURITY_HEADERS);
      next();
    };
  const triggerUrl = (req: express.Request): string => {
    const own = `${isSecure(req) ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`;
    if (deps.surface === 'all' || !deps.urls) return own;
    // The main listener's address; a wildcard (0.0.0.0, ::) is no address to call, so name the host the admin used.
    const main = new URL(deps.urls.main());
    const host = main.hostname.replace(/^\[|\]$/g, '');
    if (host === '0.0.0.0' || host === '::') main.hostname = new URL(own).hostname;
    return main.origin;
  };
  const only = (path: string, allow: string): void => {
    app.all(path, label(path), (req, res) => {
      if (req.method === 'OPTIONS') return void res.status(204).set('Allow', allow).end();
      deps.sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow.replace(/, OPTIONS$/, '')}`, { Allow: allow });
    });
  };

  app.get('/', label('/'), (_req, res) => res.redirect(302, '/console/'));
  // Routing is not strict: '/console' also matches '/console/', which is the page; the rest redirect to it.
  const index = serveAsset('index.html', deps);
  app.get(['/console', '/console/index.html'], label('/console/'), (req, res, next) => (req.path === '/console/' ? index(req, res, next) : res.redirect(308, '/console/')));
  app.get('/console/assets/:file', label('/console/assets/:file'), (req, res, next) => serveAsset(`assets/${req.params.file}`, deps)(req, res, next));
  only('/', 'GET, HEAD, OPTIONS');
  only('/console', 'GET, HEAD, OPTIONS');

  app.post('/console/api/sign-in', label('/console/api/sign-in'), (req, res, next) => {
    // Login CSRF: a page elsewhere must not sign this browser in to a session of its choosing.
    const problem = crossOriginProblem(req, isSecure(req));
    if (problem !== undefined) return deps.sendError(res, 403, 'csrf_rejected', problem);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return deps.sendError(res, 415, 'unsupported_media_type', 'the body must be JSON: send "Content-Type: application/json"', { 'Accept-Post': 'application/json' });
    SIGN_IN_BODY(req, res, async (error?: unknown) => {
      if (error) return next(error);
      try {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const hasCode = body.code !== undefined;
        const hasToken = body.token !== undefined;
        if (typeof body !== 'object' || Array.isArray(body) || hasCode === hasToken) {
          return deps.sendError(res, 422, 'validation_failed', 'code: give either "code" (from the link `mechamental console` printed) or "token" (an admin token), not both and not neither');
        }
        if ((hasCode && typeof body.code !== 'string') || (hasToken && typeof body.token !== 'string')) {
          return deps.sendError(res, 422, 'validation_failed', `${hasCode ? 'code' : 'token'}: must be a string`);
        }
        const { sessionId, session } = hasCode ? await services.console.signInWithCode(body.code as string) : await services.console.signInWithToken(body.token as string);
        locals(res).token = { id: session.admin_token_id };
        const maxAge = (Date.parse(session.expires_at) - services.clock.now()) / 1000;
        res
          .status(200)
          .set({ 'Cache-Control': 'no-store', 'Set-Cookie': sessionCookie(sessionId, isSecure(req), maxAge) })
          .json({ session, trigger_url: triggerUrl(req) });
      } catch (thrown) {
        const failure = toHttpError(thrown);
        if (failure.status >= 500) return next(thrown);
        deps.sendError(res, failure.status, failure.code, failure.message, failure.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="mechamental"' } : {});
      }
    });
  });
  only('/console/api/sign-in', 'POST, OPTIONS');

  const needSession: RequestHandler = (_req, res, next) => {
    if (locals(res).consoleSessionId === undefined) {
      return deps.sendError(res, 401, 'unauthorized', 'this is about a console session, and the request has none (it authenticated with a bearer token); sign in to the console first', {
        'WWW-Authenticate': 'Bearer realm="mechamental"',
      });
    }
    next();
  };

  // "Am I signed in?" without any credential is a question, not a failed authentication: `null`.
  const signedOut: RequestHandler = (req, res, next) => {
    if (hasAuthorization(req) || sessionIdOf(req) !== undefined) return next();
    res.status(200).set('Cache-Control', 'no-store').json({ session: null, trigger_url: triggerUrl(req) });
  };
  app.get('/console/api/session', label('/console/api/session'), signedOut, deps.requireAdmin, needSession, (req, res) => {
    const { consoleSessionId, consoleSession } = locals(res);
    res.status(200).set('Cache-Control', 'no-store').json(sessionAnswer(services, consoleSessionId!, consoleSession!, triggerUrl(req)));
  });
  only('/console/api/session', 'GET, HEAD, OPTIONS');

  app.post('/console/api/sign-out', label('/console/api/sign-out'), deps.requireAdmin, needSession, async (req, res, next) => {
    try {
      await services.console.signOut(locals(res).consoleSessionId!);
      res.status(204).set({ 'Cache-Control': 'no-store', 'Set-Cookie': clearedCookie(isSecure(req)) }).end();
    } catch (error) {
      next(error);
    }
  });
  only('/console/api/sign-out', 'POST, OPTIONS');

  app.get('/console/api/changes', label('/console/api/changes'), deps.requireAdmin, (_req, res, next) => {
    const { consoleSessionId, token } = locals(res);
    deps.feed.subscribe(res, consoleSessionId !== undefined ? { sessionId: consoleSessionId } : { adminTokenId: token!.id }).catch(next);
  });
  only('/console/api/changes', 'GET, HEAD, OPTIONS');

  app.all('/console/{*rest}', label('/console/*'), (req, res) => {
    deps.sendError(res, 404, 'not_found', `the console has no page or file ${req.path.slice(0, 100)}; open /console/`);
  });
}

/** Answers one of the console's files: hashed assets cached for a year, index.html revalidated every time; gzip when accepted. */
function serveAsset(path: string, deps: Pick<ConsoleRouteDeps, 'sendError' | 'logger'>): RequestHandler {
  return async (req, res) => {
    let asset: ConsoleAsset | undefined;
    try {
      asset = (await consoleAssets()).get(path);
    } catch (error) {
      deps.logger.error({ err: error }, 'the console could not be built');
      return deps.sendError(res, 500, 'internal', 'the console could not be built; the server log says why');
    }
    if (!asset) return deps.sendError(res, 404, 'not_found', `the console has no file ${path.slice(0, 100)}; reload /console/`);
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? gzippedOf(asset) : null;
    res.status(200).set({
      'Content-Type': asset.contentType,
      'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      Vary: 'Accept-Encoding',
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(gzip ?? asset.body);
  };
}
