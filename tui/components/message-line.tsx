import { Text } from 'ink';
import { useTheme } from '../hooks/use-theme';

export interface Message {
  kind: 'error' | 'info';
  text: string;
}

/**
 * An error (prefixed "Error:", red) or a notice; blank when there is none. One line under a table
 * (truncated); under a form it may wrap, so that a validation message is read in full.
 */
export function MessageLine({ message, wrap = false }: { message: Message | undefined; wrap?: boolean }) {
  const { color } = useTheme();
  if (!message) return <Text> </Text>;
  return (
    <Text wrap={wrap ? 'wrap' : 'truncate-end'} color={message.kind === 'error' ? color('red') : color('green')}>
      {message.kind === 'error' ? `Error: ${message.text}` : message.text}
    </Text>
  );
}
