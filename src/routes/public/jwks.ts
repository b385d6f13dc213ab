import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import type { SpaceRow } from "../../db/schema";
import { ApiError } from "../../errors";
import { publicJwks } from "../../auth/user-tokens";
import { namedSpaceSlug } from "../../spaces/resolve";
import { slugSchema } from "../../spaces/schemas";
import { findSpaceBySlug } from "../../spaces/store";
import { errorResponses, jsonContent } from "../common";

// The public keys of a space's own user-token signer (SPEC §1.1), for operators' own
// services that want to verify our tokens. Public data: any origin may read it.

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("Jwks");
const responses = { 200: jsonContent(jwksSchema, "The active key and keys retired in the last 24 h"), 404: errorResponses[404] };

const bySlugRoute = createRoute({
  method: "get",
  path: "/api/loyalty/spaces/{slug}/.well-known/jwks.json",
  tags: ["Public"],
  summary: "A space's user-token public keys",
  request: { params: z.object({ slug: slugSchema }) },
  responses,
});

const byRequestRoute = createRoute({
  method: "get",
  path: "/api/loyalty/.well-known/jwks.json",
  tags: ["Public"],
  summary: "The public keys of the space named by host or X-Loyalty-Space (default: `default`)",
  responses,
});

async function answerJwks(c: Context<AppEnv>, slug: string) {
  const space: SpaceRow | undefined = await findSpaceBySlug(c.get("db"), c.get("config"), slug);
  if (!space) throw new ApiError("not_found", `no space '${slug}'`);
  const jwks = await publicJwks(c.get("db"), space, c.get("config"));
  c.header("Cache-Control", "public, max-age=300");
  c.header("Access-Control-Allow-Origin", "*");
  return c.json(jwks, 200);
}

export function registerJwksRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(bySlugRoute, (c) => answerJwks(c, namedSpaceSlug(c.req.raw, c.get("config"), c.req.valid("param").slug)!));
  app.openapi(byRequestRoute, (c) => answerJwks(c, namedSpaceSlug(c.req.raw, c.get("config")) ?? "default"));
}
