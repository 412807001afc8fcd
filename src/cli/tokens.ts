import { AppError } from '../errors';
import type { IssuedToken, TokenView } from '../tokens/service';
import { DEFAULT_PAGE_LIMIT } from '../paging';
import { unusedFilter } from '../tokens/usage-report';
import { expiryOption, integerOption, statusOption, type Command, type CommandContext } from './context';
import { relative } from './format';
import { PAGING_OPTIONS, pagingHelp, printPaged, type PagedList } from './paged-output';

const TOKEN_HEADERS = ['ID', 'NAME', 'HINT', 'STATUS', 'EXPIRES', 'LAST USED', 'PIPELINES', 'ALLOWED IPS'];

/** One token as a row of `tokens list`. */
function tokenCells(t: TokenView, now: number): string[] {
  return [
    t.id,
    t.name,
    t.hint,
    t.status,
    `${t.expires_at} (${relative(t.expires_at, now)})`,
    relative(t.last_used_at, now),
    t.app === null ? '' : (t.pipelines?.join(',') ?? 'all'),
    t.app === null ? '' : (t.allowed_ips?.join(',') ?? 'any'),
  ];
}

/** An argument as the shell takes it back (for the "next page" note). */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** `tokens list` and `admin-tokens list`: page by page (see printPaged). */
async function listTokens(ctx: CommandContext, options: { fetch: PagedList<TokenView>['fetch']; empty: string; again: string }): Promise<void> {
  await printPaged(ctx, {
    fetch: options.fetch,
    jsonKey: 'tokens',
    headers: TOKEN_HEADERS,
    cells: (token) => tokenCells(token, ctx.now()),
    empty: options.empty,
    again: options.again,
    defaultLimit: DEFAULT_PAGE_LIMIT,
  });
}

export function printToken(ctx: CommandContext, token: TokenView, summary: string): void {
  if (ctx.json) return ctx.printJson({ token });
  const now = ctx.now();
  const lines = [
    summary,
    `  id           ${token.id}`,
    `  name         ${token.name}`,
    ...(token.description ? [`  description  ${token.description}`] : []),
    `  status       ${token.status}`,
    `  expires      ${token.expires_at} (${relative(token.expires_at, now)})`,
    `  last used    ${relative(token.last_used_at, now)}${token.last_used_ip ? ` from ${token.last_used_ip}` : ''}`,
  ];
  if (token.app !== null) {
    lines.push(`  pipelines    ${token.pipelines?.join(', ') ?? `all of app ${token.app}`}`, `  allowed IPs  ${token.allowed_ips?.join(', ') ?? 'any'}`);
  }
  ctx.out(lines.join('\n'));
}

/**
 * Prints a newly issued value: alone on stdout (so `$(mechamental tokens create …)` captures just
 * the value), the explanation on stderr. With --json, the create answer as the HTTP API gives it.
 */
export function printIssued(ctx: CommandContext, issued: IssuedToken & { previous?: TokenView }, headline: string): void {
  if (ctx.json) return ctx.printJson(issued);
  ctx.err(`${headline}\n  id       ${issued.token.id}\n  name     ${issued.token.name}\n  expires  ${issued.token.expires_at} (${relative(issued.token.expires_at, ctx.now())})`);
  if (issued.previous) ctx.err(`  the previous token ${issued.previous.id} keeps working until ${issued.previous.expires_at}`);
  ctx.err('\nThe token value follows. Copy it now: it will not be shown again.');
  ctx.out(issued.value);
  ctx.err('Use it as the header  Authorization: Bearer <value>');
}

/** `--unused 30d` as milliseconds; a bad duration is a usage error. */
function unusedOption(text: string | undefined): number | undefined {
  try {
    return unusedFilter(text, '--unused');
  } catch (error) {
    throw new AppError('usage', `tokens list: ${(error as Error).message}`);
  }
}

function rateLimitOption(ctx: CommandContext): number | undefined {
  return integerOption(ctx, 'rate-limit');
}

