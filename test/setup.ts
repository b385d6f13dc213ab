import { applyD1Migrations, env } from "cloudflare:test";
import { beforeAll } from "vitest";

// Storage is not reset between tests of a file (pool-workers >= 0.13): the migrations are
// applied once per file, and every test creates its own space and user ids.
beforeAll(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});
