import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { refuseIdempotencyKey } from "../../http/idempotency";
import { iso } from "../../lib/time";
import { MAX_TOKEN_TTL_SECONDS, mintUserToken } from "../../auth/user-tokens";
import { USER_ID_PATTERN } from "../../spaces/schemas";
import { adminSecurity, errorResponses, jsonRequestBody, jsonContent } from "../common";

// Minting a user token signed by the space's own key (SPEC §3.3), for operators without
// an identity provider of their own: their server asks for a token and hands it to the app.

const mintSchema = z
  .strictObject({
    ttlSeconds: z.number().int().min(60).max(MAX_TOKEN_TTL_SECONDS).default(3600),
  })
  .openapi("MintUserToken");

const tokenSchema = z.object({ token: z.string(), expiresAt: z.string() }).openapi("UserToken");

export const userIdParams = z.object({
  userId: z.string().regex(USER_ID_PATTERN, "a user id is 1-128 characters of [A-Za-z0-9_.:@|+-]"),
});

const mintRoute = createRoute({
  method: "post",
  path: "/users/{userId}/token",
  tags: ["Users"],
  security: adminSecurity,
  summary: "Mint a User API token for a user",
  request: { params: userIdParams, body: jsonRequestBody(mintSchema) },
  responses: { 201: jsonContent(tokenSchema, "A signed ES256 JWT"), ...errorResponses },
});

export function registerUserTokenRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(mintRoute, async (c) => {
    refuseIdempotencyKey(c);
    const { userId } = c.req.valid("param");
    const { ttlSeconds } = c.req.valid("json");
    const { token, expiresAt } = await mintUserToken(c.get("db"), c.get("space"), c.get("config"), userId, ttlSeconds);
    c.header("Cache-Control", "no-store");
    return c.json({ token, expiresAt: iso(expiresAt) }, 201);
  });
}
