import { z } from 'zod';
import { VERSION } from '../version';
import { COOKIE_NAME } from './console/cookies';
import { FRAMEWORK_FREE_ROUTES } from './routes/documented';
import { ROUTES } from './routes/index';
import { ErrorSchema } from './routes/schemas';
import type { ResponseDoc, RouteDoc } from './routes/types';

/**
 * The OpenAPI 3.1 document (`GET /openapi.json`), generated from the route declarations: the
 * route table's (src/http/routes/*, whose `body`/`query` schemas are the very ones the framework
 * validates with) and the framework-free routes' (routes/documented.ts). JSON Schemas come from
 * zod (`z.toJSONSchema`, draft 2020-12, the dialect of OpenAPI 3.1); schemas given an id
 * (routes/schemas.ts `named`) become `components.schemas` entries.
 *
 * Each surface documents what it serves: `public` the trigger, runs, self-service, the leak
 * endpoint and operations; `admin` the admin API and the console's API; `all` both.
 */

type Surface = 'all' | 'public' | 'admin';
type JsonSchema = Record<string, unknown>;

/** Is a route of this auth served on this surface? The same rule as app.ts's. */
export function servedOn(route: Pick<RouteDoc, 'auth' | 'everywhere'>, surface: Surface): boolean {
  if (route.everywhere === true || surface === 'all') return true;
  return route.auth === 'admin' ? surface === 'admin' : surface === 'public';
}

/** `/v1/apps/:app/tokens` → `/v1/apps/{app}/tokens` (OpenAPI path templates). */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Every declared route: the table's and the framework-free ones (what the document covers). */
export function declaredRoutes(): readonly RouteDoc[] {
  return [...ROUTES, ...FRAMEWORK_FREE_ROUTES];
}

class SchemaConverter {
  readonly components: Record<string, JsonSchema> = {};

  /** A zod schema as JSON Schema; named schemas (and those inside) go to `components` and are referred to. */
  convert(schema: z.ZodType): JsonSchema {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
    delete json.$schema;
    const defs = json.$defs as Record<string, JsonSchema> | undefined;
    delete json.$defs;
    for (const [id, def] of Object.entries(defs ?? {})) this.components[id] = this.rewriteRefs(def) as JsonSchema;
    return this.rewriteRefs(json) as JsonSchema;
  }

  private rewriteRefs(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.rewriteRefs(item));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = key === '$ref' && typeof inner === 'string' ? inner.replace(/^#\/\$defs\//, '#/components/schemas/') : this.rewriteRefs(inner);
    }
    return out;
  }
}

const SECURITY_BY_AUTH: Record<RouteDoc['auth'], Array<Record<string, string[]>>> = {
  admin: [{ adminToken: [] }, { consoleSession: [] }],
  token: [{ triggerToken: [] }],
  none: [],
};

const CHALLENGE_HEADER = {
  'WWW-Authenticate': {
    description: 'The RFC 6750 challenge: `Bearer realm="mechamental"`, with `error="invalid_token"` (and an `error_description`) when a token was presented but refused, or `error="insufficient_scope"` for the wrong kind of token.',
    schema: { type: 'string' },
  },
};

const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

/** The answers every route of a kind can give, unless it declares them itself. */
function sharedResponses(route: RouteDoc): Record<string, unknown> {
  const shared: Record<string, unknown> = {};
  if (route.auth !== 'none') {
    shared['401'] = { description: 'No token, or one that is unknown, revoked or expired.', headers: CHALLENGE_HEADER, content: errorContent };
    shared['403'] = {
      description:
        route.auth === 'admin'
          ? 'A trigger token (`insufficient_scope`), or a console request without its CSRF token (`csrf_rejected`); on a server bound beyond loopback, the admin API answers only on its admin listener (`admin_on_loopback_only`).'
          : 'An admin token (`insufficient_scope`), or a client address outside the token\'s `allowed_ips` (`ip_not_allowed`).',
      content: errorContent,
    };
  }
  if (route.body !== undefined) {
    shared['400'] = { description: 'The body is not valid JSON (`invalid_json`).', content: errorContent };
    shared['413'] = { description: 'The body is larger than MM_MAX_BODY (`payload_too_large`).', content: errorContent };
    shared['415'] = { description: 'The body is not JSON (`unsupported_media_type`).', headers: { 'Accept-Post': { schema: { type: 'string' } } }, content: errorContent };
  }
  if (route.body !== undefined || route.query !== undefined) {
    shared['422'] = { description: 'The body or query does not match the schema, or a value is not acceptable (`validation_failed`); the message names the field.', content: errorContent };
  }
  shared['405'] = { description: 'Another method of this path (`method_not_allowed`), with `Allow`.', headers: { Allow: { schema: { type: 'string' } } }, content: errorContent };
  shared.default = { description: 'Any other error: `{"error": {"code", "message"}}` (503 `unavailable` when the database does not answer, with Retry-After).', content: errorContent };
  return shared;
}

