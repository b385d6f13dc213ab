import { describe, expect, it } from "vitest";
import {
  checkSnapshot,
  checkSpace,
  expectedDeliveries,
  webhookIdOf,
  type ActivityEntry,
  type Delivery,
  type Expectations,
  type Fetcher,
  type LedgerEntry,
  type Snapshot,
} from "../helpers/invariants";

// The invariant checker itself (test/helpers/invariants.ts): a consistent hand-made
// snapshot passes, and each hand-made break of it is reported under the invariant it
// breaks — a checker that cannot fail proves nothing. Pure data, no Worker involved
// (the last cases read the same data through a fake Admin API transport).

const SPACE = "spc_test";

function entry(seq: number, metric: string, delta: number, balanceAfter: number, reason: string, source: LedgerEntry["source"]): LedgerEntry {
  return { id: `led_${seq}`, seq, metric, delta, balanceAfter, reason, source, occurredAt: "2026-01-01T00:00:00.000Z", at: "2026-01-01T00:00:00.000Z" };
}

function activity(seq: number, eventId: string, type: string, outcome: Partial<ActivityEntry["outcome"]> = {}): ActivityEntry {
  return {
    seq,
    eventId,
    type,
    occurredAt: "2026-01-01T00:00:00.000Z",
    at: "2026-01-01T00:00:00.000Z",
    outcome: { effects: [], campaignsCompleted: [], derivedEvents: [], changes: [], cascadeLimited: false, ...outcome },
  };
}

/**
 * One user who bought (50 points, 5 xp, a stocked pin, a completion), got an adjustment of
 * +30, redeemed a scarf twice (40 each) and cancelled the second with restock.
 */
async function consistent(): Promise<{ snapshot: Snapshot; expectations: Expectations }> {
  const snapshot: Snapshot = {
    spaceId: SPACE,
    metrics: [
      { id: "points", kind: "currency", min: null, max: null, initial: 0 },
      { id: "xp", kind: "counter", min: null, max: null, initial: 0 },
    ],
    products: [
      { id: "badge", type: "badge", perUserLimit: 1, stock: null, redeemed: 0, price: null },
      { id: "scarf", type: "reward", perUserLimit: null, stock: 9, redeemed: 1, price: { metric: "points", amount: 40 } },
      { id: "pin", type: "item", perUserLimit: 3, stock: 4, redeemed: 1, price: null },
    ],
    webhooks: [{ id: "hook", events: ["loyalty.product.granted", "loyalty.reward.redeemed"], enabled: true }],
    campaigns: [
      { id: "earn", repeat: { limit: null, every: null, total: null } },
      { id: "shopper", repeat: { limit: null, every: null, total: 2 } },
    ],
    users: [
      {
        userId: "u1",
        doc: {
          userId: "u1",
          metrics: [
            { metric: "points", balance: 40, lifetime: 80 },
            { metric: "xp", balance: 5, lifetime: 5 },
          ],
          rewards: [
            { product: "pin", type: "item", quantity: 1 },
            { product: "scarf", type: "reward", quantity: 1 },
          ],
          campaigns: [
            { campaign: "earn", completions: 1 },
            { campaign: "shopper", completions: 0 },
          ],
        },
        ledger: {
          points: [
            entry(6, "points", 40, 40, "refund", { eventId: "adm_4", redemption: "r2" }),
            entry(5, "points", -40, 0, "redemption", { eventId: "adm_3", redemption: "r2" }),
            entry(4, "points", -40, 40, "redemption", { eventId: "adm_2", redemption: "r1" }),
            entry(3, "points", 30, 80, "soak", { eventId: "adm_1", adjustmentBy: "root" }),
            entry(1, "points", 50, 50, "effect", { eventId: "e1", campaign: "earn", step: "buy" }),
          ],
          xp: [entry(2, "xp", 5, 5, "effect", { eventId: "e1", campaign: "earn", step: "buy" })],
        },
        activity: [
          activity(5, "adm_4", "admin.cancelRedemption"),
          activity(4, "adm_3", "admin.redeem", { derivedEvents: [{ id: "adm_3#1", type: "loyalty.product.granted", depth: 1 }, { id: "adm_3#2", type: "loyalty.reward.redeemed", depth: 1 }] }),
          activity(3, "adm_2", "admin.redeem", { derivedEvents: [{ id: "adm_2#1", type: "loyalty.product.granted", depth: 1 }, { id: "adm_2#2", type: "loyalty.reward.redeemed", depth: 1 }] }),
          activity(2, "adm_1", "admin.adjust", { derivedEvents: [{ id: "adm_1#1", type: "loyalty.metric.changed", depth: 1 }] }),
          activity(1, "e1", "purchase", {
            effects: [
              { campaign: "earn", step: "buy", type: "metric.add", metric: "points", amount: 50, status: "applied" },
              { campaign: "earn", step: "buy", type: "metric.add", metric: "xp", amount: 5, status: "applied" },
              { campaign: "earn", step: "buy", type: "product.grant", product: "pin", quantity: 1, status: "applied" },
              { campaign: "earn", step: "buy", type: "product.grant", product: "badge", status: "skipped", reason: "already_held" },
            ],
            campaignsCompleted: [{ campaign: "earn", completions: 1 }],
            derivedEvents: [
              { id: "e1#1", type: "loyalty.metric.changed", depth: 1 },
              { id: "e1#2", type: "loyalty.metric.changed", depth: 1 },
              { id: "e1#3", type: "loyalty.product.granted", depth: 1 },
            ],
          }),
        ],
        redemptions: {
          r1: { id: "r1", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, status: "completed" },
          r2: { id: "r2", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, status: "cancelled" },
        },
      },
    ],
    deliveries: { hook: [] },
  };
  const expected = await expectedDeliveries(snapshot);
  snapshot.deliveries.hook = expected.map((e): Delivery => ({ id: e.id, kind: "webhook", endpoint: e.webhook, userId: e.userId, eventType: e.type, status: "delivered", attempts: 1 }));
  const expectations: Expectations = {
    appliedEvents: new Map([["u1", new Set(["e1"])]]),
    refusedEvents: new Map([["u1", new Set(["e-refused"])]]),
    adjustments: new Map([["u1", new Map([["points", { count: 1, sum: 30 }]])]]),
    redemptions: [
      { userId: "u1", id: "r1", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, cancelled: false },
      { userId: "u1", id: "r2", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, cancelled: true },
    ],
    restocked: { scarf: 1, pin: 0 },
    initialStock: { scarf: 10, pin: 5 },
    allUsers: true,
    received: new Set(expected.map((e) => e.id)),
  };
  return { snapshot, expectations };
}

