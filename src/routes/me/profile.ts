import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { definitionIdSchema } from "../../definitions/kinds/common";
import { campaignsView, catalogView, laddersView, metricsView, profileView, rewardsView, segmentsView, streaksView } from "../../engine/views";
import { cachedStock } from "../../rewards/catalog";
import { ApiError } from "../../errors";
import { readUser } from "../../users/gateway";
import { errorResponses, jsonContent, userSecurity } from "../common";
import { activityPage, ledgerPage, pageQuery } from "./pages";

// The User API (SPEC §9): the caller's own state, read from their Durable Object and
// shaped with the space's cached programme. A user never seen gets an empty,
// well-formed state, and reading never creates the user.

const tags = ["User API"];
const anyObject = z.record(z.string(), z.unknown());
const listOf = (description: string) => jsonContent(z.object({ data: z.array(anyObject) }).openapi({ description }), description);
const idParams = z.object({ id: definitionIdSchema });
const get = <P extends string>(path: P, summary: string) => ({ method: "get" as const, path, tags, security: userSecurity, summary });

/** The caller's own state; 401 token_revoked for a token older than the user's erasure. */
export async function mine(c: Context<AppEnv>) {
  c.header("Cache-Control", "private, no-store");
  const read = await readUser(c, c.get("userId"));
  // After an erasure, tokens issued before it stop working (SPEC §3.3, §7). `iat` has
  // second granularity, so a token from the erasure's own second is refused too (safe side).
  const issuedAt = c.get("tokenIssuedAt");
  if (read.tokensNotBefore !== null && (issuedAt === undefined || issuedAt <= Math.floor(read.tokensNotBefore / 1000))) {
    throw new ApiError("token_revoked", "this token was issued before the user's data was erased", [], { "WWW-Authenticate": "Bearer" });
  }
  return read;
}

function one<T extends Record<string, unknown>>(items: T[], key: keyof T, id: string, what: string): T {
  const found = items.find((item) => item[key] === id);
  if (!found) throw new ApiError("not_found", `no ${what} '${id}'`);
  return found;
}

export function registerProfileRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ ...get("/catalog", "Rewards the caller can redeem"),
      description: "Rewards with a price: the price, `stock` as available/low/out (from a cache a few seconds old; the redemption itself is exact), whether the caller can afford one and whether they may take one now.",
      responses: { 200: listOf("The catalogue"), 401: errorResponses[401] } }),
    async (c) => {
      const { state, programme } = await mine(c);
      const rewards = [...programme.products.entries()].filter(([, p]) => p.type === "reward" && p.price !== null).map(([id]) => id);
      return c.json({ data: catalogView(programme, state, await cachedStock(c.env.DB, c.get("space").id, rewards)) }, 200);
    },
  );

  app.openapi(createRoute({ ...get("/", "The caller's profile"), responses: { 200: jsonContent(anyObject, "The caller"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ ...profileView(programme, state, c.get("space").publicAttributes, Date.now()), space: c.get("space").slug }, 200);
  });

  app.openapi(createRoute({ ...get("/metrics", "Balances"), responses: { 200: listOf("Balances and lifetime totals"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ data: metricsView(programme, state) }, 200);
  });

  app.openapi(
    createRoute({ ...get("/metrics/{id}", "One balance"), request: { params: idParams }, responses: { 200: jsonContent(anyObject, "The balance"), ...errorResponses } }),
    async (c) => {
      const { state, programme } = await mine(c);
      return c.json(one(metricsView(programme, state), "metric", c.req.valid("param").id, "metric"), 200);
    },
  );

  app.openapi(
    createRoute({ ...get("/metrics/{id}/transactions", "The ledger of one metric, newest first"), request: { params: idParams, query: pageQuery },
      responses: { 200: jsonContent(anyObject, "A page of ledger entries"), ...errorResponses } }),
    async (c) => {
      const { programme } = await mine(c);
      const { id } = c.req.valid("param");
      if (!programme.metrics.has(id)) throw new ApiError("not_found", `no metric '${id}'`);
      return c.json(await ledgerPage(c, c.get("userId"), id, c.req.valid("query")), 200);
    },
  );

  app.openapi(createRoute({ ...get("/rewards", "Products held"), responses: { 200: listOf("Badges, rewards and items"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ data: rewardsView(programme, state) }, 200);
  });

  app.openapi(createRoute({ ...get("/segments", "Segments the caller belongs to"), responses: { 200: listOf("Segments"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ data: segmentsView(programme, state) }, 200);
  });

  app.openapi(createRoute({ ...get("/ladders", "Levels"), responses: { 200: listOf("Ladders"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ data: laddersView(programme, state) }, 200);
  });

  app.openapi(
    createRoute({ ...get("/ladders/{id}", "One level"), request: { params: idParams }, responses: { 200: jsonContent(anyObject, "The ladder"), ...errorResponses } }),
    async (c) => {
      const { state, programme } = await mine(c);
      return c.json(one(laddersView(programme, state), "ladder", c.req.valid("param").id, "ladder"), 200);
    },
  );

  app.openapi(createRoute({ ...get("/streaks", "Streaks as of now"), responses: { 200: listOf("Streaks"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ data: streaksView(programme, state, Date.now()) }, 200);
  });

  app.openapi(
    createRoute({ ...get("/streaks/{id}", "One streak as of now"), request: { params: idParams }, responses: { 200: jsonContent(anyObject, "The streak"), ...errorResponses } }),
    async (c) => {
      const { state, programme } = await mine(c);
      return c.json(one(streaksView(programme, state, Date.now()), "streak", c.req.valid("param").id, "streak"), 200);
    },
  );

  app.openapi(createRoute({ ...get("/campaigns", "Visible campaigns with progress"), responses: { 200: listOf("Campaigns"), 401: errorResponses[401] } }), async (c) => {
    const { state, programme } = await mine(c);
    return c.json({ data: campaignsView(programme, state, Date.now()) }, 200);
  });

  app.openapi(
    createRoute({ ...get("/campaigns/{id}", "One campaign with progress"), request: { params: idParams }, responses: { 200: jsonContent(anyObject, "The campaign"), ...errorResponses } }),
    async (c) => {
      const { state, programme } = await mine(c);
      return c.json(one(campaignsView(programme, state, Date.now()), "campaign", c.req.valid("param").id, "campaign"), 200);
    },
  );

  app.openapi(
    createRoute({ ...get("/activity", "The caller's recent outcomes"), request: { query: pageQuery }, responses: { 200: jsonContent(anyObject, "A page of activity"), 401: errorResponses[401] } }),
    async (c) => {
      await mine(c);
      return c.json(await activityPage(c, c.get("userId"), c.req.valid("query")), 200);
    },
  );
}
