/**
 * Event-loop turns, for the re-check of a token before its run starts. A request whose headers and
 * body arrived in the same turn was verified after all of it had arrived, so its run may start on
 * that verification; a body that arrived in a later turn (a slow or staged client) gets its token
 * checked again first, so that a revoke returned meanwhile wins.
 *
 * The turn number moves in the check phase (setImmediate), after the I/O callbacks of a poll; one
 * setImmediate per busy turn, none when idle.
 */
let turn = 0;
let scheduled = false;

function nextTurn(): void {
  turn++;
  scheduled = false;
}

/** The current turn's number. */
export function currentTurn(): number {
  if (!scheduled) {
    scheduled = true;
    setImmediate(nextTurn);
  }
  return turn;
}