type Break = (s: Snapshot, x: Expectations) => void | Promise<void>;
const u1 = (s: Snapshot) => s.users[0]!;
const points = (s: Snapshot) => u1(s).ledger.points!;
const held = (s: Snapshot, metric: string) => u1(s).doc!.metrics.find((m) => m.metric === metric)!;
const reward = (s: Snapshot, product: string) => u1(s).doc!.rewards.find((r) => r.product === product)!;
const product = (s: Snapshot, id: string) => s.products.find((p) => p.id === id)!;
const deliveries = (s: Snapshot) => s.deliveries.hook!;

const BREAKS: Array<[string, string, Break]> = [
  // Balance and lifetime (invariant 10)
  ["balance is not the ledger's sum", "balance_ne_ledger", (s) => void (held(s, "points").balance = 41)],
  ["lifetime counts the refund as earned", "lifetime_ne_ledger", (s) => void (held(s, "points").lifetime = 120)],
  ["lifetime misses the adjustment", "lifetime_ne_ledger", (s) => void (held(s, "points").lifetime = 50)],
  ["a running balance skips an entry", "ledger_running_balance", (s) => void (points(s)[2]!.balanceAfter = 45)],
  ["a debit takes the currency below zero", "balance_below_floor", (s) => {
    points(s).unshift(entry(7, "points", -100, -60, "soak", { eventId: "adm_5", adjustmentBy: "root" }));
    u1(s).activity.unshift(activity(6, "adm_5", "admin.adjust"));
    held(s, "points").balance = -60;
  }],
  ["a seq used by two entries", "ledger_seq_reused", (s) => void (u1(s).ledger.xp![0]!.seq = 1)],
  ["a counter goes down by an effect", "counter_decreased", (s) => {
    u1(s).ledger.xp!.unshift(entry(7, "xp", -2, 3, "effect", { eventId: "e1" }));
    held(s, "xp").balance = 3;
  }],
  // Inventory
  ["a badge held twice", "badge_held_twice", (s) => void u1(s).doc!.rewards.push({ product: "badge", type: "badge", quantity: 2 })],
  ["a negative quantity", "negative_quantity", (s) => void (reward(s, "pin").quantity = -1)],
  ["more than the per-user limit", "per_user_limit_exceeded", (s) => void (reward(s, "pin").quantity = 4)],
  ["a product held that no grant gave", "holdings_ne_history", (s) => void (reward(s, "pin").quantity = 2)],
  ["a completed redemption whose product is gone", "holdings_ne_history", (s) => void (u1(s).doc!.rewards = [{ product: "pin", type: "item", quantity: 1 }])],
  // Exactly once per event; the ledger matches the outcomes
  ["an event applied twice", "event_applied_twice", (s) => void u1(s).activity.push({ ...u1(s).activity[4]!, seq: 0 })],
  ["a ledger entry for an event never applied", "ledger_orphan", (s) => {
    points(s).unshift(entry(7, "points", 10, 50, "effect", { eventId: "ghost" }));
    held(s, "points").balance = 50;
    held(s, "points").lifetime = 90;
  }],
  ["the ledger credits more than the outcome says", "ledger_ne_outcome", (s) => {
    points(s).unshift(entry(7, "points", 10, 50, "effect", { eventId: "e1" }));
    held(s, "points").balance = 50;
    held(s, "points").lifetime = 90;
  }],
  ["an adjustment without its entry", "adjustment_entries", (s) => void u1(s).activity.unshift(activity(6, "adm_9", "admin.adjust"))],
  ["a completion counted twice", "completions_sequence", (s) => void u1(s).activity.unshift(activity(6, "e2", "purchase", { campaignsCompleted: [{ campaign: "earn", completions: 1 }] }))],
  ["more completions than repeat.total", "completions_over_total", (s) => {
    u1(s).activity.unshift(activity(6, "e2", "review", { campaignsCompleted: [{ campaign: "shopper", completions: 1 }] }));
    u1(s).activity.unshift(activity(7, "e3", "review", { campaignsCompleted: [{ campaign: "shopper", completions: 2 }] }));
    u1(s).activity.unshift(activity(8, "e4", "review", { campaignsCompleted: [{ campaign: "shopper", completions: 3 }] }));
  }],
  ["the user's completions disagree with the activity", "completions_ne_activity", (s) => void (u1(s).doc!.campaigns[0]!.completions = 2)],
  // Redemptions
  ["a redemption debited twice", "redemption_debits", (s) => {
    points(s).unshift(entry(7, "points", -40, 0, "redemption", { eventId: "adm_2", redemption: "r1" }));
    held(s, "points").balance = 0;
  }],
  ["a cancelled redemption never refunded", "redemption_refunds", (s) => {
    points(s).shift();
    u1(s).activity.shift();
    held(s, "points").balance = 0;
  }],
  ["a refund of the wrong amount", "refund_amount", (s) => {
    points(s)[0]!.delta = 30;
    points(s)[0]!.balanceAfter = 30;
    held(s, "points").balance = 30;
  }],
  ["a debit without its redemption record", "redemption_missing", (s) => void (u1(s).redemptions.r1 = null)],
  // Stock (invariant 19)
  ["negative stock", "stock_negative", (s) => void (product(s, "scarf").stock = -1)],
  ["stock + redeemed ≠ the stock created", "stock_plus_redeemed", (s) => void (product(s, "scarf").stock = 10)],
  ["redeemed ≠ takes − restocks", "redeemed_ne_takes", (s) => {
    product(s, "scarf").redeemed = 2;
    product(s, "scarf").stock = 8;
  }],
  ["redeemed outside its bounds without the restock count", "redeemed_out_of_bounds", (s, x) => {
    delete x.restocked;
    product(s, "pin").redeemed = 0;
    product(s, "pin").stock = 5;
  }],
  // Outbound (every outbox message delivered, nothing else)
  ["a committed webhook never logged", "delivery_missing", (s) => void deliveries(s).pop()],
  ["a webhook still pending", "delivery_not_delivered", (s) => void (deliveries(s)[0]!.status = "pending")],
  ["a webhook dead-lettered", "delivery_not_delivered", (s) => void (deliveries(s)[0]!.status = "failed")],
  ["a delivery no commit sent", "delivery_unexpected", async (s) => {
    deliveries(s).push({ id: await webhookIdOf(SPACE, "u1", "rolled-back#1", "hook", "loyalty.reward.redeemed"), kind: "webhook", endpoint: "hook", userId: "u1", eventType: "loyalty.reward.redeemed", status: "delivered", attempts: 1 });
  }],
  ["another user's message under this one's webhook-id (ids not unique per user)", "delivery_mismatch", (s) => void (deliveries(s)[0]!.userId = "u2")],
  ["logged delivered but never received", "delivery_not_received", (s, x) => void x.received!.delete(deliveries(s)[0]!.id)],
  // What the driver was told
  ["an acknowledged event lost", "acknowledged_event_lost", (_s, x) => void x.appliedEvents!.get("u1")!.add("e-lost")],
  ["a refused event applied", "refused_event_applied", (_s, x) => void x.refusedEvents!.get("u1")!.add("e1")],
  ["an adjustment answered 201 but not in the ledger", "adjustments_ne_acknowledged", (_s, x) => void x.adjustments!.get("u1")!.set("points", { count: 2, sum: 50 })],
  ["an acknowledged redemption lost", "acknowledged_redemption_lost", (_s, x) => {
    x.redemptions!.push({ userId: "u1", id: "r3", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, cancelled: false });
  }],
  ["a cancellation answered 200 but not stored", "cancellation_lost", (s) => void (u1(s).redemptions.r2!.status = "completed")],
  ["a redemption nobody was told about", "redemption_unacknowledged", (_s, x) => void x.redemptions!.pop()],
];

