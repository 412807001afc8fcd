ALTER TABLE "tokens" ADD COLUMN "description" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "pipelines" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "allowed_ips" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "last_used_ip" text;