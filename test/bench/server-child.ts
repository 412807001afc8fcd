// One server under test, in its own process: `node --import tsx test/bench/server-child.ts KIND DATA_DIR`.
// It listens on 127.0.0.1, port 0, and sends {port} to its parent over IPC.
//
// KIND:
//   ours          mechamental's own server (startServer: trigger handler ahead of Express, logs, metrics)
//   ours-handler  the trigger handler alone on a bare node:http listener, authentication on; the
//                 same process also listens with the variants of SAME_PROCESS_AS_HANDLER (one
//                 port each, sent to the parent as {variants: {kind: port}}), measured in it
//   ours-noauth   the same, with a constant verifier (authentication switched off)
//   ours-nousage  the trigger handler alone with usage counting switched off (last_used_at still kept)
//   ours-norun    the trigger handler keeping no runs (createTriggerHandler keepRuns: false): what keeping them costs
//   ours-norecheck the trigger handler without the token's re-check before a run (recheck: false): what it costs
//   bare          node:http that parses the same JSON body and answers the same JSON (no auth)
//   fastify       Fastify 5: bearer → SHA-256 → prepared better-sqlite3 lookup, JSON in, JSON out
//   fastify-log   the same with Fastify's logger on, as people run it (its two lines per request:
//                 "incoming request", "request completed"), pino writing asynchronously to stdout
//                 exactly as mechamental's access log does (pino.destination({dest: 1, sync: false}))
//   express       plain Express 5: the same work with express.json() and a middleware
//   bcrypt        node:http, token checked the way bcrypt-hashed-token systems do (bcryptjs cost 10)
//
// The peers do what the trigger path does for an echo pipeline with no delay: check the bearer
// token against the `tokens` table of the same mechamental database (SHA-256 hex, prepared
// statement, indexed), parse a JSON object body, and answer {"run_id","pipeline","output"}.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { TriggerHandler, TriggerOptions } from '../../src/http/trigger';

const kind = process.argv[2] ?? '';
/**
 * The handler's variants that `ours-handler` also serves, each on a port of its own, so that the
 * bench measures them in the process it sets them against (test/bench/run.ts, "Servers under
 * test" in docs/benchmarks.md). Not `ours-norun` (the GC of the runs the others keep would land on
 * its turns too) nor `ours-nousage` (it stops the shared usage counter): they run apart.
 */
const SAME_PROCESS_AS_HANDLER = ['ours-noauth', 'ours-norecheck'];
const dataDir = process.argv[3] ?? '';
const MAX_BODY = 1_048_576;

function send(message: unknown): void {
  if (process.send) process.send(message);
  else process.stdout.write(`${JSON.stringify(message)}\n`);
}

