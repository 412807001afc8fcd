DROP INDEX `tokens_app`;--> statement-breakpoint
CREATE INDEX `tokens_app_created` ON `tokens` (`app_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tokens_app_live` ON `tokens` (`app_id`,`created_at`,`id`,`expires_at`) WHERE revoked_at IS NULL;--> statement-breakpoint
CREATE INDEX `tokens_app_revoked` ON `tokens` (`app_id`,`created_at`,`id`) WHERE revoked_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tokens_app_expiry` ON `tokens` (`app_id`,`expires_at`) WHERE revoked_at IS NULL;