import { z } from 'zod';
import { parseDuration } from './duration';
import { AppError } from './errors';
import { formatIpRange, parseIpRange } from './ip-ranges';

/**
 * The one validated configuration: command-line flags over environment variables over the
 * defaults written here (and only here).
 */
export interface Config {
  dataDir: string;
  host: string;
  port: number;
  maxTokenTtlMs: number;
  defaultGraceMs: number;
  maxBodyBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  // --- storage
  /** PostgreSQL instead of the SQLite file in dataDir (MM_DATABASE_URL, --database-url). */
  databaseUrl: string | undefined;
  /** Connections each process keeps to PostgreSQL. */
  databasePoolSize: number;
  /** Below this much free disk space the SQLite store reports not ready (/readyz 503). */
  readyMinFreeBytes: number;
  // --- runs
  /** Runs one token may have in progress at once (then 429 too_many_runs). */
  maxRunsPerToken: number;
  /** `command` pipeline processes this server runs at once (then 503 busy). */
  maxChildren: number;
  // --- retention
  /** How long audit events are kept (MM_AUDIT_RETENTION); null: for ever. */
  auditRetentionMs: number | null;
  /** How long a finished run (and its events) is kept at least, for status, resume and replay (MM_RUN_RETENTION). */
  runRetentionMs: number;
  /** Memory that finished runs may hold in this process (MM_RUN_MEMORY); the oldest go first beyond it. */
  runMemoryBytes: number;

  // --- The listener: resource bounds, Host allow-list, admin listener, TLS (docs/hardening-listener.md) ---
  /** Open connections per listener (MM_MAX_CONNECTIONS); null: derived from the open-file limit, see `defaultMaxConnections`. */
  maxConnections: number | null;
  /** The request line and headers must arrive within this (MM_HEADERS_TIMEOUT), else 408. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (MM_REQUEST_TIMEOUT), else 408; at least headersTimeoutMs. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (MM_KEEP_ALIVE_TIMEOUT). */
  keepAliveTimeoutMs: number;
  /** Host names answered besides the defaults (MM_ALLOWED_HOSTS), lower case; `*` means any Host. */
  allowedHosts: string[];
  /** Where the admin API listens when the main host is not loopback (MM_ADMIN_HOST, MM_ADMIN_PORT). */
  adminHost: string;
  /** null: the main port + 1 (see `adminPortFor`). */
  adminPort: number | null;
  /** MM_ALLOW_REMOTE_COMMANDS=1: the admin API may create or change `command` pipelines. */
  allowRemoteCommands: boolean;
  /** HTTPS: both files or neither (--tls-cert/--tls-key, MM_TLS_CERT/MM_TLS_KEY). */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /**
   * Proxies whose X-Forwarded-For is believed (MM_TRUSTED_PROXIES: addresses and CIDR ranges, comma
   * separated; canonical form). Empty: the client address is always the socket's.
   */
  trustedProxies: string[];

  // --- Usage and webhooks (docs/usage-and-webhooks.md) ---
  /** Per-token daily usage rows older than this are pruned (MM_USAGE_RETENTION). */
  usageRetentionMs: number;
  /** Which addresses a webhook may be delivered to (MM_WEBHOOK_ADDRESSES): see WebhookAddressPolicy. */
  webhookAddresses: WebhookAddressPolicy;
  /** One delivery attempt's limit: connect, send and answer (MM_WEBHOOK_TIMEOUT). */
  webhookTimeoutMs: number;
  /** How long an undelivered event is retried, with exponential backoff (MM_WEBHOOK_RETRY_FOR). */
  webhookRetryForMs: number;
  /** Finished deliveries (delivered or given up) older than this are pruned (MM_WEBHOOK_RETENTION). */
  webhookRetentionMs: number;
}

/**
 * Where webhooks may go, judged on the address a receiver's name resolves to at delivery time:
 * `public` — globally routable addresses only; `private` (the default) — those and private networks
 * (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), where an on-prem appliance's receivers live;
 * `any` — also loopback and link-local (a receiver on this very machine).
 */
export type WebhookAddressPolicy = 'public' | 'private' | 'any';

