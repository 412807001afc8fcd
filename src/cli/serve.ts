import { startServer } from '../http/server';
import type { Command } from './context';

/** The signals that stop the server gracefully. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the HTTP server (what a bare `mechamental` runs)',
  usage: 'serve [--host HOST] [--port PORT]',
  help: [
    'Options:',
    '  --host HOST   address to listen on (env MM_HOST, default 127.0.0.1)',
    '  --port PORT   port to listen on (env MM_PORT, default 8080; 0 picks a free one)',
    '',
    'Logs are JSON lines on stdout (MM_LOG_LEVEL). SIGTERM or SIGINT stops the server gracefully:',
    'open event streams end with run.failed "shutting_down", last-use times are written, exit 0.',
  ].join('\n'),
  options: { host: { type: 'string' }, port: { type: 'string' } },
  async run(ctx) {
    const config = ctx.config({ host: ctx.string('host'), port: ctx.string('port') });
    const services = await ctx.services('cli');
    const server = await startServer(services, { host: config.host, port: config.port });
    // One write for the whole banner, so that a reader never sees half of it.
    const banner = [`mechamental listening on ${server.url}`];
    const apps = await services.apps.list();
    let hasActiveToken = false;
    for (const app of apps) if (!hasActiveToken && (await services.tokens.countActive(app.slug)) > 0) hasActiveToken = true;
    if (!hasActiveToken) {
      const app = apps.find((a) => a.slug === 'default')?.slug ?? apps[0]?.slug ?? 'default';
      banner.push('No active token yet. Create one (its value is shown once) with:', `  mechamental tokens create --app ${app} --name "CI/CD Pipeline" --expires 30d`);
    }
    ctx.out(banner.join('\n'));

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (name: NodeJS.Signals) => {
        for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
        resolve(name);
      };
      for (const s of STOP_SIGNALS) process.on(s, onSignal);
    });
    server.logger.info({ signal }, 'stop signal received');
    await server.close();
    return 0;
  },
};