/** A list option given as comma-separated text, once or several times; undefined when absent. */
function listOption(ctx: CommandContext, name: string): string[] | undefined {
  const given = ctx.values[name];
  if (given === undefined) return undefined;
  const texts = Array.isArray(given) ? given : [String(given)];
  return texts
    .flatMap((text) => text.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** The most bytes `--values -` reads from standard input. */
const MAX_VALUES_INPUT = 16 * 1_048_576;

/** Standard input as text (at most MAX_VALUES_INPUT bytes). */
async function readInput(ctx: CommandContext): Promise<string> {
  const input = ctx.io.stdin ?? process.stdin;
  if ((input as { isTTY?: boolean }).isTTY) ctx.err('Reading token values from standard input, one a line; end with Ctrl-D.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_VALUES_INPUT) throw new AppError('usage', `tokens revoke --values -: standard input is larger than ${MAX_VALUES_INPUT / 1_048_576} MiB; split it`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `tokens revoke --values -`: revokes every valid token among the values on standard input (one a
 * line). Never echoes a value, not even in an error: it says how many it read and revoked.
 */
async function revokeValues(ctx: CommandContext, source: string): Promise<void> {
  if (source !== '-') {
    throw new AppError('usage', 'tokens revoke: --values reads token values from standard input only: pass `--values -` and pipe them in, one a line (a value on the command line ends up in shell history)');
  }
  if (ctx.positionals.length > 0) throw new AppError('usage', 'tokens revoke: give either a token id or `--values -`, not both');
  const values = (await readInput(ctx))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (values.length === 0) {
    throw new AppError('usage', 'tokens revoke --values -: no values on standard input; pipe them in one a line, e.g. `mechamental tokens revoke --values - < leaked.txt`');
  }
  const { revoked } = await (await ctx.services()).tokens.revokeLeaked(values, 'cli');
  if (ctx.json) return ctx.printJson({ received: values.length, revoked });
  const others = values.length - revoked;
  ctx.out(
    `Read ${values.length} value${values.length === 1 ? '' : 's'}; revoked ${revoked} token${revoked === 1 ? '' : 's'}.` +
      (others > 0 ? ` ${others === values.length ? 'None' : `The other ${others}`} ${others === 1 ? 'was' : 'were'} not a working token of this server (unknown, malformed, repeated or revoked already).` : ''),
  );
}

const json = { json: { type: 'boolean' } } as const;

export const tokenCommands: Command[] = [
  {
    name: 'tokens list',
    summary: "list an app's tokens, newest first (never their values)",
    usage: 'tokens list --app APP [--status active|expiring|expired|revoked] [--search TEXT] [--unused 30d] [--limit N] [--cursor C] [--all] [--json]',
    help: [
      '--search TEXT   only tokens whose name contains TEXT (case-insensitive)',
      '--unused 30d    the active tokens not used for 30 days, never-used ones older than that included:',
      '                candidates for revocation',
      pagingHelp('tokens', DEFAULT_PAGE_LIMIT),
    ].join('\n'),
    options: { app: { type: 'string' }, status: { type: 'string' }, search: { type: 'string' }, unused: { type: 'string' }, ...PAGING_OPTIONS, ...json },
    async run(ctx) {
      const app = ctx.required('app');
      const status = statusOption(ctx);
      const search = ctx.string('search') || undefined;
      const unused = ctx.string('unused');
      const unusedForMs = unusedOption(unused);
      const services = await ctx.services();
      // A filter that matches nothing is not a reason to create a token.
      const empty =
        unused !== undefined && status === undefined && search === undefined
          ? `Every active token of app "${app}" was used within ${unused} (or is younger than that).`
          : status === undefined && search === undefined && unused === undefined
            ? `App "${app}" has no tokens. Create one with: mechamental tokens create --app ${app} --name "CI/CD Pipeline" --expires 30d`
            : `App "${app}" has no ${status ?? ''}${status ? ' ' : ''}tokens${search === undefined ? '' : ` whose name contains "${search}"`}${unused === undefined ? '' : ` unused for ${unused}`}.`;
      const again = [
        'mechamental tokens list --app',
        shellWord(app),
        ...(status ? ['--status', status] : []),
        ...(search ? ['--search', shellWord(search)] : []),
        ...(unused !== undefined ? ['--unused', shellWord(unused)] : []),
      ].join(' ');
      await listTokens(ctx, { fetch: (cursor, limit) => services.tokens.page(app, { status, search, unusedForMs, cursor, limit }), empty, again });
    },
  },
  {
    name: 'tokens create',
    summary: 'create a token; its value is shown once',
    usage:
      'tokens create --app APP --name NAME --expires 30d|RFC3339 [--rate-limit PER_MINUTE] [--description TEXT] [--pipelines SLUG,…] [--allowed-ips ADDR|CIDR,…] [--json]',
    help: [
      'Expiry: a duration (15m, 12h, 30d, 2w, 1y) or an RFC 3339 time, at most MM_MAX_TOKEN_TTL (365d) away.',
      'Restrictions (optional, fixed for the life of the token; a rotation keeps them):',
      '  --description TEXT      up to 500 characters for people',
      '  --pipelines a,b         only these pipelines of the app (they must exist); default: all',
      '  --allowed-ips LIST      only from these addresses or CIDR ranges (IPv4 or IPv6); default: any',
      'Example: mechamental tokens create --app default --name "CI/CD Pipeline" --expires 90d --pipelines chat --allowed-ips 203.0.113.0/24',
    ].join('\n'),
    options: {
      app: { type: 'string' },
      name: { type: 'string' },
      expires: { type: 'string' },
      'rate-limit': { type: 'string' },
      description: { type: 'string' },
      pipelines: { type: 'string', multiple: true },
      'allowed-ips': { type: 'string', multiple: true },
      ...json,
    },
    async run(ctx) {
      const issued = await (await ctx.services()).tokens.create(
        {
          app: ctx.required('app'),
          name: ctx.required('name'),
          expires: expiryOption(ctx, 'expires', true),
          rateLimit: rateLimitOption(ctx) ?? null,
          description: ctx.string('description'),
          pipelines: listOption(ctx, 'pipelines'),
          allowedIps: listOption(ctx, 'allowed-ips'),
        },
        'cli',
      );
      printIssued(ctx, issued, `Created token "${issued.token.name}" for app ${issued.token.app}.`);
    },
  },
  {
    name: 'tokens show',
    summary: 'show one token (never its value)',
    usage: 'tokens show TOKEN_ID [--json]',
    positionals: ['token-id'],
    options: { ...json },
    async run(ctx) {
      const token = await (await ctx.services()).tokens.get(requireTriggerId(ctx.arg(0)));
      printToken(ctx, token, `Token ${token.id} of app ${token.app}`);
    },
  },
  {
    name: 'tokens revoke',
    summary: 'revoke a token at once and for good (or every token among leaked values on stdin)',
    usage: 'tokens revoke TOKEN_ID [--json]\n       tokens revoke --values - [--json]   (values on standard input, one a line)',
    help: 'With `--values -`, reads token values (mm_tok_…, mm_adm_…) from standard input, one a line, and revokes every one that\nthis server issued and that still works; it prints how many it revoked, never the values.\nExample: mechamental tokens revoke --values - < leaked.txt',
    positionals: ['token-id'],
    options: { values: { type: 'string' }, ...json },
    async run(ctx) {
      const source = ctx.string('values');
      if (source !== undefined) return revokeValues(ctx, source);
      const services = await ctx.services();
      const id = requireTriggerId(ctx.arg(0));
      // Revoking is idempotent; say so when nothing changed instead of claiming to revoke again.
      const before = await services.tokens.get(id);
      const token = await services.tokens.revoke(id, 'cli');
      printToken(
        ctx,
        token,
        before.revoked_at !== null
          ? `Token ${token.id} ("${token.name}") was already revoked at ${before.revoked_at}; nothing changed.`
          : `Revoked token ${token.id} ("${token.name}"); requests with it now get 401.`,
      );
    },
  },
  {
    name: 'tokens refresh',
    summary: "extend an active token's expiry; the value stays the same",
    usage: 'tokens refresh TOKEN_ID --expires 30d|RFC3339 [--json]',
    positionals: ['token-id'],
    options: { expires: { type: 'string' }, ...json },
    async run(ctx) {
      const token = await (await ctx.services()).tokens.refresh(requireTriggerId(ctx.arg(0)), expiryOption(ctx, 'expires', true), 'cli');
      printToken(ctx, token, `Refreshed token ${token.id} ("${token.name}"); its value is unchanged.`);
    },
  },
  {
    name: 'tokens rotate',
    summary: 'replace a token: new value now, the old one expires after a grace period',
    usage: 'tokens rotate TOKEN_ID [--grace 24h] [--expires 30d|RFC3339] [--json]',
    positionals: ['token-id'],
    options: { grace: { type: 'string' }, expires: { type: 'string' }, ...json },
    async run(ctx) {
      const issued = await (await ctx.services()).tokens.rotate(requireTriggerId(ctx.arg(0)), { grace: ctx.string('grace'), expires: expiryOption(ctx, 'expires', false) }, 'cli');
      printIssued(ctx, issued, `Rotated token "${issued.token.name}": update your integration to the new value, then revoke the old one.`);
    },
  },
];

function requireTriggerId(id: string): string {
  if (id.startsWith('mm_')) {
    // Someone pasted a value where an id belongs; say so without echoing it.
    throw new AppError('usage', 'that looks like a token value, not a token id; pass the id (tok_…) shown by `mechamental tokens list`');
  }
  return id;
}

export const adminTokenCommands: Command[] = [
  {
    name: 'admin-tokens list',
    summary: 'list admin tokens, newest first (never their values)',
    usage: 'admin-tokens list [--status active|expiring|expired|revoked] [--limit N] [--cursor C] [--all] [--json]',
    help: pagingHelp('tokens', DEFAULT_PAGE_LIMIT),
    options: { status: { type: 'string' }, ...PAGING_OPTIONS, ...json },
    async run(ctx) {
      const status = statusOption(ctx);
      const services = await ctx.services();
      await listTokens(ctx, {
        fetch: (cursor, limit) => services.tokens.pageAdmin({ status, cursor, limit }),
        empty:
          status === undefined ? 'There are no admin tokens. Create one with: mechamental admin-tokens create --name ops --expires 30d' : `There are no ${status} admin tokens.`,
        again: `mechamental admin-tokens list${status ? ` --status ${status}` : ''}`,
      });
    },
  },
  {
    name: 'admin-tokens create',
    summary: 'create an admin token for the admin HTTP API; its value is shown once',
    usage: 'admin-tokens create --name NAME --expires 30d|RFC3339 [--json]',
    options: { name: { type: 'string' }, expires: { type: 'string' }, ...json },
    async run(ctx) {
      const issued = await (await ctx.services()).tokens.createAdmin({ name: ctx.required('name'), expires: expiryOption(ctx, 'expires', true) }, 'cli');
      printIssued(ctx, issued, `Created admin token "${issued.token.name}".`);
    },
  },
  {
    name: 'admin-tokens revoke',
    summary: 'revoke an admin token at once and for good',
    usage: 'admin-tokens revoke ADMIN_TOKEN_ID [--json]',
    positionals: ['admin-token-id'],
    options: { ...json },
    async run(ctx) {
      const token = await (await ctx.services()).tokens.revoke(requireTriggerId(ctx.arg(0)), 'cli', { kind: 'admin' });
      printToken(ctx, token, `Revoked admin token ${token.id} ("${token.name}").`);
    },
  },
];
