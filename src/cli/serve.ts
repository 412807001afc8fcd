import { AppError } from '../errors';
import type { Command } from './context';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the HTTP server (what a bare `mechamental` runs)',
  usage: 'serve [--host HOST] [--port PORT]',
  options: { host: { type: 'string' }, port: { type: 'string' } },
  run() {
    throw new AppError('internal', 'serve is not built yet');
  },
};
