import type { Request } from 'express';
import type { ServerResponse } from 'node:http';
import type { z } from 'zod';
import { describeZodError } from '../../apps/validation';
import { AppError, invalidField } from '../../errors';
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
}

export interface Route {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express path pattern; also the `route` label in logs and metrics. */
  path: string;
  /**
   * `admin`: `Authorization: Bearer mm_adm_…` required, served on the admin surface;
   * `token`: a trigger token (`mm_tok_…`) acting on itself, served where the trigger is;
   * `none`: no authentication (operations endpoints), served where the trigger is.
   */
  auth: 'none' | 'admin' | 'token';
  handle(ctx: RouteContext): Answer | Promise<Answer>;
}

/** A query parameter given at most once; 422 naming it when repeated. */
export function queryString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidField(field, 'must be given once');
  return value;
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
