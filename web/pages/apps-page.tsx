import { useEffect } from 'react';
import { exactTime } from '../../src/ui-text';
import { ErrorMessage } from '../components/error-message';
import { useConsole } from '../console-context';
import { useQuery } from '../hooks/use-query';
import { hrefOf } from '../router';

/** The app list: where the seed's "Navigate to your app" starts. */
export function AppsPage() {
  const { api, version } = useConsole();
  const apps = useQuery(() => api.apps(), [api, version]);
  useEffect(() => {
    document.title = 'Apps · mechamental';
  }, []);
  const rows = apps.data ?? [];
  return (
    <>
      <h1>Apps</h1>
      <p className="lead">Each app has its own pipelines and API tokens. Open an app to manage its tokens.</p>
      <ErrorMessage message={apps.error} />
      {rows.length > 0 ? (
        <table className="list apps">
          <caption className="visually-hidden">Apps</caption>
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Slug</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((app) => (
              <tr key={app.slug}>
                <th scope="row" data-label="App">
                  <a href={hrefOf({ page: 'app', app: app.slug, tab: 'tokens' })}>{app.name}</a>
                </th>
                <td data-label="Slug">
                  <code>{app.slug}</code>
                </td>
                <td data-label="Created">{exactTime(app.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : apps.loading ? (
        <p className="empty">Loading apps…</p>
      ) : apps.error ? null : (
        <p className="empty">
          There are no apps yet. Create one on the server: <code>mechamental apps create SLUG</code>
        </p>
      )}
    </>
  );
}