describe("the invariant checker", () => {
  it("passes a consistent snapshot (no false positives)", async () => {
    const { snapshot, expectations } = await consistent();
    const report = await checkSnapshot(snapshot, expectations);
    expect(report.violations).toEqual([]);
    expect(report.counts).toMatchObject({ users: 1, usersSeen: 1, ledgerEntries: 6, activityEntries: 5, redemptions: 2, deliveriesExpected: 5, deliveriesLogged: 5, skippedChecks: 0 });
  });

  it.each(BREAKS)("detects %s (%s)", async (_name, invariant, breakIt) => {
    const { snapshot, expectations } = await consistent();
    await breakIt(snapshot, expectations);
    const report = await checkSnapshot(snapshot, expectations);
    expect(report.violations.map((v) => v.invariant)).toContain(invariant);
  });

  it("reads the same snapshot through an Admin API transport, and reports failed reads", async () => {
    const { snapshot, expectations } = await consistent();
    const user = snapshot.users[0]!;
    const page = (data: unknown[]) => ({ data, nextCursor: null });
    const routes = (failLedger: boolean): Fetcher => async (path, init) => {
      expect(new Headers(init?.headers).get("authorization")).toBe("Bearer k");
      const url = new URL(`https://x${path}`);
      const p = url.pathname.replace("/api/loyalty/admin", "");
      const answer = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
      if (p === "/metrics") return answer(page(snapshot.metrics));
      if (p === "/products") return answer(page(snapshot.products));
      if (p === "/webhooks") return answer(page(snapshot.webhooks));
      if (p === "/campaigns") return answer(page(snapshot.campaigns));
      if (p === "/webhooks/hook/deliveries") return answer(page(snapshot.deliveries.hook!));
      if (p === "/users/u1") return answer(user.doc);
      if (p === "/users/u1/activity") return answer(page(user.activity));
      const ledger = /^\/users\/u1\/metrics\/([a-z]+)\/transactions$/.exec(p);
      if (ledger) return failLedger && ledger[1] === "xp" ? answer({ code: "internal" }, 500) : answer(page(user.ledger[ledger[1]!] ?? []));
      const redemption = /^\/users\/u1\/redemptions\/(.+)$/.exec(p);
      if (redemption) return user.redemptions[redemption[1]!] ? answer(user.redemptions[redemption[1]!]) : answer({ code: "not_found" }, 404);
      return answer({ code: "not_found" }, 404);
    };
    const credentials = { key: "k", space: "s", spaceId: SPACE };
    const good = await checkSpace(routes(false), credentials, ["u1"], expectations);
    expect(good.violations).toEqual([]);
    expect(good.counts.ledgerEntries).toBe(6);

    const bad = await checkSpace(routes(true), credentials, ["u1"], expectations);
    expect(bad.reads?.serverErrors).toBe(1);
    expect(bad.violations.map((v) => v.invariant)).toContain("read_failed");
  });
});
