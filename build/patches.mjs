// The source changes the single executable's bundle makes, each pinned to the exact text it
// changes: if that text changes, the build stops (an Error here) instead of shipping a patch that
// silently no longer applies. Used by build.mjs; tested in test/binary/build-guards.test.ts.
import crypto from 'node:crypto';

/**
 * Ink's reconciler awaits two development-only imports at top level, which a CommonJS bundle cannot
 * hold. The bundle replaces exactly these texts, in exactly this version of the file.
 */
export const INK_RECONCILER = {
  file: 'node_modules/ink/build/reconciler.js',
  sha256: '33206e5904be42672999acd9dd9d37c6bb109176c836bf5469ac89a50ff773f2',
  replacements: [
    // Connecting React devtools (only when DEV=true) needs `ws` and `react-devtools-core`.
    ["await import('./devtools.js');", '/* React devtools are not part of the single executable */'],
    [
      `async function loadPackageJson() {
    const fs = await import('node:fs');
    const content = fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    return JSON.parse(content);
}
const packageJson = isDev()
    ? await loadPackageJson()
    : { name: undefined, version: undefined };`,
      '// The package name and version are only reported to React devtools.\nconst packageJson = { name: undefined, version: undefined };',
    ],
  ],
};

/**
 * src/db/migrations.ts reads the migrations folders only when `__MM_MIGRATIONS__` is not defined.
 * esbuild does not fold `typeof` of an array define, so the bundle states the fact itself and the
 * development branch is removed as dead code (build.mjs checks that it is gone).
 */
export const MIGRATE = { file: 'src/db/migrations.ts', from: "typeof __MM_MIGRATIONS__ !== 'undefined'", to: 'true /* __MM_MIGRATIONS__ is defined by build.mjs */' };

/**
 * src/http/console/assets.ts builds the console from web/ (with esbuild) only when
 * `__MM_CONSOLE_ASSETS__` is not defined; the bundle has it defined, and the development branch,
 * which imports build/web-assets.mjs and esbuild, is removed as dead code (build.mjs checks).
 */
export const CONSOLE_ASSETS = { file: 'src/http/console/assets.ts', from: "typeof __MM_CONSOLE_ASSETS__ !== 'undefined'", to: 'true /* __MM_CONSOLE_ASSETS__ is defined by build.mjs */' };

/**
 * Files that may mention `import.meta`, which is empty in a CommonJS bundle (build.mjs defines
 * `import.meta.url` as undefined, as esbuild would, without the warning). Any other bundled file
 * that uses it fails the build.
 * - src/db/migrations.ts: only in the development branch, which the bundle removes (MIGRATE).
 * - yoga's emscripten loader: only to locate a .wasm file, and the wasm is inlined as base64.
 */
export const IMPORT_META_ALLOWED = new Set([MIGRATE.file, 'node_modules/yoga-layout/dist/binaries/yoga-wasm-base64-esm.js']);

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

function replaceOnce(source, from, to, file, fix) {
  const parts = source.split(from);
  if (parts.length !== 2) throw new Error(`${file}: expected exactly one occurrence of ${JSON.stringify(from.slice(0, 60))}, found ${parts.length - 1}; ${fix}`);
  return parts[0] + to + parts[1];
}

/** Ink's reconciler without its top-level awaits; throws unless `source` is the pinned file. */
export function patchInkReconciler(source) {
  const actual = sha256(source);
  if (actual !== INK_RECONCILER.sha256) {
    throw new Error(
      `${INK_RECONCILER.file} is not the file whose top-level awaits this build removes (sha256 ${actual}, expected ${INK_RECONCILER.sha256}). ` +
        'Ink was upgraded: read the new file, update INK_RECONCILER in build/patches.mjs, and rebuild.',
    );
  }
  return INK_RECONCILER.replacements.reduce((text, [from, to]) => replaceOnce(text, from, to, INK_RECONCILER.file, 'update INK_RECONCILER in build/patches.mjs'), source);
}

/** src/db/migrations.ts with its development branch made dead code; throws if the guarded line changed. */
export function patchMigrate(source) {
  return replaceOnce(source, MIGRATE.from, MIGRATE.to, MIGRATE.file, 'update MIGRATE in build/patches.mjs');
}

/** src/http/console/assets.ts with its development branch made dead code; throws if the guarded line changed. */
export function patchConsoleAssets(source) {
  return replaceOnce(source, CONSOLE_ASSETS.from, CONSOLE_ASSETS.to, CONSOLE_ASSETS.file, 'update CONSOLE_ASSETS in build/patches.mjs');
}

