// Run by npm after `npm ci` / `npm install` (package.json "postinstall"): the fixes an installed
// package needs at run time, not only in the single executable's bundle (see build/patches.mjs).
// Idempotent; stops the install when a file is not the one a patch was written for.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INK_FRAME_CACHES, patchInkFrameCaches, patchPostgresConnection, POSTGRES_NEXT_WRITE } from './patches.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const patches = [
  { name: 'POSTGRES_NEXT_WRITE', files: POSTGRES_NEXT_WRITE.files, patch: patchPostgresConnection },
  { name: 'INK_FRAME_CACHES', files: Object.keys(INK_FRAME_CACHES.files), patch: patchInkFrameCaches },
];
for (const { name, files, patch } of patches) {
  for (const file of files) {
    const full = path.join(root, file);
    if (!fs.existsSync(full)) continue; // a package not installed has nothing to patch
    const source = fs.readFileSync(full, 'utf8');
    const patched = patch(source, file);
    if (patched !== source) {
      fs.writeFileSync(full, patched);
      console.log(`postinstall: ${file} patched (${name}, build/patches.mjs)`);
    }
  }
}
