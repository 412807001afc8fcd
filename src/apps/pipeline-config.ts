import { z } from 'zod';
import { AppError } from '../errors';
import { describeZodError } from './validation';

/**
 * The configuration each pipeline kind accepts (strict: unknown keys are refused, so a typo does
 * not silently do nothing). Secrets for `openai` are referenced by environment variable name,
 * never stored in the database.
 */
const timeout = z.number().int().min(1).max(3_600_000).optional();
const headerMap = z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a valid header name'), z.string());
/**
 * `expose_errors`: when true, a failed run's caller sees the internal detail (the command's stderr
 * tail, the upstream's status and body) instead of a generic message. Off by default, because those
 * texts can hold paths, hostnames and secrets; the server log always has them.
 */
const exposeErrors = z.boolean().optional();

/** An http(s) URL without credentials in it (fetch refuses those, and error texts could quote them). */
function upstreamUrl(whereCredentialsGo: string) {
  return z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).refine((url) => {
    const parsed = new URL(url);
    return parsed.username === '' && parsed.password === '';
  }, `must not hold credentials (user:password@); ${whereCredentialsGo}`);
}

export const pipelineConfigSchemas = {
  echo: z.strictObject({ delay_ms: z.number().int().min(0).max(60_000).optional(), expose_errors: exposeErrors }),
  command: z.strictObject({
    argv: z.array(z.string().min(1)).min(1, 'needs at least the program to run'),
    cwd: z.string().min(1).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not a valid variable name'), z.string()).optional(),
    timeout_ms: timeout,
    expose_errors: exposeErrors,
  }),
  http: z.strictObject({
    url: upstreamUrl('send them in "headers", e.g. {"Authorization": "Basic …"}'),
    headers: headerMap.optional(),
    timeout_ms: timeout,
    expose_errors: exposeErrors,
  }),
  openai: z.strictObject({
    base_url: upstreamUrl('name the environment variable that holds the API key in "api_key_env"'),
    model: z.string().min(1),
    api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not a valid variable name').optional(),
    system_prompt: z.string().optional(),
    /** Pass `system` messages sent by the caller on to the model (off: they are dropped, so a caller cannot override `system_prompt`). */
    allow_system_messages: z.boolean().optional(),
    timeout_ms: timeout,
    expose_errors: exposeErrors,
  }),
} as const;

export type PipelineKind = keyof typeof pipelineConfigSchemas;
export const PIPELINE_KINDS = Object.keys(pipelineConfigSchemas) as PipelineKind[];

export type PipelineConfig<K extends PipelineKind = PipelineKind> = z.infer<(typeof pipelineConfigSchemas)[K]>;

export function requireKind(kind: string): PipelineKind {
  if (!(PIPELINE_KINDS as string[]).includes(kind)) {
    throw new AppError('validation_failed', `kind: "${kind}" is not a pipeline kind; use one of ${PIPELINE_KINDS.join(', ')}`, { field: 'kind' });
  }
  return kind as PipelineKind;
}

/** Validates `config` for `kind`; the error names the offending field, e.g. "config.argv: …". */
export function validatePipelineConfig(kind: PipelineKind, config: unknown): PipelineConfig {
  const result = pipelineConfigSchemas[kind].safeParse(config ?? {});
  if (!result.success) {
    const { field, message } = describeZodError(result.error, 'config');
    throw new AppError('validation_failed', message, { field });
  }
  return result.data;
}

/** One line describing a pipeline's configuration, for listings (its words live in src/ui-text/). */
export { summarizeConfig } from '../ui-text/pipeline-summary';
