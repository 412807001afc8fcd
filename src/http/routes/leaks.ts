import type { Logger } from '../../log';
import type { Services } from '../../services';
import { z } from 'zod';
import { MemoryRateLimits } from '../../db/rate-limits';
import { route, type Route } from './types';

/** The most values one report may carry. */
export const MAX_LEAK_REPORT_VALUES = 100;
/** Reports one client address may send per minute (in memory, per process). */
export const LEAK_REPORTS_PER_MINUTE = 10;

/** One limiter per set of services (so that servers in one process, as in tests, do not share counts). */
const limiters = new WeakMap<Services, MemoryRateLimits>();

/**
 * A report body `{"tokens": [...]}`: at most MAX_LEAK_REPORT_VALUES strings; 422 naming `tokens`
 * otherwise. The messages never quote an entry (a report is full of secrets).
 */
const leakReport = z.object(
  {
    tokens: z
      .array(z.string({ error: 'every entry must be a string (a token value)' }), { error: 'send the leaked values as {"tokens": ["mm_tok_…", …]}' })
      .max(MAX_LEAK_REPORT_VALUES, {
        error: (issue) =>
          `a report holds at most ${MAX_LEAK_REPORT_VALUES} values (this one has ${Array.isArray(issue.input) ? issue.input.length : 'more'}); send the rest in further reports`,
      })
      .meta({ description: `The leaked values (mm_tok_… or mm_adm_…), at most ${MAX_LEAK_REPORT_VALUES}.` }),
  },
  { error: 'send the leaked values as {"tokens": ["mm_tok_…", …]}' },
);

/** The revocations of one report, after its answer was sent (so the answer's timing says nothing about the values). */
function revokeAfterAnswer(services: Services, logger: Logger, values: string[]): void {
  setImmediate(() => {
    services.tokens.revokeLeaked(values, 'leak-report').then(
      ({ revoked }) => logger.info({ received: values.length, revoked }, 'leaked-token report handled'),
      (error: unknown) => logger.error({ err: error }, 'leaked-token report could not be handled; the tokens in it may still work'),
    );
  });
}

/**
 * Leaked values (SPEC "Token controls and self-service"): anyone who found a value (a secret
 * scanner, a colleague) reports it without authentication, and every valid token among the values
 * is revoked (audit actor `leak-report`). The answer is always 202 `{"received": n}`, the same
 * whatever matched, and it is sent before any value is looked up: neither its content nor its
 * timing is an oracle for which values are real. Rate-limited per client address.
 */
export const leakRoutes: Route[] = [
  route({
    method: 'post',
    path: '/v1/tokens/revoke',
    auth: 'none',
    tag: 'self-service',
    summary: 'Report leaked token values (no authentication)',
    description:
      'Every valid token among the values is revoked (audit actor `leak-report`). The answer is the same whatever matched and is sent before any value is looked up. Rate-limited per client address.',
    body: leakReport,
    responses: {
      202: { description: 'Received; the valid ones among the values are being revoked.', schema: z.object({ received: z.number().int() }) },
      429: { description: 'Too many reports from this address; retry after `Retry-After` seconds.', headers: { 'Retry-After': 'Seconds to wait.' } },
    },
    handle: ({ services, logger, body, clientAddress }) => {
      let limiter = limiters.get(services);
      if (limiter === undefined) limiters.set(services, (limiter = new MemoryRateLimits()));
      const retryAfter = limiter.take(`leak:${clientAddress}`, LEAK_REPORTS_PER_MINUTE, services.clock.now());
      if (retryAfter > 0) {
        return {
          status: 429,
          headers: { 'Retry-After': String(retryAfter) },
          json: { error: { code: 'rate_limited', message: `at most ${LEAK_REPORTS_PER_MINUTE} reports per minute from one address; retry in ${retryAfter} s` } },
        };
      }
      const values = body.tokens;
      if (values.length > 0) revokeAfterAnswer(services, logger, values);
      return { status: 202, json: { received: values.length } };
    },
  }),
];
