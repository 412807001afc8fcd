// Run by npm after `npm ci` / `npm install` (package.json "postinstall"): the fixes an installed
// package needs at run time, not only in the single executable's bundle (see build/patches.mjs).
// Idempotent; stops the install when a file is not the one a patch was written for.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyInstallPatch, INSTALL_PATCHES } from './patches.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
for (const patch of INSTALL_PATCHES) {
  for (const file of Object.keys(patch.files)) {
    const full = path.join(root, file);
    if (!fs.existsSync(full)) continue; // a package not installed has nothing to patch
    const source = fs.readFileSync(full, 'utf8');
    const patched = applyInstallPatch(patch, source, file);
    if (patched !== source) {
      fs.writeFileSync(full, patched);
      console.log(`postinstall: ${file} patched (${patch.name}, build/patches.mjs)`);
    }
  }
}
