import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The PATH a child gets when the server itself has none. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

let privateHome: string | undefined;

/**
 * The HOME of `command` children: an empty directory of this process's own (mkdtemp: mode 0700,
 * owned by this user), created on first use, removed when the process exits. All runs of this
 * process share it; it starts empty, so no child finds the server's dotfiles or credentials there.
 */
export function childHome(): string {
  if (privateHome !== undefined && fs.existsSync(privateHome)) return privateHome;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mechamental-home-'));
  if (privateHome === undefined) process.once('exit', removeChildHome);
  privateHome = dir;
  return dir;
}

/**
 * Removes the private HOME (called at exit). A child that outlives the server may still write into
 * it; that child runs as the same user, so nothing it could place there (a symlink, say) makes the
 * removal touch anything it could not touch itself. rmSync never follows symlinks.
 */
function removeChildHome(): void {
  if (privateHome === undefined) return;
  try {
    fs.rmSync(privateHome, { recursive: true, force: true });
  } catch {
    // at exit, nothing useful can be done about it
  }
}

/**
 * The whole environment of a `command` child: the server's `PATH` (so argv[0] resolves as it does
 * for the server), `LANG` (the server's, else C.UTF-8), `HOME` (see `childHome`), then the config's
 * `env`, which may override any of these.
 *
 * Invariant: no other variable of the server reaches the child (the server's environment may hold
 * API keys, e.g. those that `openai` pipelines name in `api_key_env`).
 */
export function childEnvironment(configEnv: Record<string, string> | undefined, serverEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    PATH: serverEnv.PATH || FALLBACK_PATH,
    LANG: serverEnv.LANG || 'C.UTF-8',
    HOME: childHome(),
    ...configEnv,
  };
}
