import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import type { AppEnv } from "../http/context";
import { findSpaceBySlug, originAllowedByAnySpace } from "../spaces/store";
import { namedSpaceSlug } from "../spaces/resolve";
import { bearerToken } from "./admin-auth";
import { verifyUserToken } from "./verify-user-token";

/** The User API's space: host or header, else `default` (SPEC §3.1). */
export const userSpace: MiddlewareHandler<AppEnv> = async (c, next) => {
  const slug = namedSpaceSlug(c.req.raw, c.get("config")) ?? "default";
  const space = await findSpaceBySlug(c.get("db"), c.get("config"), slug);
  if (!space) throw new ApiError("not_found", `no space '${slug}'`);
  c.set("space", space);
  return next();
};

const CORS_METHODS = "GET, PUT, DELETE, OPTIONS";
const CORS_HEADERS = "Authorization, Content-Type, X-Loyalty-Space";

/**
 * CORS for the space's `corsOrigins` only (SPEC §2): the Admin API sends none. Runs
 * before authentication so that a browser can read our 401s, and answers preflights.
 */
export const userCors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header("origin");
  const allowed = origin !== undefined && c.get("space").corsOrigins.includes(origin);
  if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method")) {
    const headers = new Headers({ Vary: "Origin", "X-Request-Id": c.get("requestId") });
    // A preflight carries no X-Loyalty-Space header; unless the host names the space, any
    // space's origins may pass it (the real response is checked against its own space).
    const preflightAllowed =
      allowed ||
      (origin !== undefined &&
        namedSpaceSlug(c.req.raw, c.get("config")) === undefined &&
        (await originAllowedByAnySpace(c.get("db"), c.get("config"), origin)));
    if (preflightAllowed && origin !== undefined) {
      headers.set("Access-Control-Allow-Origin", origin);
      headers.set("Access-Control-Allow-Methods", CORS_METHODS);
      headers.set("Access-Control-Allow-Headers", CORS_HEADERS);
      headers.set("Access-Control-Max-Age", "600");
    }
    return new Response(null, { status: 204, headers });
  }
  try {
    await next();
  } finally {
    c.header("Vary", "Origin", { append: true });
    if (allowed) {
      c.header("Access-Control-Allow-Origin", origin);
      c.header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    }
  }
};

/** Verifies the bearer token; the user is its subject and nothing else in the request. */
export const userAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (token === undefined) {
    throw new ApiError("missing_credential", "send Authorization: Bearer <user token>", [], { "WWW-Authenticate": "Bearer" });
  }
  const verified = await verifyUserToken(c.get("db"), c.get("space"), c.get("config"), token);
  c.set("userId", verified.userId);
  c.set("tokenIssuedAt", verified.issuedAt);
  return next();
};
