CREATE TABLE "idempotency_keys" (
	"token_id" text NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"pipeline" text NOT NULL,
	"run_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"answer_status" integer,
	"answer" text,
	CONSTRAINT "idempotency_keys_pk" PRIMARY KEY("token_id","key")
);
--> statement-breakpoint
CREATE TABLE "run_events" (
	"run_id" text NOT NULL,
	"seq" integer NOT NULL,
	"event" text NOT NULL,
	"data" text NOT NULL,
	CONSTRAINT "run_events_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"token_id" text NOT NULL,
	"pipeline" text NOT NULL,
	"status" text NOT NULL,
	"started_at" bigint NOT NULL,
	"ended_at" bigint,
	"output" text,
	"error" text,
	"last_seq" integer NOT NULL,
	"owner" text NOT NULL,
	"heartbeat_at" bigint NOT NULL,
	"cancel_requested_at" bigint
);
--> statement-breakpoint
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires" ON "idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "runs_token_pipeline" ON "runs" USING btree ("token_id","pipeline","started_at");--> statement-breakpoint
CREATE INDEX "runs_ended" ON "runs" USING btree ("ended_at");--> statement-breakpoint
CREATE INDEX "runs_running_owner" ON "runs" USING btree ("owner") WHERE "runs"."status" = 'running';