import { and, eq, gt, inArray, isNotNull, lte, or } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { ConsoleRepo } from '../store';
import type * as schema from './schema';
import { consoleSessions, consoleSignInCodes, tokens } from './schema';

/** The query interface shared by the database and a transaction. */
type Queries = Pick<PostgresJsDatabase<typeof schema>, 'select' | 'insert' | 'update' | 'delete'>;

/** Web console sessions and sign-in codes on PostgreSQL (see ConsoleRepo). */
export function postgresConsoleRepo(q: Queries): ConsoleRepo {
  return {
    insertSession: async (row) => {
      await q.insert(consoleSessions).values(row);
    },
    session: async (idHash) => {
      const [found] = await q
        .select({
          session: consoleSessions,
          token: { id: tokens.id, name: tokens.name, kind: tokens.kind, expiresAt: tokens.expiresAt, revokedAt: tokens.revokedAt },
        })
        .from(consoleSessions)
        .innerJoin(tokens, eq(tokens.id, consoleSessions.adminTokenId))
        .where(eq(consoleSessions.idHash, idHash))
        .limit(1);
      return found;
    },
    touchSession: async (idHash, at) => {
      await q
        .update(consoleSessions)
        .set({ lastSeenAt: at })
        .where(and(eq(consoleSessions.idHash, idHash), lte(consoleSessions.lastSeenAt, at)));
    },
    deleteSession: async (idHash) => (await q.delete(consoleSessions).where(eq(consoleSessions.idHash, idHash)).returning({ idHash: consoleSessions.idHash })).length > 0,
    insertSignInCode: async (row) => {
      await q.insert(consoleSignInCodes).values(row);
    },
    takeSignInCode: async (codeHash, now) =>
      (
        await q
          .delete(consoleSignInCodes)
          .where(and(eq(consoleSignInCodes.codeHash, codeHash), gt(consoleSignInCodes.expiresAt, now)))
          .returning()
      )[0],
    prune: async (now, idleBefore) => {
      const codes = await q.delete(consoleSignInCodes).where(lte(consoleSignInCodes.expiresAt, now)).returning({ codeHash: consoleSignInCodes.codeHash });
      const deadTokens = q
        .select({ id: tokens.id })
        .from(tokens)
        .where(and(eq(tokens.kind, 'admin'), or(isNotNull(tokens.revokedAt), lte(tokens.expiresAt, now))));
      const sessions = await q
        .delete(consoleSessions)
        .where(or(lte(consoleSessions.expiresAt, now), lte(consoleSessions.lastSeenAt, idleBefore), inArray(consoleSessions.adminTokenId, deadTokens)))
        .returning({ idHash: consoleSessions.idHash });
      return codes.length + sessions.length;
    },
  };
}
