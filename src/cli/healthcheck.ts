import { AppError } from '../errors';
import type { Command } from './context';

export const healthcheckCommand: Command = {
  name: 'healthcheck',
  summary: 'exit 0 when the server answers /healthz (for container health checks)',
  usage: 'healthcheck [--host HOST] [--port PORT]',
  options: { host: { type: 'string' }, port: { type: 'string' } },
  run() {
    throw new AppError('internal', 'healthcheck is not built yet');
  },
};
