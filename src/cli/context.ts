import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config';
import { DURATION_HELP, parseDuration, parseTime } from '../duration';
import { AppError } from '../errors';
import { TOKEN_STATUSES, type TokenStatus } from '../tokens/status';
import { openServices, type Services } from '../services';
import type { Actor } from '../audit/audit';
import { systemClock } from '../clock';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
export type OptionSpecs = Record<string, OptionSpec>;

/** Where a command writes; tests of the CLI run the real process, so this is only process I/O. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Standard input (`tokens revoke --values -`); default process.stdin. */
  stdin?: NodeJS.ReadableStream;
}

/** A one-shot command's SQLite page cache (KiB): SQLite's own default. */
const ONE_SHOT_PAGE_CACHE_KIB = 2_000;

/** Options every command accepts, before or after the command and its arguments. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export interface Command {
  /** e.g. "tokens create" */
  name: string;
  summary: string;
  /** Usage line(s) after "mechamental ". */
  usage: string;
  /** Longer help: options and examples. */
  help?: string;
  options: OptionSpecs;
  /** How many positional arguments the command takes (names, for the usage error). */
  positionals?: string[];
  run(ctx: CommandContext): Promise<number | void> | number | void;
}

/** What a running command gets: its parsed arguments, the configuration and the services. */
export class CommandContext {
  private openedServices: Promise<Services> | undefined;
  private clock = systemClock;

  constructor(
    readonly command: Command,
    readonly values: Record<string, string | boolean | string[] | undefined>,
    readonly positionals: string[],
    readonly io: Io,
  ) {}

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** A required option; missing → usage error naming it. */
  required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') {
      throw new AppError('usage', `${this.command.name}: --${name} is required (usage: mechamental ${this.command.usage.split('\n')[0]})`);
    }
    return value;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  get json(): boolean {
    return this.flag('json');
  }

  /** The positional argument at `index`; missing → usage error naming it. */
  arg(index: number): string {
    const value = this.positionals[index];
    if (value === undefined) {
      const name = this.command.positionals?.[index] ?? 'argument';
      throw new AppError('usage', `${this.command.name}: <${name}> is missing (usage: mechamental ${this.command.usage.split('\n')[0]})`);
    }
    return value;
  }

  config(extra: { host?: string | undefined; port?: string | undefined } = {}): Config {
    return loadConfig(this.io.env, { dataDir: this.string('data-dir'), databaseUrl: this.string('database-url'), ...extra });
  }

  /**
   * Opens the store once per command run, as `actor`; closed when the command ends. A one-shot
   * command reads with SQLite's own page cache (2,000 KiB); `longLived` (serve, the TUI) keeps the
   * larger one a process that reads the same pages again and again is built with.
   */
  services(actor: Actor = 'cli', options: { longLived?: boolean } = {}): Promise<Services> {
    this.openedServices ??= openServices(this.config(), { actor, ...(options.longLived ? {} : { pageCacheKiB: ONE_SHOT_PAGE_CACHE_KIB }) }).then((services) => {
      this.clock = services.clock;
      return services;
    });
    return this.openedServices;
  }

  /** Now, by the services' clock. */
  now(): number {
    return this.clock.now();
  }

  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  err(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  printJson(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  async close(): Promise<void> {
    const opened = this.openedServices;
    this.openedServices = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}

/**
 * `--opt -5d` as `--opt=-5d`: a value that starts with a dash and a digit is a (negative) value, not
 * an option, so that it reaches the check that explains what is wrong with it instead of the
 * parser's "ambiguous".
 */
function joinDashValues(args: string[], options: OptionSpecs): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/** Parses `args` for `command` (its options plus the global ones); unknown options are usage errors. */
export function parseCommandArgs(command: Command, args: string[]): { values: CommandContext['values']; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args: joinDashValues(args, { ...GLOBAL_OPTIONS, ...command.options }),
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    const max = command.positionals?.length ?? 0;
    if (parsed.positionals.length > max) {
      throw new AppError('usage', `${command.name}: unexpected argument "${parsed.positionals[max]}" (usage: mechamental ${command.usage.split('\n')[0]})`);
    }
    return { values: parsed.values as CommandContext['values'], positionals: parsed.positionals };
  } catch (error) {
    if (error instanceof AppError) throw error;
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new AppError('usage', `${command.name}: ${message} (see mechamental ${command.name} --help)`);
  }
}

/** An expiry option (`--expires`): a duration or an RFC 3339 time, else a usage error (exit 2) that says what it takes. */
export function expiryOption(ctx: CommandContext, name: string, required: true): string;
export function expiryOption(ctx: CommandContext, name: string, required: false): string | undefined;
export function expiryOption(ctx: CommandContext, name: string, required: boolean): string | undefined {
  const text = required ? ctx.required(name) : ctx.string(name);
  if (text === undefined) return undefined;
  if (parseDuration(text) === undefined && parseTime(text) === undefined) {
    const hint = /^-/.test(text) ? ' (it must be in the future)' : /^\d+$/.test(text) ? ` (with a unit: ${text}d? ${text}h?)` : '';
    throw new AppError('usage', `${ctx.command.name}: --${name} "${text.slice(0, 40)}" is neither ${DURATION_HELP}${hint}`);
  }
  return text;
}

/** A token status option (`--status`): one of the statuses, else a usage error (exit 2). */
export function statusOption(ctx: CommandContext, name = 'status'): TokenStatus | undefined {
  const text = ctx.string(name);
  if (text === undefined) return undefined;
  if (!(TOKEN_STATUSES as readonly string[]).includes(text)) {
    throw new AppError('usage', `${ctx.command.name}: --${name} "${text.slice(0, 40)}" is not a token status; use one of ${TOKEN_STATUSES.join(', ')}`);
  }
  return text as TokenStatus;
}

/** Parses a whole number option such as --limit; a bad one is a usage error. */
export function integerOption(ctx: CommandContext, name: string): number | undefined {
  const text = ctx.string(name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new AppError('usage', `${ctx.command.name}: --${name} must be a whole number (got "${text}")`);
  return Number(text);
}
