import { z } from 'zod';
import { openApiJson } from '../openapi';
import { route, type Route } from './types';

/**
 * `GET /openapi.json`, on every surface: each listener documents what it serves (the main one of a
 * server bound beyond loopback: the trigger side; the admin listener: the admin API).
 */
export const openApiRoutes: Route[] = [
  route({
    method: 'get',
    path: '/openapi.json',
    auth: 'none',
    everywhere: true,
    tag: 'operations',
    summary: 'This OpenAPI 3.1 document (of what this listener serves)',
    responses: { 200: { description: 'The document.', schema: z.record(z.string(), z.unknown()) } },
    handle: ({ surface }) => ({ status: 200, text: openApiJson(surface), contentType: 'application/json; charset=utf-8' }),
  }),
];
