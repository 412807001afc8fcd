import { AppError } from '../errors';
import type { Command } from './context';

export const tuiCommand: Command = {
  name: 'tui',
  summary: 'open the terminal UI on the database file (works with or without the server)',
  usage: 'tui [--app APP]',
  help: [
    'Screens: the app list, then an app with the tabs Tokens, Pipelines and Audit.',
    'Tokens tab keys: c create, r revoke, f refresh, o rotate, / filter, ? help, q or esc back, ↑↓ or j/k move.',
    'Options:',
    '  --app APP   open this app directly',
    'Honours NO_COLOR. Changes take effect in a running server at once; its changes show here within a second.',
  ].join('\n'),
  options: { app: { type: 'string' } },
  async run(ctx) {
    // Open (and migrate) the database before loading the UI: an unopenable file is one clear line and exit 1.
    const services = await ctx.services('tui', { longLived: true });
    const app = ctx.string('app');
    if (app !== undefined) await services.apps.require(app);
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new AppError('usage', 'tui needs an interactive terminal (stdin and stdout a TTY); in scripts use `mechamental tokens …`');
    }
    // Ink renders only the final frame when it believes it runs in CI (env CI or CONTINUOUS_INTEGRATION,
    // read once when Ink loads). Both ends are a terminal here, so a person is looking: say so to Ink.
    for (const name of ['CI', 'CONTINUOUS_INTEGRATION']) {
      if (process.env[name] !== undefined) process.env[name] = 'false';
    }
    // Loaded on demand so that other commands do not pay for Ink and React. The one place the UI is
    // imported: a bundler may rewrite this import (Ink and yoga use top-level await).
    const { runTui } = await import('../../tui/index');
    await runTui(services, { app, env: ctx.io.env });
  },
};
