import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { jsonContent } from "../common";

// Liveness only: it touches no storage, so it is also the benchmark's baseline route.
const healthRoute = createRoute({
  method: "get",
  path: "/api/loyalty/health",
  tags: ["Public"],
  summary: "Liveness",
  responses: { 200: jsonContent(z.object({ status: z.literal("ok") }).openapi("Health"), "The service is up") },
});

export function registerHealthRoute(app: OpenAPIHono<AppEnv>): void {
  app.openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200));
}
