import { randomBytes } from 'node:crypto';

// Run ids come from a pooled buffer of CSPRNG bytes: one randomBytes call per 512 ids instead of
// one (a syscall) per request.
const RUN_ID_BYTES = 12;
const RUN_ID_POOL = 512;
let pool = randomBytes(RUN_ID_BYTES * RUN_ID_POOL);
let offset = 0;

/** What a run id looks like; anything else names no run. */
export const RUN_ID_PATTERN = /^run_[0-9a-f]{24}$/;

/** `run_` + 24 lowercase hex characters (96 random bits). */
export function newRunId(): string {
  if (offset === pool.length) {
    pool = randomBytes(RUN_ID_BYTES * RUN_ID_POOL);
    offset = 0;
  }
  const id = `run_${pool.toString('hex', offset, offset + RUN_ID_BYTES)}`;
  offset += RUN_ID_BYTES;
  return id;
}
