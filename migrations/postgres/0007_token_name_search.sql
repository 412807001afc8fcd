-- The token name search (`search`: the name contains the text, case-insensitively) by index: a
-- trigram GIN index on lower(name) when the pg_trgm extension can be had. pg_trgm ships with
-- PostgreSQL's contrib (Debian's postgresql includes it) and is a trusted extension, so a database
-- owner may create it; where it cannot be created (a managed service that refuses it, a role without
-- CREATE on the database), the migration goes on without it and searches scan the app's tokens in
-- listing order. Once an administrator has created the extension, the index can be added by hand:
--   CREATE INDEX tokens_name_trgm ON tokens USING gin (lower(name) gin_trgm_ops);
DO $$
DECLARE
  trgm_schema text;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'mechamental: pg_trgm is not available (%); token name searches will not use an index', SQLERRM;
  END;
  SELECT n.nspname INTO trgm_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF trgm_schema IS NOT NULL THEN
    BEGIN
      EXECUTE format('CREATE INDEX IF NOT EXISTS tokens_name_trgm ON tokens USING gin (lower(name) %I.gin_trgm_ops)', trgm_schema);
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'mechamental: the trigram index could not be created (%); token name searches will not use an index', SQLERRM;
    END;
  END IF;
END
$$;
