import { spawn, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

/** What a finished child process left: its exit code (-1 if killed) and its output. */
export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args` to its end, collecting stdout and stderr (stdin is closed). */
export function runCollecting(command: string, args: string[], options: Omit<SpawnOptions, 'stdio'> = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Is process `pid` still running? A zombie (exited, not yet reaped) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
