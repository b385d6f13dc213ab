-- The space `default` exists from the first start (SPEC §3.1). Its internal id is fixed so
-- every deployment names its Durable Objects the same way; its signing key is generated on
-- first use (a migration cannot generate key pairs).
INSERT OR IGNORE INTO `spaces` (`id`, `slug`, `name`, `timezone`, `created_at`, `updated_at`)
VALUES ('spc_default', 'default', 'Default', 'UTC',
        CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
