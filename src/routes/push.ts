import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/context";
import { ApiError, invalidAt } from "../errors";
import { fromBase64url } from "../lib/ids";
import { hostAllowed } from "../outbound/deliver";
import { checkOutboundUrl } from "../outbound/url-policy";
import { vapidKeysOf } from "../outbound/vapid";
import { pushSettingsOf } from "../spaces/store";
import { userObjectName } from "../user/user-state";
import { adminSecurity, errorResponses, jsonContent, jsonRequestBody, userSecurity } from "./common";
import { userIdParams } from "./admin/user-tokens";
import { mine } from "./me/profile";

// Web Push subscriptions (SPEC §8.2): registered by the operator (Admin API) or by the
// user's own app (the one write the User API allows; it touches no loyalty state), and
// the VAPID public key an app subscribes with.

/**
 * The bytes of a base64url value, or null if it is none. Refinements must not throw: zod
 * runs every check of a field even after one failed, so a key that is too long or not
 * base64url reaches the P-256 prefix check below too (that threw: a 500).
 */
const bytesOf = (v: string): Uint8Array | null => {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(v)) return null;
  try {
    return fromBase64url(v.replace(/=+$/, ""));
  } catch {
    return null;
  }
};

const base64urlOf = (bytes: number, what: string) =>
  z.string().max(200).refine((v) => bytesOf(v)?.byteLength === bytes, `${what}: base64url of ${bytes} bytes`);

const subscriptionSchema = z
  .strictObject({
    endpoint: z.string().max(2048),
    /** Browsers' PushSubscription.toJSON() includes it; accepted and ignored. */
    expirationTime: z.number().nullable().optional(),
    keys: z.strictObject({
      p256dh: base64urlOf(65, "an uncompressed P-256 public key").refine((v) => bytesOf(v)?.[0] === 4, "an uncompressed P-256 point starts with 0x04"),
      auth: base64urlOf(16, "the authentication secret"),
    }),
  })
  .openapi("PushSubscription");
const endpointQuery = z.object({ endpoint: z.string().min(1).max(2048) });

/** The endpoint must pass the outbound URL policy and belong to the space's allowed push hosts. */
function checkEndpoint(c: Context<AppEnv>, endpoint: string): void {
  const verdict = checkOutboundUrl(endpoint, { allowPrivate: c.get("config").allowPrivateTargets, spaceHostSuffix: c.get("config").spaceHostSuffix });
  if (!verdict.ok) throw invalidAt("endpoint", verdict.reason);
  if (!hostAllowed(verdict.url.hostname, pushSettingsOf(c.get("space")).allowedHosts)) {
    throw invalidAt("endpoint", `'${verdict.url.hostname}' is not one of the space's push.allowedHosts`);
  }
}

/** A 65-byte key can still be no point of P-256: every push to it would fail. */
async function checkKey(p256dh: string): Promise<void> {
  try {
    await crypto.subtle.importKey("raw", fromBase64url(p256dh.replace(/=+$/, "")), { name: "ECDH", namedCurve: "P-256" }, false, []);
  } catch {
    throw invalidAt("keys.p256dh", "not a point on the P-256 curve");
  }
}

async function subscribe(c: Context<AppEnv>, userId: string, subscription: z.infer<typeof subscriptionSchema>) {
  checkEndpoint(c, subscription.endpoint);
  await checkKey(subscription.keys.p256dh);
  const stub = c.env.USERS.getByName(userObjectName(c.get("space").id, userId));
  const stored = (await stub.putPushSubscription({
    spaceId: c.get("space").id,
    userId,
    subscription: { endpoint: subscription.endpoint, keys: subscription.keys },
  })) as "created" | "replaced" | "limit";
  if (stored === "limit") {
    throw new ApiError("limit_reached", "a user has at most 10 push subscriptions; remove one first", [{ path: "endpoint", message: "10 subscriptions already" }]);
  }
  return c.json({ endpoint: subscription.endpoint }, stored === "created" ? 201 : 200);
}

async function unsubscribe(c: Context<AppEnv>, userId: string, endpoint: string) {
  await c.env.USERS.getByName(userObjectName(c.get("space").id, userId)).deletePushSubscription(endpoint);
  return c.body(null, 204);
}

const responses = { 200: jsonContent(z.object({ endpoint: z.string() }), "Replaced"), 201: jsonContent(z.object({ endpoint: z.string() }), "Added"), ...errorResponses };

export function registerAdminPushRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ method: "put", path: "/users/{userId}/push-subscriptions", tags: ["Users"], security: adminSecurity, summary: "Register a Web Push subscription for a user",
      description: "201 added, 200 replaced (same endpoint); ≤ 10 per user (409 limit_reached); the endpoint must be in the space's push.allowedHosts.",
      request: { params: userIdParams, body: jsonRequestBody(subscriptionSchema) }, responses }),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async (c): Promise<any> => subscribe(c, c.req.valid("param").userId, c.req.valid("json")),
  );
  app.openapi(
    createRoute({ method: "delete", path: "/users/{userId}/push-subscriptions", tags: ["Users"], security: adminSecurity, summary: "Remove a user's Web Push subscription",
      request: { params: userIdParams, query: endpointQuery }, responses: { 204: { description: "Removed (or was not there)" }, ...errorResponses } }),
    async (c) => unsubscribe(c, c.req.valid("param").userId, c.req.valid("query").endpoint),
  );
}

export function registerMePushRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ method: "get", path: "/push-config", tags: ["User API"], security: userSecurity, summary: "What an app needs to subscribe to Web Push",
      responses: { 200: jsonContent(z.object({ vapidPublicKey: z.string(), allowedHosts: z.array(z.string()) }), "The space's VAPID public key"), 401: errorResponses[401] } }),
    async (c) => {
      await mine(c);
      const keys = await vapidKeysOf(c.env.DB, c.get("config"), c.get("space").id);
      return c.json({ vapidPublicKey: keys.publicKey, allowedHosts: pushSettingsOf(c.get("space")).allowedHosts }, 200);
    },
  );
  app.openapi(
    createRoute({ method: "put", path: "/push-subscriptions", tags: ["User API"], security: userSecurity, summary: "Register this device for Web Push",
      request: { body: jsonRequestBody(subscriptionSchema) }, responses }),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async (c): Promise<any> => {
      await mine(c);
      return subscribe(c, c.get("userId"), c.req.valid("json"));
    },
  );
  app.openapi(
    createRoute({ method: "delete", path: "/push-subscriptions", tags: ["User API"], security: userSecurity, summary: "Unregister a device",
      request: { query: endpointQuery }, responses: { 204: { description: "Removed (or was not there)" }, ...errorResponses } }),
    async (c) => {
      await mine(c);
      return unsubscribe(c, c.get("userId"), c.req.valid("query").endpoint);
    },
  );
}
