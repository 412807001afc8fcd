import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { z } from 'zod';
import { createApp } from '../../src/http/app';
import { buildOpenApiDocument, declaredRoutes, openApiPath } from '../../src/http/openapi';
import { OPENAI_ROUTES } from '../../src/http/openai/routes';
import { FRAMEWORK_FREE_ROUTES } from '../../src/http/routes/documented';
import { ROUTES } from '../../src/http/routes/index';
import { ErrorSchema } from '../../src/http/routes/schemas';
import { request, startTestServer, type Reply } from '../helpers/server';

type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> } };
type Operation = { security: unknown[]; parameters?: Array<{ name: string; in: string; required: boolean }>; requestBody?: { required: boolean; content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }> }; responses: Record<string, unknown> };

const t = await startTestServer();
const JSON_CT = { 'Content-Type': 'application/json' };
const admin = await t.services.tokens.createAdmin({ name: 'openapi', expires: '1d' }, 'cli');
const asAdmin = { Authorization: `Bearer ${admin.value}`, ...JSON_CT };

async function validate(doc: unknown): Promise<void> {
  const result = await new Validator().validate(doc as Record<string, unknown>);
  assert.ok(result.valid, `the document is not valid OpenAPI 3.1: ${JSON.stringify(result, null, 1).slice(0, 3000)}`);
}

async function documentAt(base: string): Promise<Doc> {
  const reply = await request(`${base}/openapi.json`);
  assert.equal(reply.status, 200, reply.body);
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  return reply.json<Doc>();
}

function has(doc: Doc, method: string, expressPath: string): boolean {
  return doc.paths[openApiPath(expressPath)]?.[method] !== undefined;
}

/** The routes Express serves (express 5 keeps them in app.router.stack), but the 405/404 catch-alls (`all`). */
function expressRoutes(app: ReturnType<typeof createApp>): Array<{ method: string; path: string }> {
  // The router is not in express's types; its layers are plain objects.
  const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string | string[]; methods: Record<string, boolean> } }> } }).router.stack;
  const found: Array<{ method: string; path: string }> = [];
  for (const layer of stack) {
    if (layer.route === undefined) continue;
    const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
    const methods = Object.keys(layer.route.methods);
    if (methods.includes('acl')) continue; // app.all: the 405/OPTIONS answers of known paths, the 403s and 404s
    for (const method of methods) if (method !== 'head') for (const path of paths) found.push({ method, path });
  }
  return found;
}

/** Checks a real answer against the schema its route declares for its status (what the document shows). */
function conforms(method: string, path: string, reply: Reply): void {
  const route = declaredRoutes().find((r) => r.method === method && r.path === path);
  assert.ok(route, `${method} ${path} is declared`);
  const schema = (route.responses[reply.status]?.schema ?? (reply.status >= 400 ? ErrorSchema : undefined)) as z.ZodType | undefined;
  assert.ok(schema, `${method} ${path} declares a schema for ${reply.status}`);
  const parsed = schema.safeParse(reply.json());
  assert.ok(parsed.success, `${method} ${path} ${reply.status}: the answer does not match its declared schema: ${parsed.error?.message} in ${reply.body.slice(0, 500)}`);
}

