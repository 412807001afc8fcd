import type { AppView, PipelineView } from '../src/apps/apps';
import type { AuditEventView } from '../src/audit/audit';
import type { ConsoleSessionView } from '../src/console/sessions';
import type { IssuedToken, TokenStatus, TokenView } from '../src/tokens/service';

export type { AppView, AuditEventView, ConsoleSessionView, IssuedToken, PipelineView, TokenStatus, TokenView };

/** The console's own facts besides its session: where the trigger API is, for the curl example. */
export interface SignedIn {
  session: ConsoleSessionView;
  trigger_url: string;
}

/** GET /v1/settings */
export interface ServerSettings {
  max_token_ttl_seconds: number;
  max_token_ttl: string;
  default_rotate_grace_seconds: number;
  max_rotate_grace_seconds: number;
  expiring_window_seconds: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** An error answer of the server (`{"error": {"code", "message"}}`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The admin API and the console's session API, from the page's own origin with its session cookie
 * (HttpOnly: this code never sees it). Every request that changes something carries the session's
 * CSRF token. A 401 means the session ended (signed out elsewhere, timed out, its admin token
 * revoked): `onSignedOut` is told, and the console shows the sign-in page.
 */
export class Api {
  private csrf: string | undefined;

  constructor(private readonly onSignedOut: (message: string) => void) {}

  /** Takes the CSRF token of a new or reloaded session. */
  useSession(session: ConsoleSessionView | undefined): void {
    this.csrf = session?.csrf_token;
  }

  /** A GET; `background` marks requests the console makes by itself (they do not count as activity). */
  get<T>(path: string, options: { background?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, options);
  }

  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body, {});
  }

  private async request<T>(method: string, path: string, body: unknown, options: { background?: boolean; signal?: AbortSignal }): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && this.csrf !== undefined) headers['X-CSRF-Token'] = this.csrf;
    if (options.background) headers['Mechamental-Background'] = '1';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(0, 'network', 'the server does not answer; is it running? Retrying when it is back.');
    }
    if (response.status === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      throw new ApiError(response.status, 'invalid_response', `the server answered ${response.status} without JSON`);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      const failure = new ApiError(response.status, error?.code ?? 'unknown', error?.message ?? `the server answered ${response.status}`);
      if (response.status === 401 && !path.startsWith('/console/api/sign-in')) this.onSignedOut(failure.message);
      throw failure;
    }
    return parsed as T;
  }

  signIn(credential: { code: string } | { token: string }): Promise<SignedIn> {
    return this.request<SignedIn>('POST', '/console/api/sign-in', credential, {});
  }

  /** The session, or null when this browser has none (a session that ended is a 401: onSignedOut says why). */
  async session(): Promise<SignedIn | null> {
    const answer = await this.get<SignedIn | { session: null }>('/console/api/session');
    return answer.session === null ? null : (answer as SignedIn);
  }

  signOut(): Promise<void> {
    return this.send<void>('POST', '/console/api/sign-out');
  }

  settings(): Promise<ServerSettings> {
    return this.get<{ settings: ServerSettings }>('/v1/settings').then((answer) => answer.settings);
  }

  apps(): Promise<AppView[]> {
    return this.get<{ apps: AppView[] }>('/v1/apps').then((answer) => answer.apps);
  }

  pipelines(app: string, background = false): Promise<PipelineView[]> {
    return this.get<{ pipelines: PipelineView[] }>(`/v1/apps/${encodeURIComponent(app)}/pipelines`, { background }).then((answer) => answer.pipelines);
  }

  async tokens(app: string, query: { status?: TokenStatus | undefined; search?: string | undefined; limit: number; cursor?: string | undefined }, options: { background?: boolean; signal?: AbortSignal } = {}): Promise<Page<TokenView>> {
    const params = new URLSearchParams({ limit: String(query.limit) });
    if (query.status) params.set('status', query.status);
    if (query.search) params.set('search', query.search);
    if (query.cursor) params.set('cursor', query.cursor);
    const answer = await this.get<{ tokens: TokenView[]; next_cursor: string | null }>(`/v1/apps/${encodeURIComponent(app)}/tokens?${params}`, options);
    return { items: answer.tokens, nextCursor: answer.next_cursor };
  }

  async audit(app: string, query: { limit: number; cursor?: string | undefined }, options: { background?: boolean; signal?: AbortSignal } = {}): Promise<Page<AuditEventView>> {
    const params = new URLSearchParams({ app, limit: String(query.limit) });
    if (query.cursor) params.set('cursor', query.cursor);
    const answer = await this.get<{ events: AuditEventView[]; next_cursor: string | null }>(`/v1/audit?${params}`, options);
    return { items: answer.events, nextCursor: answer.next_cursor };
  }

  createToken(app: string, body: { name: string; expires_in?: string; expires_at?: string }): Promise<IssuedToken> {
    return this.send<IssuedToken>('POST', `/v1/apps/${encodeURIComponent(app)}/tokens`, body);
  }

  revokeToken(app: string, id: string): Promise<{ token: TokenView }> {
    return this.send('POST', `/v1/apps/${encodeURIComponent(app)}/tokens/${encodeURIComponent(id)}/revoke`);
  }

  refreshToken(app: string, id: string, body: { expires_in?: string; expires_at?: string }): Promise<{ token: TokenView }> {
    return this.send('POST', `/v1/apps/${encodeURIComponent(app)}/tokens/${encodeURIComponent(id)}/refresh`, body);
  }

  rotateToken(app: string, id: string, grace: string): Promise<IssuedToken & { previous: TokenView }> {
    return this.send('POST', `/v1/apps/${encodeURIComponent(app)}/tokens/${encodeURIComponent(id)}/rotate`, { grace });
  }
}