export const DEFAULTS = {
  dataDir: './mechamental-data',
  host: '127.0.0.1',
  port: 8080,
  maxTokenTtl: '365d',
  defaultGrace: '24h',
  maxBody: 1_048_576,
  logLevel: 'info',
  databasePoolSize: 10,
  readyMinFree: '16MiB',
  maxRunsPerToken: 100,
  maxChildren: 64,
  auditRetention: '365d',
  runRetention: '15m',
  /** Holds 10,000 finished small runs (≈0.9 KiB each as counted, see src/runs/service.ts) several times over, and thousands of long LLM answers. */
  runMemory: '64MiB',
  // --- The listener (see Config) ---
  /** MM_MAX_CONNECTIONS when unset: at most this many per listener (see defaultMaxConnections). */
  maxConnectionsCeiling: 4096,
  /** File descriptors kept free for everything that is not a client connection (see defaultMaxConnections). */
  fdReserve: 256,
  headersTimeout: '10s',
  requestTimeout: '30s',
  keepAliveTimeout: '5s',
  adminHost: '127.0.0.1',
  // --- Usage and webhooks ---
  usageRetention: '90d',
  webhookAddresses: 'private',
  webhookTimeout: '10s',
  webhookRetryFor: '24h',
  webhookRetention: '30d',
} as const;

/**
 * The default cap on open connections per listener: 4096, or half of what the open-file limit
 * leaves after a reserve of 256 descriptors, whichever is lower (at least 64).
 *
 * Why: every connection holds a file descriptor, and so do the database, the log, child processes'
 * pipes (three per `command` run) and upstream sockets (one per `http`/`openai` run); a server that
 * runs out of descriptors fails everything at once (issue 9: 20k half-open connections stopped
 * /healthz). Halving leaves one descriptor of headroom per connection for the run it may start.
 * 4096 is far above what the local services of one appliance open, and bounds the memory a flood
 * can pin (each connection may buffer up to 16 KiB of headers). Raise it with MM_MAX_CONNECTIONS
 * (and the open-file limit) for thousands of concurrent streams.
 */
export function defaultMaxConnections(openFileLimit: number | undefined): number {
  if (openFileLimit === undefined || !Number.isFinite(openFileLimit)) return DEFAULTS.maxConnectionsCeiling;
  return Math.max(64, Math.min(DEFAULTS.maxConnectionsCeiling, Math.floor((openFileLimit - DEFAULTS.fdReserve) / 2)));
}

export interface ConfigFlags {
  dataDir?: string | undefined;
  databaseUrl?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

const duration = (name: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a duration such as 365d or 24h (got "${text}")` });
      return z.NEVER;
    }
    return ms;
  });

const BYTES = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i;
const bytes = (name: string) =>
  z.union([z.number(), z.string()]).transform((input, ctx) => {
    const match = BYTES.exec(String(input).trim());
    const unit = (match?.[2] ?? 'b').toLowerCase();
    const n = match ? Number(match[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1_048_576 : 1) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a size in bytes such as 1048576 or 1MiB (got "${input}")` });
      return z.NEVER;
    }
    return n;
  });

/** A whole number from 1 to `max`, from a variable or a default. */
const count = (name: string, max: number) =>
  z.union([z.number(), z.string()]).transform((input, ctx) => {
    const text = String(input).trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1 || n > max) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a whole number from 1 to ${max} (got "${input}")` });
      return z.NEVER;
    }
    return n;
  });

const port = (name: string) =>
  z.union([z.number(), z.string()]).transform((input, ctx) => {
    const text = String(input).trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 65535) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a whole number from 0 to 65535 (got "${input}")` });
      return z.NEVER;
    }
    return n;
  });

