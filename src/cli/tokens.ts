import { AppError } from '../errors';
import { requireStatus, type IssuedToken, type TokenView } from '../tokens/service';
import { unusedFilter } from '../tokens/usage-report';
import { integerOption, type Command, type CommandContext } from './context';
import { relative, table } from './format';

export function printTokens(ctx: CommandContext, tokens: TokenView[], empty: string): void {
  if (ctx.json) return ctx.printJson({ tokens });
  if (tokens.length === 0) return ctx.out(empty);
  const now = ctx.now();
  ctx.out(
    table(
      ['ID', 'NAME', 'HINT', 'STATUS', 'EXPIRES', 'LAST USED'],
      tokens.map((t) => [t.id, t.name, t.hint, t.status, `${t.expires_at} (${relative(t.expires_at, now)})`, relative(t.last_used_at, now)]),
    ),
  );
}

export function printToken(ctx: CommandContext, token: TokenView, summary: string): void {
  if (ctx.json) return ctx.printJson({ token });
  ctx.out(`${summary}\n  id       ${token.id}\n  name     ${token.name}\n  status   ${token.status}\n  expires  ${token.expires_at} (${relative(token.expires_at, ctx.now())})`);
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

const json = { json: { type: 'boolean' } } as const;

export const tokenCommands: Command[] = [
  {
    name: 'tokens list',
    summary: "list an app's tokens (never their values)",
    usage: 'tokens list --app APP [--status active|expiring|expired|revoked] [--unused 30d] [--json]',
    help: '--unused 30d lists the active tokens not used for 30 days, never-used ones older than that included:\ncandidates for revocation.',
    options: { app: { type: 'string' }, status: { type: 'string' }, unused: { type: 'string' }, ...json },
    async run(ctx) {
      const app = ctx.required('app');
      const status = ctx.string('status');
      const unused = ctx.string('unused');
      const unusedForMs = unusedOption(unused);
      const tokens = await (await ctx.services()).tokens.list(app, { status: status === undefined ? undefined : requireStatus(status), unusedForMs });
      if (unused !== undefined && tokens.length === 0 && !ctx.json) return ctx.out(`Every active token of app "${app}" was used within ${unused} (or is younger than that).`);
      printTokens(ctx, tokens, `App "${app}" has no ${status ?? ''}${status ? ' ' : ''}tokens. Create one with: mechamental tokens create --app ${app} --name "CI/CD Pipeline" --expires 30d`);
    },
  },
  {
    name: 'tokens create',
    summary: 'create a token; its value is shown once',
    usage: 'tokens create --app APP --name NAME --expires 30d|RFC3339 [--rate-limit PER_MINUTE] [--json]',
    help: 'Expiry: a duration (15m, 12h, 30d, 2w, 1y) or an RFC 3339 time, at most MM_MAX_TOKEN_TTL (365d) away.\nExample: mechamental tokens create --app default --name "CI/CD Pipeline" --expires 90d',
    options: { app: { type: 'string' }, name: { type: 'string' }, expires: { type: 'string' }, 'rate-limit': { type: 'string' }, ...json },
    async run(ctx) {
      const issued = await (await ctx.services()).tokens.create(
        { app: ctx.required('app'), name: ctx.required('name'), expires: ctx.required('expires'), rateLimit: rateLimitOption(ctx) ?? null },
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
    summary: 'revoke a token at once and for good',
    usage: 'tokens revoke TOKEN_ID [--json]',
    positionals: ['token-id'],
    options: { ...json },
    async run(ctx) {
      const token = await (await ctx.services()).tokens.revoke(requireTriggerId(ctx.arg(0)), 'cli');
      printToken(ctx, token, `Revoked token ${token.id} ("${token.name}"); requests with it now get 401.`);
    },
  },
  {
    name: 'tokens refresh',
    summary: "extend an active token's expiry; the value stays the same",
    usage: 'tokens refresh TOKEN_ID --expires 30d|RFC3339 [--json]',
    positionals: ['token-id'],
    options: { expires: { type: 'string' }, ...json },
    async run(ctx) {
      const token = await (await ctx.services()).tokens.refresh(requireTriggerId(ctx.arg(0)), ctx.required('expires'), 'cli');
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
      const issued = await (await ctx.services()).tokens.rotate(requireTriggerId(ctx.arg(0)), { grace: ctx.string('grace'), expires: ctx.string('expires') }, 'cli');
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
    summary: 'list admin tokens (never their values)',
    usage: 'admin-tokens list [--json]',
    options: { ...json },
    async run(ctx) {
      printTokens(ctx, await (await ctx.services()).tokens.listAdmin(), 'There are no admin tokens. Create one with: mechamental admin-tokens create --name ops --expires 30d');
    },
  },
  {
    name: 'admin-tokens create',
    summary: 'create an admin token for the admin HTTP API; its value is shown once',
    usage: 'admin-tokens create --name NAME --expires 30d|RFC3339 [--json]',
    options: { name: { type: 'string' }, expires: { type: 'string' }, ...json },
    async run(ctx) {
      const issued = await (await ctx.services()).tokens.createAdmin({ name: ctx.required('name'), expires: ctx.required('expires') }, 'cli');
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
