/**
 * better-sqlite3's native addon. In development it is found by better-sqlite3 itself (undefined
 * here). The single executable replaces this module at build time with one that extracts the
 * addon from a SEA asset (see build.mjs).
 */
export function nativeBinding(): unknown {
  return undefined;
}
