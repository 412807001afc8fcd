import { STATUS_COLORS, STATUS_MEANINGS } from '../../src/ui-text';
import type { TokenStatus } from '../api';

/** A token's status: the word, in its colour (the same colours as the TUI), its meaning on hover. */
export function StatusBadge({ status }: { status: TokenStatus }) {
  return (
    <span className={`status status-${STATUS_COLORS[status]}`} title={STATUS_MEANINGS[status]}>
      {status}
    </span>
  );
}
