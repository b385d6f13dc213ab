import { newApp } from "./app";
import type { Env } from "./env";
import { runMaintenance } from "./maintenance/prune";
import { consumeBatch } from "./queue/consumer";

export { UserState } from "./user/user-state";
export { ApiKeyGate } from "./auth/key-gate";

const app = newApp();

export default {
  fetch: app.fetch,
  queue: consumeBatch,
  // The hourly cron of wrangler.toml: bounded D1 storage (src/maintenance/prune.ts).
  scheduled: (controller, env, ctx) => ctx.waitUntil(runMaintenance(env, controller.scheduledTime).then(() => undefined)),
} satisfies ExportedHandler<Env>;
