import { SELF, env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BASE, answer, call, createKey, createSpace, type TestSpace } from "../helpers/harness";
import { checkSpace, type Expectations, type Fetcher } from "../helpers/invariants";
import { ADMIN, adminOf, errorPaths, expectProblemReply, freshAdmin, uniqueUser, type Admin } from "../helpers/users-api";

// Event reversal through the Admin API (SPEC §7): POST /users/{userId}/events/{eventId}/reverse
// against the real Worker, the users' Durable Objects, D1 and the queues (SELF.fetch). Most
// tests share one space (its programme below) with users of their own; the invariant checker
// of test/helpers/invariants.ts reads the reversed users back through the Admin API.

// SELF.fetch slows down with every request a file sends (cloudflare/workers-sdk#15446).
vi.setConfig({ testTimeout: 30_000 });

afterEach(() => {
  vi.restoreAllMocks();
});

const levels = [
  { id: "bronze", name: "Bronze", threshold: 0 },
  { id: "silver", name: "Silver", threshold: 15 },
];
const onEvery = (name: string, eventType: string, effects: unknown[], extra: Record<string, unknown> = {}) => ({
  name,
  status: "active",
  repeat: { limit: null },
  steps: [{ id: "s", name: "s", trigger: { eventType }, effects }],
  ...extra,
});
const points = (amount: unknown) => ({ type: "metric.add", metric: "points", amount });

/**
 * The shared programme: a purchase credits its amount in points and 10 xp (`buy`,
 * unlimited, evaluated first); the first purchase also grants a badge and 5 points (`first`, once);
 * a visit is 3 points; an order redeems a mug (price 30) by effect; a reversal sets the
 * attribute `lastReversed`. Two ladders on xp lifetime, with and without demotion.
 */
async function programme(admin: Admin): Promise<void> {
  await admin.define("metrics", "points", { name: "Points", kind: "currency" });
  await admin.define("metrics", "xp", { name: "XP", kind: "counter" });
  await admin.define("ladders", "tiers", { name: "Tiers", metric: "xp", demotion: true, levels });
  await admin.define("ladders", "status", { name: "Status", metric: "xp", demotion: false, levels });
  await admin.define("products", "badge", { name: "Badge", type: "badge" });
  await admin.define("products", "mug", { name: "Mug", type: "reward", price: { metric: "points", amount: 30 }, perUserLimit: null });
  await admin.define("campaigns", "buy", onEvery("Buy", "purchase", [points({ path: "event.data.amount" }), { type: "metric.add", metric: "xp", amount: 10 }], { priority: 10 }));
  await admin.define("campaigns", "first", { ...onEvery("First purchase", "purchase", [{ type: "product.grant", product: "badge" }, points(5)]), repeat: { limit: 1 } });
  await admin.define("campaigns", "visit", onEvery("Visit", "visit", [points(3)]));
  await admin.define("campaigns", "shop", onEvery("Shop", "order", [{ type: "product.redeem", product: "mug", quantity: 1 }]));
  await admin.define("campaigns", "on-reversal", onEvery("On reversal", "loyalty.event.reversed", [{ type: "attribute.set", key: "lastReversed", value: "{{event.data.eventId}}" }]));
}

let sharedSpace: Promise<Admin> | undefined;
/** The file's shared space with the programme above (created once). */
function shared(): Promise<Admin> {
  sharedSpace ??= (async () => {
    const admin = await freshAdmin();
    await programme(admin);
    return admin;
  })();
  return sharedSpace;
}

const u = (userId: string) => `/users/${encodeURIComponent(userId)}`;
const reverse = (admin: Admin, userId: string, eventId: string, headers?: Record<string, string>) =>
  admin.at("POST", `${u(userId)}/events/${encodeURIComponent(eventId)}/reverse`, undefined, headers);

/** Reverses and expects 200; returns the body. */
async function reversed(admin: Admin, userId: string, eventId: string): Promise<any> {
  const a = await reverse(admin, userId, eventId);
  expect(a.status, a.text).toBe(200);
  expect(a.headers.get("content-type")).toContain("application/json");
  return a.body;
}

