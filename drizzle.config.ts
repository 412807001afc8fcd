import { defineConfig } from 'drizzle-kit';

// SQLite, the embedded default. PostgreSQL has its own config (drizzle.postgres.config.ts);
// `npm run db:generate` runs both.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/sqlite/schema.ts',
  out: './migrations/sqlite',
});
