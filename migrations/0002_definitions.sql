CREATE TABLE `definition_refs` (
	`space_id` text NOT NULL,
	`from_kind` text NOT NULL,
	`from_id` text NOT NULL,
	`path` text NOT NULL,
	`to_kind` text NOT NULL,
	`to_id` text NOT NULL,
	PRIMARY KEY(`space_id`, `from_kind`, `from_id`, `path`, `to_kind`, `to_id`)
);
--> statement-breakpoint
CREATE INDEX `definition_refs_to_idx` ON `definition_refs` (`space_id`,`to_kind`,`to_id`);--> statement-breakpoint
CREATE TABLE `definitions` (
	`space_id` text NOT NULL,
	`kind` text NOT NULL,
	`id` text NOT NULL,
	`body` text NOT NULL,
	`info` text NOT NULL,
	`status` text,
	`secret` text,
	`version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`archived_at` integer,
	`erased_at` integer,
	PRIMARY KEY(`space_id`, `kind`, `id`),
	FOREIGN KEY (`space_id`) REFERENCES `spaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `definitions_status_idx` ON `definitions` (`space_id`,`kind`,`status`);--> statement-breakpoint
ALTER TABLE `spaces` ADD `definitions_write_id` text;