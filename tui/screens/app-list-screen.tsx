import { Box, Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useState } from 'react';
import { HeaderBar } from '../components/header-bar';
import { HelpPanel, type HelpSection } from '../components/help-panel';
import { KeyFooter, type KeyHint } from '../components/key-footer';
import { ListTable } from '../components/list-table';
import { MessageLine } from '../components/message-line';
import { errorMessage } from '../format';
import { useListSelection } from '../hooks/use-list-selection';
import { useLiveQuery } from '../hooks/use-live-query';
import { useServices } from '../hooks/use-services';
import type { TerminalSize } from '../hooks/use-terminal-size';

const KEYS: readonly KeyHint[] = [
  ['↑↓', 'move'],
  ['enter', 'open'],
  ['?', 'help'],
  ['q', 'quit'],
];

const HELP: readonly HelpSection[] = [
  {
    title: 'Apps',
    keys: [
      ['↑↓ j k', 'move'],
      ['enter', 'open the app: tabs Tokens, Pipelines, Audit'],
      ['q esc', 'quit'],
      ['?', 'this help'],
    ],
  },
];

export interface AppListScreenProps {
  size: TerminalSize;
  onOpen: (app: string) => void;
  onQuit: () => void;
}

/** The first screen: every app with its count of working tokens and of pipelines. */
export function AppListScreen({ size, onOpen, onQuit }: AppListScreenProps) {
  const services = useServices();
  const [help, setHelp] = useState(false);
  const listing = useLiveQuery(
    async () =>
      Promise.all(
        (await services.apps.list()).map(async (app) => ({
          ...app,
          tokens: await services.tokens.countActive(app.slug),
          pipelines: (await services.pipelines.list(app.slug)).length,
        })),
      ),
    [],
  );
  const apps = listing.data ?? [];
  const height = size.rows - 1 - 2;
  const selected = useListSelection(apps.length, height - 4, !help);
  useKeys(
    (input, key) => {
      const app = apps[selected];
      if (key.return && app) return onOpen(app.slug);
      if (input === '?') return setHelp(true);
      if (input === 'q' || key.escape) onQuit();
    },
    { isActive: !help },
  );
  return (
    <Box flexDirection="column" width={size.columns} height={size.rows - 1}>
      <HeaderBar title={`mechamental › apps   (${services.store.location})`} width={size.columns} />
      {help ? (
        <Box flexDirection="column" height={height}>
          <Box flexDirection="column" height={height - 1} overflowY="hidden">
            <HelpPanel sections={HELP} onClose={() => setHelp(false)} />
          </Box>
          <KeyFooter keys={[['any key', 'close help']]} />
        </Box>
      ) : (
        <Box flexDirection="column" height={height}>
          <Box flexDirection="column" height={height - 2} overflowY="hidden">
            {apps.length > 0 ? (
              <ListTable
                columns={[{ title: 'APP', width: 20 }, { title: 'NAME' }, { title: 'TOKENS', width: 7 }, { title: 'PIPELINES', width: 9 }]}
                rows={apps.map((a) => ({ key: a.slug, cells: [a.slug, a.name, String(a.tokens), String(a.pipelines)] }))}
                selected={selected}
                height={height - 2}
                width={size.columns}
              />
            ) : (
              <Text>{listing.loading ? 'Loading…' : 'No apps yet. Create one with: mechamental apps create SLUG'}</Text>
            )}
          </Box>
          <MessageLine message={listing.error === undefined ? undefined : { kind: 'error', text: errorMessage(listing.error) }} />
          <KeyFooter keys={KEYS} />
        </Box>
      )}
    </Box>
  );
}
