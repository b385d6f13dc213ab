import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // Test-only bindings: migrations for the setup file, a known root key,
          // definitions never cached across requests (SPEC §5.9: "tests set 0").
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_ROOT_KEY: "test-root-key-0123456789abcdef0123456789",
            SIGNING_KEY_SECRET: "k1:test-signing-secret-0123456789abcdef0123",
            DEFINITIONS_TTL_MS: "0",
            LOG_LEVEL: "error",
            // Lets a test event fail inside the user's transaction (src/user/user-state.ts).
            TEST_FAULT_INJECTION: "on",
            // Pinned so a developer's .dev.vars (which the pool also reads) cannot change them.
            PUBLIC_BASE_URL: "",
            SPACE_HOST_SUFFIX: "",
            ALLOW_PRIVATE_WEBHOOK_TARGETS: "false",
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/setup.ts"],
      // One more file in flight than this machine has cores: the longest files mostly wait
      // on queues, alarms and the directory, not on the CPU (measured: 8.6 → 4.8 min).
      maxWorkers: 3,
      include: ["test/**/*.test.ts"],
      // test/e2e runs in Node against a real `npm start` (vitest.e2e.config.ts).
      exclude: ["test/e2e/**", "node_modules/**"],
    },
  };
});
