import type { MiddlewareHandler } from "hono";
import { configOf } from "../config";
import { dbOf } from "../db/client";
import { newId } from "../lib/ids";
import type { AppEnv } from "./context";
import { log } from "./log";

/** First middleware of every request: request id, typed config, database, access log. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = Date.now();
  const requestId = newId("req", started);
  c.set("requestId", requestId);
  c.set("config", configOf(c.env));
  c.set("db", dbOf(c.env.DB));
  await next();
  c.res.headers.set("X-Request-Id", requestId);
  // 503s are expected states (not configured, a dependency down), not bugs.
  const level = c.res.status >= 500 ? (c.res.status === 503 ? "warn" : "error") : "info";
  log(c.env, level, "request", {
    requestId,
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    ms: Date.now() - started,
    space: c.get("space")?.slug,
    userId: c.get("userId"),
  });
};
