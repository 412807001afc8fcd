// Makes sure dist/mechamental is there and newer than everything it is built from; builds it
// otherwise. Run under `flock` by test/binary/helpers/binary.ts, so that test files running in
// parallel build once. Prints the binary's path.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BINARY = path.join(ROOT, 'dist/mechamental');
const SOURCES = ['src', 'tui', 'web', 'migrations', 'build', 'build.mjs', 'package.json', 'package-lock.json'];

function newestMtime(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))));
}

const built = fs.existsSync(BINARY) ? fs.statSync(BINARY).mtimeMs : 0;
const newest = Math.max(...SOURCES.map((s) => newestMtime(path.join(ROOT, s))));
if (built <= newest) {
  const result = spawnSync(process.execPath, ['build.mjs', '--skip-figures'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(`npm run build failed:\n${result.stdout}${result.stderr}`);
    process.exit(1);
  }
}
process.stdout.write(BINARY);
