import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCollecting, type ProcessResult } from './process';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(REPO_ROOT, 'src/main.ts');
const TSX_IMPORT = ['--import', 'tsx'];

export type CliResult = ProcessResult;

/** The environment a CLI child gets: this one without MM_* settings, plus `env`. */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MM_')));
  return { ...base, ...env };
}

/** Runs `mechamental …args` (the development entry point) as a real child process, synchronously. */
export function runCli(args: string[], options: { dataDir?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [...TSX_IMPORT, MAIN, ...args], {
    cwd: REPO_ROOT,
    env: cliEnv({ ...(options.dataDir ? { MM_DATA_DIR: options.dataDir } : {}), ...options.env }),
    input: options.input ?? '',
    encoding: 'utf8',
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Like runCli, but concurrent (for tests that run several processes at once). */
export function runCliAsync(args: string[], options: { dataDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runTsAsync(MAIN, args, cliEnv({ ...(options.dataDir ? { MM_DATA_DIR: options.dataDir } : {}), ...options.env }));
}

/** Runs a TypeScript file of this repository with node + tsx, collecting its output. */
export function runTsAsync(file: string, args: string[], env: NodeJS.ProcessEnv = cliEnv()): Promise<CliResult> {
  return runCollecting(process.execPath, [...TSX_IMPORT, path.resolve(REPO_ROOT, file), ...args], { cwd: REPO_ROOT, env });
}

/** The command line that runs the development entry point, for tests that start it themselves (tmux, servers). */
export function devCommand(): string[] {
  return [process.execPath, ...TSX_IMPORT, MAIN];
}
