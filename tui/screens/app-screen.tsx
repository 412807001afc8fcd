import { Box } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useCallback, useState } from 'react';
import { HeaderBar } from '../components/header-bar';
import { HelpPanel, type HelpSection } from '../components/help-panel';
import { KeyFooter } from '../components/key-footer';
import type { TerminalSize } from '../hooks/use-terminal-size';
import { useLiveQuery } from '../hooks/use-live-query';
import { useServices } from '../hooks/use-services';
import { AuditTab } from './audit-tab';
import { PipelinesTab } from './pipelines-tab';
import { TokensTab } from './tokens-tab';

export const TABS = ['Tokens', 'Pipelines', 'Audit'] as const;

export const APP_HELP: readonly HelpSection[] = [
  {
    title: 'Tokens tab',
    keys: [
      ['c', 'create: a name, then an expiry (7d, 30d, 90d, 1y or a date)'],
      ['r', 'revoke the selected token (asks; y confirms, n or esc cancels)'],
      ['f', 'refresh: extend its expiry; the value does not change'],
      ['o', 'rotate: a new value now, the old one works for a grace period'],
      ['/', 'filter by name or status, or unused:30d (esc clears)'],
      ['u', 'usage: requests per day of the selected token'],
      ['↑↓ j k', 'move (PgUp PgDn, g G for the ends)'],
    ],
  },
  {
    title: 'Everywhere',
    keys: [
      ['tab ← →', 'next / previous tab (or 1 2 3)'],
      ['q esc', 'back (from the app list: quit)'],
      ['?', 'this help'],
      ['ctrl-c', 'quit'],
    ],
  },
];

export interface AppScreenProps {
  app: string;
  size: TerminalSize;
  onBack: () => void;
}

/** One app: a header with the tabs Tokens, Pipelines and Audit; tab keys and `?` when no form is open. */
export function AppScreen({ app, size, onBack }: AppScreenProps) {
  const services = useServices();
  const [tab, setTab] = useState(0);
  const [modal, setModal] = useState(false);
  const [help, setHelp] = useState(false);
  const info = useLiveQuery(() => services.apps.get(app), [app]);
  const onModalChange = useCallback((value: boolean) => setModal(value), []);

  useKeys(
    (input, key) => {
      if ((key.tab && key.shift) || key.leftArrow || input === 'h') return setTab((t) => (t + TABS.length - 1) % TABS.length);
      if (key.tab || key.rightArrow || input === 'l') return setTab((t) => (t + 1) % TABS.length);
      if (/^[1-3]$/.test(input)) return setTab(Number(input) - 1);
      if (input === '?') setHelp(true);
    },
    { isActive: !modal && !help },
  );

  const height = size.rows - 1 - 2;
  const tabProps = { app, width: size.columns, height, isActive: !help, onModalChange, onBack };
  const title = `mechamental › ${info.data ? `${info.data.name} (${app})` : app}`;
  return (
    <Box flexDirection="column" width={size.columns} height={size.rows - 1}>
      <HeaderBar title={title} tabs={TABS} activeTab={tab} width={size.columns} />
      {help ? (
        <Box flexDirection="column" height={height}>
          <Box flexDirection="column" height={height - 1} overflowY="hidden">
            <HelpPanel sections={APP_HELP} onClose={() => setHelp(false)} />
          </Box>
          <KeyFooter keys={[['any key', 'close help']]} />
        </Box>
      ) : tab === 0 ? (
        <TokensTab {...tabProps} />
      ) : tab === 1 ? (
        <PipelinesTab {...tabProps} />
      ) : (
        <AuditTab {...tabProps} />
      )}
    </Box>
  );
}
