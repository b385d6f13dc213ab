import type { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { adminAuth } from "./auth/admin-auth";
import { userAuth, userCors, userSpace } from "./auth/user-auth";
import { ApiError, problemResponse, type ErrorCode } from "./errors";
import type { AppEnv } from "./http/context";
import { adminIdempotency } from "./http/idempotency";
import { adminRateLimit, userRateLimit } from "./http/rate-limit";
import { jsonBody } from "./http/json-body";
import { log } from "./http/log";
import { requestContext } from "./http/request-context";
import { newId } from "./lib/ids";
import { registerApiKeyRoutes } from "./routes/admin/api-keys";
import { registerAudienceRoutes } from "./routes/admin/audiences";
import { registerDefinitionRoutes } from "./routes/admin/definitions";
import { registerEventRoutes } from "./routes/admin/events";
import { registerUserRoutes } from "./routes/admin/users";
import { registerOutboundRoutes } from "./routes/admin/outbound";
import { registerProgrammeRoutes } from "./routes/admin/programme";
import { registerRewardRoutes } from "./routes/admin/rewards";
import { registerSpaceRoutes } from "./routes/admin/spaces";
import { registerUserTokenRoutes } from "./routes/admin/user-tokens";
import { newRouter } from "./routes/common";
import { registerProfileRoutes } from "./routes/me/profile";
import { registerAdminPushRoutes, registerMePushRoutes } from "./routes/push";
import { registerDocsRoutes } from "./routes/public/docs";
import { registerHealthRoute } from "./routes/public/health";
import { registerJwksRoutes } from "./routes/public/jwks";

/** The whole HTTP surface; used by the Worker entry point and by tests. */
export function newApp(): OpenAPIHono<AppEnv> {
  const app = newRouter();
  app.use("*", requestContext);

  registerHealthRoute(app);
  registerJwksRoutes(app);

  // Authentication comes before body parsing: an anonymous caller learns nothing from
  // how we would have parsed its body.
  const admin = newRouter();
  // no-store first, so that problems from authentication and body parsing carry it too.
  admin.use("*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  }, adminAuth, adminRateLimit, jsonBody, adminIdempotency);
  registerSpaceRoutes(admin);
  registerApiKeyRoutes(admin);
  registerUserTokenRoutes(admin);
  registerDefinitionRoutes(admin);
  registerProgrammeRoutes(admin);
  registerEventRoutes(admin);
  registerUserRoutes(admin);
  registerAudienceRoutes(admin);
  registerRewardRoutes(admin);
  registerOutboundRoutes(admin);
  registerAdminPushRoutes(admin);
  app.route("/api/loyalty/admin", admin);

  const me = newRouter();
  me.use("*", userSpace, userCors, userAuth, userRateLimit, jsonBody);
  registerProfileRoutes(me);
  registerMePushRoutes(me);
  app.route("/api/loyalty/me", me);

  registerDocsRoutes(app);
  registerMethodNotAllowed(app);

  app.notFound(() => {
    throw new ApiError("not_found", "no such route");
  });
  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? newId("req");
    if (error instanceof ApiError) return problemResponse(error, requestId);
    if (error instanceof HTTPException && error.status < 500) {
      return problemResponse(new ApiError(codeForStatus(error.status), error.message || "bad request"), requestId);
    }
    if (durableObjectFailed(error)) {
      log(c.env, "error", "durable_object_failed", { requestId, path: c.req.path, error: String(error) });
      return problemResponse(
        new ApiError("unavailable", "the state this request needs could not be reached; send it again (an event id or Idempotency-Key makes the retry count once)", [], { "Retry-After": "1" }),
        requestId,
      );
    }
    log(c.env, "error", "unhandled", { requestId, path: c.req.path, error: String(error), stack: (error as Error).stack });
    return problemResponse(new ApiError("internal_error", "something went wrong; quote the requestId when reporting it"), requestId);
  });
  return app;
}

/**
 * A call to a Durable Object failed in the runtime rather than in our code: the object
 * was reset (it could not start, or was restarted mid-call), is overloaded, or the
 * runtime marks the error as retryable. Such a call is transient: 503, never a 500.
 */
function durableObjectFailed(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const flags = error as { durableObjectReset?: unknown; overloaded?: unknown; retryable?: unknown };
  return flags.durableObjectReset === true || flags.overloaded === true || flags.retryable === true;
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return "missing_credential";
    case 404:
      return "not_found";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    default:
      return "invalid_request";
  }
}

/**
 * A known path with the wrong method is 405 with `Allow`, not 404. Registered after every
 * route, so it only runs when no route took the request (middleware such as
 * authentication still runs first).
 */
function registerMethodNotAllowed(app: OpenAPIHono<AppEnv>): void {
  const methodsByPath = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const methods = methodsByPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    methodsByPath.set(route.path, methods);
  }
  for (const [path, methods] of methodsByPath) {
    const allow = [...methods].join(", ");
    app.all(path, (c) => {
      throw new ApiError("method_not_allowed", `${c.req.method} is not allowed here; use ${allow}`, [], { Allow: allow });
    });
  }
}
