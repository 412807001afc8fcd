import { appRoutes } from './apps';
import { auditRoutes } from './audit';
import { leakRoutes } from './leaks';
import { openApiRoutes } from './openapi';
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
 * the framework-free handler in `../trigger/`, which runs before Express on the same listener
 * (it and the console's own API are declared for the OpenAPI document in `documented.ts`).
 * Admin tokens cannot be created over HTTP (SPEC: only on the machine itself).
 */
export const ROUTES: readonly Route[] = [...operationRoutes, ...openApiRoutes, ...appRoutes, ...tokenRoutes, ...pipelineRoutes, ...auditRoutes, ...usageRoutes, ...webhookRoutes, ...runRoutes, ...selfRoutes, ...leakRoutes, ...settingsRoutes];

export type { Route, RouteDoc } from './types';
export { route } from './types';
