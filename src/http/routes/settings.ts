import { describeSpan } from '../../duration';
import { EXPIRING_RULE } from '../../tokens/status';
import { MAX_GRACE_MS } from '../../tokens/service';
import type { Route } from './types';

/**
 * `GET /v1/settings`: the server's token policy, so that a client (the web console) offers only
 * expiries and grace periods the server accepts instead of learning them from a 422.
 */
export const settingsRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/settings',
    auth: 'admin',
    handle: ({ services }) => ({
      status: 200,
      json: {
        settings: {
          max_token_ttl_seconds: Math.floor(services.config.maxTokenTtlMs / 1000),
          max_token_ttl: describeSpan(services.config.maxTokenTtlMs),
          default_rotate_grace_seconds: Math.floor(services.config.defaultGraceMs / 1000),
          max_rotate_grace_seconds: Math.floor(MAX_GRACE_MS / 1000),
          expiring_window_seconds: Math.floor(EXPIRING_RULE.windowMs / 1000),
        },
      },
    }),
  },
];
