import { useEffect, type ComponentType } from 'react';
import type { AppTab } from '../router';
import { hrefOf, navigate } from '../router';
import { TabList, type TabSpec } from '../components/tab-list';
import { ErrorMessage } from '../components/error-message';
import { useConsole } from '../console-context';
import { useQuery } from '../hooks/use-query';
import { AuditTab } from '../tabs/audit-tab';
import { PipelinesTab } from '../tabs/pipelines-tab';
import { TokensTab } from '../tabs/tokens-tab';

/** An app's tabs, in order. A new tab (Usage, once per-token usage exists) is one more entry here and in router.ts. */
const TABS: ReadonlyArray<TabSpec<AppTab> & { Panel: ComponentType<{ app: string }> }> = [
  { id: 'tokens', label: 'Tokens', Panel: TokensTab },
  { id: 'pipelines', label: 'Pipelines', Panel: PipelinesTab },
  { id: 'audit', label: 'Audit', Panel: AuditTab },
];

const idsOf = (tab: AppTab) => ({ tab: `tab-${tab}`, panel: `panel-${tab}` });

/** An app: its name, then the tabs Tokens, Pipelines and Audit. */
export function AppPage({ app, tab }: { app: string; tab: AppTab }) {
  const { api } = useConsole();
  const apps = useQuery(() => api.apps(), [api]);
  const record = apps.data?.find((a) => a.slug === app);
  const current = TABS.find((t) => t.id === tab) ?? TABS[0]!;
  useEffect(() => {
    document.title = `${current.label} · ${app} · mechamental`;
  }, [current.label, app]);
  if (apps.data && !record) {
    return (
      <>
        <h1>No app “{app}”</h1>
        <p>
          There is no app with this name. <a href={hrefOf({ page: 'apps' })}>See all apps</a>.
        </p>
      </>
    );
  }
  const { Panel } = current;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <a href={hrefOf({ page: 'apps' })}>Apps</a> <span aria-hidden="true">/</span> <span aria-current="page">{app}</span>
      </nav>
      <h1>
        {record?.name ?? app} <span className="slug">{app}</span>
      </h1>
      <ErrorMessage message={apps.error} />
      <TabList tabs={TABS} selected={current.id} label={`App ${app}`} idOf={idsOf} onSelect={(next) => navigate({ page: 'app', app, tab: next })} />
      <section role="tabpanel" id={idsOf(current.id).panel} aria-labelledby={idsOf(current.id).tab} className="panel">
        <Panel key={`${app}/${current.id}`} app={app} />
      </section>
    </>
  );
}
