import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AdminOp } from "../../engine/admin";
import type { AppEnv } from "../../http/context";
import { attributeValueSchema } from "../../definitions/effects";
import { definitionIdSchema } from "../../definitions/kinds/common";
import { userDocument } from "../../engine/views";
import { ApiError } from "../../errors";
import { newId } from "../../lib/ids";
import { iso } from "../../lib/time";
import type { RedemptionRow } from "../../user/storage";
import { isValidTimeZone } from "../../lib/time";
import { ATTRIBUTE_KEY_PATTERN } from "../../spaces/schemas";
import { eraseFromDirectory } from "../../directory/store";
import { forgetUserPayloads } from "../../outbound/delivery-log";
import { readUser, runAdminOp, userStub } from "../../users/gateway";
import { adminSecurity, errorResponses, jsonRequestBody, jsonContent, mergePatchBody } from "../common";
import { userIdParams } from "./user-tokens";
import { EVENT_ID_PATTERN } from "../../events/ingest";
import { activityPage, ledgerPage, pageQuery } from "../me/pages";

// Users through the Admin API (SPEC §7): the full document, profile writes, adjustments,
// grants and revocations, the ledger, the activity log, erasure.

const tags = ["Users"];
const anyObject = z.record(z.string(), z.unknown());

const attributesSchema = z.record(z.string().regex(ATTRIBUTE_KEY_PATTERN, "not an attribute key"), attributeValueSchema);
const profileSchema = z
  .strictObject({
    attributes: attributesSchema.default({}),
    timezone: z.string().refine(isValidTimeZone, "not a valid IANA time zone").nullable().default(null),
    locale: z.string().min(2).max(35).nullable().default(null),
  })
  .openapi("UserProfile");
const profilePatchSchema = z
  .strictObject({
    attributes: z.record(z.string().regex(ATTRIBUTE_KEY_PATTERN, "not an attribute key"), attributeValueSchema.nullable()).optional(),
    timezone: z.string().refine(isValidTimeZone, "not a valid IANA time zone").nullable().optional(),
    locale: z.string().min(2).max(35).nullable().optional(),
  })
  .openapi("UserProfilePatch");
const adjustSchema = z
  .strictObject({
    amount: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).refine((n) => n !== 0, "an adjustment of 0 does nothing"),
    reason: z.string().trim().min(1).max(200),
  })
  .openapi("MetricAdjustment");
const grantSchema = z.strictObject({ product: definitionIdSchema, quantity: z.number().int().min(1).max(1000).default(1) }).openapi("ProductGrant");
const metricParams = userIdParams.extend({ metric: definitionIdSchema });
const productParams = userIdParams.extend({ product: definitionIdSchema });
const streakParams = userIdParams.extend({ id: definitionIdSchema });
const segmentParams = userIdParams.extend({ segmentId: definitionIdSchema });
const redemptionParams = userIdParams.extend({ id: z.string().min(1).max(128) });
const redeemSchema = z.strictObject({ product: definitionIdSchema, quantity: z.number().int().min(1).max(1000).default(1) }).openapi("Redemption");
const eventParams = userIdParams.extend({ eventId: z.string().regex(EVENT_ID_PATTERN, "an event id is 1-128 characters of [A-Za-z0-9_.:@|+-]") });
const cancelSchema = z.strictObject({ restock: z.boolean().default(false) }).openapi("RedemptionCancel");

const route = <P extends string, M extends "get" | "post" | "put" | "patch" | "delete">(method: M, path: P, summary: string) => ({
  method,
  path,
  tags,
  security: adminSecurity,
  summary,
});

