import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/audit';
import { formatTime, type Clock } from '../clock';
import type { ConsoleSessionRow, ConsoleSessionWithToken, Store } from '../db/store';
import { AppError } from '../errors';
import type { TokenService } from '../tokens/service';

/** How long a `mechamental console` sign-in link works (SPEC: 10 minutes, single use). */
export const SIGN_IN_CODE_TTL_MS = 10 * 60_000;
/** A session ends after this long without a request from the admin (SPEC: 12 hours). */
export const SESSION_IDLE_MS = 12 * 3_600_000;
/** A session ends this long after sign-in whatever happens (SPEC: 7 days). */
export const SESSION_MAX_MS = 7 * 86_400_000;
/**
 * `last_seen_at` is written at most this often per session: the idle timeout is 12 hours, so a
 * minute's error is nothing, and the console's requests do not each cost a database write.
 */
export const SESSION_TOUCH_INTERVAL_MS = 60_000;
/** The name of the admin token `mechamental console` makes for each sign-in link. */
export const SIGN_IN_TOKEN_NAME = 'console sign-in';

/** Session ids and sign-in codes: 32 random bytes, base64url (43 characters). */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** What the console may know about its own session (never the id: that stays in the HttpOnly cookie). */
export interface ConsoleSessionView {
  admin_token_id: string;
  admin_token_name: string;
  created_at: string;
  /** The absolute end. */
  expires_at: string;
  /** When the session ends if no request comes before. */
  idle_expires_at: string;
  /** For the X-CSRF-Token header of every request that changes something. */
  csrf_token: string;
}

/** A session that works now, with its admin token. */
export interface LiveSession {
  idHash: string;
  adminTokenId: string;
  adminTokenName: string;
  adminTokenExpiresAt: number;
  row: ConsoleSessionRow;
}

export type SessionCheck = { ok: true; session: LiveSession } | { ok: false; reason: 'unknown' | 'expired' | 'idle' | 'token_revoked' | 'token_expired'; message: string };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function secret(): string {
  return randomBytes(32).toString('base64url');
}

const SIGN_IN_AGAIN = 'sign in again (run `mechamental console` on the server for a sign-in link, or paste an admin token)';

/**
 * Web console sessions (SPEC "Web console").
 *
 * Invariants kept here: a session id and a sign-in code leave this module once (the id in the
 * sign-in answer, for the cookie; the code in the link `mechamental console` prints) and only their
 * SHA-256 is stored; a code works once (taking it deletes it) and for 10 minutes; a session works
 * for at most 7 days, ends after 12 hours without a request, at sign-out, and as soon as the admin
 * token it belongs to is revoked or expires (checked on every request, no cache); the CSRF token is
 * derived from the session id, so it is neither stored nor valid for another session.
 */
