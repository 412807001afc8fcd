import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { exactTime } from '../../src/ui-text';
import { describeReasons } from '../../src/ui-text/sparkline';
import type { TokenView } from '../api';
import { ErrorMessage } from '../components/error-message';
import { RelativeTime } from '../components/relative-time';
import { ShowMore } from '../components/show-more';
import { StatusBadge } from '../components/status-badge';
import { allowedIpsText, LastUsed, pipelinesText } from '../components/token-facts';
import { busiest, UsageChart, UsageLegend, usageSummary } from '../components/usage-chart';
import { useConsole } from '../console-context';
import { useNow } from '../hooks/use-now';
import { usePagedList } from '../hooks/use-paged-list';
import { useQuery } from '../hooks/use-query';
import { hrefOf } from '../router';

/** The windows offered (days); the server keeps usage 90 days by default (MM_USAGE_RETENTION). */
const WINDOWS = [7, 30, 90] as const;
const DEFAULT_WINDOW = 30;
/** Tokens per page on this tab: each row reads its own usage, so pages are smaller than the Tokens tab's. */
const USAGE_PAGE_SIZE = 20;

/**
 * The Usage tab: every token of the app with its requests per UTC day (accepted and refused) over
 * the chosen window, as a small chart and totals; a token's name opens its detail
 * (`#/apps/:app/usage/:id`), with a large chart, the refusals by reason, a table of the days and
 * the token's facts (restrictions, last use and from where). Counts reach the database every
 * few seconds (the server writes them in batches), and the tab reads them again on every change.
 */
export function UsageTab({ app, token }: { app: string; token?: string | undefined }) {
  const [days, setDays] = useState<number>(DEFAULT_WINDOW);
  return token === undefined ? <UsageList app={app} days={days} onDays={setDays} /> : <TokenUsageDetail app={app} id={token} days={days} onDays={setDays} />;
}

function WindowField({ days, onDays }: { days: number; onDays: (days: number) => void }) {
  const id = useId();
  return (
    <p className="field inline">
      <label htmlFor={id}>Window</label>
      <select id={id} value={days} onChange={(event) => onDays(Number(event.target.value))}>
        {WINDOWS.map((n) => (
          <option key={n} value={n}>
            last {n} days
          </option>
        ))}
      </select>
    </p>
  );
}

function UsageList({ app, days, onDays }: { app: string; days: number; onDays: (days: number) => void }) {
  const { api, version } = useConsole();
  const now = useNow();
  const fetchPage = useCallback((query: { limit: number; cursor?: string | undefined }, background: boolean) => api.tokens(app, query, { background }), [api, app]);
  const list = usePagedList(fetchPage, app, version, USAGE_PAGE_SIZE);
  return (
    <div className="usage-tab">
      <div className="toolbar">
        <p className="lead">Requests per UTC day for each token of app {app}: accepted, and refused (expired, revoked, rate limited, out of scope, from an address not allowed…).</p>
        <div className="filters">
          <WindowField days={days} onDays={onDays} />
        </div>
      </div>
      <UsageLegend />
      <ErrorMessage message={list.error} />
      {list.items.length > 0 ? (
        <table className="list usage">
          <caption className="visually-hidden">
            Usage of the tokens of app {app}, last {days} days
          </caption>
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Status</th>
              <th scope="col">Last used</th>
              <th scope="col">Requests per day</th>
              <th scope="col" className="number">
                Accepted
              </th>
              <th scope="col" className="number">
                Refused
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((token) => (
              <UsageRow key={token.id} app={app} token={token} days={days} now={now} />
            ))}
          </tbody>
        </table>
      ) : list.loading ? (
        <p className="empty">Loading tokens…</p>
      ) : list.error ? null : (
        <p className="empty">App {app} has no tokens yet, so nothing has been used. Create one on the Tokens tab.</p>
      )}
      <ShowMore more={list.more} loading={list.loading} onMore={list.loadMore} label="Show more tokens" />
    </div>
  );
}

function UsageRow({ app, token, days, now }: { app: string; token: TokenView; days: number; now: number }) {
  const { api, version } = useConsole();
  const usage = useQuery(() => api.usage(app, token.id, days, version > 0), [api, app, token.id, days, version]);
  const data = usage.data && usage.data.days === days ? usage.data : undefined;
  return (
    <tr>
      <th scope="row" data-label="Token">
        <a className="row-name" href={hrefOf({ page: 'app', app, tab: 'usage', token: token.id })}>
          {token.name}
        </a> <code className="meta">{token.hint}</code>
      </th>
      <td data-label="Status">
        <StatusBadge status={token.status} />
      </td>
      <td data-label="Last used">
        <LastUsed token={token} now={now} />
      </td>
      <td data-label="Requests per day" className="chart-cell">
        {data ? <UsageChart days={data.usage} label={`Requests per day of “${token.name}”, ${usageSummary(data.usage)}`} /> : usage.error ? <span className="error-text">{usage.error}</span> : <span className="meta">Loading…</span>}
      </td>
      <td data-label="Accepted" className="number">
        {data ? data.totals.accepted : '–'}
      </td>
      <td data-label="Refused" className="number">
        {data ? data.totals.refused_total : '–'}
      </td>
    </tr>
  );
}