function responseObject(response: ResponseDoc, status: number, convert: SchemaConverter): Record<string, unknown> {
  const out: Record<string, unknown> = { description: response.description };
  if (response.headers !== undefined) {
    out.headers = Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]));
  }
  const schema = response.schema ?? (status >= 400 ? ErrorSchema : undefined);
  if (schema !== undefined) out.content = { [response.contentType ?? 'application/json']: { schema: convert.convert(schema) } };
  // Accept is not a parameter in OpenAPI (a header parameter of that name is ignored): the choice shows as a second media type.
  if (response.alsoEventStream === true) out.content = { ...(out.content as object), 'text/event-stream': { schema: { type: 'string' } } };
  return out;
}

function operationId(route: RouteDoc): string {
  const words = route.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return [route.method, ...words].join('_');
}

function operation(route: RouteDoc, convert: SchemaConverter): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const match of route.path.matchAll(/:([A-Za-z0-9_]+)/g)) parameters.push({ name: match[1], in: 'path', required: true, schema: { type: 'string' } });
  if (route.query !== undefined) {
    const query = convert.convert(route.query);
    const required = new Set((query.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((query.properties as Record<string, JsonSchema> | undefined) ?? {})) {
      const { description, ...rest } = schema;
      parameters.push({ name, in: 'query', required: required.has(name), ...(description === undefined ? {} : { description }), schema: rest });
    }
  }
  for (const [name, header] of Object.entries(route.headers ?? {})) {
    parameters.push({ name, in: 'header', required: header.required === true, description: header.description, schema: header.schema === undefined ? { type: 'string' } : convert.convert(header.schema) });
  }
  const responses: Record<string, unknown> = sharedResponses(route);
  for (const [status, response] of Object.entries(route.responses)) responses[status] = responseObject(response, Number(status), convert);
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: [route.tag],
    security: SECURITY_BY_AUTH[route.auth],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            // A missing body is read as {} (app.ts): required exactly when {} does not do.
            required: !route.body.safeParse({}).success,
            content: { 'application/json': { schema: convert.convert(route.body) } },
          },
        }),
    responses,
  };
}

/** Builds the document for a surface (pure: the same routes give the same document). */
export function buildOpenApiDocument(surface: Surface, routes: readonly RouteDoc[] = declaredRoutes()): Record<string, unknown> {
  const convert = new SchemaConverter();
  convert.convert(ErrorSchema);
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const route of routes) {
    if (!servedOn(route, surface)) continue;
    const path = openApiPath(route.path);
    (paths[path] ??= {})[route.method] = operation(route, convert);
    tags.add(route.tag);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mechamental',
      version: VERSION,
      description:
        surface === 'public'
          ? 'The trigger API (pipelines, runs, token self-service) and the operations endpoints. The admin API is documented at /openapi.json on the admin listener.'
          : surface === 'admin'
            ? 'The admin API (apps, pipelines, tokens, usage, webhooks, audit) and the web console\'s API. The trigger API is documented at /openapi.json on the main listener.'
            : 'The whole HTTP API: trigger, runs, token self-service, admin, the console\'s API and operations. Errors are always `{"error": {"code", "message"}}`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(convert.components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        triggerToken: { type: 'http', scheme: 'bearer', bearerFormat: 'mm_tok_…', description: 'A trigger token, for the trigger, runs and self-service.' },
        adminToken: { type: 'http', scheme: 'bearer', bearerFormat: 'mm_adm_…', description: "An admin token, created on the server's machine with `mechamental admin-tokens create`." },
        consoleSession: {
          type: 'apiKey',
          in: 'cookie',
          name: COOKIE_NAME,
          description: 'The web console\'s session cookie (`__Host-mm_console` over HTTPS); requests that change something also need `X-CSRF-Token` and a same-origin `Origin`.',
        },
      },
    },
  };
}

const cache = new Map<Surface, string>();

/** The document as JSON text, built once per surface. */
export function openApiJson(surface: Surface): string {
  let text = cache.get(surface);
  if (text === undefined) cache.set(surface, (text = JSON.stringify(buildOpenApiDocument(surface))));
  return text;
}
