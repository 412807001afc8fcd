import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useTheme } from '../hooks/use-theme';
import type { KeyHint } from './key-footer';

export interface HelpSection {
  title: string;
  keys: readonly KeyHint[];
}

/** The `?` screen: every key, by section; any key closes it. */
export function HelpPanel({ sections, onClose, isActive = true }: { sections: readonly HelpSection[]; onClose: () => void; isActive?: boolean }) {
  const { color } = useTheme();
  useKeys(() => onClose(), { isActive });
  return (
    <Box flexDirection="column">
      {sections.map((section) => (
        <Box key={section.title} flexDirection="column" marginBottom={1}>
          <Text bold>{section.title}</Text>
          {section.keys.map(([key, label]) => (
            <Text key={key} wrap="truncate-end">
              {'  '}
              <Text bold color={color('cyan')}>
                {key.padEnd(12)}
              </Text>
              {label}
            </Text>
          ))}
        </Box>
      ))}
      <Text color={color('gray')}>Press any key to close this help.</Text>
    </Box>
  );
}
