import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

// Rate limits (SPEC §10) with the Workers rate-limiting binding: per admin key and per
// user (token subject), each counted per space. The binding is approximate and per
// location, as Cloudflare documents it; the limits are set per deployment in
// wrangler.toml ([[ratelimits]]: 10,000 per minute per admin key, 100 per user). A
// deployment without the binding is not limited.

const ADMIN_POLICY = { limit: 10_000, windowSeconds: 60 };
const USER_POLICY = { limit: 100, windowSeconds: 60 };

function limited(policy: { limit: number; windowSeconds: number }): ApiError {
  return new ApiError("rate_limited", `more than ${policy.limit} requests in ${policy.windowSeconds} s; retry later`, [], {
    "Retry-After": String(policy.windowSeconds),
    "RateLimit-Policy": `${policy.limit};w=${policy.windowSeconds}`,
    RateLimit: `limit=${policy.limit}, remaining=0, reset=${policy.windowSeconds}`,
  });
}

async function allowed(binding: RateLimit | undefined, key: string): Promise<boolean> {
  if (!binding) return true;
  return (await binding.limit({ key })).success;
}

/** After adminAuth: the principal is known. */
export const adminRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = c.get("principal");
  const who = principal.kind === "key" ? principal.keyId : "root";
  // Root requests about spaces themselves have no space.
  if (!(await allowed(c.env.ADMIN_RATE_LIMITER, `${c.get("space")?.id ?? "*"}:${who}`))) throw limited(ADMIN_POLICY);
  await next();
  c.header("RateLimit-Policy", `${ADMIN_POLICY.limit};w=${ADMIN_POLICY.windowSeconds}`);
};

/** After userAuth: the user is the token's subject. */
export const userRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await allowed(c.env.USER_RATE_LIMITER, `${c.get("space").id}:${c.get("userId")}`))) throw limited(USER_POLICY);
  await next();
  c.header("RateLimit-Policy", `${USER_POLICY.limit};w=${USER_POLICY.windowSeconds}`);
};
