import net from 'node:net';
import path from 'node:path';
import { DEFAULTS, loadConfig, type Config } from '../config';
import { AppError, firstLine, isAppError } from '../errors';
import { isLoopbackHost } from '../http/host-check';
import { startServer, type RunningServer } from '../http/server';
import { loadTlsMaterial } from '../http/tls';
import type { Services } from '../services';
import type { Command, CommandContext } from './context';

/** The signals that stop the server gracefully. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** How long a fatal stop waits for the log to be written before exiting anyway (ms). */
const FATAL_FLUSH_MS = 2_000;

/** What `serve` prints once it listens: the addresses and, on a database with no active token, how to make one. */
async function banner(services: Services, server: RunningServer, config: Config): Promise<string> {
  const lines = [`mechamental listening on ${server.url}`];
  if (server.adminServer) {
    const local = isLoopbackHost(new URL(server.adminUrl).hostname);
    lines.push(`admin API on ${server.adminUrl}${local ? ' (this machine only; MM_ADMIN_HOST, MM_ADMIN_PORT)' : ' (MM_ADMIN_HOST: reachable beyond this machine)'}`);
  }
  const apps = await services.apps.list();
  let hasActiveToken = false;
  for (const app of apps) if (!hasActiveToken && (await services.tokens.countActive(app.slug)) > 0) hasActiveToken = true;
  if (!hasActiveToken) {
    const app = apps.find((a) => a.slug === 'default')?.slug ?? apps[0]?.slug ?? 'default';
    // The hint names this server's store, so that running it creates the token where the server looks.
    const where = config.databaseUrl !== undefined ? '' : path.resolve(config.dataDir) === path.resolve(DEFAULTS.dataDir) ? '' : ` --data-dir ${shellQuote(config.dataDir)}`;
    const env = config.databaseUrl !== undefined ? 'MM_DATABASE_URL=… ' : '';
    lines.push('No active token yet. Create one (its value is shown once) with:', `  ${env}mechamental tokens create --app ${app} --name "CI/CD Pipeline" --expires 30d${where}`);
  }
  return lines.join('\n');
}

/** Resolves when `host:port` can be bound now; otherwise the same one-line error the server gives. */
function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new AppError('io_error', `cannot listen on ${host}:${port}: the port is already in use; stop the other process or choose another port with --port or MM_PORT`));
      } else resolve(); // other problems (no such address, permission) are reported by the real listen, with their own advice
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** `text` as one shell word. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A server that fails after it began listening must not keep a listener open on a broken state:
 * an uncaught exception (or unhandled rejection) logs, stops every listener at once, says so in
 * one line on stderr and exits 1. Answers the function that removes the handler.
 */
function exitOnUncaught(ctx: CommandContext, server: RunningServer): () => void {
  const onFatal = (error: unknown, origin: string) => {
    try {
      server.logger.fatal({ err: error, origin }, 'unexpected error: the server stops rather than serve in an unknown state');
    } catch {
      // the log itself may be what failed
    }
    server.abort();
    ctx.err(`mechamental: the server stopped after an unexpected error: ${firstLine(error)} (the log has the details)`);
    try {
      ctx.close();
    } catch {
      // the database may be what failed
    }
    const exit = () => process.exit(1);
    setTimeout(exit, FATAL_FLUSH_MS);
    try {
      server.logger.flush(exit);
    } catch {
      exit();
    }
  };
  process.on('uncaughtException', onFatal);
  return () => process.removeListener('uncaughtException', onFatal);
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the HTTP server (what a bare `mechamental` runs)',
  usage: 'serve [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE]',
  help: [
    'Options:',
    '  --host HOST       address to listen on (env MM_HOST, default 127.0.0.1)',
    '  --port PORT       port to listen on (env MM_PORT, default 8080; 0 picks a free one)',
    '  --tls-cert FILE   serve HTTPS with this PEM certificate, chain after it (env MM_TLS_CERT); needs --tls-key',
    '  --tls-key FILE    its PEM private key, unencrypted (env MM_TLS_KEY); SIGHUP re-reads both files',
    '',
    'Listener settings (environment; docs/configuration.md):',
    '  MM_MAX_CONNECTIONS        open connections per listener; more are closed at once',
    '                            (default 4096, or half of the open-file limit minus 256 if that is lower)',
    '  MM_HEADERS_TIMEOUT        request line and headers must arrive within this, else 408 (default 10s)',
    '  MM_REQUEST_TIMEOUT        the whole request, body included, within this, else 408 (default 30s)',
    '  MM_KEEP_ALIVE_TIMEOUT     an idle keep-alive connection is closed after this (default 5s)',
    '  MM_ALLOWED_HOSTS          more Host names to answer for, comma-separated, or * for any; others get 421',
    '                            (always answered: localhost, 127.0.0.1, [::1], IP addresses; and this',
    "                            machine's name and the --host name when listening beyond loopback)",
    '  MM_ADMIN_HOST             where the admin API listens when --host is not loopback (default 127.0.0.1;',
    '                            another address exposes it); with --host on loopback it is on the main listener',
    '  MM_ADMIN_PORT             its port (default the main port + 1)',
    '  MM_ALLOW_REMOTE_COMMANDS  1: the admin API may create and change command pipelines',
    '                            (default 0: 403 local_only; the CLI and the TUI always can)',
    '',
    'Logs are JSON lines on stdout (MM_LOG_LEVEL). SIGTERM or SIGINT stops the server gracefully:',
    'open event streams end with run.failed "shutting_down", last-use times are written, exit 0.',
    'A failure after the server began listening stops it: one line on stderr, exit 1.',
  ].join('\n'),
  options: { host: { type: 'string' }, port: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } },
  async run(ctx) {
    const config = loadConfig(ctx.io.env, {
      dataDir: ctx.string('data-dir'),
      databaseUrl: ctx.string('database-url'),
      host: ctx.string('host'),
      port: ctx.string('port'),
      tlsCert: ctx.string('tls-cert'),
      tlsKey: ctx.string('tls-key'),
    });
    // Bad TLS files are refused before the data directory is touched.
    if (config.tlsCertFile !== null && config.tlsKeyFile !== null) loadTlsMaterial(config.tlsCertFile, config.tlsKeyFile);
    // So is a port that is taken: nothing is created or seeded for a server that cannot start.
    if (config.port !== 0) await assertPortFree(config.host, config.port);
    const services = await ctx.services('cli', { longLived: true });
    const server = await startServer(services, { host: config.host, port: config.port, config });
    const stopWatching = exitOnUncaught(ctx, server);
    try {
      // One write for the whole banner, so that a reader never sees half of it.
      ctx.out(await banner(services, server, config));
    } catch (error) {
      server.abort();
      server.logger.fatal({ err: error }, 'failed right after it began listening: stopped');
      await new Promise<void>((resolve) => server.logger.flush(() => resolve()));
      stopWatching();
      throw new AppError('internal', `the server stopped right after it started: ${firstLine(error)}`);
    }

    const onHangUp = () => {
      server.logger.info({ signal: 'SIGHUP' }, 'reloading the TLS certificate and key');
      server.reloadTls();
    };
    // Without TLS there is nothing to reload, and SIGHUP keeps its default meaning (the terminal went away: stop).
    if (server.tls) process.on('SIGHUP', onHangUp);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (name: NodeJS.Signals) => {
        for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
        resolve(name);
      };
      for (const s of STOP_SIGNALS) process.on(s, onSignal);
    });
    process.removeListener('SIGHUP', onHangUp);
    server.logger.info({ signal }, 'stop signal received');
    await server.close();
    stopWatching();
    return 0;
  },
};
