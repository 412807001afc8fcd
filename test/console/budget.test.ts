import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildWebAssets } from '../../build/web-assets.mjs';

/** SPEC/issue 16: the console's JavaScript and CSS together, gzipped, at most 150 KiB. */
const BUDGET_BYTES = 150 * 1024;

test('the console fits its budget: JS + CSS ≤ 150 KiB gzipped; it has no source map, no development React and no other server named', async (t) => {
  const { files, inputs } = await buildWebAssets();
  const code = Object.entries(files).filter(([file]) => /\.(js|css)$/.test(file));
  assert.equal(code.length, 2, Object.keys(files).join(', '));
  const gzipped = code.reduce((sum, [, { body }]) => sum + gzipSync(body, { level: 9 }).length, 0);
  const raw = code.reduce((sum, [, { body }]) => sum + body.length, 0);
  t.diagnostic(`JS + CSS: ${(raw / 1024).toFixed(1)} KiB, ${(gzipped / 1024).toFixed(1)} KiB gzipped (budget ${BUDGET_BYTES / 1024} KiB)`);
  assert.ok(gzipped <= BUDGET_BYTES, `${gzipped} bytes gzipped`);
  assert.ok(!inputs.some((input) => /\.development\.js$/.test(input)), 'React in production mode');
  assert.ok(!inputs.some((input) => input.includes('node_modules/zod') || input.includes('node_modules/drizzle')), `server-side libraries in the bundle: ${inputs.join(', ')}`);
  for (const [file, { body }] of code) assert.doesNotMatch(body.toString('utf8'), /sourceMappingURL|fonts\.googleapis|cdn\./, file);
});
