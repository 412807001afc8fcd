import { gzipSync } from 'node:zlib';

/** One file the console serves, by its path under /console/ (`index.html`, `assets/main-<hash>.js`). */
export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
  /** Hashed file names never change content: cache them for a year. index.html: never. */
  immutable: boolean;
  /** The gzip form, made once on first request when it is smaller. */
  gzipped?: Buffer | null;
}

export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

/**
 * The console's files, embedded in the executable by build.mjs (the define
 * `__MM_CONSOLE_ASSETS__`: path → content type and base64 body, built by build/web-assets.mjs).
 * The development build has no such define and builds the same files from web/ on first use.
 */
declare const __MM_CONSOLE_ASSETS__: Record<string, { type: string; body: string }> | undefined;

let loading: Promise<ConsoleAssets> | undefined;

/** The console's files (built once per process in development). Rejects, saying why, when they cannot be built. */
export function consoleAssets(): Promise<ConsoleAssets> {
  loading ??= load();
  return loading;
}

async function load(): Promise<ConsoleAssets> {
  if (typeof __MM_CONSOLE_ASSETS__ !== 'undefined') {
    return toMap(Object.entries(__MM_CONSOLE_ASSETS__).map(([path, file]) => [path, file.type, Buffer.from(file.body, 'base64')]));
  } else {
    // Development only: the executable's bundle drops this branch (an `else`, so that esbuild does
    // not even resolve the import; see CONSOLE_ASSETS in build/patches.mjs).
    const { buildWebAssets } = await import('../../../build/web-assets.mjs');
    const built = await buildWebAssets();
    return toMap(Object.entries(built.files).map(([path, file]) => [path, file.type, file.body]));
  }
}

function toMap(entries: Array<[string, string, Buffer]>): ConsoleAssets {
  return new Map(entries.map(([path, type, body]) => [path, { contentType: type, body, immutable: path.startsWith('assets/') }]));
}

/** The gzip form of `asset` when it is worth sending (made once). */
export function gzippedOf(asset: ConsoleAsset): Buffer | null {
  if (asset.gzipped === undefined) {
    const zipped = asset.contentType.startsWith('text/') || asset.contentType.includes('svg') ? gzipSync(asset.body, { level: 9 }) : null;
    asset.gzipped = zipped && zipped.length < asset.body.length ? zipped : null;
  }
  return asset.gzipped;
}
