import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { summarizeConfig } from '../../src/apps/pipeline-config';
import { KeyFooter, type KeyHint } from '../components/key-footer';
import { ListTable } from '../components/list-table';
import { MessageLine } from '../components/message-line';
import { clip, errorMessage } from '../format';
import { useListSelection } from '../hooks/use-list-selection';
import { useLiveQuery } from '../hooks/use-live-query';
import { useServices } from '../hooks/use-services';
import { useTheme } from '../hooks/use-theme';
import type { TabProps } from './tokens-tab';

export const PIPELINES_KEYS: readonly KeyHint[] = [
  ['↑↓', 'move'],
  ['tab', 'next tab'],
  ['?', 'help'],
  ['q', 'back'],
];

/** The Pipelines tab: each pipeline's slug, kind and a one-line summary of its configuration (read only). */
export function PipelinesTab({ app, width, height, isActive, onBack }: TabProps) {
  const services = useServices();
  const { color } = useTheme();
  const listing = useLiveQuery(() => services.pipelines.list(app), [app]);
  const pipelines = listing.data ?? [];
  const selected = useListSelection(pipelines.length, height - 5, isActive);
  useKeys(
    (input, key) => {
      if (input === 'q' || key.escape) onBack();
    },
    { isActive },
  );
  const current = pipelines[selected];
  return (
    <Box flexDirection="column" height={height}>
      <Box flexDirection="column" height={height - 3} overflowY="hidden">
        {pipelines.length > 0 ? (
          <ListTable
            columns={[{ title: 'PIPELINE', width: 18 }, { title: 'KIND', width: 8 }, { title: 'CONFIGURATION' }]}
            rows={pipelines.map((p) => ({ key: p.slug, cells: [p.slug, p.kind, summarizeConfig(p.kind, p.config)] }))}
            selected={selected}
            height={height - 3}
            width={width}
          />
        ) : (
          <Text>{listing.loading ? 'Loading…' : `App ${app} has no pipelines. Add one with: mechamental pipelines add SLUG --app ${app} --kind echo`}</Text>
        )}
      </Box>
      <Text color={color('gray')} wrap="truncate-end">
        {current ? clip(`POST /v1/trigger/${current.slug} · config ${JSON.stringify(current.config)}`, width - 1) : ' '}
      </Text>
      <MessageLine message={listing.error === undefined ? undefined : { kind: 'error', text: errorMessage(listing.error) }} />
      <KeyFooter keys={PIPELINES_KEYS} />
    </Box>
  );
}