export class ConsoleSessionService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly tokens: TokenService,
    private readonly policy: { maxTtlMs: number },
  ) {}

  /**
   * Makes a one-time sign-in code for `mechamental console`: an admin token named "console
   * sign-in" that expires with the code (so an unused link leaves only an expired token behind) and
   * the code's hash. Signing in with the code extends that token to the session's lifetime.
   */
  async createSignInCode(actor: 'cli' | 'tui'): Promise<{ code: string; expiresAt: number; adminTokenId: string }> {
    await this.prune();
    const now = this.clock.now();
    const expiresAt = now + SIGN_IN_CODE_TTL_MS;
    // The value is dropped here: the session, not the value, is what the admin gets.
    const { token } = await this.tokens.createAdmin({ name: SIGN_IN_TOKEN_NAME, expires: formatTime(expiresAt) }, actor);
    const code = secret();
    await this.store.transaction(async (tx) => {
      await tx.console.insertSignInCode({ codeHash: sha256(code), adminTokenId: token.id, createdAt: now, expiresAt });
    });
    return { code, expiresAt, adminTokenId: token.id };
  }

  /**
   * Signs in with a code from `mechamental console`: takes the code (it never works again) and
   * opens a session for its admin token, whose expiry moves to the session's end.
   */
  async signInWithCode(code: string): Promise<{ sessionId: string; session: ConsoleSessionView }> {
    if (typeof code === 'string' && /^mm_(?:tok|adm)_/.test(code)) {
      throw new AppError('validation_failed', 'code: this is a token value, not a sign-in code; paste an admin token in the "Admin token" field instead', { field: 'code' });
    }
    if (typeof code !== 'string' || !SECRET_SHAPE.test(code)) {
      throw new AppError('validation_failed', 'code: is not a sign-in code; copy the whole link that `mechamental console` printed', { field: 'code' });
    }
    await this.prune();
    const sessionId = secret();
    const view = await this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const taken = await tx.console.takeSignInCode(sha256(code), now);
      if (!taken) {
        throw new AppError('unauthorized', `this sign-in link does not work: it was used already or is older than ${SIGN_IN_CODE_TTL_MS / 60_000} minutes (each link works once); run \`mechamental console\` on the server for a new one`);
      }
      const found = await tx.tokens.byId(taken.adminTokenId, { forUpdate: true });
      if (!found || found.row.kind !== 'admin' || found.row.revokedAt !== null || found.row.expiresAt <= now) {
        throw new AppError('unauthorized', `the admin token of this sign-in link was revoked; run \`mechamental console\` on the server for a new link`);
      }
      const sessionEnd = now + Math.min(SESSION_MAX_MS, this.policy.maxTtlMs);
      let tokenExpiresAt = found.row.expiresAt;
      if (sessionEnd > tokenExpiresAt) {
        tokenExpiresAt = (await tx.tokens.update(found.row.id, { expiresAt: sessionEnd })).expiresAt;
        await tx.tokenChanged(found.row.id);
      }
      const row: ConsoleSessionRow = { idHash: sha256(sessionId), adminTokenId: found.row.id, createdAt: now, lastSeenAt: now, expiresAt: now + SESSION_MAX_MS };
      await tx.console.insertSession(row);
      await this.audit.record(tx, {
        actor: `console:${found.row.id}`,
        action: 'console.signed_in',
        tokenId: found.row.id,
        detail: { via: 'sign-in link', name: found.row.name, expires_at: formatTime(Math.min(row.expiresAt, tokenExpiresAt)) },
      });
      return this.viewOf(sessionId, row, { name: found.row.name, expiresAt: tokenExpiresAt });
    });
    return { sessionId, session: view };
  }

  /**
   * Signs in with a pasted admin token value (checked exactly as the admin API checks it). The
   * session belongs to that token: it ends when the token is revoked or expires.
   */
  async signInWithToken(value: string): Promise<{ sessionId: string; session: ConsoleSessionView }> {
    if (typeof value !== 'string' || value.trim() === '') {
      throw new AppError('validation_failed', 'token: paste an admin token (mm_adm_…), made on the server with `mechamental admin-tokens create`', { field: 'token' });
    }
    const verified = await this.tokens.verify(value.trim());
    if (!verified.ok) throw new AppError(verified.reason === 'revoked' ? 'token_revoked' : verified.reason === 'expired' ? 'token_expired' : 'invalid_token', verified.message);
    if (verified.token.kind !== 'admin') {
      throw new AppError('insufficient_scope', `token ${verified.token.id} is a trigger token; the console needs an admin token (mm_adm_…), made on the server with \`mechamental admin-tokens create\``);
    }
    await this.prune();
    const sessionId = secret();
    const view = await this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const found = await tx.tokens.byId(verified.token.id);
      if (!found || found.row.revokedAt !== null || found.row.expiresAt <= now) throw new AppError('token_revoked', `token ${verified.token.id} stopped working; ${SIGN_IN_AGAIN}`);
      const row: ConsoleSessionRow = { idHash: sha256(sessionId), adminTokenId: found.row.id, createdAt: now, lastSeenAt: now, expiresAt: now + SESSION_MAX_MS };
      await tx.console.insertSession(row);
      await this.audit.record(tx, {
        actor: `console:${found.row.id}`,
        action: 'console.signed_in',
        tokenId: found.row.id,
        detail: { via: 'admin token', name: found.row.name, expires_at: formatTime(Math.min(row.expiresAt, found.row.expiresAt)) },
      });
      return this.viewOf(sessionId, row, { name: found.row.name, expiresAt: found.row.expiresAt });
    });
    return { sessionId, session: view };
  }

  /**
   * Whether the session with this id works now: it exists, is within its absolute and idle
   * limits, and its admin token is neither revoked nor expired. Reads the database every time, so
   * a revoke from any process is seen by the next request. A session found dead is deleted.
   * Unless `background` (requests the console makes by itself, such as refreshing a list after a
   * change), a working session's `last_seen_at` moves to now (at most once a minute).
   */
  async check(sessionId: string, options: { background?: boolean } = {}): Promise<SessionCheck> {
    if (!SECRET_SHAPE.test(sessionId)) return { ok: false, reason: 'unknown', message: `the console session is not known; ${SIGN_IN_AGAIN}` };
    const idHash = sha256(sessionId);
    const found = await this.store.console.session(idHash);
    const now = this.clock.now();
    const verdict = this.judge(found, now);
    if (!verdict.ok) {
      if (found) await this.store.transaction((tx) => tx.console.deleteSession(idHash));
      return verdict;
    }
    if (!options.background && now - found!.session.lastSeenAt >= SESSION_TOUCH_INTERVAL_MS) {
      await this.store.transaction((tx) => tx.console.touchSession(idHash, now));
    }
    return verdict;
  }

  private judge(found: ConsoleSessionWithToken | undefined, now: number): SessionCheck {
    if (!found) return { ok: false, reason: 'unknown', message: `the console session has ended (signed out, or replaced); ${SIGN_IN_AGAIN}` };
    const { session, token } = found;
    if (session.expiresAt <= now) return { ok: false, reason: 'expired', message: `the console session reached its limit of ${SESSION_MAX_MS / 86_400_000} days; ${SIGN_IN_AGAIN}` };
    if (session.lastSeenAt + SESSION_IDLE_MS <= now) return { ok: false, reason: 'idle', message: `the console session ended after ${SESSION_IDLE_MS / 3_600_000} hours without use; ${SIGN_IN_AGAIN}` };
    if (token.revokedAt !== null) return { ok: false, reason: 'token_revoked', message: `the console session ended: its admin token ${token.id} was revoked; ${SIGN_IN_AGAIN}` };
    if (token.expiresAt <= now) return { ok: false, reason: 'token_expired', message: `the console session ended: its admin token ${token.id} expired; ${SIGN_IN_AGAIN}` };
    return { ok: true, session: { idHash: session.idHash, adminTokenId: token.id, adminTokenName: token.name, adminTokenExpiresAt: token.expiresAt, row: session } };
  }

  /** The console's view of a working session (with its CSRF token). */
  describe(sessionId: string, session: LiveSession): ConsoleSessionView {
    return this.viewOf(sessionId, session.row, { name: session.adminTokenName, expiresAt: session.adminTokenExpiresAt });
  }

  private viewOf(sessionId: string, row: ConsoleSessionRow, token: { name: string; expiresAt: number }): ConsoleSessionView {
    // The last-seen time is written at most once a minute, so idleness is told from the later of it and now.
    const lastSeen = Math.max(row.lastSeenAt, Math.min(this.clock.now(), row.lastSeenAt + SESSION_TOUCH_INTERVAL_MS));
    return {
      admin_token_id: row.adminTokenId,
      admin_token_name: token.name,
      created_at: formatTime(row.createdAt),
      expires_at: formatTime(Math.min(row.expiresAt, token.expiresAt)),
      idle_expires_at: formatTime(Math.min(lastSeen + SESSION_IDLE_MS, row.expiresAt, token.expiresAt)),
      csrf_token: this.csrfToken(sessionId),
    };
  }

  /** Ends a session (sign-out). Answers whether there was one. */
  async signOut(sessionId: string): Promise<boolean> {
    if (!SECRET_SHAPE.test(sessionId)) return false;
    const idHash = sha256(sessionId);
    const found = await this.store.console.session(idHash);
    if (!found) return false;
    return this.store.transaction(async (tx) => {
      const deleted = await tx.console.deleteSession(idHash);
      if (deleted) await this.audit.record(tx, { actor: `console:${found.token.id}`, action: 'console.signed_out', tokenId: found.token.id, detail: { name: found.token.name } });
      return deleted;
    });
  }

  /**
   * The session's CSRF token: a hash of the session id under a label of its own, so it is stored
   * nowhere, differs from the stored id hash, and means nothing without the cookie.
   */
  csrfToken(sessionId: string): string {
    return createHash('sha256').update(`mechamental console csrf\0${sessionId}`).digest('base64url');
  }

  /** Whether `presented` is this session's CSRF token (compared in constant time). */
  csrfMatches(sessionId: string, presented: string | undefined): boolean {
    if (presented === undefined) return false;
    const expected = Buffer.from(this.csrfToken(sessionId));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** Deletes expired codes and sessions that can no longer be used; answers how many rows went. */
  async prune(): Promise<number> {
    const now = this.clock.now();
    return this.store.transaction((tx) => tx.console.prune(now, now - SESSION_IDLE_MS));
  }
}
