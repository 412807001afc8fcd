import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useState } from 'react';
import { useTheme } from '../hooks/use-theme';

export interface Choice<T> {
  label: string;
  value: T;
  /** A few words after the label. */
  note?: string;
}

export interface ChoiceListProps<T> {
  choices: readonly Choice<T>[];
  initialIndex?: number;
  onSelect: (value: T) => void;
  onCancel: () => void;
  isActive?: boolean;
}

/** A vertical list of presets: ↑↓ or j/k to move, Enter to choose, 1–9 to choose directly, Esc to cancel. */
export function ChoiceList<T>({ choices, initialIndex = 0, onSelect, onCancel, isActive = true }: ChoiceListProps<T>) {
  const { color } = useTheme();
  const [index, setIndex] = useState(initialIndex);
  useKeys(
    (input, key) => {
      if (key.escape) return onCancel();
      if (key.upArrow || input === 'k') return setIndex((i) => (i + choices.length - 1) % choices.length);
      if (key.downArrow || input === 'j') return setIndex((i) => (i + 1) % choices.length);
      if (key.return) {
        const choice = choices[index];
        if (choice) onSelect(choice.value);
        return;
      }
      const digit = /^[1-9]$/.test(input) ? Number(input) - 1 : -1;
      const direct = choices[digit];
      if (direct) onSelect(direct.value);
    },
    { isActive },
  );
  return (
    <Box flexDirection="column">
      {choices.map((choice, i) => (
        <Text key={choice.label} wrap="truncate-end">
          <Text color={i === index ? color('cyan') : undefined} bold={i === index}>
            {i === index ? '› ' : '  '}
            {i + 1}. {choice.label}
          </Text>
          {choice.note ? <Text color={color('gray')}>  {choice.note}</Text> : null}
        </Text>
      ))}
    </Box>
  );
}