const positiveInteger = (name: string) =>
  z.string().transform((text, ctx) => {
    const n = Number(text.trim());
    if (!/^\d+$/.test(text.trim()) || n < 1 || !Number.isSafeInteger(n)) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a whole number of at least 1 (got "${text}")` });
      return z.NEVER;
    }
    return n;
  });

const flag = (name: string) =>
  z.string().transform((text, ctx) => {
    const value = text.trim().toLowerCase();
    if (value === '1' || value === 'true' || value === 'yes') return true;
    if (value === '0' || value === 'false' || value === 'no' || value === '') return false;
    ctx.addIssue({ code: 'custom', message: `${name} must be 1 or 0 (got "${text}")` });
    return z.NEVER;
  });

/** A DNS name or an IP literal (IPv6 in brackets), as it may appear in a Host header without its port. */
const HOST_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;
const hostList = z.string().transform((text, ctx) => {
  const names = text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  for (const name of names) {
    if (name !== '*' && !HOST_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', message: `MM_ALLOWED_HOSTS must be comma-separated host names without ports, such as "mm.example.com,mm" (or * for any); "${name}" is not one` });
      return z.NEVER;
    }
  }
  return names;
});

/** MM_TRUSTED_PROXIES: comma-separated addresses and CIDR ranges (`loopback` names 127.0.0.0/8 and ::1). */
const proxyList = z.string().transform((text, ctx) => {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const ranges: string[] = [];
  for (const entry of entries) {
    if (entry.toLowerCase() === 'loopback') {
      ranges.push('127.0.0.0/8', '::1');
      continue;
    }
    const range = parseIpRange(entry);
    if (!range) {
      ctx.addIssue({ code: 'custom', message: `MM_TRUSTED_PROXIES must be comma-separated addresses or CIDR ranges of your proxies, such as "10.0.0.0/8,2001:db8::1" (or "loopback"); "${entry.slice(0, 60)}" is not one` });
      return z.NEVER;
    }
    ranges.push(formatIpRange(range));
  }
  return [...new Set(ranges)];
});

const schema = z.object({
  dataDir: z.string().min(1, 'the data directory must not be empty'),
  host: z.string().min(1, 'the host must not be empty'),
  port: port('the port'),
  maxTokenTtlMs: duration('MM_MAX_TOKEN_TTL'),
  defaultGraceMs: duration('MM_ROTATE_GRACE'),
  maxBodyBytes: bytes('MM_MAX_BODY'),
  databaseUrl: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      // postgres:// or postgresql://, then something; multi-host URLs (host1:5432,host2:5432) are not
      // WHATWG URLs, so the driver is left to parse the rest. Never quote the text: it may hold a password.
      if (!/^postgres(?:ql)?:\/\/[^\s]+$/.test(text.trim())) {
        ctx.addIssue({ code: 'custom', message: 'MM_DATABASE_URL (--database-url) must be a URL such as postgres://user:password@host:5432/mechamental' });
        return z.NEVER;
      }
      return text.trim();
    }),
  databasePoolSize: count('MM_DATABASE_POOL', 1000),
  readyMinFreeBytes: bytes('MM_READY_MIN_FREE'),
  maxRunsPerToken: count('MM_MAX_RUNS_PER_TOKEN', 1_000_000),
  maxChildren: count('MM_MAX_CHILDREN', 100_000),
  auditRetentionMs: z.string().transform((text, ctx) => {
    if (text.trim().toLowerCase() === 'forever') return null;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 86_400_000) {
      ctx.addIssue({ code: 'custom', message: `MM_AUDIT_RETENTION must be a duration of at least a day, such as 365d, or "forever" (got "${text}")` });
      return z.NEVER;
    }
    return ms;
  }),
  runRetentionMs: duration('MM_RUN_RETENTION'),
  runMemoryBytes: bytes('MM_RUN_MEMORY'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: (issue) => `MM_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${String(issue.input)}")`,
  }),
  // --- The listener ---
  maxConnections: positiveInteger('MM_MAX_CONNECTIONS').nullable(),
  headersTimeoutMs: duration('MM_HEADERS_TIMEOUT'),
  requestTimeoutMs: duration('MM_REQUEST_TIMEOUT'),
  keepAliveTimeoutMs: duration('MM_KEEP_ALIVE_TIMEOUT'),
  allowedHosts: hostList,
  adminHost: z.string().trim().min(1, 'MM_ADMIN_HOST must not be empty'),
  adminPort: port('MM_ADMIN_PORT').nullable(),
  allowRemoteCommands: flag('MM_ALLOW_REMOTE_COMMANDS'),
  tlsCertFile: z.string().nullable(),
  tlsKeyFile: z.string().nullable(),
  trustedProxies: proxyList,
  // --- Usage and webhooks ---
  usageRetentionMs: duration('MM_USAGE_RETENTION'),
  webhookAddresses: z.enum(['public', 'private', 'any'], {
    error: (issue) => `MM_WEBHOOK_ADDRESSES must be one of public, private, any (got "${String(issue.input)}")`,
  }),
  webhookTimeoutMs: duration('MM_WEBHOOK_TIMEOUT'),
  webhookRetryForMs: duration('MM_WEBHOOK_RETRY_FOR'),
  webhookRetentionMs: duration('MM_WEBHOOK_RETENTION'),
});

/** An unset or empty variable or flag (templated environments often pass `MM_TLS_CERT=`). */
function given(value: string | undefined): string | null {
  return value === undefined || value.trim() === '' ? null : value;
}

