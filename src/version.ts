import packageJson from '../package.json';

/** The program's version, from package.json (embedded in the bundle at build time). */
export const VERSION: string = packageJson.version;
