import { AppError } from '../errors';
import type { Command } from './context';

export const tuiCommand: Command = {
  name: 'tui',
  summary: 'open the terminal UI on the database file (works with or without the server)',
  usage: 'tui',
  options: {},
  run() {
    throw new AppError('internal', 'tui is not built yet');
  },
};
