import { Box, Text } from 'ink';
import { useCallback } from 'react';
import type { AuditEventView } from '../../src/audit/audit';
import { useKeys } from '../hooks/use-keys';
import { KeyFooter, type KeyHint } from '../components/key-footer';
import { ListTable } from '../components/list-table';
import { MessageLine } from '../components/message-line';
import { auditSubject, clip, errorMessage, shortTime } from '../format';
import { pageOptions, useKeysetWindow, type PageStart } from '../hooks/use-keyset-window';
import { useServices } from '../hooks/use-services';
import { useTheme } from '../hooks/use-theme';
import type { TabProps } from './tokens-tab';

/** Events per page read; the window keeps a few pages around the selection (G reads the oldest page). */
export const AUDIT_PAGE = 100;
const KEEP_PAGES = 5;
const eventId = (event: AuditEventView) => String(event.id);

export const AUDIT_KEYS: readonly KeyHint[] = [
  ['↑↓', 'move'],
  ['g G', 'newest/oldest'],
  ['tab', 'next tab'],
  ['?', 'help'],
  ['q', 'back'],
];

/**
 * The Audit tab: the app's events, newest first (time UTC, actor, action, what it was about), read
 * a page at a time around the selection, so that years of events open as fast as a few.
 */
export function AuditTab({ app, width, height, isActive, onBack }: TabProps) {
  const services = useServices();
  const { color } = useTheme();
  const fetchPage = useCallback((start: PageStart, limit: number) => services.audit.page({ app, limit, ...pageOptions(start) }), [services, app]);
  const listing = useKeysetWindow(fetchPage, [app], { pageSize: AUDIT_PAGE, keepPages: KEEP_PAGES, margin: 20, idOf: eventId });
  const events = listing.rows;
  const selected = listing.selected;
  useKeys(
    (input, key) => {
      if (key.upArrow || input === 'k') return listing.move(-1);
      if (key.downArrow || input === 'j') return listing.move(1);
      if (key.pageUp) return listing.move(-Math.max(1, height - 5));
      if (key.pageDown) return listing.move(Math.max(1, height - 5));
      if (input === 'g' || key.home) return listing.home();
      if (input === 'G' || key.end) return listing.end();
      if (input === 'q' || key.escape) onBack();
    },
    { isActive },
  );
  const current = events[selected];
  return (
    <Box flexDirection="column" height={height}>
      <Box flexDirection="column" height={height - 3} overflowY="hidden">
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