const metricOf = (doc: any, id: string) => {
  const m = (doc.metrics as any[]).find((x) => x.metric === id);
  return { balance: m.balance, lifetime: m.lifetime };
};
const campaignOf = (doc: any, id: string) => {
  const c = (doc.campaigns as any[]).find((x) => x.campaign === id);
  return { completions: c.completions, remaining: c.remaining };
};
const levelOf = (doc: any, id: string) => (doc.ladders as any[]).find((x) => x.ladder === id).level.id;

async function userDoc(admin: Admin, userId: string): Promise<any> {
  const a = await admin.user(userId);
  expect(a.status, a.text).toBe(200);
  return a.body;
}

/** The Admin API through SELF.fetch, as the invariant checker reads it. */
const viaSelf: Fetcher = (path, init) => SELF.fetch(new Request(`${BASE}${path}`, init));
const credentialsOf = (space: TestSpace) => ({ key: env.ADMIN_ROOT_KEY!, space: space.slug, spaceId: space.id });

/** Runs the invariant checker over the users; `reversals` are the events answered 200, per user. */
async function expectInvariants(admin: Admin, reversals: Record<string, string[]>, fetcher: Fetcher = viaSelf): Promise<string[]> {
  const expectations: Expectations = { reversals: new Map(Object.entries(reversals).map(([userId, ids]) => [userId, new Set(ids)])) };
  const report = await checkSpace(fetcher, credentialsOf(admin.space), Object.keys(reversals), expectations);
  return report.violations.map((v) => `${v.invariant}: ${v.detail}`);
}

// ---------------------------------------------------------------------------------------

