import { z } from 'zod';
import { PIPELINE_KINDS } from '../../apps/pipeline-config';
import { TOKEN_STATUSES } from '../../tokens/status';
import { queryParam } from './types';

/**
 * The shapes of the main answers, for the OpenAPI document (src/http/openapi.ts). The answers are
 * built by the services (their `…View` types); these schemas describe them and the OpenAPI test
 * checks real answers against them, so that a drift in either shows. Each one made with `named`
 * becomes a `components.schemas` entry that routes refer to.
 */

/** Gives a schema the id under which it becomes `#/components/schemas/<id>` (zod's global registry, which `z.toJSONSchema` reads). */
export function named<T extends z.ZodType>(id: string, description: string, schema: T): T {
  return schema.meta({ id, description });
}

const time = () => z.string().meta({ format: 'date-time' });
const cursor = z.string().nullable().meta({ description: 'Pass as `?cursor=` for the next page; null on the last page.' });

export const ErrorSchema = named(
  'Error',
  'Every error answer: a stable code (see the README) and a message that says what to do next.',
  z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
);

export const AppSchema = named('App', 'An app: the unit that owns pipelines and tokens.', z.object({ slug: z.string(), name: z.string(), created_at: time() }));

export const PipelineSchema = named(
  'Pipeline',
  'A pipeline of an app; `config` depends on `kind`.',
  z.object({ app: z.string(), slug: z.string(), kind: z.enum(PIPELINE_KINDS as [string, ...string[]]), config: z.record(z.string(), z.unknown()), created_at: time(), updated_at: time() }),
);

export const TokenSchema = named(
  'Token',
  'A token as every answer shows it: never its value (only `hint`).',
  z.object({
    id: z.string(),
    app: z.string().nullable(),
    name: z.string(),
    hint: z.string(),
    status: z.enum(TOKEN_STATUSES as [string, ...string[]]),
    created_at: time(),
    expires_at: time(),
    last_used_at: time().nullable(),
    revoked_at: time().nullable(),
    rate_limit: z.number().int().nullable(),
    replaced_by: z.string().nullable(),
    description: z.string().nullable(),
    pipelines: z.array(z.string()).nullable(),
    allowed_ips: z.array(z.string()).nullable(),
    last_used_ip: z.string().nullable(),
  }),
);

export const IssuedTokenSchema = named(
  'IssuedToken',
  'The answer to create: the only answer that holds the value; store it now.',
  z.object({ token: TokenSchema, value: z.string() }),
);

export const RotatedTokenSchema = named(
  'RotatedToken',
  'The answer to rotate: the new token with its value (shown once), and the previous one with its grace-period expiry.',
  z.object({ token: TokenSchema, value: z.string(), previous: TokenSchema }),
);

export const AuditEventSchema = named(
  'AuditEvent',
  'One change: who (`actor`), what (`action`), to which app and token.',
  z.object({ id: z.number().int(), at: time(), actor: z.string(), action: z.string(), app: z.string().nullable(), token_id: z.string().nullable(), detail: z.record(z.string(), z.unknown()).nullable() }),
);

export const WebhookSchema = named('Webhook', 'A webhook of an app (its signing secret is answered once, on creation).', z.object({ id: z.string(), app: z.string(), url: z.string(), created_at: time() }));

export const WebhookDeliverySchema = named(
  'WebhookDelivery',
  'One event sent (or being sent) to a webhook, with its attempts.',
  z.object({
    id: z.number().int(),
    webhook_id: z.string(),
    event_id: z.string(),
    type: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    created_at: time(),
    attempts: z.number().int(),
    next_attempt_at: time().nullable(),
    finished_at: time().nullable(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    payload: z.unknown(),
    attempt_log: z.array(z.object({ at: time(), response_status: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number() })),
  }),
);

const usageCounts = { accepted: z.number().int(), refused: z.record(z.string(), z.number().int()), refused_total: z.number().int() };
export const TokenUsageSchema = named(
  'TokenUsage',
  "A token's requests per UTC day over a window, newest day first, paged.",
  z.object({
    token_id: z.string(),
    app: z.string().nullable(),
    days: z.number().int(),
    from: z.string(),
    to: z.string(),
    totals: z.object(usageCounts),
    usage: z.array(z.object({ day: z.string(), ...usageCounts })),
    next_cursor: cursor,
  }),
);

export const RunSchema = named(
  'Run',
  'A run: started by one trigger, kept for a while after it ends (MM_RUN_RETENTION).',
  z.object({
    run_id: z.string(),
    pipeline: z.string(),
    status: z.enum(['running', 'completed', 'failed']),
    started_at: time(),
    ended_at: time().nullable(),
    output: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
);

export const TriggerResultSchema = named(
  'TriggerResult',
  "A trigger's JSON answer: the run's id and the pipeline's output.",
  z.object({ run_id: z.string(), pipeline: z.string(), output: z.unknown() }),
);

/** A page of a list: `{"<key>": [...], "next_cursor"}` (keyset paging, src/paging.ts). */
export function pageOf(key: string, item: z.ZodType): z.ZodType {
  return z.object({ [key]: z.array(item), next_cursor: cursor });
}

/** `{"<key>": item}`: how single objects are answered. */
export function one(key: string, item: z.ZodType): z.ZodType {
  return z.object({ [key]: item });
}

/** `?limit=` and `?cursor=`, the same on every paged list. */
export const PAGE_QUERY = {
  limit: queryParam('Items per page: 1–1000, default 100.'),
  cursor: queryParam("The previous page's `next_cursor`."),
};
