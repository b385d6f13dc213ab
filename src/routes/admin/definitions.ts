import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import type { DefinitionRow } from "../../db/schema";
import { ApiError } from "../../errors";
import { decodeCursor, encodeCursor } from "../../http/cursor";
import { etagOf } from "../../http/etag";
import { iso } from "../../lib/time";
import { deleteDefinition, writeDefinition, type WriteResult } from "../../definitions/service";
import { findDefinition, listDefinitions } from "../../definitions/store";
import { definitionIdSchema } from "../../definitions/kinds/common";
import { DEFINITION_KINDS, type DefinitionKind } from "../../definitions/types";
import { memberCounts } from "../../directory/store";
import { stockOf } from "../../rewards/inventory";
import { adminSecurity, errorResponses, jsonContent, listQuerySchema, pageSchema } from "../common";
import { notifyQuery, startRecomputeFor } from "./audiences";

// The same six routes for every definition kind (SPEC §4): list, create, read,
// create-or-replace, merge patch, delete. Bodies are validated by the kind's schema in
// the service (a PATCH must be merged before it can be validated), so the routes declare
// them as JSON objects; src/openapi/definitions.ts then writes each kind's schema into
// the OpenAPI document as the POST and PUT bodies' component.

const TITLES: Record<DefinitionKind, string> = {
  metrics: "Metrics",
  products: "Products",
  segments: "Segments",
  ladders: "Ladders",
  streaks: "Streaks",
  triggers: "Triggers",
  campaigns: "Campaigns",
  webhooks: "Webhooks",
};

const definitionSchema = z.record(z.string(), z.unknown()).openapi("Definition", {
  description: "The definition's body plus `id`, `version`, `createdAt`, `updatedAt` and `archivedAt`",
});
const anyObject = z.record(z.string(), z.unknown());
const objectBody = (description: string) => ({
  required: true,
  content: { "application/json": { schema: anyObject.openapi({ description }) } },
});
const mergePatchBody = (description: string) => ({
  required: true,
  content: {
    "application/json": { schema: anyObject.openapi({ description }) },
    "application/merge-patch+json": { schema: anyObject },
  },
});
const idParams = z.object({ id: definitionIdSchema });
const listQuery = listQuerySchema.extend({
  include: z.enum(["archived"]).optional().openapi({ description: "`archived` also lists archived definitions" }),
});

/** The resource as answered: the body plus server-managed fields. */
export function definitionView(row: DefinitionRow): Record<string, unknown> {
  return {
    id: row.id,
    ...row.body,
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    archivedAt: row.archivedAt === null ? null : iso(row.archivedAt),
  };
}

/**
 * The views of some rows of a kind. Segments also say how many members they have (SPEC
 * §5.5); products show the stock that remains (D1's counter) and how much was redeemed.
 */
async function viewsOf(c: Context<AppEnv>, kind: DefinitionKind, rows: DefinitionRow[]): Promise<Array<Record<string, unknown>>> {
  if (kind === "segments") {
    const counts = await memberCounts(c.env.DB, c.get("space").id, rows.map((r) => r.id));
    return rows.map((row) => ({ ...definitionView(row), memberCount: counts.get(row.id) ?? 0 }));
  }
  if (kind === "products") {
    const stock = await stockOf(c.env.DB, c.get("space").id, rows.map((r) => r.id));
    return rows.map((row) => {
      const held = stock.get(row.id);
      return { ...definitionView(row), stock: held ? held.remaining : (row.body.stock ?? null), redeemed: held?.redeemed ?? 0 };
    });
  }
  return rows.map(definitionView);
}

// One handler answers 201 (created) or 200 (replaced/patched); the route types want one
// literal status per route, so the typed response is widened here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function answerWrite(c: Context<AppEnv>, kind: DefinitionKind, result: WriteResult, notify: boolean): Promise<any> {
  c.header("ETag", etagOf(result.row.version));
  if (result.created) c.header("Location", `/api/loyalty/admin/${kind}/${result.row.id}`);
  if (result.recompute) await startRecomputeFor(c, [`${kind}/${result.row.id}`], notify);
  const [view] = await viewsOf(c, kind, [result.row]);
  return c.json(result.secret ? { ...view, secret: result.secret } : view, result.created ? 201 : 200);
}

