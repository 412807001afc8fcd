import { Box, Text } from 'ink';
import type { TokenView } from '../../src/tokens/service';
import { agoShort, fit, relativeShort, scrollStart } from '../format';
import { useTheme } from '../hooks/use-theme';
import { StatusText } from './status-text';

const HINT = 16;
const STATUS = 8;
const WHEN = 9;
const GAP = '  ';

export interface TokenTableProps {
  tokens: readonly TokenView[];
  selected: number;
  /** Lines available, the header line included. */
  height: number;
  width: number;
  now: number;
}

/** Name, hint, status (coloured), expiry and last use (relative), with the selected row marked "›". */
export function TokenTable({ tokens, selected, height, width, now }: TokenTableProps) {
  const { color } = useTheme();
  const nameWidth = Math.max(8, width - 1 - 2 - HINT - STATUS - 2 * WHEN - 4 * GAP.length);
  const visible = Math.max(1, height - 1);
  const start = scrollStart(tokens.length, selected, visible);
  const shown = tokens.slice(start, start + visible);
  return (
    <Box flexDirection="column">
      <Text bold color={color('gray')} wrap="truncate-end">
        {'  '}
        {fit('NAME', nameWidth)}
        {GAP}
        {fit('HINT', HINT)}
        {GAP}
        {fit('STATUS', STATUS)}
        {GAP}
        {fit('EXPIRES', WHEN)}
        {GAP}
        {fit('LAST USED', WHEN)}
      </Text>
      {shown.map((token, i) => {
        const isSelected = start + i === selected;
        return (
          <Text key={token.id} wrap="truncate-end" bold={isSelected}>
            <Text color={isSelected ? color('cyan') : undefined}>{isSelected ? '› ' : '  '}</Text>
            <Text inverse={isSelected}>{fit(token.name, nameWidth)}</Text>
            {GAP}
            {fit(token.hint, HINT)}
            {GAP}
            <StatusText status={token.status} width={STATUS} />
            {GAP}
            {fit(token.status === 'revoked' ? '—' : relativeShort(token.expires_at, now), WHEN)}
            {GAP}
            {fit(agoShort(token.last_used_at, now), WHEN)}
          </Text>
        );
      })}
    </Box>
  );
}