/** Builds the Config; a bad value is a usage error that names the flag or variable. */
export function loadConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags = {}): Config {
  const result = schema.safeParse({
    dataDir: flags.dataDir ?? env.MM_DATA_DIR ?? DEFAULTS.dataDir,
    host: flags.host ?? env.MM_HOST ?? DEFAULTS.host,
    port: flags.port ?? env.MM_PORT ?? DEFAULTS.port,
    maxTokenTtlMs: env.MM_MAX_TOKEN_TTL ?? DEFAULTS.maxTokenTtl,
    defaultGraceMs: env.MM_ROTATE_GRACE ?? DEFAULTS.defaultGrace,
    maxBodyBytes: env.MM_MAX_BODY ?? DEFAULTS.maxBody,
    logLevel: env.MM_LOG_LEVEL ?? DEFAULTS.logLevel,
    databaseUrl: flags.databaseUrl ?? env.MM_DATABASE_URL,
    databasePoolSize: env.MM_DATABASE_POOL ?? DEFAULTS.databasePoolSize,
    readyMinFreeBytes: env.MM_READY_MIN_FREE ?? DEFAULTS.readyMinFree,
    maxRunsPerToken: env.MM_MAX_RUNS_PER_TOKEN ?? DEFAULTS.maxRunsPerToken,
    maxChildren: env.MM_MAX_CHILDREN ?? DEFAULTS.maxChildren,
    auditRetentionMs: env.MM_AUDIT_RETENTION ?? DEFAULTS.auditRetention,
    runRetentionMs: env.MM_RUN_RETENTION ?? DEFAULTS.runRetention,
    runMemoryBytes: env.MM_RUN_MEMORY ?? DEFAULTS.runMemory,
    // --- The listener ---
    maxConnections: given(env.MM_MAX_CONNECTIONS),
    headersTimeoutMs: env.MM_HEADERS_TIMEOUT ?? DEFAULTS.headersTimeout,
    requestTimeoutMs: env.MM_REQUEST_TIMEOUT ?? DEFAULTS.requestTimeout,
    keepAliveTimeoutMs: env.MM_KEEP_ALIVE_TIMEOUT ?? DEFAULTS.keepAliveTimeout,
    allowedHosts: env.MM_ALLOWED_HOSTS ?? '',
    adminHost: env.MM_ADMIN_HOST ?? DEFAULTS.adminHost,
    adminPort: given(env.MM_ADMIN_PORT),
    allowRemoteCommands: env.MM_ALLOW_REMOTE_COMMANDS ?? '',
    tlsCertFile: given(flags.tlsCert ?? env.MM_TLS_CERT),
    tlsKeyFile: given(flags.tlsKey ?? env.MM_TLS_KEY),
    trustedProxies: env.MM_TRUSTED_PROXIES ?? '',
    // --- Usage and webhooks ---
    usageRetentionMs: env.MM_USAGE_RETENTION ?? DEFAULTS.usageRetention,
    webhookAddresses: env.MM_WEBHOOK_ADDRESSES?.trim().toLowerCase() || DEFAULTS.webhookAddresses,
    webhookTimeoutMs: env.MM_WEBHOOK_TIMEOUT ?? DEFAULTS.webhookTimeout,
    webhookRetryForMs: env.MM_WEBHOOK_RETRY_FOR ?? DEFAULTS.webhookRetryFor,
    webhookRetentionMs: env.MM_WEBHOOK_RETENTION ?? DEFAULTS.webhookRetention,
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AppError('usage', `invalid configuration: ${issue?.message ?? 'unknown problem'}`);
  }
  return checkListener(result.data);
}

/** The rules that tie listener settings together. */
function checkListener(parsed: Config): Config {
  const fail = (message: string) => new AppError('usage', `invalid configuration: ${message}`);
  if (parsed.headersTimeoutMs > parsed.requestTimeoutMs) {
    throw fail(`MM_HEADERS_TIMEOUT (${parsed.headersTimeoutMs / 1000} s) must not be longer than MM_REQUEST_TIMEOUT (${parsed.requestTimeoutMs / 1000} s): the whole request includes its headers`);
  }
  if ((parsed.tlsCertFile === null) !== (parsed.tlsKeyFile === null)) {
    throw fail('--tls-cert and --tls-key (MM_TLS_CERT, MM_TLS_KEY) go together: give both files for HTTPS, or neither');
  }
  if (parsed.usageRetentionMs < 86_400_000) throw fail('MM_USAGE_RETENTION must be at least 1d: usage is counted per day');
  if (parsed.webhookTimeoutMs > 120_000) throw fail('MM_WEBHOOK_TIMEOUT must be at most 120s: a receiver should answer quickly and do slow work afterwards');
  return parsed;
}

/**
 * The admin listener's port for a main listener on `mainPort`: MM_ADMIN_PORT when set, otherwise
 * the main port + 1 (0, a free port, when the main port is 0). A usage error past 65535.
 */
export function adminPortFor(config: Pick<Config, 'adminPort'>, mainPort: number): number {
  if (config.adminPort !== null) return config.adminPort;
  if (mainPort === 0) return 0;
  if (mainPort + 1 > 65535) throw new AppError('usage', `invalid configuration: the admin API's port defaults to the main port + 1, which is past 65535 for port ${mainPort}; set MM_ADMIN_PORT`);
  return mainPort + 1;
}
