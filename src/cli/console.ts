import { adminPortFor, type Config } from '../config';
import { formatTime } from '../clock';
import { SIGN_IN_CODE_TTL_MS } from '../console/sessions';
import { AppError } from '../errors';
import { hostForHeader, isLoopbackHost } from '../http/host-check';
import type { Command } from './context';

/** The path of the console's sign-in page; the code goes in the fragment, which browsers never send to a server or a log. */
export const SIGN_IN_PATH = '/console/#/sign-in?code=';

/**
 * Where the console is served, by the same rule `serve` follows: on the main listener when the
 * server listens on loopback; otherwise on the admin listener (MM_ADMIN_HOST, MM_ADMIN_PORT). A
 * wildcard address (0.0.0.0, ::) is where a server listens, not an address to open: this machine's
 * loopback is used instead. Answers the origin and the sentence that says how it was found.
 */
export function consoleOrigin(config: Config): { origin: string; how: string } {
  const scheme = config.tlsCertFile !== null ? 'https' : 'http';
  const split = !isLoopbackHost(config.host);
  let host = split ? config.adminHost : config.host;
  const port = split ? adminPortFor(config, config.port) : config.port;
  if (port === 0) {
    throw new AppError('usage', 'console: the server picks its port at start (port 0); pass --port with the port it printed ("listening on …")');
  }
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === '0.0.0.0' || bare === '::') host = bare === '::' ? '::1' : '127.0.0.1';
  const how = split
    ? `the server listens beyond loopback (MM_HOST/--host ${config.host}), so the console is on its admin listener (MM_ADMIN_HOST ${config.adminHost}, MM_ADMIN_PORT ${port})`
    : `the console is served where the server listens (MM_HOST/--host ${config.host}, MM_PORT/--port ${config.port})`;
  return { origin: `${scheme}://${hostForHeader(host)}:${port}`, how };
}

/** Whether anything answers at `origin` (one request, 1 s): undefined when it is unknown (e.g. a certificate the runtime does not trust). */
async function answers(origin: string): Promise<boolean | undefined> {
  try {
    await fetch(`${origin}/console/`, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(1_000) });
    return true;
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    return code === 'ECONNREFUSED' ? false : undefined;
  }
}

export const consoleCommand: Command = {
  name: 'console',
  summary: 'print a one-time sign-in link for the web console',
  usage: 'console [--host HOST] [--port PORT] [--json]',
  help: [
    'Prints a link that signs a browser in to the web console, once, within 10 minutes. The link',
    'alone goes to stdout (so `xdg-open "$(mechamental console)"` works); the rest goes to stderr.',
    'It signs in as a new admin token named "console sign-in": revoking that token',
    '(mechamental admin-tokens revoke adm_…) ends the session. The console also accepts an admin',
    'token pasted on its sign-in page.',
    '',
    'The address is where `serve` puts the console with the same settings: the server\'s own',
    'address on loopback (MM_HOST, MM_PORT), or its admin listener (MM_ADMIN_HOST, MM_ADMIN_PORT)',
    'when it listens beyond loopback; https when MM_TLS_CERT is set.',
    'Options:',
    '  --host HOST   the host the server listens on, if not MM_HOST',
    '  --port PORT   the port the server listens on, if not MM_PORT',
    '  --json        print {"url", "expires_at", "admin_token_id"}',
  ].join('\n'),
  options: { host: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const config = ctx.config({ host: ctx.string('host'), port: ctx.string('port') });
    const { origin, how } = consoleOrigin(config);
    const services = await ctx.services('cli');
    const { code, expiresAt, adminTokenId } = await services.console.createSignInCode('cli');
    const url = `${origin}${SIGN_IN_PATH}${code}`;
    if (ctx.json) return ctx.printJson({ url, expires_at: formatTime(expiresAt), admin_token_id: adminTokenId });
    ctx.err(`Open this link to sign in to the web console. It works once, within ${SIGN_IN_CODE_TTL_MS / 60_000} minutes (until ${formatTime(expiresAt)}):`);
    ctx.out(url);
    ctx.err(`(The address: ${how}; if the server listens elsewhere, pass --host and --port.)`);
    ctx.err(`The session belongs to the new admin token ${adminTokenId} ("console sign-in"): \`mechamental admin-tokens revoke ${adminTokenId}\` ends it.`);
    if ((await answers(origin)) === false) ctx.err(`Nothing answers at ${origin} now: start the server (mechamental serve) before opening the link.`);
  },
};
