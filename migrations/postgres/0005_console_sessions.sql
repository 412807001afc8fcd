CREATE TABLE "console_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"admin_token_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "console_sign_in_codes" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"admin_token_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_admin_token_id_tokens_id_fk" FOREIGN KEY ("admin_token_id") REFERENCES "public"."tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "console_sign_in_codes" ADD CONSTRAINT "console_sign_in_codes_admin_token_id_tokens_id_fk" FOREIGN KEY ("admin_token_id") REFERENCES "public"."tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "console_sessions_token" ON "console_sessions" USING btree ("admin_token_id");--> statement-breakpoint
CREATE INDEX "console_sessions_expires" ON "console_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "console_sign_in_codes_expires" ON "console_sign_in_codes" USING btree ("expires_at");