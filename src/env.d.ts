// Bindings and vars of the Worker (wrangler.toml). Vars arrive as strings; config.ts
// parses them once per request into typed settings.
import type { UserState } from "./user/user-state";
import type { ApiKeyGate } from "./auth/key-gate";

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      USERS: DurableObjectNamespace<UserState>;
      /** Answers Admin API key checks from memory; src/auth/key-gate.ts. */
      API_KEY_GATES: DurableObjectNamespace<ApiKeyGate>;
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
      /** Days activity entries and their outcomes are kept (SPEC §5.7); default 30. */
      ACTIVITY_RETENTION_DAYS?: string;
      ADMIN_RATE_LIMIT?: string;
      USER_RATE_LIMIT?: string;
      /** Seconds between delivery attempts ("5,300,…"); unset = SPEC §8.1. */
      DELIVERY_RETRY_SCHEDULE?: string;
      /** Secret: may do everything in every space. Unset = refused (fail closed). */
      ADMIN_ROOT_KEY?: string;
      /** Secret: `keyId:secret[,keyId:secret…]`; the first encrypts, all decrypt. */
      SIGNING_KEY_SECRET?: string;
      /**
       * Tests only (vitest config): "on" enables the fault switches. Never set it in a
       * deployment (wrangler.toml does not). With it, and only with it:
       * - a `test.fault` event (FAULT_EVENT_TYPE) fails inside its transaction, and a
       *   redemption of a product with `metadata.testFault: true` fails after taking stock;
       * - src/testing/faults.ts switches, armed per user by a row `meta[testFault:<name>]`
       *   that only a test writes (runInDurableObject + armFault): `do.transaction` (storage
       *   fails mid-event, after ledger, before outbox), `queue.deliveries` / `queue.index`
       *   (the outbox's send throws; the alarm re-sends), `d1.reserve.before` /
       *   `d1.reserve.after` (the reservation batch fails before / after D1 committed it),
       *   `d1.settle` (confirm/release fail; the alarm settles later);
       * - TEST_DELIVERY_TIMEOUT_MS shortens the 15 s a webhook/push receiver has to answer.
       */
      TEST_FAULT_INJECTION?: string;
      /** Tests only, with TEST_FAULT_INJECTION "on": delivery timeout in ms (1-15000); unset = 15 s. */
      TEST_DELIVERY_TIMEOUT_MS?: string;
    }
  }
}

export type Env = Cloudflare.Env;
