import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { abortReason } from './abort';
import { childEnvironment } from './child-env';
import { redactSecrets, runFailure } from './failure';
import { serializeInput } from './input';
import type { PipelineRunner } from './types';

/** How much of stderr a failure quotes (its tail), and the most stdout a run may produce. */
const STDERR_TAIL_CHARS = 1_000;
const MAX_STDOUT_BYTES = 16 * 1_048_576;

/**
 * `command`: spawns `argv` without a shell, in a process group of its own (`detached`), writes the
 * input JSON to stdin, streams each stdout line as a delta (with its newline, so deltas add up to
 * stdout). Exit 0 → the output is the stdout text; otherwise `pipeline_failed`, with the stderr tail
 * as the internal detail (the config's `env` values redacted). On abort (client gone, token
 * revoked, timeout, shutdown) the whole group is killed.
 *
 * Invariants: the input is serialised before the process is started, so an input that cannot be
 * serialised never leaves a child behind; the child's environment is `childEnvironment(config.env)`,
 * never the server's.
 */
export const commandRunner: PipelineRunner<'command'> = {
  kind: 'command',
  defaultTimeoutMs: 300_000,
  run(config, input, ctx) {
    return new Promise((resolve, reject) => {
      const { signal } = ctx;
      if (signal.aborted) return reject(abortReason(signal));
      const [program, ...args] = config.argv;
      let stdin: string;
      let child: ChildProcessWithoutNullStreams;
      try {
        stdin = serializeInput(input);
        child = spawn(program!, args, { cwd: config.cwd, env: childEnvironment(config.env), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (error) {
        // Nothing was started (serialising comes first; a spawn that throws started nothing).
        return reject(error);
      }
      const envSecrets = Object.values(config.env ?? {});
      let settled = false;
      let stdout = '';
      let stdoutBytes = 0;
      let partial = '';
      let stderr = '';

      const killGroup = () => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already gone
        }
      };
      const finish = (error: unknown, output?: string) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(output);
        else reject(error);
      };
      const onAbort = () => {
        killGroup();
        finish(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });

      child.on('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'ENOENT' ? 'the program was not found' : error.code === 'EACCES' ? 'permission denied' : error.message;
        finish(runFailure(`cannot run "${program}": ${why}; check the pipeline's argv and cwd`));
      });
      child.stdin.on('error', () => {
        // The program may exit without reading its input (EPIPE); its exit status tells the story.
      });
      child.stdin.end(stdin);

      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        if (settled) return;
        stdoutBytes += Buffer.byteLength(chunk);
        if (stdoutBytes > MAX_STDOUT_BYTES) {
          killGroup();
          finish(runFailure(`the command wrote more than ${MAX_STDOUT_BYTES} bytes to stdout; it was stopped`));
          return;
        }
        stdout += chunk;
        // Search only the new chunk: a long line without a newline is appended to, never rescanned
        // (rescanning it on every chunk would make such output quadratic).
        let start = 0;
        let newline = chunk.indexOf('\n');
        while (newline !== -1) {
          const line = chunk.slice(start, newline + 1);
          ctx.onDelta(partial === '' ? line : partial + line);
          partial = '';
          start = newline + 1;
          newline = chunk.indexOf('\n', start);
        }
        if (start < chunk.length) partial += start === 0 ? chunk : chunk.slice(start);
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
      });
      child.on('close', (code, killedBy) => {
        if (settled) return;
        if (partial !== '') ctx.onDelta(partial);
        partial = '';
        if (code === 0) return finish(undefined, stdout);
        const status = code === null ? `was killed by ${killedBy}` : `exited with code ${code}`;
        const tail = redactSecrets(stderr.trim(), envSecrets);
        finish(runFailure(`the command ${status}${tail ? `: ${tail}` : ' (no stderr output)'}`));
      });
    });
  },
};