/** Whether tui/index.tsx's source exports `runTui`, which the bundle wraps. */
export function exportsRunTui(source) {
  return /export\s+(async\s+)?function\s+runTui\b|export\s+(const|let)\s+runTui\b|export\s*\{[^}]*\brunTui\b/.test(source);
}

/**
 * postgres.js 3.4.9 sends a small write on a `setImmediate`. When the connection has lost its
 * socket by then, `nextWrite` calls `socket.write` on null and throws from the immediate: an
 * uncaught exception, which stops the server (`exitOnUncaught`), seen in the PostgreSQL outage test
 * in CI. And a close cancels that immediate without forgetting it, so a connection that reconnects
 * never schedules a write again (its queries wait forever). Reported upstream
 * (porsager/postgres#1066, #1154, #1208); the fixes proposed there (#1168, #1176, #1209) are not
 * released. This patch is #1209's: `nextWrite` on a connection without a socket fails its queries
 * with CONNECTION_CLOSED (what a close does to them anyway), and a close or a terminate forgets the
 * pending write. Applied to the installed package by build/postinstall.mjs (`npm ci` runs it), so
 * that `npm start`, the tests and the bundle all run the patched driver; build.mjs checks the
 * bundle has it. When postgres is upgraded, the texts below no longer match and the install stops:
 * check whether the release fixed it, then update or remove this patch.
 */