/** One token: its facts, its usage as a large chart with its scale, the refusals by reason, and the days as a table. */
function TokenUsageDetail({ app, id, days, onDays }: { app: string; id: string; days: number; onDays: (days: number) => void }) {
  const { api, version } = useConsole();
  const now = useNow();
  const heading = useRef<HTMLHeadingElement>(null);
  const token = useQuery(() => api.token(app, id, version > 0), [api, app, id, version]);
  const usage = useQuery(() => api.usage(app, id, days, version > 0), [api, app, id, days, version]);
  const t = token.data;
  const data = usage.data && usage.data.days === days ? usage.data : undefined;
  const named = t !== undefined;
  useEffect(() => {
    // Opening a token's detail moves focus to its heading (a screen reader says where it is).
    if (named) heading.current?.focus();
  }, [named]);
  const back = (
    <p className="breadcrumb">
      <a href={hrefOf({ page: 'app', app, tab: 'usage' })}>All tokens’ usage</a>
    </p>
  );
  if (!t) {
    return (
      <div>
        {back}
        {token.error ? <ErrorMessage message={token.error} /> : <p className="empty">Loading the token…</p>}
      </div>
    );
  }
  const withRequests = data ? data.usage.filter((d) => d.accepted + d.refused_total > 0) : [];
  return (
    <div className="usage-detail">
      {back}
      <h2 ref={heading} tabIndex={-1}>
        Usage of “{t.name}” <code className="meta">{t.id}</code>
      </h2>
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={t.status} />
          </dd>
        </div>
        <div>
          <dt>Hint</dt>
          <dd>
            <code>{t.hint}</code>
          </dd>
        </div>
        <div>
          <dt>{t.status === 'revoked' ? 'Revoked' : 'Expires'}</dt>
          <dd>
            <RelativeTime iso={t.status === 'revoked' ? t.revoked_at : t.expires_at} now={now} />
          </dd>
        </div>
        <div>
          <dt>Last used</dt>
          <dd>
            <LastUsed token={t} now={now} />
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <RelativeTime iso={t.created_at} now={now} />
          </dd>
        </div>
        <div>
          <dt>Pipelines</dt>
          <dd>{pipelinesText(t.pipelines)}</dd>
        </div>
        <div>
          <dt>Allowed IPs</dt>
          <dd>{allowedIpsText(t.allowed_ips)}</dd>
        </div>
        {t.description !== null ? (
          <div className="wide">
            <dt>Description</dt>
            <dd>{t.description}</dd>
          </div>
        ) : null}
      </dl>
      <div className="toolbar">
        <h3>Requests per UTC day</h3>
        <div className="filters">
          <WindowField days={days} onDays={onDays} />
        </div>
      </div>
      <ErrorMessage message={usage.error} />
      {data ? (
        <>
          <figure className="usage-figure">
            <div className="chart-frame">
              <span className="axis-max meta" aria-hidden="true">
                max {busiest(data.usage)}
              </span>
              <UsageChart days={data.usage} size="large" label={`Requests per day of “${t.name}”, ${usageSummary(data.usage)}`} />
            </div>
            <p className="axis-days meta" aria-hidden="true">
              <span>{data.from}</span>
              <span>{data.to}</span>
            </p>
            <figcaption>
              <UsageLegend />
              <p>
                <strong>{data.totals.accepted}</strong> accepted, <strong>{data.totals.refused_total}</strong> refused from {data.from} to {data.to} (UTC)
                {data.totals.refused_total > 0 ? `; refused by reason: ${describeReasons(data.totals.refused)}` : ''}.
              </p>
            </figcaption>
          </figure>
          {withRequests.length > 0 ? (
            <table className="numbers usage-days">
              <caption>Days with requests, newest first (days without any are left out)</caption>
              <thead>
                <tr>
                  <th scope="col">Day (UTC)</th>
                  <th scope="col" className="number">
                    Accepted
                  </th>
                  <th scope="col" className="number">
                    Refused
                  </th>
                  <th scope="col">Refused by reason</th>
                </tr>
              </thead>
              <tbody>
                {withRequests.map((d) => (
                  <tr key={d.day}>
                    <th scope="row">{d.day}</th>
                    <td className="number">{d.accepted}</td>
                    <td className="number">{d.refused_total}</td>
                    <td>{d.refused_total > 0 ? describeReasons(d.refused) : '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="empty">
              No requests in the last {days} days.{t.last_used_at !== null ? ` Last used ${exactTime(t.last_used_at)}.` : ''}
            </p>
          )}
        </>
      ) : usage.error ? null : (
        <p className="empty">Loading usage…</p>
      )}
    </div>
  );
}
