import type { Request } from 'express';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { describeZodError } from '../../apps/validation';
import { AppError } from '../../errors';
import type { Logger } from '../../log';
import type { Services } from '../../services';
import type { Actor } from '../../audit/audit';
import type { VerifiedToken } from '../../tokens/service';
import type { Metrics } from '../metrics';
import type { StreamRegistry } from '../streams';

/**
 * What a route handler answers: a JSON body with a status (and headers), raw text (metrics), nothing,
 * or a stream that the route writes itself, headers included (SSE: `GET /v1/runs/:id/events`).
 */
export type Answer =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType: string }
  | { status: 204 }
  | { status: number; stream: (res: ServerResponse) => void };

export interface RouteContext {
  req: Request;
  services: Services;
  metrics: Metrics;
  logger: Logger;
  /** The token that authenticated the request (`auth: 'admin'`: an admin token; `'token'`: a trigger token). */
  token: VerifiedToken | null;
  /** The audit actor: `api:<admin token id>`, or `self:<token id>` for a trigger token acting on itself. */
  actor: Actor;
  params: Record<string, string>;
  /** Who is asking: the socket's address, or X-Forwarded-For's from a trusted proxy (src/http/client-address.ts). */
  clientAddress: string;
  /** The open-stream registry (streamed answers register there, so that a revoke ends them). */
  streams: StreamRegistry;
  /** The `retry:` a streamed SSE answer sends first (ms). */
  sseRetryMs: number;
  /** Which part of the HTTP surface this listener serves (app.ts `Surface`). */
  surface: 'all' | 'public' | 'admin';
}

/** Who may call a route: see `RouteDoc.auth`. */
export type RouteAuth = 'none' | 'admin' | 'token';

/** One documented answer of a route (OpenAPI `responses`). */
export interface ResponseDoc {
  description: string;
  /** The body's schema (JSON unless `contentType` says otherwise); omitted for bodiless answers. */
  schema?: z.ZodType;
  /** Default `application/json`; `text/event-stream` for SSE answers, `text/plain` for metrics. */
  contentType?: string;
  /** Response headers worth knowing: name → meaning. */
  headers?: Record<string, string>;
  /** Also answered as server-sent events (`text/event-stream`) when the request's Accept asks for them. */
  alsoEventStream?: boolean;
}

/** A request header a route reads (documented as an OpenAPI header parameter). */
export interface HeaderDoc {
  description: string;
  required?: boolean;
  schema?: z.ZodType;
}

/**
 * What the OpenAPI document says about a route (src/http/openapi.ts). The route table's entries
 * carry it with their handler; the framework-free routes (the trigger, the console's own API,
 * the OpenAI front door) declare it in `documented.ts`. `body` and `query` are not only
 * documentation: the framework validates requests with them before the handler runs.
 */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express path pattern (`:name` parameters); also the `route` label in logs and metrics. */
  path: string;
  /**
   * `admin`: `Authorization: Bearer mm_adm_…` (or the console's session cookie) required, served on the admin surface;
   * `token`: a trigger token (`mm_tok_…`) acting on itself, served where the trigger is;
   * `none`: no authentication (operations endpoints), served where the trigger is.
   */
  auth: RouteAuth;
  /** One line for the document (OpenAPI `summary`). */
  summary: string;
  /** Groups routes in the document (OpenAPI `tags`): apps, tokens, runs, operations… */
  tag: string;
  /** Longer text for the document, when the summary is not enough. */
  description?: string;
  /** The JSON body's schema: a body that does not match is 422 `validation_failed` naming the field. */
  body?: z.ZodType;
  /** The query's schema (a `z.object` of optional strings, see `queryParam`); 422 naming the parameter. */
  query?: z.ZodType;
  /** Request headers the route reads besides Authorization. */
  headers?: Record<string, HeaderDoc>;
  /** The answers, by status (the shared ones, 401/403/405/415/503…, are added by the document). */
  responses: Record<number, ResponseDoc>;
  /** Served on every surface (the OpenAPI document itself), whatever `auth` says. */
  everywhere?: boolean;
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** A route of the table, with its request types inferred from its schemas (build it with `route()`). */
export interface TypedRoute<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> extends RouteDoc {
  body?: B;
  query?: Q;
  /** Runs after authentication and after `body` and `query` validated: `ctx.body`/`ctx.query` are the parsed values. */
  handle(ctx: RouteContext & { body: Parsed<B>; query: Parsed<Q> }): Answer | Promise<Answer>;
}

/** A route of the table, its schemas' types erased (what the framework and the document see). */
export type Route = RouteDoc & { handle(ctx: RouteContext & { body: unknown; query: unknown }): Answer | Promise<Answer> };

/**
 * Declares a route of the table: the handler's `ctx.body` and `ctx.query` get the types of the
 * `body` and `query` schemas, which the framework validates before calling it.
 */
export function route<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(definition: TypedRoute<B, Q>): Route {
  // The framework passes exactly what `body`/`query` parsed to, so erasing the types here is sound.
  return definition as unknown as Route;
}

/**
 * A query parameter: a string given at most once (a repeated one is 422 "must be given once"),
 * optional; `description` goes into the document.
 */
export function queryParam(description: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be given once') })
    .optional()
    .meta({ description });
}

/** Validates a request body (or query) with `schema`; 422 `validation_failed` naming the field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const { field, message } = describeZodError(result.error);
    throw new AppError('validation_failed', message, { field });
  }
  return result.data;
}
