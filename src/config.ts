import { z } from 'zod';
import { parseDuration } from './duration';
import { AppError } from './errors';

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
}

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
} as const;

export interface ConfigFlags {
  dataDir?: string | undefined;
  databaseUrl?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
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

const schema = z.object({
  dataDir: z.string().min(1, 'the data directory must not be empty'),
  host: z.string().min(1, 'the host must not be empty'),
  port: z.union([z.number(), z.string()]).transform((input, ctx) => {
    const text = String(input).trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 65535) {
      ctx.addIssue({ code: 'custom', message: `the port must be a whole number from 0 to 65535 (got "${input}")` });
      return z.NEVER;
    }
    return n;
  }),
  maxTokenTtlMs: duration('MM_MAX_TOKEN_TTL'),
  defaultGraceMs: duration('MM_ROTATE_GRACE'),
  maxBodyBytes: bytes('MM_MAX_BODY'),
  databaseUrl: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      let url: URL | undefined;
      try {
        url = new URL(text.trim());
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
        // Never quote the text: it may hold a password.
        ctx.addIssue({ code: 'custom', message: 'MM_DATABASE_URL (--database-url) must be a URL such as postgres://user:password@host:5432/mechamental' });
        return z.NEVER;
      }
      return text.trim();
    }),
  databasePoolSize: count('MM_DATABASE_POOL', 1000),
  readyMinFreeBytes: bytes('MM_READY_MIN_FREE'),
  maxRunsPerToken: count('MM_MAX_RUNS_PER_TOKEN', 1_000_000),
  maxChildren: count('MM_MAX_CHILDREN', 100_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: (issue) => `MM_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${String(issue.input)}")`,
  }),
});

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
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AppError('usage', `invalid configuration: ${issue?.message ?? 'unknown problem'}`);
  }
  return result.data;
}
