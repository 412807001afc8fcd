import { useCallback } from 'react';
import type { DeliveryView } from '../api';
import { ErrorMessage } from '../components/error-message';
import { RelativeTime } from '../components/relative-time';
import { ShowMore } from '../components/show-more';
import { useConsole } from '../console-context';
import { useNow } from '../hooks/use-now';
import { usePagedList } from '../hooks/use-paged-list';
import { useQuery } from '../hooks/use-query';

const DELIVERY_CLASS: Record<DeliveryView['status'], string> = { delivered: 'status-green', pending: 'status-yellow', failed: 'status-red' };

/** What the last attempt got: "HTTP 200", "HTTP 500", the error, or "not tried yet". */
function lastOutcome(delivery: DeliveryView): string {
  if (delivery.last_status !== null) return `HTTP ${delivery.last_status}${delivery.last_error ? `: ${delivery.last_error}` : ''}`;
  if (delivery.last_error) return delivery.last_error;
  return delivery.attempts === 0 ? 'not tried yet' : 'no answer';
}

/**
 * The app's webhooks and their recent deliveries, read only: where events go, and whether each
 * delivery arrived (status, attempts, the last answer, the next retry). Webhooks are set, tested
 * and removed with `mechamental webhooks` or the admin API, which print the signing secret once.
 */
export function WebhooksTab({ app }: { app: string }) {
  const { api, version } = useConsole();
  const now = useNow();
  const hooks = useQuery(() => api.webhooks(app, version > 0), [api, app, version]);
  const fetchPage = useCallback((query: { limit: number; cursor?: string | undefined }, background: boolean) => api.deliveries(app, query, { background }), [api, app]);
  const deliveries = usePagedList(fetchPage, app, version);
  const urlOf = new Map((hooks.data ?? []).map((hook) => [hook.id, hook.url]));
  return (
    <div className="webhooks-tab">
      <h2>Webhooks</h2>
      <ErrorMessage message={hooks.error} />
      {hooks.data && hooks.data.length > 0 ? (
        <table className="list webhooks">
          <caption className="visually-hidden">Webhooks of app {app}</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Id</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {hooks.data.map((hook) => (
              <tr key={hook.id}>
                <th scope="row" data-label="URL">
                  <code className="wrap">{hook.url}</code>
                </th>
                <td data-label="Id">
                  <code>{hook.id}</code>
                </td>
                <td data-label="Created">
                  <RelativeTime iso={hook.created_at} now={now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : hooks.loading ? (
        <p className="empty">Loading webhooks…</p>
      ) : hooks.error ? null : (
        <p className="empty">
          App {app} has no webhooks. Add one on the server: <code>mechamental webhooks set --app {app} --url URL</code> (it prints the signing secret once).
        </p>
      )}
      <h2>Recent deliveries</h2>
      <ErrorMessage message={deliveries.error} />
      {deliveries.items.length > 0 ? (
        <table className="list deliveries">
          <caption className="visually-hidden">Webhook deliveries of app {app}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col" className="number">
                Attempts
              </th>
              <th scope="col">Last answer</th>
              <th scope="col">To</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.items.map((delivery) => (
              <tr key={delivery.id}>
                <th scope="row" data-label="Event">
                  {delivery.type}
                </th>
                <td data-label="Status">
                  <span className={`status ${DELIVERY_CLASS[delivery.status]}`}>{delivery.status}</span>
                  {delivery.status === 'pending' && delivery.next_attempt_at !== null ? (
                    <span className="meta">
                      {' '}
                      next try <RelativeTime iso={delivery.next_attempt_at} now={now} />
                    </span>
                  ) : null}
                </td>
                <td data-label="Created">
                  <RelativeTime iso={delivery.created_at} now={now} />
                </td>
                <td data-label="Attempts" className="number">
                  {delivery.attempts}
                </td>
                <td data-label="Last answer">{lastOutcome(delivery)}</td>
                <td data-label="To">
                  <code className="wrap">{urlOf.get(delivery.webhook_id) ?? delivery.webhook_id}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : deliveries.loading ? (
        <p className="empty">Loading deliveries…</p>
      ) : deliveries.error ? null : (
        <p className="empty">No deliveries yet: events are sent when tokens are created, revoked, refreshed, rotated, about to expire or expired.</p>
      )}
      <ShowMore more={deliveries.more} loading={deliveries.loading} onMore={deliveries.loadMore} label="Show older deliveries" />
    </div>
  );
}
