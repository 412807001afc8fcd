import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { MessageLine, type Message } from './message-line';

/** A titled form panel with its inline message (a validation error from the services) under it. */
export function FormPanel({ title, message, children }: { title: string; message: Message | undefined; children: ReactNode }) {
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {title}
      </Text>
      <Text> </Text>
      {children}
      <Text> </Text>
      <MessageLine message={message} wrap />
    </Box>
  );
}
