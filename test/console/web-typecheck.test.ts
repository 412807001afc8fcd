import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli';
import { runCollecting } from '../helpers/process';

// `npm run typecheck` checks everything that runs in Node; what runs in a browser (the console and
// the page functions of its browser tests) needs the DOM's types, so it is a project of its own.
for (const project of ['web/tsconfig.json', 'test/console/tsconfig.json']) {
  test(`strict TypeScript: ${project}`, async () => {
    const result = await runCollecting(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: REPO_ROOT, env: process.env });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  });
}