describe('GET /openapi.json (SPEC "HTTP conformance")', () => {
  test('is a valid OpenAPI 3.1 document, served without authentication', async () => {
    const doc = await documentAt(t.url);
    assert.equal(doc.openapi, '3.1.0');
    await validate(doc);
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['adminToken', 'consoleSession', 'triggerToken']);
    for (const name of ['Error', 'Token', 'IssuedToken', 'App', 'Pipeline', 'AuditEvent', 'Run']) assert.ok(doc.components.schemas[name], `components.schemas.${name}`);
  });

  test('lists every route of the route table and every framework-free route, with its security', async () => {
    const doc = await documentAt(t.url);
    const missing = [...ROUTES, ...FRAMEWORK_FREE_ROUTES].filter((r) => !has(doc, r.method, r.path)).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    assert.deepEqual(missing, [], 'routes missing from the document');
    assert.ok(has(doc, 'post', '/v1/trigger/:pipeline'), 'the trigger');
    // The OpenAI front door's routes, as its handler declares them, with OpenAI's error shape.
    for (const route of OPENAI_ROUTES) assert.ok(has(doc, route.method, route.path), `${route.method.toUpperCase()} ${route.path}`);
    const completions = doc.paths['/v1/chat/completions']!.post!;
    assert.deepEqual(completions.security, [{ triggerToken: [] }]);
    assert.ok(JSON.stringify(completions.responses['401']).includes('param'), 'OpenAI\'s error shape on the door');
    assert.deepEqual(doc.paths['/v1/trigger/{pipeline}']!.post!.security, [{ triggerToken: [] }]);
    const answered = doc.paths['/v1/trigger/{pipeline}']!.post!.responses['200'] as { content: Record<string, unknown> };
    assert.deepEqual(Object.keys(answered.content), ['application/json', 'text/event-stream'], 'JSON or SSE, as Accept chooses');
    assert.ok(Object.keys((doc.paths['/v1/runs/{id}/events']!.get!.responses['200'] as { content: Record<string, unknown> }).content).includes('text/event-stream'));
    assert.deepEqual(doc.paths['/v1/apps']!.post!.security, [{ adminToken: [] }, { consoleSession: [] }]);
    assert.deepEqual(doc.paths['/healthz']!.get!.security, []);
    const challenge = doc.paths['/v1/apps']!.get!.responses['401'] as { headers: Record<string, unknown> };
    assert.ok(challenge.headers['WWW-Authenticate'], 'the RFC 6750 challenge is documented');
    const list = doc.paths['/v1/apps/{app}/tokens']!.get!;
    assert.deepEqual(
      list.parameters!.filter((p) => p.in === 'query').map((p) => p.name),
      ['status', 'search', 'unused', 'limit', 'cursor'],
      'the pagination parameters',
    );
    // The body schema is the one that validates: its fields and what is required.
    const create = doc.paths['/v1/apps/{app}/tokens']!.post!.requestBody!;
    assert.equal(create.required, true);
    const body = create.content['application/json']!.schema;
    assert.deepEqual(body.required, ['name']);
    assert.deepEqual(Object.keys(body.properties!).sort(), ['allowed_ips', 'description', 'expires_at', 'expires_in', 'name', 'pipelines', 'rate_limit']);
    assert.equal(doc.paths['/v1/token/rotate']!.post!.requestBody!.required, false, 'a rotate body may be left out');
  });

  test('every route Express serves is in the document (but the console pages and the catch-alls)', () => {
    const pages = new Set(['/', '/console', '/console/index.html', '/console/assets/:file']);
    const doc = buildOpenApiDocument('all') as Doc;
    const undocumented = expressRoutes(createApp(t.services))
      .filter((r) => !pages.has(r.path) && !has(doc, r.method, r.path))
      .map((r) => `${r.method.toUpperCase()} ${r.path}`);
    assert.deepEqual(undocumented, []);
  });

  test('each surface documents what it serves; both validate', async () => {
    const split = await startTestServer({ server: { host: '0.0.0.0' } });
    const publicBase = `http://127.0.0.1:${split.server.port}`;
    const publicDoc = await documentAt(publicBase);
    const adminDoc = await documentAt(split.server.adminUrl);
    await validate(publicDoc);
    await validate(adminDoc);
    for (const route of declaredRoutes()) {
      const where = `${route.method.toUpperCase()} ${route.path}`;
      if (route.path === '/openapi.json') {
        assert.ok(has(publicDoc, 'get', route.path) && has(adminDoc, 'get', route.path), where);
      } else if (route.auth === 'admin') {
        assert.ok(has(adminDoc, route.method, route.path), `${where} on the admin listener`);
        assert.ok(!has(publicDoc, route.method, route.path), `${where} not on the public listener`);
      } else if (route.path !== '/console/api/sign-in') {
        assert.ok(has(publicDoc, route.method, route.path), `${where} on the public listener`);
        assert.ok(!has(adminDoc, route.method, route.path), `${where} not on the admin listener`);
      }
    }
  });

  test('real answers match the schemas their routes declare', async () => {
    const created = await request(`${t.url}/v1/apps`, { method: 'POST', headers: asAdmin, body: { slug: 'documented', name: 'Documented' } });
    assert.equal(created.status, 201, created.body);
    conforms('post', '/v1/apps', created);
    conforms('get', '/v1/apps', await request(`${t.url}/v1/apps`, { headers: asAdmin }));
    conforms('get', '/v1/apps/:app/pipelines', await request(`${t.url}/v1/apps/default/pipelines`, { headers: asAdmin }));
    conforms('get', '/v1/apps/:app/pipelines/:slug', await request(`${t.url}/v1/apps/default/pipelines/chat`, { headers: asAdmin }));
    const issued = await request(`${t.url}/v1/apps/default/tokens`, { method: 'POST', headers: asAdmin, body: { name: 'doc', expires_in: '30d', pipelines: ['chat'] } });
    assert.equal(issued.status, 201, issued.body);
    conforms('post', '/v1/apps/:app/tokens', issued);
    const { token, value } = issued.json<{ token: { id: string }; value: string }>();
    conforms('get', '/v1/apps/:app/tokens', await request(`${t.url}/v1/apps/default/tokens?limit=1`, { headers: asAdmin }));
    conforms('get', '/v1/apps/:app/tokens/:id', await request(`${t.url}/v1/apps/default/tokens/${token.id}`, { headers: asAdmin }));
    const asToken = { Authorization: `Bearer ${value}`, ...JSON_CT };
    const triggered = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: asToken, body: { message: 'hello' } });
    assert.equal(triggered.status, 200, triggered.body);
    conforms('post', '/v1/trigger/:pipeline', triggered);
    conforms('get', '/v1/runs/:id', await request(`${t.url}/v1/runs/${triggered.json<{ run_id: string }>().run_id}`, { headers: asToken }));
    conforms('get', '/v1/token', await request(`${t.url}/v1/token`, { headers: asToken }));
    conforms('get', '/v1/apps/:app/tokens/:id/usage', await request(`${t.url}/v1/apps/default/tokens/${token.id}/usage?days=2`, { headers: asAdmin }));
    conforms('get', '/v1/audit', await request(`${t.url}/v1/audit?limit=5`, { headers: asAdmin }));
    conforms('get', '/v1/settings', await request(`${t.url}/v1/settings`, { headers: asAdmin }));
    conforms('post', '/v1/apps/:app/tokens/:id/rotate', await request(`${t.url}/v1/apps/default/tokens/${token.id}/rotate`, { method: 'POST', headers: asAdmin, body: { grace: '1h' } }));
    conforms('post', '/v1/apps/:app/tokens/:id/revoke', await request(`${t.url}/v1/apps/default/tokens/${token.id}/revoke`, { method: 'POST', headers: asAdmin }));
    conforms('get', '/readyz', await request(`${t.url}/readyz`));
    conforms('post', '/v1/tokens/revoke', await request(`${t.url}/v1/tokens/revoke`, { method: 'POST', headers: JSON_CT, body: { tokens: [] } }));
    conforms('get', '/v1/apps', await request(`${t.url}/v1/apps`)); // 401: the Error schema
  });

  test('a request its schema refuses is 422 validation_failed naming the field, before the handler runs', async () => {
    const shape = (reply: Reply, field: string) => {
      assert.equal(reply.status, 422, reply.body);
      const body = reply.json<{ error: { code: string; message: string } }>();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
      assert.equal(body.error.code, 'validation_failed');
      assert.ok(body.error.message.startsWith(`${field}: `), body.error.message);
    };
    shape(await request(`${t.url}/v1/apps`, { method: 'POST', headers: asAdmin, body: { slug: 5 } }), 'slug');
    shape(await request(`${t.url}/v1/apps`, { method: 'POST', headers: asAdmin }), 'slug');
    shape(await request(`${t.url}/v1/apps/default/tokens`, { method: 'POST', headers: asAdmin, body: { name: 'x', expires_in: '1d', rate_limit: 0 } }), 'rate_limit');
    shape(await request(`${t.url}/v1/audit?limit=1&limit=2`, { headers: asAdmin }), 'limit');
    assert.match((await request(`${t.url}/v1/audit?cursor=a&cursor=b`, { headers: asAdmin })).body, /cursor: must be given once/);
    shape(await request(`${t.url}/v1/apps/default/webhooks`, { method: 'POST', headers: asAdmin, body: { url: ['x'] } }), 'url');
    shape(await request(`${t.url}/v1/tokens/revoke`, { method: 'POST', headers: { ...JSON_CT, 'X-Forwarded-For': '192.0.2.9' }, body: { tokens: [1] } }), 'tokens.0');
    const trigger = await t.services.tokens.create({ app: 'default', name: 'rotating', expires: '30d' }, 'cli');
    shape(await request(`${t.url}/v1/token/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${trigger.value}`, ...JSON_CT }, body: { grace: '1h', expires_in: '1y' } }), 'body');
    assert.equal((await t.services.tokens.get(trigger.token.id)).status, 'active', 'the refused rotate did nothing');
    // Authentication still comes first: no schema error for an unauthenticated request.
    assert.equal((await request(`${t.url}/v1/apps`, { method: 'POST', headers: JSON_CT, body: { slug: 5 } })).status, 401);
  });
});
