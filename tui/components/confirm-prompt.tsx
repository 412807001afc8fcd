import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useTheme } from '../hooks/use-theme';

export interface ConfirmPromptProps {
  question: string;
  /** A second line saying what confirming does. */
  consequence?: string;
  onConfirm: () => void;
  onCancel: () => void;
  isActive?: boolean;
}

/** A yes/no question (two lines: the question, then what it does and [y/N]): `y` confirms; `n`, Esc or Enter cancel (no is the default). */
export function ConfirmPrompt({ question, consequence, onConfirm, onCancel, isActive = true }: ConfirmPromptProps) {
  const { color } = useTheme();
  useKeys(
    (input, key) => {
      if (input === 'y' || input === 'Y') return onConfirm();
      if (input === 'n' || input === 'N' || key.escape || key.return || input === 'q') onCancel();
    },
    { isActive },
  );
  return (
    <Box flexDirection="column">
      <Text color={color('yellow')} bold wrap="truncate-end">
        {question}
      </Text>
      <Text wrap="truncate-end">
        {consequence ? `${consequence} ` : ''}
        <Text bold>[y/N]</Text>
      </Text>
    </Box>
  );
}
