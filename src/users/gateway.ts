import type { Context } from "hono";
import type { AdminOp } from "../engine/admin";
import { emptyUserState, type Programme, type UserState } from "../engine/types";
import { ApiError, type ErrorCode } from "../errors";
import type { AppEnv } from "../http/context";
import { newId } from "../lib/ids";
import { programmeFor } from "../user/programme-cache";
import { userObjectName, type AdminResult } from "../user/user-state";

// The Worker's side of a user's Durable Object: one place that names the object, reads
// its state with the space's cached programme, and maps the object's answers to HTTP.

export function userStub(c: Context<AppEnv>, userId: string) {
  return c.env.USERS.getByName(userObjectName(c.var.space.id, userId));
}

/** The user's state (an empty one for a user never seen: reads never create) and the programme. */
export async function readUser(
  c: Context<AppEnv>,
  userId: string,
): Promise<{ state: UserState; seen: boolean; programme: Programme; tokensNotBefore: number | null }> {
  const [snapshot, programme] = await Promise.all([
    userStub(c, userId).snapshot() as Promise<unknown> as Promise<{ state: UserState | null; tokensNotBefore: number | null }>,
    programmeFor(c.env, c.var.space.id, c.var.config.definitionsTtlMs),
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
};

export async function runAdminOp(c: Context<AppEnv>, userId: string, op: AdminOp): Promise<Extract<AdminResult, { kind: "applied" }>> {
  const result = (await userStub(c, userId).admin({
    spaceId: c.var.space.id,
    userId,
    opId: newId("adm"),
    op,
    definitionsTtlMs: c.var.config.definitionsTtlMs,
  })) as unknown as AdminResult;
  if (result.kind === "applied") return result;
  if (result.kind === "refused") {
    throw new ApiError(REFUSALS[result.code] ?? "conflict", `${result.path}: ${result.detail}`, [{ path: result.path, message: result.detail }]);
  }
  throw new ApiError("internal_error", "the operation failed; nothing was stored");
}
