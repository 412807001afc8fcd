import { describeStorageError } from '../db/errors';
import { isAppError } from '../errors';
import { redactTokenValues } from '../tokens/value';
import { VERSION } from '../version';
import { appCommands, pipelineCommands } from './apps';
import { consoleCommand } from './console';
import { CommandContext, parseCommandArgs, type Command, type Io } from './context';
import { dbCommands } from './db';
import { healthcheckCommand } from './healthcheck';
import { maintenanceCommands } from './maintenance';
import { serveCommand } from './serve';
import { adminTokenCommands, tokenCommands } from './tokens';
import { tuiCommand } from './tui';
import { tokenUsageCommand } from './usage';
import { webhookCommands } from './webhooks';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  serveCommand,
  tuiCommand,
  consoleCommand,
  ...appCommands,
  ...pipelineCommands,
  ...tokenCommands,
  tokenUsageCommand,
  ...adminTokenCommands,
  ...webhookCommands,
  ...maintenanceCommands,
  ...dbCommands,
  healthcheckCommand,
];

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `mechamental ${VERSION}: authenticated access to local pipelines, with API tokens, on one SQLite file.`,
    '',
    'Usage: mechamental [command] [options]      (a bare `mechamental` runs `serve`)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `mechamental COMMAND --help` for its options.',
    '',
    'Global options (anywhere on the line):',
    '  --data-dir DIR   where the SQLite database lives (env MM_DATA_DIR, default ./mechamental-data)',
    '  --database-url postgres://…   use PostgreSQL instead (env MM_DATABASE_URL); every command works on either',
    '  --help, -h       help for any command',
    '  --version        print the version',
    '',
    'First token: mechamental tokens create --app default --name "CI/CD Pipeline" --expires 30d',
  ].join('\n');
}

function commandHelp(command: Command): string {
  return [`Usage: mechamental ${command.usage}`, '', `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`, command.help ? `\n${command.help}` : '', '\nGlobal: --data-dir DIR (env MM_DATA_DIR), --database-url URL (env MM_DATABASE_URL), --help']
    .filter((line) => line !== '')
    .join('\n');
}

/**
 * The words that name the command: the leading arguments that are not options, one word or, for a
 * group such as `tokens`, two. Only `--data-dir DIR` and `--database-url URL` may stand before them; everything else goes
 * to the command's own parser.
 */
function commandWords(argv: string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  let sawCommandOption = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const wanted = words.length === 0 || (words.length === 1 && GROUPS.has(words[0]!));
    if (arg === '--data-dir' || arg === '--database-url') {
      rest.push(arg, ...argv.slice(i + 1, i + 2));
      i++;
    } else if (wanted && !sawCommandOption && !arg.startsWith('-')) {
      words.push(arg);
    } else {
      if (arg.startsWith('-') && !arg.startsWith('--data-dir=') && !arg.startsWith('--database-url=')) sawCommandOption = true;
      rest.push(arg);
    }
  }
  return { words, rest };
}

/**
 * Runs one command line and answers its exit code: 0 success, 1 failure, 2 usage error. Errors
 * are one line on stderr; unexpected ones say so (set MM_DEBUG=1 for the stack).
 */
export async function runCli(argv: string[], io: Io): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  const { words, rest } = commandWords(argv);
  if (words.length === 0 && (rest.includes('--help') || rest.includes('-h'))) {
    io.stdout.write(`${overview()}\n`);
    return EXIT_OK;
  }
  if (words.length === 0 && rest.includes('--version')) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  const name = words.length === 0 ? 'serve' : words.join(' ');
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    if (words.length === 1 && GROUPS.has(words[0]!)) {
      const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `)).map((c) => c.name.split(' ')[1]);
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(`${COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `)).map((c) => `mechamental ${c.usage}\n    ${c.summary}`).join('\n')}\n`);
        return EXIT_OK;
      }
      io.stderr.write(`mechamental: "${words[0]}" needs a subcommand: ${subcommands.join(', ')} (see mechamental ${words[0]} --help)\n`);
    } else {
      // A value pasted in the wrong place is never echoed (it would land in terminal scrollback and CI logs).
      io.stderr.write(`mechamental: unknown command "${redactTokenValues(name)}"; run mechamental --help for the list\n`);
    }
    return EXIT_USAGE;
  }

  let ctx: CommandContext | undefined;
  try {
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help === true) {
      io.stdout.write(`${commandHelp(command)}\n`);
      return EXIT_OK;
    }
    ctx = new CommandContext(command, values, positionals, io);
    const code = await command.run(ctx);
    return code ?? EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  } finally {
    try {
      await ctx?.close();
    } catch (error) {
      reportError(error, io);
    }
  }
}

function reportError(thrown: unknown, io: Io): number {
  const error = describeStorageError(thrown);
  if (isAppError(error)) {
    io.stderr.write(`mechamental: ${redactTokenValues(error.message)}\n`);
    return error.code === 'usage' ? EXIT_USAGE : EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`mechamental: unexpected error: ${redactTokenValues(message)}${io.env.MM_DEBUG ? `\n${(error as Error).stack ?? ''}` : ' (set MM_DEBUG=1 for details)'}\n`);
  return EXIT_FAILURE;
}

