import { defineConfig } from "drizzle-kit";

// Migrations are generated into wrangler's migrations_dir and applied by wrangler
// (`wrangler d1 migrations apply DB`), locally by `npm start` and in tests by the setup file.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
