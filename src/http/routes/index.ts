import { appRoutes } from './apps';
import { auditRoutes } from './audit';
import { leakRoutes } from './leaks';
import { operationRoutes } from './operations';
import { pipelineRoutes } from './pipelines';
import { selfRoutes } from './self';
import { runRoutes } from './runs';
import { settingsRoutes } from './settings';
import { tokenRoutes } from './tokens';
import type { Route } from './types';
import { usageRoutes } from './usage';
import { webhookRoutes } from './webhooks';

/**
 * The whole HTTP surface in one table. `POST /v1/trigger/:pipeline` is not here: it is served by
 * the framework-free handler in `../trigger.ts`, which runs before Express on the same listener.
 * Admin tokens cannot be created over HTTP (SPEC: only on the machine itself).
 */
export const ROUTES: readonly Route[] = [...operationRoutes, ...appRoutes, ...tokenRoutes, ...pipelineRoutes, ...auditRoutes, ...usageRoutes, ...webhookRoutes, ...runRoutes, ...selfRoutes, ...leakRoutes, ...settingsRoutes];

export type { Route } from './types';
