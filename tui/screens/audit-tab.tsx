import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { KeyFooter, type KeyHint } from '../components/key-footer';
import { ListTable } from '../components/list-table';
import { MessageLine } from '../components/message-line';
import { auditSubject, clip, errorMessage, shortTime } from '../format';
import { useListSelection } from '../hooks/use-list-selection';
import { useLiveQuery } from '../hooks/use-live-query';
import { useServices } from '../hooks/use-services';
import { useTheme } from '../hooks/use-theme';
import type { TabProps } from './tokens-tab';

/** How many events the tab reads (newest first). */
export const AUDIT_LIMIT = 500;

export const AUDIT_KEYS: readonly KeyHint[] = [
  ['↑↓', 'move'],
  ['tab', 'next tab'],
  ['?', 'help'],
  ['q', 'back'],
];

/** The Audit tab: the app's events, newest first (time UTC, actor, action, what it was about). */
export function AuditTab({ app, width, height, isActive, onBack }: TabProps) {
  const services = useServices();
  const { color } = useTheme();
  const listing = useLiveQuery(() => services.audit.list({ app, limit: AUDIT_LIMIT }), [app]);
  const events = listing.data ?? [];
  const selected = useListSelection(events.length, height - 5, isActive);
  useKeys(
    (input, key) => {
      if (input === 'q' || key.escape) onBack();
    },
    { isActive },
  );
  const current = events[selected];
  return (
    <Box flexDirection="column" height={height}>
      <Box flexDirection="column" height={height - 3} overflow="hidden">
        {events.length > 0 ? (
          <ListTable
            columns={[{ title: 'TIME (UTC)', width: 16 }, { title: 'ACTOR', width: 8 }, { title: 'ACTION', width: 19 }, { title: 'SUBJECT' }]}
            rows={events.map((e) => ({ key: String(e.id), cells: [shortTime(e.at), e.actor, e.action, auditSubject(e)] }))}
            selected={selected}
            height={height - 3}
            width={width}
          />
        ) : (
          <Text>{listing.loading ? 'Loading…' : `No audit events for app ${app} yet.`}</Text>
        )}
      </Box>
      <Text color={color('gray')} wrap="truncate-end">
        {current ? clip(`${current.at} ${current.actor} ${current.action}${current.token_id ? ` ${current.token_id}` : ''} ${current.detail ? JSON.stringify(current.detail) : ''}`, width - 1) : ' '}
      </Text>
      <MessageLine message={listing.error === undefined ? undefined : { kind: 'error', text: errorMessage(listing.error) }} />
      <KeyFooter keys={AUDIT_KEYS} />
    </Box>
  );
}
