import { summarizeConfig } from '../../src/ui-text';
import { ErrorMessage } from '../components/error-message';
import { useConsole } from '../console-context';
import { useQuery } from '../hooks/use-query';

/** The app's pipelines (read only): what each does, and the address that triggers it. */
export function PipelinesTab({ app }: { app: string }) {
  const { api, version, triggerUrl } = useConsole();
  const pipelines = useQuery(() => api.pipelines(app, version > 0), [api, app, version]);
  const rows = pipelines.data ?? [];
  return (
    <div>
      <ErrorMessage message={pipelines.error} />
      {rows.length > 0 ? (
        <table className="list pipelines">
          <caption className="visually-hidden">Pipelines of app {app}</caption>
          <thead>
            <tr>
              <th scope="col">Pipeline</th>
              <th scope="col">Kind</th>
              <th scope="col">What it does</th>
              <th scope="col">Trigger</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.slug}>
                <th scope="row" data-label="Pipeline">
                  {p.slug}
                </th>
                <td data-label="Kind">{p.kind}</td>
                <td data-label="What it does">{summarizeConfig(p.kind, p.config)}</td>
                <td data-label="Trigger">
                  <code className="wrap">
                    POST {triggerUrl}/v1/trigger/{p.slug}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : pipelines.loading ? (
        <p className="empty">Loading pipelines…</p>
      ) : pipelines.error ? null : (
        <p className="empty">
          App {app} has no pipelines. Add one on the server: <code>mechamental pipelines add SLUG --app {app} --kind echo</code>
        </p>
      )}
    </div>
  );
}
