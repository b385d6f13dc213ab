CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`space_id` text NOT NULL,
	`kind` text NOT NULL,
	`endpoint_id` text,
	`user_id` text NOT NULL,
	`event_type` text NOT NULL,
	`message` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`last_latency_ms` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deliveries_endpoint_idx` ON `deliveries` (`space_id`,`endpoint_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `deliveries_user_idx` ON `deliveries` (`space_id`,`user_id`);--> statement-breakpoint
CREATE INDEX `deliveries_created_idx` ON `deliveries` (`created_at`);--> statement-breakpoint
CREATE TABLE `delivery_attempts` (
	`delivery_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`at` integer NOT NULL,
	`status_code` integer,
	`latency_ms` integer NOT NULL,
	`error` text,
	PRIMARY KEY(`delivery_id`, `attempt`)
);
--> statement-breakpoint
CREATE TABLE `vapid_keys` (
	`space_id` text PRIMARY KEY NOT NULL,
	`public_key` text NOT NULL,
	`private_jwk` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `definitions` ADD `previous_secret` text;--> statement-breakpoint
ALTER TABLE `definitions` ADD `previous_secret_until` integer;--> statement-breakpoint
ALTER TABLE `spaces` ADD `push` text;