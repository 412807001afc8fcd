// Builds the web console (web/) into the files `serve` answers under /console/: index.html (from
// web/index.html, naming the hashed files) and assets/ with content-hashed names, which may be cached
// for ever. build.mjs embeds the result in the executable; the development server builds the same
// files on first use (src/http/console/assets.ts), so both serve identical bytes for one source.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_DIR = path.join(ROOT, 'web');

/** Browsers the console is built for: what Debian's chromium and current Firefox and Safari run. */
const TARGETS = ['chrome111', 'firefox111', 'safari16.4'];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function hashOf(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('base64url').slice(0, 10);
}

/**
 * The console's files: `{ files: { 'index.html': { type, body }, 'assets/main-<hash>.js': … },
 * inputs }`, bodies as Buffers. Throws on any esbuild error or warning (a warning is a behaviour
 * change to look at, as in build.mjs), naming it.
 */
export async function buildWebAssets() {
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: { main: 'web/main.tsx' },
      outdir: 'console-assets',
      entryNames: '[name]-[hash]',
      write: false,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: TARGETS,
      minify: true,
      legalComments: 'none',
      jsx: 'automatic',
      charset: 'utf8',
      metafile: true,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
  } catch (error) {
    throw new Error(`bundling the console (web/) failed:\n${(error.errors ?? []).map((e) => `  ${e.location?.file ?? ''}:${e.location?.line ?? ''} ${e.text}`).join('\n') || error.message}`);
  }
  if (result.warnings.length > 0) {
    throw new Error(`bundling the console (web/) warned:\n${result.warnings.map((w) => `  ${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`).join('\n')}`);
  }
  const files = {};
  const names = {};
  for (const output of result.outputFiles) {
    const name = path.basename(output.path);
    const ext = path.extname(name);
    if (!(ext in TYPES)) throw new Error(`the console bundle produced ${name}, of a type the server does not serve`);
    files[`assets/${name}`] = { type: TYPES[ext], body: Buffer.from(output.contents) };
    names[ext] = name;
  }
  if (!names['.js'] || !names['.css']) throw new Error('the console bundle must produce one .js and one .css file (does web/main.tsx import web/styles.css?)');
  const icon = fs.readFileSync(path.join(WEB_DIR, 'favicon.svg'));
  const iconName = `favicon-${hashOf(icon)}.svg`;
  files[`assets/${iconName}`] = { type: TYPES['.svg'], body: icon };

  const template = fs.readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
  const html = fill(template, { SCRIPT: `assets/${names['.js']}`, STYLE: `assets/${names['.css']}`, ICON: `assets/${iconName}` });
  files['index.html'] = { type: TYPES['.html'], body: Buffer.from(html) };
  return { files, inputs: Object.keys(result.metafile.inputs) };
}

/** Replaces each `{{NAME}}` in the template, exactly once; a missing or unknown placeholder is an error. */
function fill(template, values) {
  let html = template;
  for (const [key, value] of Object.entries(values)) {
    const parts = html.split(`{{${key}}}`);
    if (parts.length !== 2) throw new Error(`web/index.html must hold {{${key}}} exactly once`);
    html = parts.join(value);
  }
  const left = /\{\{[A-Z]+\}\}/.exec(html);
  if (left) throw new Error(`web/index.html holds an unknown placeholder ${left[0]}`);
  return html;
}
