// Types for build/patches.mjs (imported by the tests).
export declare const INK_RECONCILER: { file: string; sha256: string; replacements: Array<[string, string]> };
export declare const MIGRATE: { file: string; from: string; to: string };
export declare const IMPORT_META_ALLOWED: Set<string>;
export declare function patchInkReconciler(source: string): string;
export declare function patchMigrate(source: string): string;
export declare function exportsRunTui(source: string): boolean;
export declare const CONSOLE_ASSETS: { file: string; from: string; to: string };
export declare function patchConsoleAssets(source: string): string;
export interface InstallPatch {
  name: string;
  marker: string;
  files: Record<string, Array<[string, string]>>;
  bundled: 'one' | 'all';
  upgraded: string;
}
export declare const POSTGRES_NEXT_WRITE: InstallPatch;
export declare const INK_FRAME_CACHES: InstallPatch;
export declare const INSTALL_PATCHES: InstallPatch[];
export declare function applyInstallPatch(patch: InstallPatch, source: string, file: string): string;
