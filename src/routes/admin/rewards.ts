import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { definitionIdSchema } from "../../definitions/kinds/common";
import { findDefinition } from "../../definitions/store";
import { ApiError } from "../../errors";
import { addCodes } from "../../rewards/inventory";
import { adminSecurity, errorResponses, jsonContent, jsonRequestBody } from "../common";

// Code pools (SPEC §4.2): codes are uploaded per reward and handed out one per unit
// granted or redeemed, by a conditional statement in the take's reservation.

const MAX_CODES_PER_CALL = 10_000;
const codesSchema = z
  .strictObject({
    codes: z.array(z.string().regex(/^[\x21-\x7e]{1,128}$/, "1-128 printable ASCII characters")).min(1).max(MAX_CODES_PER_CALL),
  })
  .openapi("CodeUpload");
const poolSchema = z
  .object({ product: z.string(), added: z.number().int(), available: z.number().int(), allocated: z.number().int() })
  .openapi("CodePool");

export function registerRewardRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ method: "post", path: "/products/{id}/codes", tags: ["Products"], security: adminSecurity, summary: "Add codes to a reward's pool",
      description: "≤ 10,000 codes per call; codes already in the pool are ignored. Answers how many were added and the pool's available/allocated counts. Rewards only (422 otherwise).",
      request: { params: z.object({ id: definitionIdSchema }), body: jsonRequestBody(codesSchema) },
      responses: { 200: jsonContent(poolSchema, "The pool"), ...errorResponses } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const product = await findDefinition(c.get("db"), c.get("space").id, "products", id);
      if (!product || product.archivedAt !== null) throw new ApiError("not_found", `no product '${id}' in this space`);
      if (product.body.type !== "reward") {
        throw new ApiError("invalid_definition", `'${id}' is a ${String(product.body.type)}: code pools belong to rewards`, [
          { path: "path.id", message: "not a reward" },
        ]);
      }
      const pool = await addCodes(c.env.DB, c.get("space").id, id, [...new Set(c.req.valid("json").codes)]);
      return c.json({ product: id, ...pool }, 200);
    },
  );
}
