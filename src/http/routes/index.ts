import { appRoutes } from './apps';
import { auditRoutes } from './audit';
import { operationRoutes } from './operations';
import { pipelineRoutes } from './pipelines';
import { settingsRoutes } from './settings';
import { tokenRoutes } from './tokens';
import type { Route } from './types';

/**
 * The whole HTTP surface in one table. `POST /v1/trigger/:pipeline` is not here: it is served by
 * the framework-free handler in `../trigger.ts`, which runs before Express on the same listener.
 * Admin tokens cannot be created over HTTP (SPEC: only on the machine itself).
 */
export const ROUTES: readonly Route[] = [...operationRoutes, ...appRoutes, ...tokenRoutes, ...pipelineRoutes, ...auditRoutes, ...settingsRoutes];

export type { Route } from './types';
