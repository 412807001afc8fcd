import { Box, Text } from 'ink';
import { Fragment } from 'react';
import { clip } from '../format';
import { useTheme } from '../hooks/use-theme';

export interface HeaderBarProps {
  title: string;
  tabs?: readonly string[];
  activeTab?: number;
  width: number;
}

/**
 * The top two lines: the title on the left, the tabs on the right (the active one in brackets, so
 * it reads without colour too), and a rule.
 */
export function HeaderBar({ title, tabs = [], activeTab = 0, width }: HeaderBarProps) {
  const { color } = useTheme();
  const tabsText = tabs.map((t, i) => (i === activeTab ? `[${t}]` : ` ${t} `)).join(' ');
  const titleWidth = Math.max(0, width - tabsText.length - 2);
  return (
    <Box flexDirection="column">
      <Box>
        <Box width={titleWidth} flexShrink={0}>
          <Text bold wrap="truncate-end">
            {clip(title, titleWidth - 1)}
          </Text>
        </Box>
        <Text wrap="truncate-end">
          {tabs.map((tab, i) => (
            <Fragment key={tab}>
              {i > 0 ? ' ' : ''}
              {i === activeTab ? (
                <Text bold color={color('cyan')}>
                  [{tab}]
                </Text>
              ) : (
                <Text> {tab} </Text>
              )}
            </Fragment>
          ))}
        </Text>
      </Box>
      <Text color={color('gray')}>{'─'.repeat(Math.max(0, width - 1))}</Text>
    </Box>
  );
}
