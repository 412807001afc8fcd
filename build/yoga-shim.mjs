// Build-only replacement for `yoga-layout` in the single executable (see build.mjs).
//
// yoga-layout's main entry initialises its WebAssembly with a top-level await, which a CommonJS
// bundle cannot hold. This module loads the same engine through `yoga-layout/load` instead and
// fills in the default export when it is ready; the enums are there from the start. The TUI entry
// that build.mjs wraps awaits `yogaReady` before Ink renders anything, and Ink only touches
// `Yoga.Node`/`Yoga.Config` while rendering.
import * as enums from 'yoga-layout/load';
import { loadYoga } from 'yoga-layout/load';

const Yoga = { ...enums };
delete Yoga.loadYoga;

/** Resolves once `Yoga.Node` and `Yoga.Config` exist. */
export const yogaReady = loadYoga().then((loaded) => {
  Object.assign(Yoga, loaded);
});
// Whoever awaits yogaReady sees a failure; this only keeps it from being an unhandled rejection
// before anyone does.
yogaReady.catch(() => {});

export * from 'yoga-layout/load';
export default Yoga;
