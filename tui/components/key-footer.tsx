import { Text } from 'ink';
import { Fragment } from 'react';
import { useTheme } from '../hooks/use-theme';

export type KeyHint = readonly [key: string, label: string];

/** The footer line of keys: "c create  r revoke  …", each key bold (and coloured when colours are on). */
export function KeyFooter({ keys }: { keys: readonly KeyHint[] }) {
  const { color } = useTheme();
  return (
    <Text wrap="truncate-end">
      {keys.map(([key, label], i) => (
        <Fragment key={key}>
          {i > 0 ? '  ' : ''}
          <Text bold color={color('cyan')}>
            {key}
          </Text>{' '}
          {label}
        </Fragment>
      ))}
    </Text>
  );
}
