import { useCallback, useId, useRef, useState } from 'react';
import { TOKEN_STATUSES } from '../../src/tokens/status';
import { exactTime, revokeQuestion, STATUS_MEANINGS } from '../../src/ui-text';
import type { TokenStatus, TokenView } from '../api';
import { Dialog } from '../components/dialog';
import { ErrorMessage } from '../components/error-message';
import { ShowMore } from '../components/show-more';
import { useConsole } from '../console-context';
import { CreateTokenForm } from '../dialogs/create-token-form';
import { IssuedValue, type Issued } from '../dialogs/issued-value';
import { RefreshForm } from '../dialogs/refresh-form';
import { RevokeConfirm } from '../dialogs/revoke-confirm';
import { RotateForm } from '../dialogs/rotate-form';
import { useDebounced } from '../hooks/use-debounced';
import { useNow } from '../hooks/use-now';
import { usePagedList } from '../hooks/use-paged-list';
import { useQuery } from '../hooks/use-query';
import { tokenNameId, type TokenAction } from './token-row';
import { TokenTable } from './token-table';

/** Which dialog is open. `issued` holds the one copy of a new value: dropping it forgets the value. */
type Open = { kind: 'create' } | { kind: 'issued'; issued: Issued } | { kind: 'revoke'; token: TokenView } | { kind: 'refresh'; token: TokenView } | { kind: 'rotate'; token: TokenView };

function titleOf(open: Open): string {
  switch (open.kind) {
    case 'create':
      return 'Create a new token';
    case 'issued':
      return 'Copy the token value';
    case 'revoke':
      return revokeQuestion(open.token.name);
    case 'refresh':
      return `Refresh “${open.token.name}”`;
    case 'rotate':
      return `Rotate “${open.token.name}”`;
  }
}

/**
 * The seed's Tokens tab: **Create Token** (Name, Expiration, Create; then the value once, with
 * Copy, a curl example and "I have copied it"), the list (name, hint, status, expires, last used)
 * with **Revoke** (confirmed), **Refresh** and **Rotate**, a status filter and a name search. The
 * list is read page by page as it is scrolled, and again whenever anything changes anywhere.
 */
export function TokensTab({ app }: { app: string }) {
  const { api, version, triggerUrl } = useConsole();
  const now = useNow();
  const statusId = useId();
  const searchId = useId();
  const [status, setStatus] = useState<TokenStatus | ''>('');
  const [search, setSearch] = useState('');
  const settledSearch = useDebounced(search.trim());
  const [open, setOpen] = useState<Open | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const createButton = useRef<HTMLButtonElement>(null);
  const lastToken = useRef<string | undefined>(undefined);

  const fetchPage = useCallback(
    (query: { limit: number; cursor?: string | undefined }, background: boolean) => api.tokens(app, { ...query, status: status || undefined, search: settledSearch || undefined }, { background }),
    [api, app, status, settledSearch],
  );
  const list = usePagedList(fetchPage, `${app}\n${status}\n${settledSearch}`, version);
  const pipelines = useQuery(() => api.pipelines(app, true), [api, app, version]);

  const close = useCallback(() => setOpen(null), []);
  const onAction = useCallback((action: TokenAction, token: TokenView) => {
    lastToken.current = token.id;
    setAnnouncement('');
    setOpen({ kind: action, token });
  }, []);
  const replace = (token: TokenView) => list.patch((items) => items.map((item) => (item.id === token.id ? token : item)));
  const returnFocus = () => (lastToken.current ? document.getElementById(tokenNameId({ id: lastToken.current } as TokenView)) : null) ?? createButton.current;

  const filtered = status !== '' || settledSearch !== '';
  const caption = `Tokens of app ${app}${filtered ? ` (${[status && `status ${status}`, settledSearch && `name containing “${settledSearch}”`].filter(Boolean).join(', ')})` : ''}`;

  const dialogContent = (() => {
    if (!open) return null;
    switch (open.kind) {
      case 'create':
        return (
          <CreateTokenForm
            app={app}
            now={now}
            onCancel={close}
            onCreated={(issued) => {
              lastToken.current = issued.token.id;
              setOpen({ kind: 'issued', issued });
              setAnnouncement(`Created “${issued.token.name}” (${issued.token.id}).`);
              list.reload();
            }}
          />
        );
      case 'issued':
        return <IssuedValue issued={open.issued} triggerUrl={triggerUrl} pipelines={pipelines.data ?? []} now={now} onDone={close} />;
      case 'revoke':
        return (
          <RevokeConfirm
            app={app}
            token={open.token}
            onCancel={close}
            onRevoked={(token) => {
              replace(token);
              setOpen(null);
              setAnnouncement(`Revoked “${token.name}” (${token.id}); it stopped working immediately.`);
              list.reload();
            }}
          />
        );
      case 'refresh':
        return (
          <RefreshForm
            app={app}
            token={open.token}
            now={now}
            onCancel={close}
            onRefreshed={(token) => {
              replace(token);
              setOpen(null);
              setAnnouncement(`Refreshed “${token.name}”: it now expires ${exactTime(token.expires_at)}; its value did not change.`);
              list.reload();
            }}
          />
        );
      case 'rotate':
        return (
          <RotateForm
            app={app}
            token={open.token}
            onCancel={close}
            onRotated={(issued) => {
              lastToken.current = issued.token.id;
              setOpen({ kind: 'issued', issued });
              setAnnouncement(`Rotated “${issued.token.name}”: new token ${issued.token.id}.`);
              list.reload();
            }}
          />
        );
    }
  })();

  return (
    <div className="tokens-tab">
      <div className="toolbar">
        <button ref={createButton} type="button" className="primary" onClick={() => setOpen({ kind: 'create' })}>
          Create Token
        </button>
        <div className="filters" role="search" aria-label="Tokens">
          <p className="field inline">
            <label htmlFor={statusId}>Status</label>
            <select id={statusId} value={status} onChange={(event) => setStatus(event.target.value as TokenStatus | '')}>
              <option value="">All</option>
              {TOKEN_STATUSES.map((s) => (
                <option key={s} value={s} title={STATUS_MEANINGS[s]}>
                  {s === 'active' ? 'active (incl. expiring)' : s}
                </option>
              ))}
            </select>
          </p>
          <p className="field inline">
            <label htmlFor={searchId}>Search by name</label>
            <input id={searchId} type="search" value={search} autoComplete="off" spellCheck={false} onChange={(event) => setSearch(event.target.value)} />
          </p>
        </div>
      </div>
      <p role="status" className="announcement">
        {announcement}
      </p>
      <ErrorMessage message={list.error} />
      {list.items.length > 0 ? (
        <TokenTable tokens={list.items} now={now} onAction={onAction} caption={caption} />
      ) : list.loading ? (
        <p className="empty">Loading tokens…</p>
      ) : list.error ? null : filtered ? (
        <p className="empty">No token of app {app} matches. Change the status or the search.</p>
      ) : (
        <p className="empty">App {app} has no tokens yet. Create one with Create Token; its value is shown once.</p>
      )}
      <ShowMore more={list.more} loading={list.loading} onMore={list.loadMore} label="Show more tokens" />
      {open ? (
        <Dialog title={titleOf(open)} onClose={close} returnFocus={returnFocus} role={open.kind === 'revoke' ? 'alertdialog' : 'dialog'}>
          {dialogContent}
        </Dialog>
      ) : null}
    </div>
  );
}