describe("what a reversal takes back", () => {
  it("credits (down to the floor, lifetime in full), the badge, the completions; ladders follow only with demotion; a once-only campaign can be completed again", async () => {
    const admin = await shared();
    const userId = uniqueUser("rev");
    await admin.apply({ id: "e1", userId, type: "purchase", data: { amount: 40 } });
    await admin.apply({ id: "e2", userId, type: "purchase", data: { amount: 20 } });
    const spent = await admin.adjust(userId, "points", { amount: -50, reason: "spend" });
    expect(spent.status, spent.text).toBe(201);
    const before = await userDoc(admin, userId);
    expect(metricOf(before, "points")).toEqual({ balance: 15, lifetime: 65 });
    expect([levelOf(before, "tiers"), levelOf(before, "status")]).toEqual(["silver", "silver"]);
    expect((await admin.ledger(userId, "points")).map((e) => [e.id, e.delta, e.source.eventId])).toEqual([
      ["led_6", -50, expect.stringMatching(/^adm_/)],
      ["led_4", 20, "e2"],
      ["led_3", 5, "e1"],
      ["led_1", 40, "e1"],
    ]);

    const body = await reversed(admin, userId, "e1");
    expect(body).toEqual({
      eventId: "e1",
      ledger: [
        { metric: "points", delta: -15, requested: -40, reverses: "led_1" },
        { metric: "xp", delta: -10, reverses: "led_2" },
        { metric: "points", delta: 0, requested: -5, reverses: "led_3" },
      ],
      productsRevoked: [{ product: "badge", quantity: 1 }],
      redemptionsCancelled: [],
      completionsUncounted: [
        { campaign: "buy", completions: 1 },
        { campaign: "first", completions: 0 },
      ],
      outcomeKept: true,
      skipped: [],
    });

    // The admin operation's own activity entry; its id is every compensating entry's source.
    const activity = await admin.activity(userId);
    expect(activity.map((a) => a.type)).toEqual(["admin.reverse", "admin.adjust", "purchase", "purchase"]);
    const op = activity[0];
    expect(op.eventId).toMatch(/^adm_/);
    expect(op.outcome.derivedEvents.map((d: any) => d.type)).toEqual([
      "loyalty.metric.changed",
      "loyalty.metric.changed",
      "loyalty.metric.changed",
      "loyalty.product.revoked",
      "loyalty.event.reversed",
      "loyalty.user.updated",
      "loyalty.step.completed",
      "loyalty.campaign.completed",
      "loyalty.ladder.level_changed",
    ]);
    expect(op.outcome.effects).toEqual([{ campaign: "on-reversal", step: "s", type: "attribute.set", status: "applied", key: "lastReversed" }]);
    expect(op.outcome.changes).toContainEqual({ type: "ladder", ladder: "tiers", from: "silver", to: "bronze" });

    const ledger = await admin.ledger(userId, "points");
    expect(ledger.slice(0, 2)).toEqual([
      { id: "led_9", seq: 9, metric: "points", delta: 0, requested: -5, balanceAfter: 0, reason: "reversal", source: { eventId: op.eventId, reverses: "led_3" }, occurredAt: op.occurredAt, at: expect.any(String) },
      { id: "led_7", seq: 7, metric: "points", delta: -15, requested: -40, balanceAfter: 0, reason: "reversal", source: { eventId: op.eventId, reverses: "led_1" }, occurredAt: op.occurredAt, at: expect.any(String) },
    ]);
    expect((await admin.ledger(userId, "xp")).map((e) => [e.id, e.delta, e.balanceAfter, e.reason, e.source])).toEqual([
      ["led_8", -10, 10, "reversal", { eventId: op.eventId, reverses: "led_2" }],
      ["led_5", 10, 20, "effect", { eventId: "e2", campaign: "buy", step: "s" }],
      ["led_2", 10, 10, "effect", { eventId: "e1", campaign: "buy", step: "s" }],
    ]);

    const after = await userDoc(admin, userId);
    // "Earn, spend, refund" keeps nothing: lifetime is 65 − 45, though only 15 could be taken.
    expect(metricOf(after, "points")).toEqual({ balance: 0, lifetime: 20 });
    expect(metricOf(after, "xp")).toEqual({ balance: 10, lifetime: 10 });
    expect([levelOf(after, "tiers"), levelOf(after, "status")]).toEqual(["bronze", "silver"]);
    expect(after.rewards).toEqual([]);
    expect(after.attributes).toEqual({ lastReversed: "e1" });
    expect(campaignOf(after, "first")).toEqual({ completions: 0, remaining: 1 });
    expect(campaignOf(after, "buy")).toEqual({ completions: 1, remaining: null });

    // `first` (repeat.limit 1) completes again, with its step's effects.
    const again = await admin.apply({ id: "e3", userId, type: "purchase", data: { amount: 10 } });
    expect(again.campaignsCompleted).toEqual([
      { campaign: "buy", completions: 2 },
      { campaign: "first", completions: 1 },
    ]);
    expect(again.effects.filter((e: any) => e.campaign === "first").map((e: any) => [e.type, e.status])).toEqual([
      ["product.grant", "applied"],
      ["metric.add", "applied"],
    ]);
    const last = await userDoc(admin, userId);
    expect(metricOf(last, "points")).toEqual({ balance: 15, lifetime: 35 });
    expect(last.rewards.map((r: any) => [r.product, r.quantity])).toEqual([["badge", 1]]);
    // Asked again later, the reversal answers what it answered (the badge granted since stays).
    expect(await reversed(admin, userId, "e1")).toEqual(body);
    expect(metricOf(await userDoc(admin, userId), "points")).toEqual({ balance: 15, lifetime: 35 });
    expect(await expectInvariants(admin, { [userId]: ["e1"] })).toEqual([]);
  });

  it("left alone: streak check-ins, attributes, static segments; a daily campaign's count is freed for the day", async () => {
    const admin = await shared();
    await admin.define("streaks", "daily", { name: "Daily", period: "day" });
    await admin.define("segments", "tagged", { name: "Tagged", type: "static" });
    await admin.define(
      "campaigns",
      "checkin",
      onEvery("Check in", "checkin", [
        { type: "streak.checkin", streak: "daily" },
        { type: "attribute.set", key: "seen", value: true },
        { type: "segment.add", segment: "tagged" },
        points(2),
      ], { repeat: { limit: 1, every: "day" } }),
    );
    const userId = uniqueUser("left");
    await admin.apply({ id: "c1", userId, type: "checkin" });
    expect(await reversed(admin, userId, "c1")).toEqual({
      eventId: "c1",
      ledger: [{ metric: "points", delta: -2, reverses: "led_1" }],
      productsRevoked: [],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: "checkin", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    const doc = await userDoc(admin, userId);
    expect(metricOf(doc, "points")).toEqual({ balance: 0, lifetime: 0 });
    expect(doc.streaks.find((x: any) => x.streak === "daily")).toMatchObject({ status: "active", current: 1 });
    expect(doc.attributes).toEqual({ seen: true, lastReversed: "c1" });
    expect(doc.segments).toEqual([{ segment: "tagged", name: "Tagged" }]);
    expect(campaignOf(doc, "checkin")).toEqual({ completions: 0, remaining: 1 });
    // Today's completion is free again: the next check-in completes and credits.
    const again = await admin.apply({ id: "c2", userId, type: "checkin" });
    expect(again.campaignsCompleted).toEqual([{ campaign: "checkin", completions: 1 }]);
    expect(metricOf(await userDoc(admin, userId), "points")).toEqual({ balance: 2, lifetime: 2 });
  });

  it("an event whose redemption is still completed: the debit given back (not earned), the product revoked, the redemption cancelled", async () => {
    const admin = await shared();
    const userId = uniqueUser("rdm");
    expect((await admin.adjust(userId, "points", { amount: 100, reason: "seed" })).status).toBe(201);
    const outcome = await admin.apply({ id: "o1", userId, type: "order" });
    expect(outcome.effects).toEqual([
      { campaign: "shop", step: "s", type: "product.redeem", status: "applied", product: "mug", quantity: 1, redemption: "rdm:o1:1", price: { metric: "points", amount: 30 } },
    ]);
    const redemption = `${u(userId)}/redemptions/${encodeURIComponent("rdm:o1:1")}`;
    expect((await admin.get(redemption)).body.status).toBe("completed");

    const body = await reversed(admin, userId, "o1");
    expect(body).toEqual({
      eventId: "o1",
      ledger: [{ metric: "points", delta: 30, reverses: "led_2" }],
      productsRevoked: [{ product: "mug", quantity: 1 }],
      redemptionsCancelled: ["rdm:o1:1"],
      completionsUncounted: [{ campaign: "shop", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    const stored = await admin.get(redemption);
    expect(stored.status, stored.text).toBe(200);
    expect(stored.body).toEqual({
      id: "rdm:o1:1",
      product: "mug",
      quantity: 1,
      price: { metric: "points", amount: 30 },
      codes: [],
      status: "cancelled",
      createdAt: expect.any(String),
      cancelledAt: expect.any(String),
    });
    // Cancelled once and for all: the cancel route has nothing left to do.
    const cancel = await admin.at("POST", `${redemption}/cancel`, {});
    expectProblemReply(cancel, 409, "invalid_transition");
    const doc = await userDoc(admin, userId);
    expect(metricOf(doc, "points")).toEqual({ balance: 100, lifetime: 100 });
    expect(doc.rewards).toEqual([]);
    const [entry] = await admin.ledger(userId, "points");
    expect(entry).toMatchObject({ delta: 30, balanceAfter: 100, reason: "reversal", source: { reverses: "led_2", redemption: "rdm:o1:1" } });
    const [op] = await admin.activity(userId);
    expect(op.outcome.derivedEvents.map((d: any) => d.type)).toEqual([
      "loyalty.metric.changed",
      "loyalty.product.revoked",
      "loyalty.redemption.cancelled",
      "loyalty.event.reversed",
      "loyalty.user.updated",
      "loyalty.step.completed",
      "loyalty.campaign.completed",
    ]);

    // Another user cancelled the redemption through the cancel route first: refunded once, not twice.
    const other = uniqueUser("rdm");
    expect((await admin.adjust(other, "points", { amount: 100, reason: "seed" })).status).toBe(201);
    await admin.apply({ id: "o1", userId: other, type: "order" });
    const cancelled = await admin.at("POST", `${u(other)}/redemptions/${encodeURIComponent("rdm:o1:1")}/cancel`, {});
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(await reversed(admin, other, "o1")).toEqual({
      eventId: "o1",
      ledger: [],
      productsRevoked: [],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: "shop", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    expect(metricOf(await userDoc(admin, other), "points")).toEqual({ balance: 100, lifetime: 100 });
    expect((await admin.ledger(other, "points")).map((e) => [e.delta, e.reason])).toEqual([
      [30, "refund"],
      [-30, "redemption"],
      [100, "seed"],
    ]);
    expect(await expectInvariants(admin, { [userId]: ["o1"], [other]: ["o1"] })).toEqual([]);
  });

  it("a stocked, coded reward granted by an event: the code is withdrawn from the user and never reissued, the stock not given back", async () => {
    const admin = await shared();
    await admin.define("products", "voucher", { name: "Voucher", type: "reward", perUserLimit: null, stock: 5 });
    const stockOf = async () => {
      const a = await admin.get("/products/voucher");
      return { stock: a.body.stock, redeemed: a.body.redeemed };
    };
    await admin.define("campaigns", "win", onEvery("Win", "win", [{ type: "product.grant", product: "voucher" }]));
    const added = await admin.at("POST", "/products/voucher/codes", { codes: ["V-1", "V-2"] });
    expect(added.body).toEqual({ product: "voucher", added: 2, available: 2, allocated: 0 });
    const userId = uniqueUser("code");
    const won = await admin.apply({ id: "w1", userId, type: "win" });
    expect(won.effects).toEqual([{ campaign: "win", step: "s", type: "product.grant", status: "applied", product: "voucher", quantity: 1, codes: ["V-1"] }]);
    expect((await userDoc(admin, userId)).rewards).toEqual([{ product: "voucher", type: "reward", name: "Voucher", quantity: 1, codes: ["V-1"] }]);
    expect(await stockOf()).toEqual({ stock: 4, redeemed: 1 });

    expect(await reversed(admin, userId, "w1")).toEqual({
      eventId: "w1",
      ledger: [],
      productsRevoked: [{ product: "voucher", quantity: 1 }],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: "win", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    expect((await userDoc(admin, userId)).rewards).toEqual([]);
    // D1 keeps the code allocated to the user: withdrawn, not freed.
    const { results } = await env.DB.prepare(`SELECT code, user_id FROM product_codes WHERE space_id = ?1 AND product_id = 'voucher' ORDER BY code`)
      .bind(admin.space.id)
      .all<{ code: string; user_id: string | null }>();
    expect(results).toEqual([
      { code: "V-1", user_id: userId },
      { code: "V-2", user_id: null },
    ]);
    expect((await admin.at("POST", "/products/voucher/codes", { codes: ["V-1"] })).body).toEqual({ product: "voucher", added: 0, available: 1, allocated: 1 });
    // A reversal is no cancellation with restock: the take stays taken.
    expect(await stockOf()).toEqual({ stock: 4, redeemed: 1 });

    // The next grant takes the next code; after it the pool is empty for everyone.
    const next = await admin.apply({ id: "w2", userId, type: "win" });
    expect(next.effects[0]).toMatchObject({ status: "applied", codes: ["V-2"] });
    expect((await userDoc(admin, userId)).rewards).toEqual([{ product: "voucher", type: "reward", name: "Voucher", quantity: 1, codes: ["V-2"] }]);
    const none = await admin.apply({ id: "w1", userId: uniqueUser("code"), type: "win" });
    expect(none.effects[0]).toMatchObject({ status: "skipped", reason: "out_of_codes" });
    expect(await stockOf()).toEqual({ stock: 3, redeemed: 2 });
  });

  it("loyalty.event.reversed reaches a subscribed webhook; an event that changed nothing still emits it", async () => {
    const prefix = `https://hooks.example.com/rev-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}/`;
    const seen: any[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init);
      if (!request.url.startsWith(prefix)) return real(input as RequestInfo, init);
      seen.push({ id: request.headers.get("webhook-id"), body: JSON.parse(await request.text()) });
      return new Response(null, { status: 204 });
    });
    const admin = await freshAdmin();
    await admin.define("webhooks", "hook", { url: `${prefix}in`, events: ["loyalty.event.reversed"] });
    const userId = uniqueUser("hook");
    await admin.apply({ id: "pv-1", userId, type: "page_view" });
    expect(await reversed(admin, userId, "pv-1")).toEqual({
      eventId: "pv-1",
      ledger: [],
      productsRevoked: [],
      redemptionsCancelled: [],
      completionsUncounted: [],
      outcomeKept: true,
      skipped: [],
    });
    const [op] = await admin.activity(userId);
    expect(op.type).toBe("admin.reverse");
    expect(op.outcome.derivedEvents).toEqual([{ id: `${op.eventId}#1`, type: "loyalty.event.reversed", depth: 1 }]);
    const end = Date.now() + 20_000;
    while (seen.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(seen.map((s) => s.body)).toEqual([
      { id: seen[0]?.id, type: "loyalty.event.reversed", timestamp: op.occurredAt, space: admin.space.id, userId, eventId: `${op.eventId}#1`, data: { eventId: "pv-1" } },
    ]);
  });
});

describe("idempotent, also under concurrency", () => {
  it("five identical reversals at once take back once, all answer the same; a later repeat changes nothing", async () => {
    const admin = await shared();
    const userId = uniqueUser("dup");
    await admin.apply({ id: "e1", userId, type: "purchase", data: { amount: 30 } });
    const answers = await Promise.all(Array.from({ length: 5 }, () => reverse(admin, userId, "e1")));
    for (const a of answers) expect(a.status, a.text).toBe(200);
    const body = answers[0]!.body;
    expect(body).toEqual({
      eventId: "e1",
      ledger: [
        { metric: "points", delta: -30, reverses: "led_1" },
        { metric: "xp", delta: -10, reverses: "led_2" },
        { metric: "points", delta: -5, reverses: "led_3" },
      ],
      productsRevoked: [{ product: "badge", quantity: 1 }],
      redemptionsCancelled: [],
      completionsUncounted: [
        { campaign: "buy", completions: 0 },
        { campaign: "first", completions: 0 },
      ],
      outcomeKept: true,
      skipped: [],
    });
    for (const a of answers) expect(a.body).toEqual(body);
    const ledgerOf = async () => [...(await admin.ledger(userId, "points")), ...(await admin.ledger(userId, "xp"))];
    const entries = await ledgerOf();
    expect(entries.filter((e) => e.reason === "reversal").map((e) => e.source.reverses).sort()).toEqual(["led_1", "led_2", "led_3"]);
    const activity = await admin.activity(userId);
    expect(activity.map((a) => a.type)).toEqual(["admin.reverse", "purchase"]);

    const repeat = await reverse(admin, userId, "e1");
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(body);
    expect(repeat.headers.get("idempotent-replayed")).toBeNull();
    expect(await ledgerOf()).toEqual(entries);
    expect(await admin.activity(userId)).toEqual(activity);
    const doc = await userDoc(admin, userId);
    expect([metricOf(doc, "points"), metricOf(doc, "xp")]).toEqual([
      { balance: 0, lifetime: 0 },
      { balance: 0, lifetime: 0 },
    ]);
  });

  it("reversals racing with the user's new events, an adjustment and each other", async () => {
    const admin = await shared();
    const userId = uniqueUser("race");
    await admin.apply({ id: "e1", userId, type: "purchase", data: { amount: 50 } });
    await admin.apply({ id: "v0", userId, type: "visit" });
    const answers = await Promise.all([
      reverse(admin, userId, "e1"),
      admin.event({ id: "v1", userId, type: "visit" }),
      admin.event({ id: "v2", userId, type: "visit" }),
      admin.adjust(userId, "points", { amount: 5, reason: "goodwill" }),
      reverse(admin, userId, "e1"),
      admin.event({ id: "v3", userId, type: "visit" }),
      reverse(admin, userId, "v0"),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 201, 201, 201, 200, 201, 200]);
    expect(answers[4]!.body).toEqual(answers[0]!.body);
    // Whatever the order, every credit of e1 was covered by the balance when it was taken back.
    expect(answers[0]!.body.ledger).toEqual([
      { metric: "points", delta: -50, reverses: "led_1" },
      { metric: "xp", delta: -10, reverses: "led_2" },
      { metric: "points", delta: -5, reverses: "led_3" },
    ]);
    expect(answers[6]!.body).toMatchObject({ eventId: "v0", ledger: [{ metric: "points", delta: -3, reverses: "led_4" }], completionsUncounted: [{ campaign: "visit" }] });
    const doc = await userDoc(admin, userId);
    // 55 + 3 + 3 × 3 + 5 − 55 − 3
    expect(metricOf(doc, "points")).toEqual({ balance: 14, lifetime: 14 });
    expect(metricOf(doc, "xp")).toEqual({ balance: 0, lifetime: 0 });
    expect(campaignOf(doc, "visit")).toEqual({ completions: 3, remaining: null });
    expect(campaignOf(doc, "first")).toEqual({ completions: 0, remaining: 1 });
    expect(doc.rewards).toEqual([]);
    expect((await admin.activity(userId)).filter((a) => a.type === "admin.reverse")).toHaveLength(2);
    expect(await expectInvariants(admin, { [userId]: ["e1", "v0"] })).toEqual([]);
  });

  it("the invariant checker notices a reversal entry lost, doubled, or a redemption left open", async () => {
    const admin = await shared();
    const userId = uniqueUser("lie");
    expect((await admin.adjust(userId, "points", { amount: 100, reason: "seed" })).status).toBe(201);
    await admin.apply({ id: "e1", userId, type: "purchase", data: { amount: 20 } });
    await admin.apply({ id: "o1", userId, type: "order" });
    await reversed(admin, userId, "e1");
    await reversed(admin, userId, "o1");
    expect(await expectInvariants(admin, { [userId]: ["e1", "o1"] })).toEqual([]);

    /** The same reads, with one answer rewritten. */
    const lying = (rewrite: (path: string, body: any) => void): Fetcher => async (path, init) => {
      const response = await viaSelf(path, init);
      if (response.status !== 200) return response;
      const body = (await response.json()) as any;
      rewrite(path.split("?")[0]!, body);
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    };
    const ledgerPath = `/api/loyalty/admin${u(userId)}/metrics/xp/transactions`;
    const invariantsOf = async (fetcher: Fetcher) => new Set((await expectInvariants(admin, { [userId]: ["e1", "o1"] }, fetcher)).map((v) => v.split(":")[0]));
    // The xp reversal entry dropped from the listing.
    const dropped = await invariantsOf(lying((path, body) => path === ledgerPath && (body.data = body.data.filter((e: any) => e.reason !== "reversal"))));
    expect(dropped).toContain("reversal_entries");
    // The same entry listed twice (as another seq).
    const doubled = await invariantsOf(
      lying((path, body) => {
        if (path !== ledgerPath) return;
        const r = body.data.find((e: any) => e.reason === "reversal");
        body.data.unshift({ ...r, id: "led_99", seq: 99, balanceAfter: r.balanceAfter + r.delta });
      }),
    );
    expect(doubled).toContain("reversed_twice");
    // The order's redemption still shown completed after its event was reversed.
    const open = await invariantsOf(lying((path, body) => path.includes("/redemptions/") && (body.status = "completed")));
    expect(open).toContain("reversal_redemption_open");
    expect(open).toContain("redemption_refunds");
    // A reversal the driver was answered for, but never stored.
    const lost = await checkSpace(viaSelf, credentialsOf(admin.space), [userId], { reversals: new Map([[userId, new Set(["e1", "o1", "ghost"])]]) });
    expect(lost.violations.map((v) => v.invariant)).toEqual(["reversal_lost"]);
  });
});

describe("Idempotency-Key, like every admin POST", () => {
  it("the same key replays the answer (Idempotent-Replayed); on another event it is 422", async () => {
    const admin = await shared();
    const userId = uniqueUser("idem");
    await admin.apply({ id: "v1", userId, type: "visit" });
    await admin.apply({ id: "v2", userId, type: "visit" });
    const key = { "Idempotency-Key": `rev-${userId}` };
    const first = await reverse(admin, userId, "v1", key);
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(first.body).toEqual({
      eventId: "v1",
      ledger: [{ metric: "points", delta: -3, reverses: "led_1" }],
      productsRevoked: [],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: "visit", completions: 1 }],
      outcomeKept: true,
      skipped: [],
    });
    const replay = await reverse(admin, userId, "v1", key);
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(first.body);
    const reused = expectProblemReply(await reverse(admin, userId, "v2", key), 422, "idempotency_key_reused");
    expect(reused.errors).toEqual([{ path: "header.idempotency-key", message: expect.any(String) }]);
    // v2 untouched; v1 taken back once.
    expect(metricOf(await userDoc(admin, userId), "points")).toEqual({ balance: 3, lifetime: 3 });
    expect((await admin.activity(userId)).map((a) => a.type)).toEqual(["admin.reverse", "visit", "visit"]);
  });
});

describe("not found and malformed", () => {
  it("404 for an unknown id, a user never seen, another user's event, an admin operation's id; nothing is stored", async () => {
    const admin = await shared();
    const userId = uniqueUser("nf");
    await admin.apply({ id: "mine", userId, type: "visit" });
    const other = uniqueUser("nf");
    await admin.apply({ id: "theirs", userId: other, type: "visit" });
    expect((await admin.adjust(userId, "points", { amount: 1, reason: "x" })).status).toBe(201);
    const opId = (await admin.activity(userId))[0].eventId;
    expect(opId).toMatch(/^adm_/);

    const never = uniqueUser("never");
    for (const [who, eventId] of [[userId, "nope"], [userId, "theirs"], [userId, opId], [never, "mine"], [userId, "x".repeat(128)]] as const) {
      const a = await reverse(admin, who, eventId);
      const problem = expectProblemReply(a, 404, "not_found");
      expect({ eventId, paths: errorPaths(a) }).toEqual({ eventId, paths: ["path.eventId"] });
      expect(problem.detail).toContain(eventId);
    }
    // Refusals leave no trace: no activity entry, no user created.
    expect((await admin.activity(userId)).map((a) => a.type)).toEqual(["admin.adjust", "visit"]);
    expectProblemReply(await admin.user(never), 404, "not_found");
    // The event is still reversible afterwards.
    expect((await reversed(admin, userId, "mine")).ledger).toEqual([{ metric: "points", delta: -3, reverses: "led_1" }]);
    // An erased user has no events any more.
    expect((await admin.deleteUser(other)).status).toBe(204);
    expectProblemReply(await reverse(admin, other, "theirs"), 404, "not_found");
  });

  it("the same user id in another space does not have this space's events", async () => {
    const a = await shared();
    const b = await freshAdmin();
    await b.define("metrics", "points", { name: "Points", kind: "currency" });
    const userId = uniqueUser("space");
    await a.apply({ id: "in-a", userId, type: "visit" });
    await b.apply({ id: "in-b", userId, type: "visit" });
    expectProblemReply(await reverse(b, userId, "in-a"), 404, "not_found");
    expectProblemReply(await reverse(a, userId, "in-b"), 404, "not_found");
    expect(metricOf(await userDoc(a, userId), "points")).toEqual({ balance: 3, lifetime: 3 });
  });

  it.each<[name: string, eventId: string]>([
    ["a character outside the alphabet", "bad!id"],
    ["a space", "two words"],
    ["a derived event's id", "e1#1"],
    ["129 characters", "x".repeat(129)],
  ])("400 for %s, with the path", async (_name, eventId) => {
    const admin = await shared();
    const a = await reverse(admin, uniqueUser("bad"), eventId);
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["path.eventId"]);
  });
});

describe("who may reverse", () => {
  it("users:write and admin keys may; read and events:write get 403; no key 401; another space's key 403 wrong_space", async () => {
    const admin = await shared();
    const userId = uniqueUser("auth");
    for (const id of ["v1", "v2", "v3"]) await admin.apply({ id, userId, type: "visit" });
    const keyed = async (scopes: string[]) => adminOf(admin.space, (await createKey(admin.space, scopes)).secret);

    for (const scope of ["read", "events:write"]) {
      const refused = expectProblemReply(await reverse(await keyed([scope]), userId, "v1"), 403, "insufficient_scope");
      expect(refused.detail).toContain("users:write");
    }
    const noKey = await answer(await call(`${ADMIN}${u(userId)}/events/v1/reverse`, { method: "POST", key: null, space: admin.space.slug }));
    expectProblemReply(noKey, 401, "missing_credential");
    const elsewhere = await createSpace();
    const foreign = adminOf(admin.space, (await createKey(elsewhere, ["admin"])).secret);
    expectProblemReply(await reverse(foreign, userId, "v1"), 403, "wrong_space");
    expect(metricOf(await userDoc(admin, userId), "points")).toEqual({ balance: 9, lifetime: 9 });
    expect((await admin.activity(userId)).map((a) => a.type)).toEqual(["visit", "visit", "visit"]);

    expect((await reversed(await keyed(["users:write"]), userId, "v1")).ledger).toEqual([{ metric: "points", delta: -3, reverses: "led_1" }]);
    expect((await reversed(await keyed(["admin"]), userId, "v2")).ledger).toEqual([{ metric: "points", delta: -3, reverses: "led_2" }]);
    expect(metricOf(await userDoc(admin, userId), "points")).toEqual({ balance: 3, lifetime: 3 });
  });

  it("the route is in the OpenAPI document", async () => {
    const a = await answer(await call("/api/loyalty/openapi.json", { key: null }));
    expect(a.status, a.text.slice(0, 200)).toBe(200);
    expect(Object.keys(a.body.paths["/api/loyalty/admin/users/{userId}/events/{eventId}/reverse"])).toEqual(["post"]);
  });
});
