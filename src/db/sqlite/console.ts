import { and, eq, gt, inArray, isNotNull, lte, or } from 'drizzle-orm';
import type { ConsoleRepo } from '../store';
import type { Orm } from './open';
import { consoleSessions, consoleSignInCodes, tokens } from './schema';

/** Web console sessions and sign-in codes on SQLite (see ConsoleRepo). */
export function sqliteConsoleRepo(orm: Orm): ConsoleRepo {
  return {
    insertSession: async (row) => {
      orm.insert(consoleSessions).values(row).run();
    },
    session: async (idHash) => {
      const found = orm
        .select({
          session: consoleSessions,
          token: { id: tokens.id, name: tokens.name, kind: tokens.kind, expiresAt: tokens.expiresAt, revokedAt: tokens.revokedAt },
        })
        .from(consoleSessions)
        .innerJoin(tokens, eq(tokens.id, consoleSessions.adminTokenId))
        .where(eq(consoleSessions.idHash, idHash))
        .get();
      return found;
    },
    touchSession: async (idHash, at) => {
      orm
        .update(consoleSessions)
        .set({ lastSeenAt: at })
        .where(and(eq(consoleSessions.idHash, idHash), lte(consoleSessions.lastSeenAt, at)))
        .run();
    },
    deleteSession: async (idHash) => orm.delete(consoleSessions).where(eq(consoleSessions.idHash, idHash)).run().changes > 0,
    insertSignInCode: async (row) => {
      orm.insert(consoleSignInCodes).values(row).run();
    },
    takeSignInCode: async (codeHash, now) =>
      orm
        .delete(consoleSignInCodes)
        .where(and(eq(consoleSignInCodes.codeHash, codeHash), gt(consoleSignInCodes.expiresAt, now)))
        .returning()
        .get(),
    prune: async (now, idleBefore) => {
      const codes = orm.delete(consoleSignInCodes).where(lte(consoleSignInCodes.expiresAt, now)).run().changes;
      const deadTokens = orm
        .select({ id: tokens.id })
        .from(tokens)
        .where(and(eq(tokens.kind, 'admin'), or(isNotNull(tokens.revokedAt), lte(tokens.expiresAt, now))));
      const sessions = orm
        .delete(consoleSessions)
        .where(or(lte(consoleSessions.expiresAt, now), lte(consoleSessions.lastSeenAt, idleBefore), inArray(consoleSessions.adminTokenId, deadTokens)))
        .run().changes;
      return codes + sessions;
    },
  };
}
