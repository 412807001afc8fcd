ALTER TABLE `tokens` ADD `description` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `pipelines` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `allowed_ips` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `last_used_ip` text;