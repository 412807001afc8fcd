import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { AppError } from '../../src/errors';
import { runPipeline, type RunnablePipeline } from '../../src/pipelines/index';
import { runTsAsync } from '../helpers/cli';

/** Runs a pipeline in this process, collecting its deltas. */
export async function run(pipeline: RunnablePipeline, input: Record<string, unknown>, signal: AbortSignal = new AbortController().signal) {
  const deltas: string[] = [];
  const output = await runPipeline(pipeline, input, { signal, onDelta: (text) => deltas.push(text) });
  return { output, deltas };
}

/** The AppError a run failed with (fails the test if it succeeded or threw something else). */
export async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the run to fail');
}

/** A small HTTP server on 127.0.0.1, port 0, closed after the test file; answers its base URL. */
export async function localServer(handler: http.RequestListener): Promise<{ url: string; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port };
}

/** Writes `piece` to `res` again and again until `total` bytes were written or the client went away (backpressure respected); answers the bytes written. */
export async function writeRepeatedly(res: http.ServerResponse, piece: Buffer, total: number, onProgress: (written: number) => void = () => {}): Promise<number> {
  let written = 0;
  while (written < total && !res.destroyed) {
    written += piece.length;
    onProgress(written);
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.removeListener('drain', done);
          res.removeListener('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  return written;
}

/** A request's whole body as text. */
export function readText(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
  });
}

/** The pids of this process's children that are still running (zombies not counted). */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const task of fs.readdirSync('/proc/self/task')) {
    const text = fs.readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim();
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/** How many file descriptors this process has open. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** What test/pipelines/fixtures/run-pipeline.ts reports about each run in a process of its own. */
export interface IsolatedRun {
  output: string;
  outputLength: number;
  deltaCount: number;
  error: { code: string; message: string; detail?: string } | undefined;
  peakRssGrowthKiB: number;
}

/** Runs pipelines one after the other in a separate node process (see the fixture) and answers their reports. */
export async function runIsolated(runs: Array<{ pipeline: RunnablePipeline; input?: Record<string, unknown> }>): Promise<IsolatedRun[]> {
  const result = await runTsAsync('test/pipelines/fixtures/run-pipeline.ts', [JSON.stringify(runs.map(({ pipeline, input }) => ({ pipeline, input: input ?? {} })))]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as IsolatedRun[];
}

/** Polls `check` until it holds (or fails the test after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs = 5_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