export function registerUserRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ ...route("get", "/users/{userId}", "A user's whole state"), request: { params: userIdParams },
      responses: { 200: jsonContent(anyObject, "The user document"), ...errorResponses } }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const { state, seen, programme } = await readUser(c, userId);
      if (!seen) throw new ApiError("not_found", `no user '${userId}' in this space`);
      c.header("Cache-Control", "private, no-store");
      return c.json(userDocument(programme, state, Date.now()), 200);
    },
  );

  const profileAnswer = async (c: Context<AppEnv>, userId: string, op: AdminOp) => {
    const applied = await runAdminOp(c, userId, op);
    const { state, programme } = await readUser(c, userId);
    const created = applied.outcome.derivedEvents.some((d) => d.type === "loyalty.user.created");
    return { body: userDocument(programme, state, Date.now()), status: created ? (201 as const) : (200 as const) };
  };

  app.openapi(
    createRoute({ ...route("put", "/users/{userId}", "Set a user's profile (creates the user if new)"),
      request: { params: userIdParams, body: jsonRequestBody(profileSchema) },
      responses: { 200: jsonContent(anyObject, "Updated"), 201: jsonContent(anyObject, "Created"), ...errorResponses } }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const { body, status } = await profileAnswer(c, userId, { op: "profile", ...c.req.valid("json") });
      return c.json(body, status);
    },
  );

  app.openapi(
    createRoute({ ...route("patch", "/users/{userId}", "Change a user's profile (JSON merge patch)"),
      request: { params: userIdParams, body: mergePatchBody(profilePatchSchema) },
      responses: { 200: jsonContent(anyObject, "Updated"), 201: jsonContent(anyObject, "Created"), ...errorResponses } }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const patch = c.req.valid("json");
      const { body, status } = await profileAnswer(c, userId, { op: "profile", ...patch, merge: true });
      return c.json(body, status);
    },
  );

  app.openapi(
    createRoute({ ...route("delete", "/users/{userId}", "Erase a user (every row of their state; idempotent)"),
      request: { params: userIdParams }, responses: { 204: { description: "Erased" }, ...errorResponses } }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const generation = (await userStub(c, userId).erase()) as number;
      // The object is empty now; the directory forgets the user too (a tombstone of the new
      // generation, so a directory update still in the queue cannot bring them back).
      await eraseFromDirectory(c.env.DB, c.get("space").id, userId, generation, Date.now());
      await forgetUserPayloads(c.env.DB, c.get("space").id, userId);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({ ...route("post", "/users/{userId}/metrics/{metric}/adjust", "Adjust a balance (never clamped)"),
      description: "409 insufficient_balance if a debit would cross the minimum, 409 above_max if a credit would cross the maximum.",
      request: { params: metricParams, body: jsonRequestBody(adjustSchema) },
      responses: { 201: jsonContent(anyObject, "The new balance"), ...errorResponses } }),
    async (c) => {
      const { userId, metric } = c.req.valid("param");
      const { amount, reason } = c.req.valid("json");
      const principal = c.get("principal");
      const applied = await runAdminOp(c, userId, {
        op: "adjust",
        metric,
        amount,
        reason,
        keyId: principal.kind === "key" ? principal.keyId : "root",
      });
      return c.json(applied.result, 201);
    },
  );

  app.openapi(
    createRoute({ ...route("get", "/users/{userId}/metrics/{metric}/transactions", "A metric's ledger, newest first"),
      request: { params: metricParams, query: pageQuery }, responses: { 200: jsonContent(anyObject, "A page of ledger entries"), ...errorResponses } }),
    async (c) => {
      const { userId, metric } = c.req.valid("param");
      return c.json(await ledgerPage(c, userId, metric, c.req.valid("query")), 200);
    },
  );

  app.openapi(
    createRoute({ ...route("post", "/users/{userId}/products", "Grant a product"),
      request: { params: userIdParams, body: jsonRequestBody(grantSchema) }, responses: { 201: jsonContent(anyObject, "Held now"), ...errorResponses } }),
    async (c) => {
      const { product, quantity } = c.req.valid("json");
      const applied = await runAdminOp(c, c.req.valid("param").userId, { op: "grant", product, quantity });
      return c.json(applied.result, 201);
    },
  );

  app.openapi(
    createRoute({ ...route("delete", "/users/{userId}/products/{product}", "Revoke a product (all, or ?quantity=n)"),
      request: { params: productParams, query: z.object({ quantity: z.coerce.number().int().min(1).max(1000).optional() }) },
      responses: { 200: jsonContent(anyObject, "Held now"), ...errorResponses } }),
    async (c) => {
      const { userId, product } = c.req.valid("param");
      const applied = await runAdminOp(c, userId, { op: "revoke", product, quantity: c.req.valid("query").quantity ?? null });
      return c.json(applied.result, 200);
    },
  );

  app.openapi(
    createRoute({ ...route("post", "/users/{userId}/redemptions", "Redeem a reward for a user"),
      description: "Debits the price, takes stock, allocates a code and grants the product — all or nothing. 409 insufficient_balance, out_of_stock, per_user_limit, out_of_codes; 422 not_redeemable for a product without a price. Honours Idempotency-Key.",
      request: { params: userIdParams, body: jsonRequestBody(redeemSchema) },
      responses: { 201: jsonContent(anyObject, "The redemption: { id, product, quantity, price, code?, codes?, balance }"), ...errorResponses } }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const { product, quantity } = c.req.valid("json");
      const applied = await runAdminOp(c, userId, { op: "redeem", product, quantity, redemption: newId("rdm") });
      c.header("Location", `/api/loyalty/admin/users/${encodeURIComponent(userId)}/redemptions/${String(applied.result.id)}`);
      return c.json(applied.result, 201);
    },
  );

  app.openapi(
    createRoute({ ...route("get", "/users/{userId}/redemptions/{id}", "A redemption"),
      request: { params: redemptionParams },
      responses: { 200: jsonContent(anyObject, "{ id, product, quantity, price, codes, status: completed | cancelled, createdAt, cancelledAt }"), ...errorResponses } }),
    async (c) => {
      const { userId, id } = c.req.valid("param");
      const row = (await userStub(c, userId).redemption(id)) as RedemptionRow | null;
      if (!row) throw new ApiError("not_found", `no redemption '${id}' for this user`);
      const { reservationId: _reservation, ...rest } = row;
      return c.json({ ...rest, createdAt: iso(row.createdAt), cancelledAt: row.cancelledAt ? iso(row.cancelledAt) : null }, 200);
    },
  );

  app.openapi(
    createRoute({ ...route("post", "/users/{userId}/redemptions/{id}/cancel", "Cancel a redemption"),
      description: "Refunds the price (not counted as earned: lifetime unchanged), revokes the product, and with `restock: true` puts the stock back; a code is never reissued. 409 invalid_transition if already cancelled.",
      request: { params: redemptionParams, body: jsonRequestBody(cancelSchema) },
      responses: { 200: jsonContent(anyObject, "The cancellation"), ...errorResponses } }),
    async (c) => {
      const { userId, id } = c.req.valid("param");
      const applied = await runAdminOp(c, userId, { op: "cancelRedemption", id, restock: c.req.valid("json").restock });
      return c.json(applied.result, 200);
    },
  );

  app.openapi(
    createRoute({ ...route("post", "/users/{userId}/events/{eventId}/reverse", "Reverse an event"),
      description:
        "Takes back what the event and its cascade did (a refund, a fraudulent purchase): compensating ledger entries " +
        "(`source.reverses`) that also reduce lifetime, the products it granted revoked, the redemptions it made cancelled, " +
        "the campaign completions it caused uncounted. A balance spent since is taken down to the metric's floor and no " +
        "further (`requested` keeps the full amount). Ladders demote only where `demotion: true`. Emits " +
        "loyalty.event.reversed. Idempotent: a repeat answers the same. 404 if the user never had the event.",
      request: { params: eventParams },
      responses: { 200: jsonContent(anyObject, "{ eventId, ledger, productsRevoked, redemptionsCancelled, completionsUncounted, outcomeKept, skipped }"), ...errorResponses } }),
    async (c) => {
      const { userId, eventId } = c.req.valid("param");
      return c.json((await runAdminOp(c, userId, { op: "reverse", eventId })).result, 200);
    },
  );

  app.openapi(
    createRoute({ ...route("post", "/users/{userId}/streaks/{id}/restore", "Restore a broken streak"),
      description: "Brings a broken streak back to its length at the break, kept through the previous period; emits loyalty.streak.restored. 409 invalid_transition if the streak is not broken.",
      request: { params: streakParams }, responses: { 200: jsonContent(anyObject, "The restored streak"), ...errorResponses } }),
    async (c) => {
      const { userId, id } = c.req.valid("param");
      const applied = await runAdminOp(c, userId, { op: "restoreStreak", streak: id });
      return c.json(applied.result, 200);
    },
  );

  app.openapi(
    createRoute({ ...route("put", "/users/{userId}/segments/{segmentId}", "Add a user to a static segment"),
      description: "Idempotent; creates the user if new. 404 for an unknown or archived segment, 400 for a dynamic one (its rule decides). Emits loyalty.segment.entered when the user was not a member.",
      request: { params: segmentParams }, responses: { 200: jsonContent(anyObject, "The membership"), ...errorResponses } }),
    async (c) => {
      const { userId, segmentId } = c.req.valid("param");
      return c.json((await runAdminOp(c, userId, { op: "segment", segment: segmentId, member: true })).result, 200);
    },
  );

  app.openapi(
    createRoute({ ...route("delete", "/users/{userId}/segments/{segmentId}", "Remove a user from a static segment"),
      description: "Idempotent (204 for a non-member; a user never seen is not created). Emits loyalty.segment.left when the user was a member.",
      request: { params: segmentParams }, responses: { 204: { description: "Not a member (any more)" }, ...errorResponses } }),
    async (c) => {
      const { userId, segmentId } = c.req.valid("param");
      await runAdminOp(c, userId, { op: "segment", segment: segmentId, member: false });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({ ...route("get", "/users/{userId}/activity", "Processed events and their outcomes, newest first"),
      request: { params: userIdParams, query: pageQuery }, responses: { 200: jsonContent(anyObject, "A page of activity"), ...errorResponses } }),
    async (c) => c.json(await activityPage(c, c.req.valid("param").userId, c.req.valid("query")), 200),
  );
}
