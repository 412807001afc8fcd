import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/** A fresh, empty temporary directory, removed after the current test file. */
export function tempDir(prefix = 'mm-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A data directory path (not yet created) inside a fresh temp dir. */
export function tempDataDir(): string {
  return path.join(tempDir(), 'data');
}

/** Every byte under `dir` (files only), for "this secret appears nowhere on disk" checks. */
export function readAllBytes(dir: string): Buffer {
  const chunks: Buffer[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) chunks.push(fs.readFileSync(full));
    }
  };
  walk(dir);
  return Buffer.concat(chunks);
}
