CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`space_id` text NOT NULL,
	`type` text NOT NULL,
	`reason` text NOT NULL,
	`notify` integer NOT NULL,
	`status` text NOT NULL,
	`total` integer NOT NULL,
	`processed` integer DEFAULT 0 NOT NULL,
	`changed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`errors` text DEFAULT '[]' NOT NULL,
	`cursor` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `jobs_space_idx` ON `jobs` (`space_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `segment_members` (
	`space_id` text NOT NULL,
	`segment_id` text NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`space_id`, `segment_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `segment_members_user_idx` ON `segment_members` (`space_id`,`user_id`);--> statement-breakpoint
CREATE TABLE `user_directory` (
	`space_id` text NOT NULL,
	`user_id` text NOT NULL,
	`generation` integer NOT NULL,
	`revision` integer NOT NULL,
	`created_at` text,
	`last_seen_at` text,
	`segments` text NOT NULL,
	`updated_at` integer NOT NULL,
	`erased_at` integer,
	PRIMARY KEY(`space_id`, `user_id`)
);
