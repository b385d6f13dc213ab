import { applyD1Migrations, env } from "cloudflare:test";
import { beforeEach } from "vitest";

// Storage is not reset between tests of a file (pool-workers >= 0.13): migrations are
// idempotent, and every test creates its own space and user ids.
beforeEach(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});
