import { Box, Text } from 'ink';
import type { UsageDay } from '../../src/tokens/usage-report';
import { barChart, sparkline } from '../../src/ui-text/sparkline';
import { useTheme } from '../hooks/use-theme';

export interface UsageChartProps {
  /** The days, oldest first. */
  days: readonly UsageDay[];
  /** Lines for the bars. */
  height: number;
  /** Columns for the whole chart, axis labels included. */
  width: number;
}

/**
 * Accepted requests per day as bars (each day one or two columns wide, as the width allows), the
 * largest day's count on the axis, the refused requests per day as a sparkline under them, and the
 * first and last day below.
 */
export function UsageChart({ days, height, width }: UsageChartProps) {
  const { color } = useTheme();
  const accepted = days.map((d) => d.accepted);
  const refused = days.map((d) => d.refused_total);
  const max = Math.max(0, ...accepted);
  const axis = Math.max(String(max).length, 8);
  const columns = days.length * 2 + axis + 2 <= width ? 2 : 1;
  const widen = (line: string) => (columns === 1 ? line : [...line].map((c) => c + c).join(''));
  const bars = barChart(accepted, height).map(widen);
  const chartWidth = days.length * columns;
  const first = days[0]?.day ?? '';
  const last = days.at(-1)?.day ?? '';
  return (
    <Box flexDirection="column">
      {bars.map((line, row) => (
        <Text key={row} wrap="truncate-end">
          <Text color={color('gray')}>{(row === 0 ? String(max) : row === bars.length - 1 ? '0' : '').padStart(axis)} │</Text>
          <Text color={color('green')}>{line}</Text>
        </Text>
      ))}
      <Text wrap="truncate-end">
        <Text color={color('gray')}>{'refused'.padStart(axis)} │</Text>
        <Text color={color('red')}>{widen(sparkline(refused))}</Text>
      </Text>
      <Text color={color('gray')} wrap="truncate-end">
        {' '.repeat(axis)} └{first}
        {chartWidth > 21 ? ' '.repeat(chartWidth - 21) + last : ''}
      </Text>
    </Box>
  );
}