function runId(): string {
  return `run_${randomBytes(10).toString('hex')}`;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

interface TokenRow {
  id: string;
  app_id: number | null;
  expires_at: number;
  revoked_at: number | null;
}

/** The peers' bearer check: scheme, SHA-256, one prepared indexed lookup, revoked/expired. */
function bearerChecker(): (header: string | undefined) => TokenRow | undefined {
  const db = new Database(path.join(dataDir, 'mechamental.db'), { readonly: true, fileMustExist: true });
  const lookup = db.prepare<[string], TokenRow>('SELECT id, app_id, expires_at, revoked_at FROM tokens WHERE hash = ?');
  return (header) => {
    if (!header || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
    const row = lookup.get(sha256(header.slice(7).trim()));
    if (!row || row.revoked_at !== null || row.expires_at <= Date.now()) return undefined;
    return row;
  };
}

function readBody(req: http.IncomingMessage, done: (error: number | null, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let failed = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY && !failed) {
      failed = true;
      done(413);
    }
    if (!failed) chunks.push(chunk);
  });
  req.on('end', () => {
    if (!failed) done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  req.on('error', () => {
    if (!failed) {
      failed = true;
      done(400);
    }
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function echoAnswer(pipeline: string, input: unknown): unknown {
  const message = (input as { message?: unknown }).message;
  return { run_id: runId(), pipeline, output: typeof message === 'string' ? message : '' };
}

/** A node:http trigger route with an optional token check (sync or async). */
function nodeHttpTrigger(check?: (header: string | undefined) => boolean | Promise<boolean>): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method !== 'POST' || !url.startsWith('/v1/trigger/')) return json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
    const pipeline = url.slice('/v1/trigger/'.length);
    const proceed = () =>
      readBody(req, (error, body) => {
        if (error) return json(res, error, { error: { code: 'bad_request', message: 'body' } });
        let input: unknown;
        try {
          input = JSON.parse(body!.toString('utf8'));
        } catch {
          return json(res, 400, { error: { code: 'invalid_json', message: 'the body is not valid JSON' } });
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          return json(res, 400, { error: { code: 'invalid_json', message: 'the body is not a JSON object' } });
        }
        json(res, 200, echoAnswer(pipeline, input));
      });
    if (!check) return proceed();
    const verdict = check(req.headers.authorization);
    const go = (ok: boolean) => {
      if (ok) return proceed();
      req.resume();
      json(res, 401, { error: { code: 'invalid_token', message: 'the token is not valid' } });
    };
    if (typeof verdict === 'boolean') go(verdict);
    else verdict.then(go, () => go(false));
  });
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Where this process listens: its kind's port, and the ports of the other kinds it serves. */
interface Listening {
  port: number;
  variants?: Record<string, number>;
}

async function main(): Promise<Listening> {
  switch (kind) {
    case 'bare':
      return { port: await listen(nodeHttpTrigger()) };

    case 'bcrypt': {
      // Such systems store bcrypt(secret) and find the row by a public prefix, then compare.
      const bcrypt = (await import('bcryptjs')).default;
      const secret = process.env.BENCH_BCRYPT_SECRET ?? 'secret';
      const db = new Database(':memory:');
      db.exec('CREATE TABLE keys (prefix TEXT PRIMARY KEY, hash TEXT NOT NULL)');
      db.prepare('INSERT INTO keys VALUES (?, ?)').run('bench001', bcrypt.hashSync(secret, 10));
      const lookup = db.prepare<[string], { hash: string }>('SELECT hash FROM keys WHERE prefix = ?');
      const port = await listen(
        nodeHttpTrigger(async (header) => {
          const match = /^bearer sk_([a-z0-9]{8})_(.+)$/i.exec(header ?? '');
          if (!match) return false;
          const row = lookup.get(match[1]!);
          return row ? bcrypt.compare(match[2]!, row.hash) : false;
        }),
      );
      return { port };
    }

    case 'fastify':
    case 'fastify-log': {
      const { default: Fastify } = await import('fastify');
      const { default: pino } = await import('pino');
      const check = bearerChecker();
      const logger = kind === 'fastify-log' ? { level: 'info', stream: pino.destination({ dest: 1, sync: false }) } : false;
      const app = Fastify({ logger, bodyLimit: MAX_BODY });
      app.addHook('onRequest', async (request, reply) => {
        if (!check(request.headers.authorization)) {
          return reply.code(401).send({ error: { code: 'invalid_token', message: 'the token is not valid' } });
        }
      });
      app.post<{ Params: { pipeline: string }; Body: unknown }>('/v1/trigger/:pipeline', async (request, reply) => {
        const input = request.body;
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          return reply.code(400).send({ error: { code: 'invalid_json', message: 'the body is not a JSON object' } });
        }
        return echoAnswer(request.params.pipeline, input);
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      return { port: (app.server.address() as { port: number }).port };
    }

    case 'express': {
      const { default: express } = await import('express');
      const check = bearerChecker();
      const app = express();
      app.use((req, res, next) => {
        if (check(req.headers.authorization)) return next();
        res.status(401).json({ error: { code: 'invalid_token', message: 'the token is not valid' } });
      });
      app.use(express.json({ limit: MAX_BODY }));
      app.post('/v1/trigger/:pipeline', (req, res) => {
        const input: unknown = req.body;
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          res.status(400).json({ error: { code: 'invalid_json', message: 'the body is not a JSON object' } });
          return;
        }
        res.json(echoAnswer(req.params.pipeline, input));
      });
      return { port: await listen(http.createServer(app)) };
    }

    case 'ours':
    case 'ours-handler':
    case 'ours-noauth':
    case 'ours-nousage':
    case 'ours-norun':
    case 'ours-norecheck': {
      const { loadConfig } = await import('../../src/config');
      const { openServices } = await import('../../src/services');
      const config = loadConfig({ ...process.env, MM_DATA_DIR: dataDir });
      const services = await openServices(config, { actor: 'cli' });
      if (kind === 'ours') {
        const { startServer } = await import('../../src/http/server');
        const started = await startServer(services, { host: '127.0.0.1', port: 0 });
        return { port: started.port };
      }
      const { createTriggerHandler } = await import('../../src/http/trigger');
      // One registry of open streams for the process (its watcher polls), shared by every handler.
      let streams: TriggerHandler['streams'] | undefined;
      const listenVariant = async (variant: string): Promise<number> => {
        let options: TriggerOptions = variant === 'ours-norun' ? { keepRuns: false } : variant === 'ours-norecheck' ? { recheck: false } : {};
        if (variant === 'ours-noauth') {
          const verified = await services.tokens.verify(process.env.BENCH_TOKEN ?? '');
          if (!verified.ok) throw new Error(`BENCH_TOKEN does not verify: ${verified.reason}`);
          const result = { ok: true as const, token: verified.token };
          options = { verify: () => result };
        }
        if (variant === 'ours-nousage') {
          // The same handler, with the per-answer count made a no-op: what usage counting costs, like for like.
          services.usage.count = () => {};
        }
        const handle = createTriggerHandler(services, { ...options, streams });
        streams = handle.streams;
        return listen(
          http.createServer((req, res) => {
            if (!handle(req, res)) json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
          }),
        );
      };
      const port = await listenVariant(kind);
      if (kind !== 'ours-handler') return { port };
      const variants: Record<string, number> = {};
      for (const variant of SAME_PROCESS_AS_HANDLER) variants[variant] = await listenVariant(variant);
      return { port, variants };
    }

    default:
      throw new Error(`unknown server kind "${kind}"`);
  }
}

// A graceful exit on request, so that `--cpu-prof` can write its profile.
process.on('message', (m) => {
  if (m === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

main().then(
  ({ port, variants }) => send({ port, pid: process.pid, variants }),
  (error: unknown) => {
    process.stderr.write(`server-child ${kind}: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
