import { useCallback } from 'react';
import { auditSubject } from '../../src/ui-text';
import { ErrorMessage } from '../components/error-message';
import { RelativeTime } from '../components/relative-time';
import { ShowMore } from '../components/show-more';
import { useConsole } from '../console-context';
import { useNow } from '../hooks/use-now';
import { usePagedList } from '../hooks/use-paged-list';

/** The app's audit trail, newest first, page by page: who created, revoked, refreshed or rotated what, and when. */
export function AuditTab({ app }: { app: string }) {
  const { api, version } = useConsole();
  const now = useNow();
  const fetchPage = useCallback((query: { limit: number; cursor?: string | undefined }, background: boolean) => api.audit(app, query, { background }), [api, app]);
  const list = usePagedList(fetchPage, app, version);
  return (
    <div>
      <ErrorMessage message={list.error} />
      {list.items.length > 0 ? (
        <table className="list audit">
          <caption className="visually-hidden">Audit events of app {app}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">About</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((event) => (
              <tr key={event.id}>
                <td data-label="When">
                  <RelativeTime iso={event.at} now={now} />
                </td>
                <td data-label="Who">
                  <code>{event.actor}</code>
                </td>
                <td data-label="What">{event.action}</td>
                <td data-label="About">{auditSubject(event)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : list.loading ? (
        <p className="empty">Loading the audit trail…</p>
      ) : list.error ? null : (
        <p className="empty">Nothing has happened in app {app} yet.</p>
      )}
      <ShowMore more={list.more} loading={list.loading} onMore={list.loadMore} label="Show older events" />
    </div>
  );
}
