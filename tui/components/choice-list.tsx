import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useRef, useState } from 'react';
import { useTheme } from '../hooks/use-theme';

export interface Choice<T> {
  label: string;
  value: T;
  /** A few words after the label. */
  note?: string;
  /** Shown greyed; Enter on it does nothing (its note says why). */
  disabled?: boolean;
}

export interface ChoiceListProps<T> {
  choices: readonly Choice<T>[];
  initialIndex?: number;
  onSelect: (value: T) => void;
  onCancel: () => void;
  isActive?: boolean;
}

/**
 * A vertical list of presets: ↑↓ or j/k to move, 1–9 to move to that one, Enter to choose it, Esc to
 * cancel. A number key never chooses by itself: a stray `1` (or one that arrives with the keys of
 * the previous step) must not create or change anything; Enter commits.
 */
export function ChoiceList<T>({ choices, initialIndex = 0, onSelect, onCancel, isActive = true }: ChoiceListProps<T>) {
  const { color } = useTheme();
  const [index, setIndexState] = useState(initialIndex);
  // The latest choice for Enter, even when it comes in the same read as the key that moved it.
  const latest = useRef(initialIndex);
  const setIndex = (next: number | ((i: number) => number)) => {
    latest.current = typeof next === 'function' ? next(latest.current) : next;
    setIndexState(latest.current);
  };
  useKeys(
    (input, key) => {
      if (key.escape) return onCancel();
      if (key.upArrow || input === 'k') return setIndex((i) => (i + choices.length - 1) % choices.length);
      if (key.downArrow || input === 'j') return setIndex((i) => (i + 1) % choices.length);
      if (key.return) {
        const choice = choices[latest.current];
        if (choice && !choice.disabled) onSelect(choice.value);
        return;
      }
      const digit = /^[1-9]$/.test(input) ? Number(input) - 1 : -1;
      if (choices[digit]) setIndex(digit);
    },
    { isActive },
  );
  return (
    <Box flexDirection="column">
      {choices.map((choice, i) => (
        <Text key={choice.label} wrap="truncate-end">
          <Text color={choice.disabled ? color('gray') : i === index ? color('cyan') : undefined} bold={i === index} dimColor={choice.disabled === true}>
            {i === index ? '› ' : '  '}
            {i + 1}. {choice.label}
          </Text>
          {choice.note ? <Text color={color('gray')}>  {choice.note}</Text> : null}
        </Text>
      ))}
    </Box>
  );
}
