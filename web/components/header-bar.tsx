import type { ConsoleSessionView } from '../api';
import { hrefOf } from '../router';

/** The top bar: the product (a link to the app list), who is signed in, and Sign out. */
export function HeaderBar({ session, onSignOut }: { session: ConsoleSessionView; onSignOut: () => void }) {
  return (
    <header className="header-bar">
      <a className="brand" href={hrefOf({ page: 'apps' })}>
        mechamental <span className="brand-sub">console</span>
      </a>
      <div className="who">
        <span className="signed-in-as" title={`admin token ${session.admin_token_id}`}>
          Signed in as {session.admin_token_name} <code>{session.admin_token_id}</code>
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
