-- Gateway mode (SPEC §8.2) signs with push.gatewaySecret, which is required with
-- push.gatewayUrl from now on. A space that set a gateway URL before secrets existed never
-- had a push delivered (they were logged `skipped`), and every PATCH of it would now be
-- 400 until a secret is added: its URL is cleared, so its pushes go to Web Push
-- subscriptions. Both versions move: the space changed, and compiled programmes cached on
-- the definitions version must see that the space has no gateway any more.
UPDATE `spaces`
SET `push` = json_set(`push`, '$.gatewayUrl', NULL),
    `version` = `version` + 1,
    `definitions_version` = `definitions_version` + 1,
    `updated_at` = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE json_extract(`push`, '$.gatewayUrl') IS NOT NULL
  AND json_extract(`push`, '$.gatewaySecret') IS NULL;
