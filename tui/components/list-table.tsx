import { Box, Text } from 'ink';
import { fit, scrollStart } from '../format';
import { useTheme } from '../hooks/use-theme';

export interface Column {
  title: string;
  /** Fixed width; the one column without a width takes the rest of the line. */
  width?: number;
}

export interface ListTableProps {
  columns: readonly Column[];
  rows: readonly { key: string; cells: readonly string[] }[];
  selected: number;
  /** Lines available, the header line included. */
  height: number;
  width: number;
}

const GAP = '  ';

/** A plain table with a header, the selected row marked "›", scrolled to keep the selection visible. */
export function ListTable({ columns, rows, selected, height, width }: ListTableProps) {
  const { color } = useTheme();
  const fixed = columns.reduce((sum, c) => sum + (c.width ?? 0), 0) + GAP.length * (columns.length - 1) + 2;
  const widths = columns.map((c) => c.width ?? Math.max(6, width - 1 - fixed));
  const line = (cells: readonly string[]) => cells.map((cell, i) => fit(cell, widths[i] ?? 0)).join(GAP);
  const visible = Math.max(1, height - 1);
  const start = scrollStart(rows.length, selected, visible);
  return (
    <Box flexDirection="column">
      <Text bold color={color('gray')} wrap="truncate-end">
        {'  '}
        {line(columns.map((c) => c.title))}
      </Text>
      {rows.slice(start, start + visible).map((row, i) => {
        const isSelected = start + i === selected;
        return (
          <Text key={row.key} wrap="truncate-end" bold={isSelected}>
            <Text color={isSelected ? color('cyan') : undefined}>{isSelected ? '› ' : '  '}</Text>
            {line(row.cells)}
          </Text>
        );
      })}
    </Box>
  );
}
