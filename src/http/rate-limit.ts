import type { MiddlewareHandler } from "hono";
import type { RateLimitPolicy } from "../config";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

// Rate limits (SPEC §10) with the Workers rate-limiting binding: per admin key and per
// user (token subject), each counted per space. The binding is approximate and per
// location, as Cloudflare documents it; the limits are set per deployment in
// wrangler.toml ([[ratelimits]]: 10,000 per minute per admin key, 100 per user). A
// deployment without the binding is not limited. A binding does not tell the Worker its
// settings, so the headers and the 429 take them from ADMIN_RATE_LIMIT and
// USER_RATE_LIMIT ([vars], kept equal to [[ratelimits]]).

const policyHeader = (policy: RateLimitPolicy) => `${policy.limit};w=${policy.windowSeconds}`;

function limited(policy: RateLimitPolicy): ApiError {
  return new ApiError("rate_limited", `more than ${policy.limit} requests in ${policy.windowSeconds} s; retry later`, [], {
    "Retry-After": String(policy.windowSeconds),
    "RateLimit-Policy": policyHeader(policy),
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
  const policy = c.get("config").adminRateLimit;
  if (!(await allowed(c.env.ADMIN_RATE_LIMITER, `${c.get("space")?.id ?? "*"}:${who}`))) throw limited(policy);
  await next();
  c.header("RateLimit-Policy", policyHeader(policy));
};

/** After userAuth: the user is the token's subject. */
export const userRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const policy = c.get("config").userRateLimit;
  if (!(await allowed(c.env.USER_RATE_LIMITER, `${c.get("space").id}:${c.get("userId")}`))) throw limited(policy);
  await next();
  c.header("RateLimit-Policy", policyHeader(policy));
};
