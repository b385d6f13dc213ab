import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import type { ApiKeyRow } from "../../db/schema";
import { ApiError } from "../../errors";
import { decodeCursor, encodeCursor } from "../../http/cursor";
import { iso } from "../../lib/time";
import { createApiKey, findApiKey, listApiKeys, revokeApiKey } from "../../auth/api-keys";
import { SCOPES } from "../../auth/scopes";
import { adminSecurity, errorResponses, jsonRequestBody, jsonContent, listQuerySchema, pageOf, pageSchema } from "../common";
import { refuseIdempotencyKey } from "../../http/idempotency";

// Admin API keys of the request's space (SPEC §3.2). The secret is in the create
// response only; afterwards nothing can reveal it.

const tags = ["API keys"];

const createKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  })
  .openapi("CreateApiKey");

const apiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

const createdKeySchema = apiKeySchema
  .extend({ secret: z.string().openapi({ description: "shown once; store it now", example: "lk_…" }) })
  .openapi("CreatedApiKey");

const idParams = z.object({ id: z.string().max(64) });

function toView(row: ApiKeyRow): z.infer<typeof apiKeySchema> {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes as z.infer<typeof apiKeySchema>["scopes"],
    createdAt: iso(row.createdAt),
    revokedAt: row.revokedAt === null ? null : iso(row.revokedAt),
  };
}

const createKeyRoute = createRoute({
  method: "post",
  path: "/api-keys",
  tags,
  security: adminSecurity,
  summary: "Create an API key (the secret is returned once)",
  request: { body: jsonRequestBody(createKeySchema) },
  responses: { 201: jsonContent(createdKeySchema, "The key and its secret"), ...errorResponses },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/api-keys",
  tags,
  security: adminSecurity,
  summary: "List the space's API keys (without secrets)",
  request: { query: listQuerySchema },
  responses: { 200: jsonContent(pageSchema(apiKeySchema), "A page of keys, oldest first"), ...errorResponses },
});

const getKeyRoute = createRoute({
  method: "get",
  path: "/api-keys/{id}",
  tags,
  security: adminSecurity,
  summary: "Read one API key (without its secret)",
  request: { params: idParams },
  responses: { 200: jsonContent(apiKeySchema, "The key"), ...errorResponses },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/api-keys/{id}",
  tags,
  security: adminSecurity,
  summary: "Revoke an API key (effective immediately; idempotent)",
  request: { params: idParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});

export function registerApiKeyRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createKeyRoute, async (c) => {
    refuseIdempotencyKey(c);
    const { row, secret } = await createApiKey(c.get("db"), c.get("space").id, c.req.valid("json"));
    c.header("Location", `/api/loyalty/admin/api-keys/${row.id}`);
    c.header("Cache-Control", "no-store");
    return c.json({ ...toView(row), secret }, 201);
  });

  app.openapi(listKeysRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const list = "api-keys";
    const rows = await listApiKeys(c.get("db"), c.get("space").id, decodeCursor(cursor, list, c.get("space").id), limit);
    return c.json(pageOf(rows, limit, toView, (row) => encodeCursor(list, c.get("space").id, row.id)), 200);
  });

  app.openapi(getKeyRoute, async (c) => {
    const row = await findApiKey(c.get("db"), c.get("space").id, c.req.valid("param").id);
    if (!row) throw new ApiError("not_found", "no such API key in this space");
    return c.json(toView(row), 200);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const found = await revokeApiKey(c.env, c.get("db"), c.get("space").id, c.req.valid("param").id);
    if (!found) throw new ApiError("not_found", "no such API key in this space");
    return c.body(null, 204);
  });
}
