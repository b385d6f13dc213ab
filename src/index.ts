import { newApp } from "./app";
import type { Env } from "./env";
import { consumeBatch } from "./queue/consumer";

export { UserState } from "./user/user-state";

const app = newApp();

export default {
  fetch: app.fetch,
  queue: consumeBatch,
} satisfies ExportedHandler<Env>;
