import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { seal } from "../../crypto/sealed";
import { definitions, type DeliveryRow } from "../../db/schema";
import { definitionIdSchema } from "../../definitions/kinds/common";
import { newWebhookSecret, webhookSecretContext } from "../../definitions/service";
import { findDefinition } from "../../definitions/store";
import { ApiError } from "../../errors";
import { decodeCursor, encodeCursor } from "../../http/cursor";
import { iso } from "../../lib/time";
import { attemptsOf, findDelivery, listDeliveries, setDeliveryStatus } from "../../outbound/delivery-log";
import { adminSecurity, errorResponses, jsonContent, listQuerySchema, pageOf, pageSchema } from "../common";
import { and, eq } from "drizzle-orm";

// Webhook operations (SPEC §8.1): the delivery log, manual replay and secret rotation.

const tags = ["Webhooks"];
/** The previous secret keeps signing this long after a rotation. */
const ROTATION_OVERLAP_MS = 24 * 3_600_000;
const anyObject = z.record(z.string(), z.unknown());
const deliverySchema = z.record(z.string(), z.unknown()).openapi("Delivery", {
  description: "`{ id (the webhook-id), kind, userId, eventType, status: pending | delivered | failed | skipped, attempts, lastStatusCode, lastError, lastLatencyMs, createdAt, updatedAt }`",
});
const idParams = z.object({ id: definitionIdSchema });
const deliveryParams = idParams.extend({ deliveryId: z.string().min(1).max(64) });
const listQuery = listQuerySchema.extend({ status: z.enum(["pending", "delivered", "failed", "skipped"]).optional() });

function deliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    kind: row.kind,
    endpoint: row.endpointId,
    userId: row.userId,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    lastLatencyMs: row.lastLatencyMs,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

async function endpointOf(c: Context<AppEnv>, id: string) {
  const endpoint = await findDefinition(c.get("db"), c.get("space").id, "webhooks", id);
  if (!endpoint) throw new ApiError("not_found", `no webhook '${id}' in this space`);
  return endpoint;
}

export function registerOutboundRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ method: "get", path: "/webhooks/{id}/deliveries", tags, security: adminSecurity, summary: "An endpoint's deliveries, newest first",
      request: { params: idParams, query: listQuery }, responses: { 200: jsonContent(pageSchema(deliverySchema), "A page of deliveries"), ...errorResponses } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { limit, cursor, status } = c.req.valid("query");
      await endpointOf(c, id);
      const list = `deliveries:${id}:${status ?? ""}`;
      const rows = await listDeliveries(c.env.DB, c.get("space").id, id, { status, before: decodeCursor(cursor, list, c.get("space").id), limit: limit + 1 });
      return c.json(pageOf(rows, limit, deliveryView, (row) => encodeCursor(list, c.get("space").id, `${row.createdAt}|${row.id}`)), 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/webhooks/{id}/deliveries/{deliveryId}", tags, security: adminSecurity, summary: "One delivery with its attempts",
      request: { params: deliveryParams }, responses: { 200: jsonContent(deliverySchema, "The delivery"), ...errorResponses } }),
    async (c) => {
      const { id, deliveryId } = c.req.valid("param");
      const row = await findDelivery(c.env.DB, c.get("space").id, deliveryId);
      if (!row || row.endpointId !== id) throw new ApiError("not_found", `no delivery '${deliveryId}' for webhook '${id}'`);
      const attempts = (await attemptsOf(c.env.DB, deliveryId)).map((a) => ({ ...a, at: iso(a.at) }));
      return c.json({ ...deliveryView(row), attempts }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "post", path: "/webhooks/{id}/deliveries/{deliveryId}/retry", tags, security: adminSecurity, summary: "Deliver again (same webhook-id)",
      description: "Queues the delivery again from its stored payload (kept 30 days); 409 if the payload is gone.",
      request: { params: deliveryParams }, responses: { 202: jsonContent(anyObject, "Queued"), ...errorResponses } }),
    async (c) => {
      const { id, deliveryId } = c.req.valid("param");
      const row = await findDelivery(c.env.DB, c.get("space").id, deliveryId);
      if (!row || row.endpointId !== id) throw new ApiError("not_found", `no delivery '${deliveryId}' for webhook '${id}'`);
      if (row.message === null) throw new ApiError("conflict", "the delivery's payload is no longer kept; it cannot be replayed");
      await setDeliveryStatus(c.env.DB, deliveryId, "pending", null, Date.now());
      await c.env.DELIVERIES.send({ v: 1, type: "delivery", key: `replay:${deliveryId}:${Date.now()}`, body: JSON.parse(row.message) as unknown });
      return c.json({ id: deliveryId, status: "pending" }, 202);
    },
  );

  app.openapi(
    createRoute({ method: "post", path: "/webhooks/{id}/rotate-secret", tags, security: adminSecurity, summary: "Rotate the signing secret",
      description: "Answers the new secret once; the previous one also signs for 24 hours (two `v1,` signatures). Refuses Idempotency-Key.",
      request: { params: idParams }, responses: { 200: jsonContent(anyObject, "{ secret, previousSecretExpiresAt }"), ...errorResponses } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const endpoint = await endpointOf(c, id);
      const secret = newWebhookSecret();
      const now = Date.now();
      const sealed = await seal(secret, webhookSecretContext(c.get("space").id, id), c.get("config").signingKeySecret);
      await c.get("db")
        .update(definitions)
        .set({ secret: sealed, previousSecret: endpoint.secret, previousSecretUntil: now + ROTATION_OVERLAP_MS, updatedAt: now })
        .where(and(eq(definitions.spaceId, c.get("space").id), eq(definitions.kind, "webhooks"), eq(definitions.id, id)))
        .run();
      return c.json({ secret, previousSecretExpiresAt: iso(now + ROTATION_OVERLAP_MS) }, 200);
    },
  );
}
