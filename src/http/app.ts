import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { performance } from 'node:perf_hooks';
import { formatTime } from '../clock';
import { AppError } from '../errors';
import { createLogger, type Logger } from '../log';
import type { Services } from '../services';
import { ControlsCache } from '../tokens/controls';
import type { VerifiedToken } from '../tokens/service';
import { continueIfExpected } from './continue';
import { authenticate, CHALLENGE_INSUFFICIENT_SCOPE, EXPIRATION_HEADER, type AuthOutcome, type Verify } from './auth';
import { ClientAddresses } from './client-address';
import { scrubSecrets, toHttpError } from './errors';
import { Metrics } from './metrics';
import { ROUTES, type Route } from './routes/index';
import type { Answer } from './routes/types';
import { SSE_RETRY_MS } from './sse';
import { StreamRegistry } from './streams';
import type { Actor } from '../audit/audit';
import type { LiveSession } from '../console/sessions';
import { ConsoleChangeFeed } from './console/change-feed';
import { mountConsole } from './console/router';
import { authenticateSession, hasAuthorization, sessionIdOf } from './console/session-auth';

/**
 * Which part of the HTTP surface an app serves:
 * - `all`: everything, on one listener (the server listens on loopback: the default);
 * - `public`: the main listener of a server bound beyond loopback: the trigger and the operations
 *   endpoints; the admin routes (and the console's paths) answer 403 `admin_on_loopback_only`;
 * - `admin`: the admin listener (on loopback unless MM_ADMIN_HOST says otherwise): the admin
 *   routes only; anything else is a 404 that points to the main listener.
 */
export type Surface = 'all' | 'public' | 'admin';

export interface AppDeps {
  logger?: Logger;
  metrics?: Metrics;
  /** Token verification; default `services.tokens.verify`. */
  verify?: Verify;
  /** Default `all`. */
  surface?: Surface;
  /** The listeners' URLs (known once they listen), for messages that point from one to the other. */
  urls?: { main(): string; admin(): string };
  /** The open-stream registry shared with the trigger; default a new one (not started). */
  streams?: StreamRegistry;
  /** The `retry:` of streamed SSE answers (ms); default 3000. */
  sseRetryMs?: number;
  /** The web console's change feed (server.ts owns it, to end its streams at shutdown); default a new one. */
  consoleFeed?: ConsoleChangeFeed;
}

/** The trigger's path: served by trigger.ts for POST; Express answers its other methods (405). */
const TRIGGER_PATHS = '/v1/trigger/{*pipeline}';
const TRIGGER_ROUTE_LABEL = '/v1/trigger/:pipeline';
/** The web console's paths (served on the admin surface once it exists). */
const CONSOLE_PATHS = ['/console', '/console/{*path}'];

/** `Allow` for a set of route methods: HEAD with GET (Express answers it), and OPTIONS (answered below). */
function allowHeader(methods: Iterable<string>): string {
  const list = new Set<string>();
  for (const method of methods) {
    list.add(method.toUpperCase());
    if (method === 'get') list.add('HEAD');
  }
  list.add('OPTIONS');
  return [...list].join(', ');
}

interface Locals {
  route?: string;
  token?: VerifiedToken;
  /** The client address (see client-address.ts), once known. */
  clientAddress?: string;
  /** Set when a web console session (its cookie) authenticated the request. */
  consoleSessionId?: string;
  consoleSession?: LiveSession;
  actor?: Actor;
}

function locals(res: Response): Locals {
  return res.locals as Locals;
}

/** A header Node may give as a list (repeated lines), as one comma-separated text. */
function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** RFC 7694 §3 (as used for POST bodies): what a 415 should have sent instead. */
const ACCEPT_POST = { 'Accept-Post': 'application/json' };

function sendError(res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.status(status).set(headers).json({ error: { code, message } });
}

/**
 * The Express app for the admin API and the operations endpoints (no listen; `server.ts` puts
 * the trigger handler in front of it on one listener). Every route comes from the one table in
 * `routes/index.ts`; admin routes authenticate before their body is read; every error is
 * `{"error": {"code", "message"}}` with the status from `errors.ts`; one pino line per request
 * (method, route pattern, status, duration, token id — never headers, query strings or values).
 */
