/** How long a TUI test waits for a frame before failing (generous: CI machines are busy). */
export const FRAME_TIMEOUT_MS = 10_000;

/**
 * Polls `lastFrame()` until `predicate` holds (or, given a string, until the frame contains it),
 * and answers that frame; fails after `timeoutMs` showing the last frame. No fixed sleeps.
 */
export async function waitForFrame(
  lastFrame: () => string | undefined,
  predicate: string | RegExp | ((frame: string) => boolean),
  timeoutMs = FRAME_TIMEOUT_MS,
): Promise<string> {
  const test =
    typeof predicate === 'string' ? (f: string) => f.includes(predicate) : predicate instanceof RegExp ? (f: string) => predicate.test(f) : predicate;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = lastFrame() ?? '';
    if (test(frame)) return frame;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof predicate === 'function' ? 'a frame predicate' : String(predicate)}; last frame:\n${frame}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
