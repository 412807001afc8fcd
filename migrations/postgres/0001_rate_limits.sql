CREATE TABLE "rate_limits" (
	"token_id" text PRIMARY KEY NOT NULL,
	"tat" bigint NOT NULL
);
