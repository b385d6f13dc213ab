import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { errorResponses, jsonContent, userSecurity } from "../common";

// The caller's own profile (SPEC §9). The foundation answers who the token says the
// caller is; the engine issue fills in balances, levels, streaks and the rest from the
// user's Durable Object. Reading never creates a user.

const meSchema = z
  .object({
    userId: z.string(),
    space: z.string().openapi({ description: "the space's slug" }),
  })
  .openapi("Me");

const meRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["User API"],
  security: userSecurity,
  summary: "The caller's profile",
  responses: { 200: jsonContent(meSchema, "The caller"), 401: errorResponses[401] },
});

export function registerProfileRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(meRoute, (c) => {
    c.header("Cache-Control", "private, no-store");
    return c.json({ userId: c.var.userId, space: c.var.space.slug }, 200);
  });
}