function registerKind(app: OpenAPIHono<AppEnv>, kind: DefinitionKind): void {
  const tags = [TITLES[kind]];
  const base = `/${kind}`;
  const item = `/${kind}/{id}`;
  const one = jsonContent(definitionSchema, `The ${kind} definition`);

  app.openapi(
    createRoute({ method: "get", path: base, tags, security: adminSecurity, summary: `List ${kind}`, request: { query: listQuery },
      responses: { 200: jsonContent(pageSchema(definitionSchema), "A page, by id"), ...errorResponses } }),
    async (c) => {
      const { limit, cursor, include } = c.req.valid("query");
      const list = include === "archived" ? `${kind}+archived` : kind;
      const rows = await listDefinitions(c.get("db"), c.get("space").id, kind, {
        after: decodeCursor(cursor, list, c.get("space").id),
        limit,
        includeArchived: include === "archived",
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return c.json({ data: await viewsOf(c, kind, page), nextCursor: rows.length > limit && last ? encodeCursor(list, c.get("space").id, last.id) : null }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "post", path: base, tags, security: adminSecurity, summary: `Create a ${kind} definition`,
      description: "`id` is optional (generated when omitted); 409 if it exists or existed.",
      request: { query: notifyQuery, body: objectBody(`See the ${TITLES[kind]} schema in SPEC §4`) },
      responses: { 201: one, ...errorResponses } }),
    async (c) =>
      answerWrite(c, kind, await writeDefinition(c.var, kind, { mode: "create", input: c.req.valid("json") }), c.req.valid("query").notify),
  );

  app.openapi(
    createRoute({ method: "get", path: item, tags, security: adminSecurity, summary: `Read a ${kind} definition`,
      request: { params: idParams }, responses: { 200: one, ...errorResponses } }),
    async (c) => {
      const row = await findDefinition(c.get("db"), c.get("space").id, kind, c.req.valid("param").id);
      if (!row) throw new ApiError("not_found", `no ${kind} '${c.req.valid("param").id}' in this space`);
      c.header("ETag", etagOf(row.version));
      return c.json((await viewsOf(c, kind, [row]))[0]!, 200);
    },
  );

  app.openapi(
    createRoute({ method: "put", path: item, tags, security: adminSecurity, summary: `Create or replace a ${kind} definition`,
      description: "201 when created, 200 when replaced. `If-None-Match: *` makes it create-only; `If-Match` guards replacement.",
      request: { params: idParams, query: notifyQuery, body: objectBody(`The whole ${kind} definition`) },
      responses: { 200: one, 201: one, ...errorResponses } }),
    async (c) =>
      answerWrite(c, kind, await writeDefinition(c.var, kind, {
        mode: "put",
        id: c.req.valid("param").id,
        input: c.req.valid("json"),
        ifMatch: c.req.header("if-match"),
        ifNoneMatch: c.req.header("if-none-match"),
      }), c.req.valid("query").notify),
  );

  app.openapi(
    createRoute({ method: "patch", path: item, tags, security: adminSecurity, summary: `Change a ${kind} definition (JSON merge patch)`,
      request: { params: idParams, query: notifyQuery, body: mergePatchBody("A JSON merge patch (RFC 7396)") },
      responses: { 200: one, ...errorResponses } }),
    async (c) =>
      answerWrite(c, kind, await writeDefinition(c.var, kind, {
        mode: "patch",
        id: c.req.valid("param").id,
        input: c.req.valid("json"),
        ifMatch: c.req.header("if-match"),
      }), c.req.valid("query").notify),
  );

  app.openapi(
    createRoute({ method: "delete", path: item, tags, security: adminSecurity,
      summary: kind === "triggers" || kind === "webhooks" ? `Erase a ${kind} definition` : `Archive a ${kind} definition`,
      description: "409 in_use (with `referrers`) while other definitions reference it; the id is never reused.",
      request: { params: idParams }, responses: { 204: { description: "Done" }, ...errorResponses } }),
    async (c) => {
      await deleteDefinition(c.var, kind, c.req.valid("param").id, c.req.header("if-match"));
      return c.body(null, 204);
    },
  );
}

export function registerDefinitionRoutes(app: OpenAPIHono<AppEnv>): void {
  for (const kind of DEFINITION_KINDS) registerKind(app, kind);
}
