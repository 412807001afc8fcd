import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { applyInstallPatch, exportsRunTui, INK_FRAME_CACHES, INK_RECONCILER, INSTALL_PATCHES, MIGRATE, patchInkReconciler, patchMigrate } from '../../build/patches.mjs';
import { REPO_ROOT } from '../helpers/cli';

// The build changes two files on their way into the bundle, and the install one of the PostgreSQL
// driver's (two patches) and four of Ink's; these guards make them stop when those files change,
// rather than ship a patch that no longer applies.

const inkSource = fs.readFileSync(path.join(REPO_ROOT, INK_RECONCILER.file), 'utf8');
const migrateSource = fs.readFileSync(path.join(REPO_ROOT, MIGRATE.file), 'utf8');

describe('build guards (build/patches.mjs)', () => {
  test("Ink's reconciler: the pinned file loses its top-level awaits and import.meta", () => {
    const patched = patchInkReconciler(inkSource);
    assert.doesNotMatch(patched, /^\S.*\bawait\b/m, 'no await outside a function at column 0');
    assert.doesNotMatch(patched, /^\s*await import\(/m);
    assert.doesNotMatch(patched, /import\.meta/);
    assert.match(patched, /const packageJson = \{ name: undefined, version: undefined \};/);
  });

  test("Ink's reconciler: any other file stops the build with a message that says what to do", () => {
    assert.throws(() => patchInkReconciler(`${inkSource}\n// a newer Ink`), /is not the file whose top-level awaits this build removes .*Ink was upgraded: read the new file, update INK_RECONCILER/);
    assert.throws(() => patchInkReconciler(inkSource.replace("await import('./devtools.js');", "await import('./devtools.mjs');")), /Ink was upgraded/);
  });

  test('migrations.ts: the development branch becomes dead code; a changed line stops the build', () => {
    assert.match(patchMigrate(migrateSource), /true \/\* __MM_MIGRATIONS__ is defined by build\.mjs \*\//);
    assert.throws(() => patchMigrate(migrateSource.replace(MIGRATE.from, "__MM_MIGRATIONS__ !== undefined")), /src\/db\/migrations\.ts: expected exactly one occurrence .*found 0; update MIGRATE/);
  });

  for (const patch of INSTALL_PATCHES) {
    test(`${patch.name}: installed patched (npm ci's postinstall); the patch applies to the released files, once; another file stops the install`, () => {
      for (const [file, replacements] of Object.entries(patch.files)) {
        const installed = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
        assert.ok(installed.includes(patch.marker), `${file} is patched`);
        assert.equal(applyInstallPatch(patch, installed, file), installed, 'patching again changes nothing');
        // The file as released: each replacement undone.
        let released = installed;
        for (const [from, to] of replacements) released = released.replace(to, from);
        assert.ok(!released.includes(patch.marker), file);
        assert.equal(applyInstallPatch(patch, released, file), installed);
        const [firstFrom] = replacements[0]!;
        assert.throws(() => applyInstallPatch(patch, released.replace(firstFrom, '// a newer release'), file), (error: Error) => {
          assert.match(error.message, /expected exactly one occurrence .*found 0; /);
          assert.ok(error.message.includes(`${patch.upgraded}, then update or remove ${patch.name} in build/patches.mjs`), error.message);
          return true;
        });
      }
      assert.throws(() => applyInstallPatch(patch, '', 'node_modules/ink/build/ink.js'), new RegExp(`not a file of ${patch.name}`));
    });
  }
  test('the install patches say what to check when a release changed the texts', () => {
    assert.match(INSTALL_PATCHES.find((p) => p.name === 'POSTGRES_NEXT_WRITE')!.upgraded, /postgres was upgraded: check whether it fixed porsager\/postgres#1208/);
    assert.match(INSTALL_PATCHES.find((p) => p.name === 'POSTGRES_FETCH_TYPES')!.upgraded, /postgres was upgraded: check whether it fixed porsager\/postgres#1192/);
    assert.match(INK_FRAME_CACHES.upgraded, /Ink was upgraded: check whether it keeps its caches across frames now/);
  });

  test("Ink's frame caches: every frame shares them, they stay bounded however many lines were shown, and a frame is what was written", async () => {
    type Frame = { write(x: number, y: number, text: string, options: { transformers: unknown[] }): void; get(): { output: string }; caches: { styledChars: Map<string, unknown>; widths: Map<string, number> } };
    const { default: Output } = (await import(pathToFileURL(path.join(REPO_ROOT, 'node_modules/ink/build/output.js')).href)) as { default: new (size: { width: number; height: number }) => Frame };
    const frame = (line: string) => {
      const output = new Output({ width: 80, height: 1 });
      output.write(0, 0, line, { transformers: [] });
      return output;
    };
    assert.equal(frame('a').caches, frame('b').caches, 'one set of caches for consecutive frames');
    let lines = 0;
    let widths = 0;
    for (let i = 0; i < 3_000; i++) {
      const line = `› token ${i} \u001b[32mactive\u001b[39m — in 3d`;
      const output = frame(line);
      assert.equal(output.get().output, line, 'the frame holds the line as written');
      lines = Math.max(lines, output.caches.styledChars.size);
      widths = Math.max(widths, output.caches.widths.size);
    }
    assert.ok(lines > 100 && lines <= 501, `lines kept across frames, at most 500 and one frame's (at most ${lines})`);
    assert.ok(widths <= 10_001, `widths kept: at most ${widths}`);
  });

  test('the TUI entry must export runTui', () => {
    assert.equal(exportsRunTui('export async function runTui(services) {}'), true);
    assert.equal(exportsRunTui('export const runTui = async () => {}'), true);
    assert.equal(exportsRunTui('export { runTui, other }'), true);
    assert.equal(exportsRunTui('export function render() {}'), false);
    const entry = path.join(REPO_ROOT, 'tui/index.tsx');
    if (fs.existsSync(entry)) assert.equal(exportsRunTui(fs.readFileSync(entry, 'utf8')), true, 'tui/index.tsx');
  });
});
