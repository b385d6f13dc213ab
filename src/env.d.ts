// Bindings and vars of the Worker (wrangler.toml). Vars arrive as strings; config.ts
// parses them once per request into typed settings.
import type { UserState } from "./user/user-state";

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      USERS: DurableObjectNamespace<UserState>;
      DELIVERIES: Queue;
      INGEST: Queue;
      INDEX: Queue;
      JOBS: Queue;
      USER_RATE_LIMITER: RateLimit;
      ADMIN_RATE_LIMITER: RateLimit;
      PUBLIC_BASE_URL?: string;
      SPACE_HOST_SUFFIX?: string;
      ALLOW_PRIVATE_WEBHOOK_TARGETS?: string;
      DEFINITIONS_TTL_MS?: string;
      LOG_LEVEL?: string;
      MAX_ACTIVE_CAMPAIGNS?: string;
      /** Seconds between delivery attempts ("5,300,…"); unset = SPEC §8.1. */
      DELIVERY_RETRY_SCHEDULE?: string;
      /** Secret: may do everything in every space. Unset = refused (fail closed). */
      ADMIN_ROOT_KEY?: string;
      /** Secret: `keyId:secret[,keyId:secret…]`; the first encrypts, all decrypt. */
      SIGNING_KEY_SECRET?: string;
      /** Tests only (vitest config): "on" lets FAULT_EVENT_TYPE fail inside a transaction. Never set it in a deployment. */
      TEST_FAULT_INJECTION?: string;
    }
  }
}

export type Env = Cloudflare.Env;
