import { z } from "zod";
import type { Env } from "./env";
import { DELIVERY_TIMEOUT_MS } from "./outbound/schedule";

const flag = z
  .string()
  .optional()
  .transform((v) => v === "true" || v === "1");
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined));
const nonNegativeInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) {
        ctx.addIssue({ code: "custom", message: `not a non-negative integer: ${v}` });
        return z.NEVER;
      }
      return n;
    });

/** What a [[ratelimits]] binding is set to, as "requests/seconds" (the binding allows 10 or 60 s). */
export interface RateLimitPolicy {
  limit: number;
  windowSeconds: number;
}
const rateLimitPolicy = (fallback: RateLimitPolicy) =>
  z
    .string()
    .optional()
    .transform((v, ctx): RateLimitPolicy => {
      if (v === undefined || v.trim() === "") return fallback;
      const match = /^(\d{1,9})\/(10|60)$/.exec(v.trim());
      if (!match || Number(match[1]) < 1) {
        ctx.addIssue({ code: "custom", message: `not "requests/seconds" with 10 or 60 seconds: ${v}` });
        return z.NEVER;
      }
      return { limit: Number(match[1]), windowSeconds: Number(match[2]) };
    });

const configSchema = z.object({
  PUBLIC_BASE_URL: optionalText.transform((v) => v?.replace(/\/+$/, "")),
  SPACE_HOST_SUFFIX: optionalText.transform((v) => v?.toLowerCase().replace(/^\.+|\.+$/g, "")),
  ALLOW_PRIVATE_WEBHOOK_TARGETS: flag,
  DEFINITIONS_TTL_MS: nonNegativeInt(2000),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).catch("info"),
  MAX_ACTIVE_CAMPAIGNS: nonNegativeInt(1000),
  /** SPEC §5.7: how long activity and full outcomes are kept, in days (1 to 3,650). */
  ACTIVITY_RETENTION_DAYS: nonNegativeInt(30).refine((days) => days >= 1 && days <= 3650, "activity retention is 1 to 3650 days"),
  /** SPEC §10: what ADMIN_RATE_LIMITER and USER_RATE_LIMITER are set to in [[ratelimits]], for the headers. */
  ADMIN_RATE_LIMIT: rateLimitPolicy({ limit: 10_000, windowSeconds: 60 }),
  USER_RATE_LIMIT: rateLimitPolicy({ limit: 100, windowSeconds: 60 }),
  ADMIN_ROOT_KEY: optionalText,
  SIGNING_KEY_SECRET: optionalText,
  /** Seconds between delivery attempts, comma-separated (local e2e tests shorten it). */
  DELIVERY_RETRY_SCHEDULE: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const steps = v.split(",").map((s) => Number(s.trim()));
    if (steps.length === 0 || steps.some((n) => !Number.isSafeInteger(n) || n < 1 || n > 43_200)) {
      ctx.addIssue({ code: "custom", message: `not a list of 1-43200 second delays: ${v}` });
      return z.NEVER;
    }
    return steps;
  }),
  TEST_FAULT_INJECTION: z.string().optional(),
  /** Tests only (honoured with TEST_FAULT_INJECTION "on"): a receiver that times out without waiting 15 s. */
  TEST_DELIVERY_TIMEOUT_MS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return undefined;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1 || n > DELIVERY_TIMEOUT_MS) {
        ctx.addIssue({ code: "custom", message: `not a timeout of 1-${DELIVERY_TIMEOUT_MS} ms: ${v}` });
        return z.NEVER;
      }
      return n;
    }),
});

/** Typed deployment settings; vars are strings in wrangler.toml, "" meaning unset. */
export type Config = {
  publicBaseUrl: string | undefined;
  spaceHostSuffix: string | undefined;
  allowPrivateTargets: boolean;
  definitionsTtlMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
  maxActiveCampaigns: number;
  /** How long a user's object keeps activity entries and their outcomes. */
  activityRetentionMs: number;
  /** The rate-limiting bindings' settings, which the Worker cannot read from them (SPEC §10). */
  adminRateLimit: RateLimitPolicy;
  userRateLimit: RateLimitPolicy;
  adminRootKey: string | undefined;
  signingKeySecret: string | undefined;
  /** Delays between delivery attempts; undefined = SPEC §8.1's schedule. */
  deliveryRetrySchedule: number[] | undefined;
  /** How long a webhook or push receiver has to answer: SPEC §8.1's 15 s (shorter only in tests). */
  deliveryTimeoutMs: number;
};

const cache = new WeakMap<object, Config>();

/** Parses the environment once per isolate (env objects are stable per isolate). */
export function configOf(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const v = configSchema.parse(env);
  const config: Config = {
    publicBaseUrl: v.PUBLIC_BASE_URL,
    spaceHostSuffix: v.SPACE_HOST_SUFFIX,
    allowPrivateTargets: v.ALLOW_PRIVATE_WEBHOOK_TARGETS,
    definitionsTtlMs: v.DEFINITIONS_TTL_MS,
    logLevel: v.LOG_LEVEL,
    maxActiveCampaigns: v.MAX_ACTIVE_CAMPAIGNS,
    activityRetentionMs: v.ACTIVITY_RETENTION_DAYS * 86_400_000,
    adminRateLimit: v.ADMIN_RATE_LIMIT,
    userRateLimit: v.USER_RATE_LIMIT,
    adminRootKey: v.ADMIN_ROOT_KEY,
    signingKeySecret: v.SIGNING_KEY_SECRET,
    deliveryRetrySchedule: v.DELIVERY_RETRY_SCHEDULE,
    deliveryTimeoutMs: (v.TEST_FAULT_INJECTION === "on" ? v.TEST_DELIVERY_TIMEOUT_MS : undefined) ?? DELIVERY_TIMEOUT_MS,
  };
  cache.set(env, config);
  return config;
}
