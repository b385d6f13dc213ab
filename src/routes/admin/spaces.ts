import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { ApiError } from "../../errors";
import { encodeCursor, decodeCursor } from "../../http/cursor";
import { etagOf } from "../../http/etag";
import { iso } from "../../lib/time";
import { activeSigningKey, rotateSigningKey, RETIRED_KEY_GRACE_MS } from "../../auth/user-tokens";
import { createSpaceSchema, patchSpaceSchema, slugSchema, spaceSchema } from "../../spaces/schemas";
import { createSpace, findSpaceById, listSpaces, patchSpace, toSpaceView } from "../../spaces/store";
import {
  adminSecurity,
  errorResponses,
  jsonRequestBody,
  jsonContent,
  listQuerySchema,
  mergePatchBody,
  pageOf,
  pageSchema,
} from "../common";

// Spaces (SPEC §3.1). Creating and listing them needs the root key; a space's own admin
// key may read and change its settings and rotate its signing key (scopes.ts).

const tags = ["Spaces"];
const slugParams = z.object({ slug: slugSchema });

const createSpaceRoute = createRoute({
  method: "post",
  path: "/spaces",
  tags,
  security: adminSecurity,
  summary: "Create a space (root key)",
  request: { body: jsonRequestBody(createSpaceSchema) },
  responses: { 201: jsonContent(spaceSchema, "The new space"), ...errorResponses, 409: errorResponses[400] },
});

const listSpacesRoute = createRoute({
  method: "get",
  path: "/spaces",
  tags,
  security: adminSecurity,
  summary: "List spaces (root key)",
  request: { query: listQuerySchema },
  responses: { 200: jsonContent(pageSchema(spaceSchema), "A page of spaces"), ...errorResponses },
});

const getSpaceRoute = createRoute({
  method: "get",
  path: "/spaces/{slug}",
  tags,
  security: adminSecurity,
  summary: "Read a space's settings",
  request: { params: slugParams },
  responses: { 200: jsonContent(spaceSchema, "The space"), ...errorResponses },
});

const patchSpaceRoute = createRoute({
  method: "patch",
  path: "/spaces/{slug}",
  tags,
  security: adminSecurity,
  summary: "Change a space's settings (JSON merge patch)",
  request: { params: slugParams, body: mergePatchBody(patchSpaceSchema) },
  responses: { 200: jsonContent(spaceSchema, "The updated space"), ...errorResponses },
});

const rotatedSchema = z
  .object({
    kid: z.string(),
    alg: z.string(),
    createdAt: z.string(),
    retired: z.array(z.object({ kid: z.string(), retiredAt: z.string(), verifiesUntil: z.string() })),
  })
  .openapi("SigningKeyRotation");

const rotateRoute = createRoute({
  method: "post",
  path: "/spaces/{slug}/rotate-signing-key",
  tags,
  security: adminSecurity,
  summary: "Rotate the space's user-token signing key",
  description: "New tokens are signed with a new key; the retired key keeps verifying for 24 h (the longest token lifetime).",
  request: { params: slugParams },
  responses: { 200: jsonContent(rotatedSchema, "The new key and the retired one"), ...errorResponses },
});

export function registerSpaceRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createSpaceRoute, async (c) => {
    const space = await createSpace(c.get("db"), c.get("config"), c.req.valid("json"));
    await activeSigningKey(c.get("db"), space, c.get("config"));
    c.header("Location", `/api/loyalty/admin/spaces/${space.slug}`);
    c.header("ETag", etagOf(space.version));
    return c.json(toSpaceView(space, c.get("config")), 201);
  });

  app.openapi(listSpacesRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = decodeCursor(cursor, "spaces", "*");
    const rows = await listSpaces(c.get("db"), after, limit);
    return c.json(
      pageOf(rows, limit, (row) => toSpaceView(row, c.get("config")), (row) => encodeCursor("spaces", "*", row.slug)),
      200,
    );
  });

  app.openapi(getSpaceRoute, async (c) => {
    // The stored row: the middleware's may be the isolate's cached one (DEFINITIONS_TTL_MS).
    const space = await findSpaceById(c.get("db"), c.get("space").id);
    if (!space) throw new ApiError("not_found", "the space no longer exists");
    c.header("ETag", etagOf(space.version));
    return c.json(toSpaceView(space, c.get("config")), 200);
  });

  app.openapi(patchSpaceRoute, async (c) => {
    // Patch the stored row, not the per-isolate cached one the middleware resolved.
    const current = await findSpaceById(c.get("db"), c.get("space").id);
    if (!current) throw new ApiError("not_found", "the space no longer exists");
    const patch = c.req.valid("json") as Record<string, unknown>;
    const updated = await patchSpace(c.get("db"), c.get("config"), current, patch, c.req.header("if-match"));
    c.header("ETag", etagOf(updated.version));
    return c.json(toSpaceView(updated, c.get("config")), 200);
  });

  app.openapi(rotateRoute, async (c) => {
    const { active, retired } = await rotateSigningKey(c.get("db"), c.get("space"), c.get("config"));
    return c.json(
      {
        kid: active.kid,
        alg: active.alg,
        createdAt: iso(active.createdAt),
        retired: retired.map((k) => ({
          kid: k.kid,
          retiredAt: iso(k.retiredAt!),
          verifiesUntil: iso(k.retiredAt! + RETIRED_KEY_GRACE_MS),
        })),
      },
      200,
    );
  });
}
