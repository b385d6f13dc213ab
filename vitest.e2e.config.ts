import { defineConfig } from "vitest/config";

// End-to-end tests in Node against a real `npm start` (wrangler dev): the README
// quickstart. Kept apart from the Workers-runtime suite, which runs inside workerd.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