export function createApp(services: Services, deps: AppDeps = {}): Express {
  const logger = deps.logger ?? createLogger({ level: services.config.logLevel });
  const metrics = deps.metrics ?? new Metrics({ defaultMetrics: false });
  const verify = deps.verify ?? ((value: string) => services.tokens.verify(value));
  const surface = deps.surface ?? 'all';
  const addresses = new ClientAddresses(services.config.trustedProxies);
  const controls = new ControlsCache();
  const clientAddressOf = (req: Request, res: Response): string =>
    (locals(res).clientAddress ??= addresses.of(req.socket.remoteAddress, joined(req.headers['x-forwarded-for'])));
  const streams = deps.streams ?? new StreamRegistry(services, { metrics, logger });
  const sseRetryMs = deps.sseRetryMs ?? SSE_RETRY_MS;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const started = performance.now();
    res.on('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      const route = locals(res).route ?? 'unmatched';
      metrics.countRequest(route, req.method, status);
      if (route === '/metrics' || route === '/healthz' || route === '/readyz') {
        if (status < 400) return logger.debug({ method: req.method, route, status }, 'request');
      }
      logger.info(
        { method: req.method, route, status, duration_ms: Math.round((performance.now() - started) * 1000) / 1000, token_id: locals(res).token?.id ?? null },
        'request',
      );
    });
    next();
  });

  const jsonBody = express.json({ limit: services.config.maxBodyBytes, type: () => true, strict: true });

  const requireAdmin: RequestHandler = async (req, res, next) => {
    // The web console: its session cookie stands for the admin token it was signed in with; an
    // Authorization header, when present, decides instead (a cookie is never mixed in).
    const sessionId = hasAuthorization(req) ? undefined : sessionIdOf(req);
    if (sessionId !== undefined) {
      try {
        const session = await authenticateSession(services, req, sessionId);
        if (!session.ok) {
          metrics.authFailures.inc({ reason: session.reason });
          return sendError(res, session.status, session.code, session.message, session.headers);
        }
        res.setHeader(EXPIRATION_HEADER, formatTime(session.token.expiresAt));
        Object.assign(locals(res), { token: session.token, consoleSessionId: sessionId, consoleSession: session.session, actor: `console:${session.token.id}` });
        services.usage.touch(session.token.id);
        return next();
      } catch (error) {
        return next(error);
      }
    }
    let auth: AuthOutcome;
    try {
      auth = await authenticate(req.rawHeaders, req.originalUrl, verify);
    } catch (error) {
      return next(error);
    }
    if (!auth.ok) {
      metrics.authFailures.inc({ reason: auth.reason });
      return sendError(res, auth.status, auth.code, auth.message, { 'WWW-Authenticate': auth.challenge });
    }
    res.setHeader(EXPIRATION_HEADER, formatTime(auth.token.expiresAt));
    locals(res).token = auth.token;
    if (auth.token.kind !== 'admin') {
      // Refused: not a use of the token (it did nothing).
      metrics.authFailures.inc({ reason: 'insufficient_scope' });
      return sendError(res, 403, 'insufficient_scope', `token ${auth.token.id} is a trigger token; the admin API needs an admin token (mm_adm_…), created on the server's machine with \`mechamental admin-tokens create\``, {
        'WWW-Authenticate': CHALLENGE_INSUFFICIENT_SCOPE,
      });
    }
    services.usage.touch(auth.token.id, clientAddressOf(req, res));
    next();
  };

  /**
   * A trigger token's own routes (self-service, runs): Bearer mm_tok_…; an admin token gets 403
   * insufficient_scope. Served where the trigger is (the public surface).
   */
  const requireTriggerToken: RequestHandler = async (req, res, next) => {
    let auth: AuthOutcome;
    try {
      auth = await authenticate(req.rawHeaders, req.originalUrl, verify);
    } catch (error) {
      return next(error);
    }
    if (!auth.ok) {
      metrics.authFailures.inc({ reason: auth.reason });
      return sendError(res, auth.status, auth.code, auth.message, { 'WWW-Authenticate': auth.challenge });
    }
    res.setHeader(EXPIRATION_HEADER, formatTime(auth.token.expiresAt));
    locals(res).token = auth.token;
    if (auth.token.kind !== 'trigger') {
      metrics.authFailures.inc({ reason: 'insufficient_scope' });
      return sendError(res, 403, 'insufficient_scope', `token ${auth.token.id} is an admin token; this route is for a trigger token (mm_tok_…) acting on itself`, {
        'WWW-Authenticate': CHALLENGE_INSUFFICIENT_SCOPE,
      });
    }
    // The token's IP allow-list holds here as on the trigger; refused from elsewhere before it counts as a use.
    const address = clientAddressOf(req, res);
    const compiled = controls.forToken(auth.token.id, auth.token.pipelines, auth.token.allowedIps);
    if (compiled !== null && !compiled.allowsAddress(address)) {
      metrics.authFailures.inc({ reason: 'ip_not_allowed' });
      res.removeHeader(EXPIRATION_HEADER);
      const where = address === '' ? 'an address that could not be determined' : address;
      return sendError(res, 403, 'ip_not_allowed', `token ${auth.token.id} may not be used from ${where}: its allowed_ips do not include it; use it from an allowed network`);
    }
    services.usage.touch(auth.token.id, address);
    next();
  };

  const readBody: RequestHandler = (req, res, next) => {
    if (req.method !== 'POST' && req.method !== 'PUT') return next();
    if (!hasBody(req)) {
      req.body = undefined;
      return next();
    }
    if (!isJson(req)) return sendError(res, 415, 'unsupported_media_type', 'the body must be JSON: send "Content-Type: application/json"', ACCEPT_POST);
    const declared = Number(req.headers['content-length']);
    if (declared > services.config.maxBodyBytes) {
      return sendError(res, 413, 'payload_too_large', `the body is larger than the limit of ${services.config.maxBodyBytes} bytes (MM_MAX_BODY)`, { Connection: 'close' });
    }
    continueIfExpected(req, res);
    jsonBody(req, res, next);
  };

  const handlerFor =
    (route: Route): RequestHandler =>
    async (req, res, next) => {
      try {
        const token = locals(res).token ?? null;
        const answer: Answer = await route.handle({
          req,
          services,
          metrics,
          logger,
          token,
          actor: locals(res).actor ?? (token ? (token.kind === 'admin' ? `api:${token.id}` : `self:${token.id}`) : 'cli'),
          params: req.params as Record<string, string>,
          clientAddress: clientAddressOf(req, res),
          streams,
          sseRetryMs,
        });
        if ('json' in answer) res.status(answer.status).set(answer.headers ?? {}).json(answer.json);
        else if ('stream' in answer) answer.stream(res);
        else if ('text' in answer) res.status(answer.status).type(answer.contentType).send(answer.text);
        else res.status(answer.status).end();
      } catch (error) {
        next(error);
      }
    };

  const served = ROUTES.filter((route) => (route.auth === 'admin' ? surface !== 'public' : surface !== 'admin'));
  const methodsByPath = new Map<string, string[]>();
  for (const route of served) {
    const label: RequestHandler = (_req, res, next) => {
      locals(res).route = route.path;
      next();
    };
    const chain =
      route.auth === 'admin'
        ? [label, requireAdmin, readBody, handlerFor(route)]
        : route.auth === 'token'
          ? [label, requireTriggerToken, readBody, handlerFor(route)]
          : [label, readBody, handlerFor(route)];
    app[route.method](route.path, ...chain);
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
  }

  // A known path with another method: 405 with Allow (RFC 9110 §15.5.6); OPTIONS: 204 with Allow.
  const otherMethods = (path: string, allow: string): RequestHandler => {
    const usable = allow.replace(/, OPTIONS$/, '');
    return (req, res) => {
      locals(res).route = path;
      if (req.method === 'OPTIONS') {
        res.status(204).set('Allow', allow).end();
        return;
      }
      sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${usable}`, { Allow: allow });
    };
  };
  for (const [path, methods] of methodsByPath) app.all(path, otherMethods(path, allowHeader(methods)));
  if (surface !== 'admin') app.all(TRIGGER_PATHS, otherMethods(TRIGGER_ROUTE_LABEL, allowHeader(['post'])));

  if (surface !== 'public') {
    mountConsole(app, services, { feed: deps.consoleFeed ?? new ConsoleChangeFeed(services, { logger }), logger, requireAdmin, surface, ...(deps.urls ? { urls: deps.urls } : {}), sendError });
  }

  if (surface === 'public') {
    // The admin API is not served here; say where it is (on this machine only, so naming it gives a remote caller nothing).
    const adminPaths = [...new Set(ROUTES.filter((route) => route.auth === 'admin').map((route) => route.path)), ...CONSOLE_PATHS];
    for (const path of adminPaths) {
      app.all(path, (_req, res) => {
        locals(res).route = path;
        const where = deps.urls ? ` at ${deps.urls.admin()}` : '';
        sendError(
          res,
          403,
          'admin_on_loopback_only',
          `the admin API is served only on the server's own machine${where}: call it there (e.g. through \`ssh -L\`) or use the CLI or TUI; to serve it on another address, set MM_ADMIN_HOST`,
        );
      });
    }
  }

  app.use((req, res) => {
    if (surface === 'admin') {
      const where = deps.urls ? ` at ${deps.urls.main()}` : ' on the main listener';
      return sendError(res, 404, 'not_found', `this address serves only the admin API; the trigger API, /healthz, /readyz and /metrics are${where}`);
    }
    sendError(res, 404, 'not_found', `there is no route ${req.method} ${scrubSecrets(req.path).slice(0, 200)}; see the README for the API`);
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') return sendError(res, 413, 'payload_too_large', `the body is larger than the limit of ${services.config.maxBodyBytes} bytes (MM_MAX_BODY)`, { Connection: 'close' });
    if (type === 'entity.parse.failed') return sendError(res, 400, 'invalid_json', 'the body is not valid JSON');
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') return sendError(res, 415, 'unsupported_media_type', 'the body must be UTF-8 JSON', ACCEPT_POST);
    if (typeof (error as { status?: unknown }).status === 'number' && !(error instanceof AppError)) {
      const status = (error as { status: number }).status;
      if (status >= 400 && status < 500) return sendError(res, status, 'invalid_request', 'the request could not be read');
    }
    const failure = toHttpError(error);
    if (failure.status >= 500) logger.error({ err: error, method: req.method, route: locals(res).route ?? 'unmatched' }, 'request failed');
    if (res.headersSent) return res.destroy();
    sendError(res, failure.status, failure.code, failure.message, failure.code === 'unavailable' ? { 'Retry-After': '2' } : {});
  });

  return app;
}
