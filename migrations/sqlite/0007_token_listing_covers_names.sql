-- The listing index holds each token's name too: a name search examines the rows of an app in
-- listing order from the index alone, without reading each row from the table
-- (src/db/sqlite/token-listing.ts). Rebuilt in one statement; at a million tokens, a few seconds.
DROP INDEX `tokens_app_created`;--> statement-breakpoint
CREATE INDEX `tokens_app_created` ON `tokens` (`app_id`,`created_at`,`id`,`name`);