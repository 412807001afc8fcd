import type { TokenView } from '../api';
import { TokenRow, type TokenAction } from './token-row';

/** The Tokens tab's table (on narrow screens each row becomes a card; see styles.css). */
export function TokenTable({ tokens, now, onAction, caption }: { tokens: readonly TokenView[]; now: number; onAction: (action: TokenAction, token: TokenView) => void; caption: string }) {
  return (
    <table className="list tokens">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Hint</th>
          <th scope="col">Status</th>
          <th scope="col">Expires</th>
          <th scope="col">Last used</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {tokens.map((token) => (
          <TokenRow key={token.id} token={token} now={now} onAction={onAction} />
        ))}
      </tbody>
    </table>
  );
}