const NEXT_WRITE_REPLACEMENTS = [
  [
    `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    `  function nextWrite(fn) {
    if (!socket) { // mechamental: POSTGRES_NEXT_WRITE (build/patches.mjs): the socket closed since the write was scheduled
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      error(Errors.connection('CONNECTION_CLOSED', options))
      return false
    }
    const x = socket.write(chunk, fn)`,
  ],
  [
    `      error(Errors.connection('CONNECTION_DESTROYED', options))

    clearImmediate(nextWriteTimer)
`,
    `      error(Errors.connection('CONNECTION_DESTROYED', options))

    clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
`,
  ],
  [
    `    incomings = null
    clearImmediate(nextWriteTimer)
`,
    `    incomings = null
    clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
`,
  ],
];

export const POSTGRES_NEXT_WRITE = {
  name: 'POSTGRES_NEXT_WRITE',
  marker: 'mechamental: POSTGRES_NEXT_WRITE',
  // Its ES module and its CommonJS build: the bundle holds one of them.
  files: {
    'node_modules/postgres/src/connection.js': NEXT_WRITE_REPLACEMENTS,
    'node_modules/postgres/cjs/src/connection.js': NEXT_WRITE_REPLACEMENTS,
  },
  bundled: 'one',
  upgraded: 'postgres was upgraded: check whether it fixed porsager/postgres#1208',
};

/**
 * postgres.js 3.4.9 fetches the array types on every new connection (`fetch_types`, on by default)
 * from `ReadyForQuery` and drops the promise: when that query fails (the backend is terminated or
 * PostgreSQL stops while a connection starts, or the query is cancelled), the rejection has no
 * handler, an unhandled rejection that stops the server (`exitOnUncaught`). Seen in CI in the
 * PostgreSQL outage test (a bare `connect ECONNREFUSED` with no query's origin in its stack).
 * Reported upstream (porsager/postgres#279, #1192, #1205, #1223), not fixed in a release. This
 * patch handles that promise: the failure is the connection's, and the connection's own paths deal
 * with it (the query that opened it runs after it, or fails with the connection's error; a later
 * connection fetches the types again). Applied and checked as POSTGRES_NEXT_WRITE is.
 */
const FETCH_TYPES_REPLACEMENTS = [
  [
    `        initial.reserve && (initial = null)
        return fetchArrayTypes()`,
    `        initial.reserve && (initial = null)
        // mechamental: POSTGRES_FETCH_TYPES (build/patches.mjs): a failed fetch of the array types is not an unhandled rejection
        return fetchArrayTypes().catch(noop)`,
  ],
];

export const POSTGRES_FETCH_TYPES = {
  name: 'POSTGRES_FETCH_TYPES',
  marker: 'mechamental: POSTGRES_FETCH_TYPES',
  files: {
    'node_modules/postgres/src/connection.js': FETCH_TYPES_REPLACEMENTS,
    'node_modules/postgres/cjs/src/connection.js': FETCH_TYPES_REPLACEMENTS,
  },
  bundled: 'one',
  upgraded: 'postgres was upgraded: check whether it fixed porsager/postgres#1192',
};

/**
 * Ink 6 renders every frame from scratch: for each line of every text on screen it measures the
 * width (string-width, a grapheme segmenter) and splits it into styled characters (an ANSI
 * tokenizer), with caches that live for one frame only. A keystroke in the Tokens tab changes one
 * line and costs two frames; at 80×24 each frame spent 6–19 ms, most of it there (CPU profile,
 * docs/growth.md). This patch keeps those caches across frames, bounded: one set shared by every
 * frame, started afresh when it holds more than a few screens of lines (so unchanged lines are
 * measured and tokenized once, and memory stays flat however long the TUI runs); the width of a
 * text node comes from the cache Ink's layout already keeps (measure-text); and Ink's own two
 * module-level caches, which kept every text ever shown (scrolling through a million tokens would
 * keep a million rows), are bounded too. Same output, byte for byte (the TUI tests compare frames).
 * Applied to the installed package by build/postinstall.mjs, as POSTGRES_NEXT_WRITE is; build.mjs
 * checks the bundle has it. Ink 7 keeps its caches across frames itself, but needs Node 22.
 */
export const INK_FRAME_CACHES = {
  name: 'INK_FRAME_CACHES',
  marker: 'mechamental: INK_FRAME_CACHES',
  files: {
    'node_modules/ink/build/output.js': [
      [
        `export default class Output {
    width;
    height;
    operations = [];
    caches = new OutputCaches();`,
        `// mechamental: INK_FRAME_CACHES (build/patches.mjs): one set of caches for every frame, bounded.
const FRAME_CACHE_LINES = 500;
const FRAME_CACHE_WIDTHS = 10_000;
let frameCaches = new OutputCaches();
function sharedCaches() {
    if (frameCaches.styledChars.size > FRAME_CACHE_LINES || frameCaches.blockWidths.size > FRAME_CACHE_LINES || frameCaches.widths.size > FRAME_CACHE_WIDTHS) {
        frameCaches = new OutputCaches();
    }
    return frameCaches;
}
export default class Output {
    width;
    height;
    operations = [];
    caches = sharedCaches();`,
      ],
    ],
    'node_modules/ink/build/render-node-to-output.js': [
      ["import widestLine from 'widest-line';", "import measureText from './measure-text.js'; // mechamental: INK_FRAME_CACHES (build/patches.mjs): widths from the layout's cache"],
      ['const currentWidth = widestLine(text);', 'const currentWidth = measureText(text).width;'],
    ],
    'node_modules/ink/build/measure-text.js': [
      [
        `    cache.set(text, dimensions);`,
        `    if (cache.size >= 10_000) cache.clear(); // mechamental: INK_FRAME_CACHES (build/patches.mjs): bounded
    cache.set(text, dimensions);`,
      ],
    ],
    'node_modules/ink/build/wrap-text.js': [
      [
        'const cache = {};',
        `let cache = {}; // mechamental: INK_FRAME_CACHES (build/patches.mjs): bounded
let cached = 0;`,
      ],
      [
        `    cache[cacheKey] = wrappedText;`,
        `    if (++cached > 10_000) {
        cache = {};
        cached = 1;
    }
    cache[cacheKey] = wrappedText;`,
      ],
    ],
  },
  bundled: 'all',
  upgraded: 'Ink was upgraded: check whether it keeps its caches across frames now',
};

/**
 * The patches build/postinstall.mjs applies to installed packages, each `{ name, marker, files:
 * { path: [[from, to], …] }, bundled, upgraded }`: every file carries the marker once patched;
 * build.mjs checks that the bundle holds `all` of a patch's files, or at least `one`, each patched.
 */
export const INSTALL_PATCHES = [POSTGRES_NEXT_WRITE, POSTGRES_FETCH_TYPES, INK_FRAME_CACHES];

/** `file` of `patch` with the patch applied (as it is, when it already is); throws if a text it changes is not there. */
export function applyInstallPatch(patch, source, file) {
  const replacements = patch.files[file];
  if (!replacements) throw new Error(`${file}: not a file of ${patch.name}`);
  if (source.includes(patch.marker)) return source;
  const fix = `${patch.upgraded}, then update or remove ${patch.name} in build/patches.mjs`;
  return replacements.reduce((text, [from, to]) => replaceOnce(text, from, to, file, fix), source);
}
