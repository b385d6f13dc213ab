import type { Context } from "hono";
import { ApiError } from "../errors";

/**
 * Responses that carry a secret (API keys, user tokens, webhook secrets) are never stored
 * for replay, so these endpoints refuse `Idempotency-Key` instead of ignoring it (SPEC §5.1).
 */
export function refuseIdempotencyKey(c: Context): void {
  if (c.req.header("idempotency-key") !== undefined) {
    throw new ApiError("idempotency_not_supported", "this endpoint answers a secret and does not accept Idempotency-Key", [
      { path: "header.idempotency-key", message: "not supported here" },
    ]);
  }
}
