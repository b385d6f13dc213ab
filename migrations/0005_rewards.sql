CREATE TABLE `product_codes` (
	`space_id` text NOT NULL,
	`product_id` text NOT NULL,
	`code` text NOT NULL,
	`reservation_id` text,
	`user_id` text,
	`allocated_at` integer,
	PRIMARY KEY(`space_id`, `product_id`, `code`)
);
--> statement-breakpoint
CREATE INDEX `product_codes_free_idx` ON `product_codes` (`space_id`,`product_id`,`reservation_id`);--> statement-breakpoint
CREATE TABLE `product_stock` (
	`space_id` text NOT NULL,
	`product_id` text NOT NULL,
	`remaining` integer,
	`redeemed` integer DEFAULT 0 NOT NULL,
	`configured` integer,
	PRIMARY KEY(`space_id`, `product_id`),
	CONSTRAINT "out_of_stock" CHECK("product_stock"."remaining" >= 0)
);
--> statement-breakpoint
CREATE TABLE `reservations` (
	`id` text PRIMARY KEY NOT NULL,
	`space_id` text NOT NULL,
	`user_id` text NOT NULL,
	`product_id` text NOT NULL,
	`quantity` integer NOT NULL,
	`stock_taken` integer NOT NULL,
	`codes_wanted` integer NOT NULL,
	`codes_allocated` integer NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "out_of_codes" CHECK("reservations"."codes_allocated" >= "reservations"."codes_wanted")
);
--> statement-breakpoint
CREATE INDEX `reservations_status_idx` ON `reservations` (`status`,`created_at`);--> statement-breakpoint
-- Products defined before stock had its own row: remaining = the defined stock.
INSERT OR IGNORE INTO `product_stock` (`space_id`, `product_id`, `remaining`, `redeemed`, `configured`)
SELECT `space_id`, `id`, json_extract(`body`, '$.stock'), 0, json_extract(`body`, '$.stock') FROM `definitions`
WHERE `kind` = 'products' AND `erased_at` IS NULL;
