CREATE TABLE "apps" (
	"id" serial PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "apps_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"app" text,
	"token_id" text,
	"detail" text
);
--> statement-breakpoint
CREATE TABLE "pipelines" (
	"id" serial PRIMARY KEY NOT NULL,
	"app_id" integer NOT NULL,
	"slug" text NOT NULL,
	"kind" text NOT NULL,
	"config" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "token_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"token_id" text NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"app_id" integer,
	"name" text NOT NULL,
	"hash" text NOT NULL,
	"hint" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint,
	"last_used_at" bigint,
	"rate_limit" integer,
	"replaced_by" text,
	CONSTRAINT "tokens_kind_app" CHECK (("tokens"."kind" = 'trigger' AND "tokens"."app_id" IS NOT NULL) OR ("tokens"."kind" = 'admin' AND "tokens"."app_id" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_app" ON "audit_events" USING btree ("app","id");--> statement-breakpoint
CREATE UNIQUE INDEX "pipelines_app_slug" ON "pipelines" USING btree ("app_id","slug");--> statement-breakpoint
CREATE INDEX "token_events_at" ON "token_events" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "tokens_hash" ON "tokens" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "tokens_app" ON "tokens" USING btree ("app_id","created_at");