import type { Context } from "hono";
import type { AdminOp } from "../engine/admin";
import { emptyUserState, type Programme, type UserState } from "../engine/types";
import { ApiError, type ErrorCode } from "../errors";
import type { AppEnv } from "../http/context";
import { idempotencyKeyOf, requestFingerprint } from "../http/idempotency";
import { newId } from "../lib/ids";
import { programmeFor } from "../user/programme-cache";
import { userObjectName, type AdminResult } from "../user/user-state";

// The Worker's side of a user's Durable Object: one place that names the object, reads
// its state with the space's cached programme, and maps the object's answers to HTTP.

export function userStub(c: Context<AppEnv>, userId: string) {
  return c.env.USERS.getByName(userObjectName(c.get("space").id, userId));
}

/** The user's state (an empty one for a user never seen: reads never create) and the programme. */
export async function readUser(
  c: Context<AppEnv>,
  userId: string,
): Promise<{ state: UserState; seen: boolean; programme: Programme; tokensNotBefore: number | null }> {
  const [snapshot, programme] = await Promise.all([
    userStub(c, userId).snapshot() as Promise<unknown> as Promise<{ state: UserState | null; tokensNotBefore: number | null }>,
    programmeFor(c.env, c.get("space").id, c.get("config").definitionsTtlMs),
  ]);
  const stored = snapshot.state;
  return { state: stored ?? emptyUserState(userId), seen: stored !== null, programme, tokensNotBefore: snapshot.tokensNotBefore };
}

const REFUSALS: Record<string, ErrorCode> = {
  insufficient_balance: "insufficient_balance",
  above_max: "above_max",
  not_found: "not_found",
  per_user_limit: "per_user_limit",
  frozen: "frozen",
  invalid_request: "invalid_request",
  invalid_transition: "invalid_transition",
  out_of_stock: "out_of_stock",
  out_of_codes: "out_of_codes",
  not_redeemable: "not_redeemable",
  conflict: "conflict",
};

export async function runAdminOp(c: Context<AppEnv>, userId: string, op: AdminOp): Promise<Extract<AdminResult, { kind: "applied" }>> {
  // A POST's Idempotency-Key is kept by the user's object, with the operation (SPEC §5.1).
  const key = c.req.method === "POST" ? idempotencyKeyOf(c) : undefined;
  const result = (await userStub(c, userId).admin({
    spaceId: c.get("space").id,
    userId,
    opId: newId("adm"),
    op,
    definitionsTtlMs: c.get("config").definitionsTtlMs,
    ...(key !== undefined ? { idempotency: { key, fingerprint: await requestFingerprint(c) } } : {}),
  })) as unknown as AdminResult;
  if ((result.kind === "applied" || result.kind === "refused") && result.replayed) c.header("Idempotent-Replayed", "true");
  if (result.kind === "applied") return result;
  if (result.kind === "idempotency_key_reused") {
    throw new ApiError("idempotency_key_reused", "this Idempotency-Key was used with another request", [
      { path: "header.idempotency-key", message: "used with another method, path or body" },
    ]);
  }
  if (result.kind === "idempotency_in_progress") {
    throw new ApiError("idempotency_in_progress", "a request with this Idempotency-Key is still running; retry shortly", [
      { path: "header.idempotency-key", message: "in progress" },
    ]);
  }
  if (result.kind === "refused") {
    throw new ApiError(
      REFUSALS[result.code] ?? "conflict",
      `${result.path}: ${result.detail}`,
      [{ path: result.path, message: result.detail }],
      result.replayed ? { "Idempotent-Replayed": "true" } : {},
    );
  }
  // The object rolled everything back (storage, D1 or the queue failed under it): safe to
  // retry, with the same Idempotency-Key if one was sent, so 503 rather than 500.
  throw new ApiError("unavailable", "the operation failed and nothing was stored; retry it", [], { "Retry-After": "1" });
}
