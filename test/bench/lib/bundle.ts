// A bench child as plain JavaScript, bundled by esbuild the way build.mjs bundles the executable
// (migrations embedded, no tsx), so that what it measures is the code users run: tsx wraps every
// class-field arrow function of our TypeScript in a naming helper, a cost per object made (several
// per request on the trigger path) that the executable does not pay (docs/benchmarks.md).
import path from 'node:path';
import { REPO_ROOT } from './proc';

export interface ChildBundle {
  /** The TypeScript entry point. */
  entry: string;
  /** Where the bundle goes (under .tmp/bench/). */
  outfile: string;
  /** Packages in node_modules stay there, loaded by node as usual (the peers: Fastify, Express). */
  packagesExternal?: boolean;
  /** The TUI: JSX, production React, Ink's optional devtools stubbed out as build.mjs does. */
  react?: boolean;
}

/** Bundles `entry` to `outfile`; answers the command that runs it. */
export async function bundleChild(options: ChildBundle): Promise<string[]> {
  const esbuild = await import('esbuild');
  const { readMigrationFiles } = await import('drizzle-orm/migrator');
  await esbuild.build({
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    ...(options.packagesExternal ? { packages: 'external' as const } : { external: ['better-sqlite3'] }),
    ...(options.react
      ? {
          jsx: 'automatic' as const,
          plugins: [
            {
              name: 'no-devtools',
              setup(build: import('esbuild').PluginBuild) {
                build.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'stub' }));
                build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export default {};', loader: 'js' }));
              },
            },
          ],
        }
      : {}),
    define: {
      ...(options.react ? { 'process.env.NODE_ENV': '"production"' } : {}),
      __MM_MIGRATIONS__: JSON.stringify({
        sqlite: readMigrationFiles({ migrationsFolder: path.join(REPO_ROOT, 'migrations/sqlite') }),
        postgres: readMigrationFiles({ migrationsFolder: path.join(REPO_ROOT, 'migrations/postgres') }),
      }),
    },
    // CommonJS packages inside an ES module bundle call require().
    banner: { js: "import { createRequire as mmCreateRequire } from 'node:module'; const require = mmCreateRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return [process.execPath, options.outfile];
}
