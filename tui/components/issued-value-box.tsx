import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useTheme } from '../hooks/use-theme';
import { ISSUED_WARNING } from '../../src/ui-text/messages';

export interface IssuedValueBoxProps {
  title: string;
  /** The token value: shown here once and nowhere else. */
  value: string;
  lines: string[];
  onDismiss: () => void;
  isActive?: boolean;
}

/**
 * The one place a token value is ever shown: boxed, with the warning, until the admin presses
 * Enter — only Enter, as the box and the footer say ("enter: done"). Esc and every other key are
 * ignored, so that a stray key (or Esc pressed out of habit before copying) does not lose the value.
 */
export function IssuedValueBox({ title, value, lines, onDismiss, isActive = true }: IssuedValueBoxProps) {
  const { color } = useTheme();
  useKeys(
    (_input, key) => {
      if (key.return) onDismiss();
    },
    { isActive },
  );
  return (
    <Box flexDirection="column">
      <Box flexDirection="column" borderStyle="double" borderColor={color('yellow')} paddingX={1}>
        <Text bold wrap="truncate-end">
          {title}
        </Text>
        <Text> </Text>
        <Text bold color={color('cyan')}>
          {value}
        </Text>
        <Text> </Text>
        <Text bold color={color('yellow')}>
          {ISSUED_WARNING}
        </Text>
        {lines.map((line) => (
          <Text key={line} wrap="wrap">
            {line}
          </Text>
        ))}
      </Box>
      <Text>Press Enter when you have copied it (the value is then forgotten).</Text>
    </Box>
  );
}
