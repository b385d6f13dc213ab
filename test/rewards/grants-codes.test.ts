import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { codeCounts, reserve } from "../../src/rewards/inventory";
import { FAULT_EVENT_TYPE, type UserState } from "../../src/user/user-state";
import { createKey } from "../helpers/harness";
import { adminOf, errorPaths, expectProblemReply, freshAdmin, meGet, uniqueUser, type Admin } from "../helpers/users-api";

// Grants by effect of stocked and coded products, code pools, reservations and their
// recovery, stock writes and /me/catalog (SPEC §4.2, §6, §9) — against the real Worker,
// the users' Durable Objects and D1. Every test builds its own space and users.

vi.setConfig({ testTimeout: 120_000 });

const points = { name: "Points", kind: "currency" };

/** A campaign whose one step runs `effects` on every `eventType` event (no repeat limit). */
function onEvent(eventType: string, effects: unknown[], name = `On ${eventType}`) {
  return { name, status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "S", trigger: { eventType }, effects }] };
}

const grant = (product: string, quantity = 1) => ({ type: "product.grant", product, quantity });
const addPoints = (amount: number) => ({ type: "metric.add", metric: "points", amount });

/** The effect reports of a campaign's step "s", as the outcome carries them. */
const grantReport = (campaign: string, product: string, extra: Record<string, unknown>) => ({
  campaign,
  step: "s",
  type: "product.grant",
  product,
  quantity: 1,
  ...extra,
});
const pointsReport = (campaign: string, amount: number, balance: number) => ({
  campaign,
  step: "s",
  type: "metric.add",
  status: "applied",
  metric: "points",
  amount,
  balance,
});

interface ReservationRow {
  id: string;
  user_id: string;
  product_id: string;
  quantity: number;
  stock_taken: number;
  codes_wanted: number;
  codes_allocated: number;
  status: string;
}

/** The space's reservation rows in D1 (the single authority on takes). */
async function reservationsOf(admin: Admin, userId?: string): Promise<ReservationRow[]> {
  const { results } = await env.DB.prepare(
    `SELECT id, user_id, product_id, quantity, stock_taken, codes_wanted, codes_allocated, status FROM reservations
     WHERE space_id = ?1 AND (?2 IS NULL OR user_id = ?2) ORDER BY created_at, id`,
  )
    .bind(admin.space.id, userId ?? null)
    .all<ReservationRow>();
  return results;
}

/** Which user holds which code of a product's pool (null: free). */
async function codeOwners(admin: Admin, product: string): Promise<Array<{ code: string; user_id: string | null; reservation_id: string | null }>> {
  const { results } = await env.DB.prepare(
    `SELECT code, user_id, reservation_id FROM product_codes WHERE space_id = ?1 AND product_id = ?2 ORDER BY rowid`,
  )
    .bind(admin.space.id, product)
    .all<{ code: string; user_id: string | null; reservation_id: string | null }>();
  return results;
}

const pool = (admin: Admin, product: string) => codeCounts(env.DB, admin.space.id, product);

/** `stock` and `redeemed` as GET /products/{id} shows them. */
async function stockOf(admin: Admin, product: string): Promise<{ stock: number | null; redeemed: number }> {
  const a = await admin.get(`/products/${product}`);
  expect(a.status, a.text).toBe(200);
  return { stock: a.body.stock, redeemed: a.body.redeemed };
}

async function addCodes(admin: Admin, product: string, codes: string[]): Promise<any> {
  const a = await admin.at("POST", `/products/${product}/codes`, { codes });
  expect(a.status, a.text).toBe(200);
  return a.body;
}

/** /me/rewards of a user, through a minted token. */
async function myRewards(admin: Admin, userId: string): Promise<any[]> {
  const a = await meGet(admin.space, await admin.token(userId), "/rewards");
  expect(a.status, a.text).toBe(200);
  return a.body.data;
}

/** The user's object's own reservation bookkeeping (SQL tables of src/user/storage.ts). */
async function objectReservations(admin: Admin, userId: string): Promise<{ pending: string[]; applied: string[] }> {
  return runInDurableObject(admin.stub(userId), (_instance: UserState, state) => ({
    pending: state.storage.sql.exec<{ id: string }>(`SELECT id FROM pending_reservations ORDER BY id`).toArray().map((r) => r.id),
    applied: state.storage.sql.exec<{ id: string }>(`SELECT id FROM applied_reservations ORDER BY id`).toArray().map((r) => r.id),
  }));
}

describe("code pools through product.grant effects", () => {
  it("5 codes for 6 grants: 5 distinct codes, the 6th grant skipped out_of_codes while the step's metric.add applies", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "voucher", { type: "reward", name: "Voucher" });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("voucher"), addPoints(5)]));
    // The granted event's data, made visible: a campaign on loyalty.product.granted keeps its `code`.
    await admin.define(
      "campaigns",
      "keep-code",
      onEvent("loyalty.product.granted", [{ type: "attribute.set", key: "lastCode", value: "{{event.data.code}}" }]),
    );
    const poolCodes = ["V-1", "V-2", "V-3", "V-4", "V-5"];
    expect(await addCodes(admin, "voucher", poolCodes)).toEqual({ product: "voucher", added: 5, available: 5, allocated: 0 });

    const users = Array.from({ length: 6 }, () => uniqueUser("code"));
    // Concurrently, one event per user: the pool is D1's, not any one object's.
    const answers = await Promise.all(users.map((userId, i) => admin.event({ id: `buy-${i}`, userId, type: "buy" })));
    for (const a of answers) expect(a.status, a.text).toBe(201);

    const granted: Array<{ userId: string; code: string; outcome: any }> = [];
    const skipped: Array<{ userId: string; outcome: any }> = [];
    answers.forEach((a, i) => {
      const userId = users[i]!;
      const outcome = a.body.outcome;
      const report = outcome.effects.find((e: any) => e.type === "product.grant");
      if (report.status === "applied") granted.push({ userId, code: report.codes[0], outcome });
      else skipped.push({ userId, outcome });
    });
    expect(granted).toHaveLength(5);
    expect(skipped).toHaveLength(1);

    // Five distinct codes, exactly the pool: no code given twice.
    expect(granted.map((g) => g.code).sort()).toEqual(poolCodes);
    for (const g of granted) {
      expect(g.outcome.effects).toEqual([
        grantReport("on-buy", "voucher", { status: "applied", codes: [g.code] }),
        pointsReport("on-buy", 5, 5),
        { campaign: "keep-code", step: "s", type: "attribute.set", status: "applied", key: "lastCode" },
      ]);
      expect(g.outcome.derivedEvents.map((d: any) => d.type)).toContain("loyalty.product.granted");
    }
    // The sixth: skipped with the reason, and the same step's metric.add still applied.
    const sixth = skipped[0]!;
    expect(sixth.outcome.effects).toEqual([
      grantReport("on-buy", "voucher", { status: "skipped", reason: "out_of_codes" }),
      pointsReport("on-buy", 5, 5),
    ]);
    expect(sixth.outcome.derivedEvents.map((d: any) => d.type)).not.toContain("loyalty.product.granted");
    expect(sixth.outcome.derivedEvents.map((d: any) => d.type)).toContain("loyalty.metric.changed");

    // Pool counts, through the route (a code already there adds nothing) and D1.
    expect(await addCodes(admin, "voucher", ["V-1"])).toEqual({ product: "voucher", added: 0, available: 0, allocated: 5 });
    expect(await pool(admin, "voucher")).toEqual({ available: 0, allocated: 5 });
    const owners = await codeOwners(admin, "voucher");
    expect(owners.map((o) => [o.code, o.user_id])).toEqual(
      poolCodes.map((code) => [code, granted.find((g) => g.code === code)!.userId]),
    );
    // Five takes, each confirmed; the refused take left no reservation behind.
    const rows = await reservationsOf(admin);
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.status === "confirmed" && r.codes_wanted === 1 && r.codes_allocated === 1 && r.stock_taken === 0)).toBe(true);
    expect(rows.map((r) => r.user_id).sort()).toEqual(granted.map((g) => g.userId).sort());

    // The codes in /me/rewards, in the activity outcome, and in the granted event's data.
    for (const g of granted) {
      expect(await myRewards(admin, g.userId)).toEqual([{ product: "voucher", type: "reward", name: "Voucher", quantity: 1, codes: [g.code] }]);
      const activity = await admin.activity(g.userId);
      expect(activity).toHaveLength(1);
      expect(activity[0]).toMatchObject({ eventId: expect.stringMatching(/^buy-\d$/), type: "buy" });
      expect(activity[0].outcome.effects[0]).toEqual(grantReport("on-buy", "voucher", { status: "applied", codes: [g.code] }));
      const doc = await admin.user(g.userId);
      expect(doc.body.attributes).toEqual({ lastCode: g.code });
      expect(doc.body.metrics).toEqual([{ metric: "points", name: "Points", kind: "currency", balance: 5, lifetime: 5 }]);
    }
    expect(await myRewards(admin, sixth.userId)).toEqual([]);
    const sixthDoc = await admin.user(sixth.userId);
    expect(sixthDoc.body.attributes).toEqual({});
    expect(await admin.balance(sixth.userId, "points")).toBe(5);
    const sixthActivity = await admin.activity(sixth.userId);
    expect(sixthActivity[0].outcome.effects[0]).toEqual(grantReport("on-buy", "voucher", { status: "skipped", reason: "out_of_codes" }));
  });

  it("one user with perUserLimit null collects codes grant after grant; a grant of 2 with 1 code left takes none (all or none)", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "voucher", { type: "reward", name: "Voucher", perUserLimit: null });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("voucher"), addPoints(5)]));
    await admin.define("campaigns", "on-big", onEvent("big", [grant("voucher", 2)]));
    await addCodes(admin, "voucher", ["A", "B", "C", "D"]);
    const userId = uniqueUser();

    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const outcome = await admin.apply({ id: `buy-${i}`, userId, type: "buy" });
      expect(outcome.effects[0]).toEqual(grantReport("on-buy", "voucher", { status: "applied", codes: [["A", "B", "C"][i]] }));
      codes.push(outcome.effects[0].codes[0]);
    }
    expect(codes).toEqual(["A", "B", "C"]);
    expect(await myRewards(admin, userId)).toEqual([{ product: "voucher", type: "reward", name: "Voucher", quantity: 3, codes: ["A", "B", "C"] }]);

    // Two wanted, one left: refused whole, the one left stays in the pool.
    const big = await admin.apply({ id: "big-1", userId, type: "big" });
    expect(big.effects).toEqual([{ campaign: "on-big", step: "s", type: "product.grant", status: "skipped", reason: "out_of_codes", product: "voucher", quantity: 2 }]);
    expect(await pool(admin, "voucher")).toEqual({ available: 1, allocated: 3 });

    const last = await admin.apply({ id: "buy-3", userId, type: "buy" });
    expect(last.effects[0]).toEqual(grantReport("on-buy", "voucher", { status: "applied", codes: ["D"] }));
    const sixth = await admin.apply({ id: "buy-4", userId, type: "buy" });
    expect(sixth.effects).toEqual([grantReport("on-buy", "voucher", { status: "skipped", reason: "out_of_codes" }), pointsReport("on-buy", 5, 25)]);
    expect(await myRewards(admin, userId)).toEqual([{ product: "voucher", type: "reward", name: "Voucher", quantity: 4, codes: ["A", "B", "C", "D"] }]);
    expect(await pool(admin, "voucher")).toEqual({ available: 0, allocated: 4 });
    expect(await admin.balance(userId, "points")).toBe(25);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: expect.any(Array) });
    expect((await objectReservations(admin, userId)).applied).toHaveLength(4);
  });

  it("a grant refused per_user_limit takes no code", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "voucher", { type: "reward", name: "Voucher", perUserLimit: 1 });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("voucher"), addPoints(5)]));
    await addCodes(admin, "voucher", ["P1", "P2"]);
    const userId = uniqueUser();
    const first = await admin.apply({ id: "b1", userId, type: "buy" });
    expect(first.effects[0]).toEqual(grantReport("on-buy", "voucher", { status: "applied", codes: ["P1"] }));
    const second = await admin.apply({ id: "b2", userId, type: "buy" });
    expect(second.effects).toEqual([grantReport("on-buy", "voucher", { status: "skipped", reason: "per_user_limit" }), pointsReport("on-buy", 5, 10)]);
    expect(await pool(admin, "voucher")).toEqual({ available: 1, allocated: 1 });
    expect(await reservationsOf(admin)).toHaveLength(1);
  });
});

describe("stock through product.grant effects", () => {
  it("an item with stock 2 granted to 3 users: 2 applied, the third skipped out_of_stock; the other effects apply", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    const created = await admin.define("products", "ticket", { type: "item", name: "Ticket", stock: 2 });
    expect(created).toMatchObject({ stock: 2, redeemed: 0 });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("ticket"), addPoints(5)]));
    const users = [uniqueUser("s"), uniqueUser("s"), uniqueUser("s")];

    const outcomes = [];
    for (const [i, userId] of users.entries()) outcomes.push(await admin.apply({ id: `buy-${i}`, userId, type: "buy" }));
    expect(outcomes[0].effects).toEqual([grantReport("on-buy", "ticket", { status: "applied" }), pointsReport("on-buy", 5, 5)]);
    expect(outcomes[1].effects).toEqual([grantReport("on-buy", "ticket", { status: "applied" }), pointsReport("on-buy", 5, 5)]);
    expect(outcomes[2].effects).toEqual([grantReport("on-buy", "ticket", { status: "skipped", reason: "out_of_stock" }), pointsReport("on-buy", 5, 5)]);
    expect(outcomes[2].derivedEvents.map((d: any) => d.type)).toContain("loyalty.metric.changed");
    expect(outcomes[2].derivedEvents.map((d: any) => d.type)).not.toContain("loyalty.product.granted");

    expect(await stockOf(admin, "ticket")).toEqual({ stock: 0, redeemed: 2 });
    for (const userId of users.slice(0, 2)) {
      expect(await myRewards(admin, userId)).toEqual([{ product: "ticket", type: "item", name: "Ticket", quantity: 1, codes: [] }]);
    }
    expect(await myRewards(admin, users[2]!)).toEqual([]);
    for (const userId of users) expect(await admin.balance(userId, "points")).toBe(5);
    const rows = await reservationsOf(admin);
    // Order-free: two takes in the same millisecond sort by id.
    expect(rows.map((r) => [r.user_id, r.status, r.stock_taken, r.codes_wanted]).sort()).toEqual(
      [
        [users[0], "confirmed", 1, 0],
        [users[1], "confirmed", 1, 0],
      ].sort(),
    );
    // Lists show the same counters as the single read.
    const list = await admin.get("/products");
    expect(list.body.data.find((p: any) => p.id === "ticket")).toMatchObject({ stock: 0, redeemed: 2 });
  });

  it("concurrent grants never oversell: 8 users, stock 3", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "ticket", { type: "item", name: "Ticket", stock: 3 });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("ticket"), addPoints(5)]));
    const users = Array.from({ length: 8 }, () => uniqueUser("c"));
    const answers = await Promise.all(users.map((userId, i) => admin.event({ id: `buy-${i}`, userId, type: "buy" })));
    const statuses = answers.map((a) => {
      expect(a.status, a.text).toBe(201);
      return a.body.outcome.effects[0].status + (a.body.outcome.effects[0].reason ? `:${a.body.outcome.effects[0].reason}` : "");
    });
    expect(statuses.filter((s) => s === "applied")).toHaveLength(3);
    expect(statuses.filter((s) => s === "skipped:out_of_stock")).toHaveLength(5);
    expect(await stockOf(admin, "ticket")).toEqual({ stock: 0, redeemed: 3 });
    for (const a of answers) expect(a.body.outcome.effects[1]).toEqual(pointsReport("on-buy", 5, 5));
  });
});

describe("several takes in one event", () => {
  it("two grants of a product with stock 1 in one step: one applied, one skipped out_of_stock", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "ticket", { type: "item", name: "Ticket", stock: 1 });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("ticket"), grant("ticket"), addPoints(5)]));
    const userId = uniqueUser();
    const outcome = await admin.apply({ id: "buy-1", userId, type: "buy" });
    expect(outcome.effects).toEqual([
      grantReport("on-buy", "ticket", { status: "applied" }),
      grantReport("on-buy", "ticket", { status: "skipped", reason: "out_of_stock" }),
      pointsReport("on-buy", 5, 5),
    ]);
    expect(await stockOf(admin, "ticket")).toEqual({ stock: 0, redeemed: 1 });
    expect((await reservationsOf(admin)).map((r) => r.status)).toEqual(["confirmed"]);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [expect.stringMatching(/^rsv_/)] });
  });

  it("stock and codes together are all or none: no code without stock, no stock without a code", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "few-codes", { type: "reward", name: "Few codes", stock: 5 });
    await admin.define("products", "few-units", { type: "reward", name: "Few units", stock: 1 });
    await addCodes(admin, "few-codes", ["FC1"]);
    await addCodes(admin, "few-units", ["FU1", "FU2", "FU3"]);
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("few-codes"), grant("few-units"), addPoints(5)]));

    const first = await admin.apply({ id: "buy-1", userId: uniqueUser(), type: "buy" });
    expect(first.effects).toEqual([
      grantReport("on-buy", "few-codes", { status: "applied", codes: ["FC1"] }),
      grantReport("on-buy", "few-units", { status: "applied", codes: ["FU1"] }),
      pointsReport("on-buy", 5, 5),
    ]);
    const second = await admin.apply({ id: "buy-2", userId: uniqueUser(), type: "buy" });
    expect(second.effects).toEqual([
      grantReport("on-buy", "few-codes", { status: "skipped", reason: "out_of_codes" }),
      grantReport("on-buy", "few-units", { status: "skipped", reason: "out_of_stock" }),
      pointsReport("on-buy", 5, 5),
    ]);
    // The refused takes took nothing: 4 of 5 left (not 3), and 2 codes still free.
    expect(await stockOf(admin, "few-codes")).toEqual({ stock: 4, redeemed: 1 });
    expect(await stockOf(admin, "few-units")).toEqual({ stock: 0, redeemed: 1 });
    expect(await pool(admin, "few-codes")).toEqual({ available: 0, allocated: 1 });
    expect(await pool(admin, "few-units")).toEqual({ available: 2, allocated: 1 });
    expect(await reservationsOf(admin)).toHaveLength(2);
  });

  it("a take planned for a cascade that does not happen is released, not confirmed", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "first", { type: "item", name: "First", stock: 0 });
    await admin.define("products", "bonus", { type: "reward", name: "Bonus", stock: 2 });
    await addCodes(admin, "bonus", ["B1", "B2"]);
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("first"), addPoints(5)]));
    // Granting `first` would grant `bonus` (a derived event): planned, then not applied.
    await admin.define("campaigns", "chain", {
      ...onEvent("loyalty.product.granted", [grant("bonus")]),
      steps: [
        {
          id: "s",
          name: "S",
          trigger: { eventType: "loyalty.product.granted", conditions: { path: "event.data.product", op: "eq", value: "first" } },
          effects: [grant("bonus")],
        },
      ],
    });
    const userId = uniqueUser();
    const outcome = await admin.apply({ id: "buy-1", userId, type: "buy" });
    expect(outcome.effects).toEqual([grantReport("on-buy", "first", { status: "skipped", reason: "out_of_stock" }), pointsReport("on-buy", 5, 5)]);
    expect(await stockOf(admin, "bonus")).toEqual({ stock: 2, redeemed: 0 });
    expect(await pool(admin, "bonus")).toEqual({ available: 2, allocated: 0 });
    expect((await reservationsOf(admin, userId)).map((r) => [r.product_id, r.status])).toEqual([["bonus", "released"]]);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [] });
    expect(await myRewards(admin, userId)).toEqual([]);

    // With stock, the cascade happens and both takes are confirmed.
    await admin.at("PATCH", "/products/first", { stock: 1 });
    const again = await admin.apply({ id: "buy-2", userId, type: "buy" });
    expect(again.effects).toEqual([
      grantReport("on-buy", "first", { status: "applied" }),
      pointsReport("on-buy", 5, 10),
      grantReport("chain", "bonus", { status: "applied", codes: ["B1"] }),
    ]);
    expect(await stockOf(admin, "bonus")).toEqual({ stock: 1, redeemed: 1 });
    expect(await myRewards(admin, userId)).toEqual([
      { product: "bonus", type: "reward", name: "Bonus", quantity: 1, codes: ["B1"] },
      { product: "first", type: "item", name: "First", quantity: 1, codes: [] },
    ]);
  });

  it("the same event sent again takes nothing more", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "scarf", { type: "reward", name: "Scarf", stock: 5 });
    await addCodes(admin, "scarf", ["S1", "S2"]);
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("scarf")]));
    const userId = uniqueUser();
    const first = await admin.event({ id: "buy-1", userId, type: "buy" });
    expect(first.status, first.text).toBe(201);
    const again = await admin.event({ id: "buy-1", userId, type: "buy" });
    expect(again.status, again.text).toBe(200);
    expect(again.body.duplicate).toBe(true);
    expect(again.body.outcome.effects).toEqual(first.body.outcome.effects);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 4, redeemed: 1 });
    expect(await pool(admin, "scarf")).toEqual({ available: 1, allocated: 1 });
    expect(await myRewards(admin, userId)).toEqual([{ product: "scarf", type: "reward", name: "Scarf", quantity: 1, codes: ["S1"] }]);
  });

  it("a badge with stock: already_held takes no stock", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "medal", { type: "badge", name: "Medal", stock: 2 });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("medal"), addPoints(5)]));
    const userId = uniqueUser();
    await admin.apply({ id: "b1", userId, type: "buy" });
    const second = await admin.apply({ id: "b2", userId, type: "buy" });
    expect(second.effects).toEqual([
      { campaign: "on-buy", step: "s", type: "product.grant", status: "skipped", reason: "already_held", product: "medal" },
      pointsReport("on-buy", 5, 10),
    ]);
    expect(await stockOf(admin, "medal")).toEqual({ stock: 1, redeemed: 1 });
    expect(await reservationsOf(admin)).toHaveLength(1);
  });
});

describe("a fault inside the event transaction", () => {
  it("answers 503 (retry), and the stock, the codes and the user's holdings are as before; the next event works", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "scarf", { type: "reward", name: "Scarf", stock: 3 });
    await addCodes(admin, "scarf", ["F1", "F2", "F3"]);
    await admin.define("campaigns", "on-visit", onEvent("visit", [addPoints(1)]));
    // Unlimited stock, a code pool: its release must give back the code and the `redeemed` count.
    await admin.define("products", "pass", { type: "reward", name: "Pass" });
    await addCodes(admin, "pass", ["P1"]);
    await admin.define("campaigns", "on-fault", onEvent(FAULT_EVENT_TYPE, [grant("scarf"), grant("pass"), addPoints(100)]));
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("scarf")]));
    const userId = uniqueUser();
    await admin.apply({ id: "v-1", userId, type: "visit" });

    const fault = await admin.event({ id: "boom", userId, type: FAULT_EVENT_TYPE });
    expectProblemReply(fault, 503, "unavailable");

    // The reservation the run made was given back: stock, redeemed and codes unchanged.
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 3, redeemed: 0 });
    expect(await pool(admin, "scarf")).toEqual({ available: 3, allocated: 0 });
    expect((await codeOwners(admin, "scarf")).every((c) => c.user_id === null && c.reservation_id === null)).toBe(true);
    expect(await stockOf(admin, "pass")).toEqual({ stock: null, redeemed: 0 });
    expect(await pool(admin, "pass")).toEqual({ available: 1, allocated: 0 });
    const rows = await reservationsOf(admin, userId);
    expect(rows.map((r) => [r.product_id, r.status]).sort()).toEqual([
      ["pass", "released"],
      ["scarf", "released"],
    ]);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [] });
    // The user holds nothing of it and kept only what committed.
    expect(await myRewards(admin, userId)).toEqual([]);
    expect(await admin.balance(userId, "points")).toBe(1);
    expect((await admin.activity(userId)).map((e) => e.eventId)).toEqual(["v-1"]);

    // A normal event afterwards takes the stock and the first code.
    const buy = await admin.apply({ id: "buy-1", userId, type: "buy" });
    expect(buy.effects).toEqual([grantReport("on-buy", "scarf", { status: "applied", codes: ["F1"] })]);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 1 });
    expect(await pool(admin, "scarf")).toEqual({ available: 2, allocated: 1 });
    expect(await myRewards(admin, userId)).toEqual([{ product: "scarf", type: "reward", name: "Scarf", quantity: 1, codes: ["F1"] }]);
    expect((await reservationsOf(admin, userId)).map((r) => r.status).sort()).toEqual(["confirmed", "released", "released"]);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [expect.stringMatching(/^rsv_/)] });
  });

  it("a fault as the user's first event creates no user and holds no stock", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "ticket", { type: "item", name: "Ticket", stock: 1 });
    await admin.define("campaigns", "on-fault", onEvent(FAULT_EVENT_TYPE, [grant("ticket")]));
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("ticket")]));
    const userId = uniqueUser();
    for (let i = 0; i < 2; i++) expectProblemReply(await admin.event({ id: "boom", userId, type: FAULT_EVENT_TYPE }), 503, "unavailable");
    expect(await stockOf(admin, "ticket")).toEqual({ stock: 1, redeemed: 0 });
    expect((await admin.user(userId)).status).toBe(404);
    // The one unit is still there for the next user.
    const other = await admin.apply({ id: "buy-1", userId: uniqueUser(), type: "buy" });
    expect(other.effects).toEqual([grantReport("on-buy", "ticket", { status: "applied" })]);
    expect(await stockOf(admin, "ticket")).toEqual({ stock: 0, redeemed: 1 });
  });
});

describe("dryRun", () => {
  it("an event that would grant a stocked, coded product reserves nothing", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "scarf", { type: "reward", name: "Scarf", stock: 2 });
    await addCodes(admin, "scarf", ["D1", "D2"]);
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("scarf"), addPoints(5)]));
    const userId = uniqueUser();

    for (let i = 0; i < 3; i++) {
      const dry = await admin.event({ id: `dry-${i}`, userId, type: "buy" }, "?dryRun=true");
      expect(dry.status, dry.text).toBe(201);
      expect(dry.body.outcome.effects.map((e: any) => [e.type, e.status])).toEqual([
        ["product.grant", "applied"],
        ["metric.add", "applied"],
      ]);
    }
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 0 });
    expect(await pool(admin, "scarf")).toEqual({ available: 2, allocated: 0 });
    expect(await reservationsOf(admin)).toEqual([]);
    expect((await admin.user(userId)).status).toBe(404);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [] });

    // For a user who exists too; then a real event takes exactly one.
    await admin.apply({ id: "real-1", userId, type: "buy" });
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 1, redeemed: 1 });
    const dry = await admin.event({ id: "dry-after", userId, type: "buy" }, "?dryRun=true");
    expect(dry.status, dry.text).toBe(201);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 1, redeemed: 1 });
    expect(await pool(admin, "scarf")).toEqual({ available: 1, allocated: 1 });
    expect(await reservationsOf(admin)).toHaveLength(1);
    expect(await myRewards(admin, userId)).toEqual([{ product: "scarf", type: "reward", name: "Scarf", quantity: 1, codes: ["D1"] }]);
  });
});

describe("crash recovery: the sweeper asks the user's object before releasing", () => {
  it("releases a reservation the object never applied, confirms one it applied", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "scarf", { type: "reward", name: "Scarf", stock: 3 });
    await addCodes(admin, "scarf", ["K1", "K2", "K3"]);
    await admin.define("campaigns", "on-visit", onEvent("visit", [addPoints(1)]));
    const userId = uniqueUser();
    await admin.apply({ id: "v-1", userId, type: "visit" });
    const stub = admin.stub(userId);
    const rid = (n: number) => `rsv_crash_${admin.space.id}_${n}`;
    const take = (n: number) => reserve(env.DB, { id: rid(n), spaceId: admin.space.id, userId, productId: "scarf", quantity: 1 }, Date.now());
    /** What a crash between reserving and committing leaves: pending (and maybe applied) rows, an alarm. */
    const leave = (entries: Array<{ id: string; applied: boolean }>) =>
      runInDurableObject(stub, async (_instance: UserState, state) => {
        for (const { id, applied } of entries) {
          state.storage.sql.exec(`INSERT INTO pending_reservations (id, created_at) VALUES (?, ?)`, id, Date.now());
          if (applied) state.storage.sql.exec(`INSERT INTO applied_reservations (id, at) VALUES (?, ?)`, id, Date.now());
        }
        await state.storage.setAlarm(Date.now() + 30_000);
      });
    const statusOf = async (id: string) => (await env.DB.prepare(`SELECT status FROM reservations WHERE id = ?`).bind(id).first<{ status: string }>())?.status;

    // Reserved in D1, never committed by the object.
    expect(await take(1)).toEqual({ id: rid(1), codes: ["K1"] });
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 1 });
    expect(await pool(admin, "scarf")).toEqual({ available: 2, allocated: 1 });
    // A retry of the same take finds the same reservation (nothing more is taken).
    expect(await take(1)).toEqual({ id: rid(1), codes: ["K1"] });
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 1 });
    await leave([{ id: rid(1), applied: false }]);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(rid(1))).toBe("released");
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 3, redeemed: 0 });
    expect(await pool(admin, "scarf")).toEqual({ available: 3, allocated: 0 });
    expect((await codeOwners(admin, "scarf")).map((c) => [c.code, c.user_id, c.reservation_id])).toEqual([
      ["K1", null, null],
      ["K2", null, null],
      ["K3", null, null],
    ]);
    expect((await objectReservations(admin, userId)).pending).toEqual([]);

    // Two crashed takes in one sweep: one the object applied (confirmed, stock stays
    // taken), one it did not (released).
    expect(await take(2)).toEqual({ id: rid(2), codes: ["K1"] });
    expect(await take(3)).toEqual({ id: rid(3), codes: ["K2"] });
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 1, redeemed: 2 });
    await leave([
      { id: rid(2), applied: true },
      { id: rid(3), applied: false },
    ]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(rid(2))).toBe("confirmed");
    expect(await statusOf(rid(3))).toBe("released");
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 1 });
    expect(await pool(admin, "scarf")).toEqual({ available: 2, allocated: 1 });
    expect((await codeOwners(admin, "scarf")).find((c) => c.code === "K1")).toEqual({ code: "K1", user_id: userId, reservation_id: rid(2) });
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [rid(2)] });

    // A confirmed take named pending again (without the applied record) is never released.
    await runInDurableObject(stub, async (_instance: UserState, state) => {
      state.storage.sql.exec(`DELETE FROM applied_reservations WHERE id = ?`, rid(2));
      state.storage.sql.exec(`INSERT INTO pending_reservations (id, created_at) VALUES (?, ?)`, rid(2), Date.now());
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(rid(2))).toBe("confirmed");
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 1 });
    expect(await pool(admin, "scarf")).toEqual({ available: 2, allocated: 1 });
    expect((await objectReservations(admin, userId)).pending).toEqual([]);

    // Nothing is left to settle: the alarm is gone.
    expect(await runInDurableObject(stub, (_instance: UserState, state) => state.storage.getAlarm())).toBeNull();
    // The user still works: a grant takes what remains.
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("scarf")]));
    const buy = await admin.apply({ id: "buy-1", userId, type: "buy" });
    expect(buy.effects).toEqual([grantReport("on-buy", "scarf", { status: "applied", codes: ["K2"] })]);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 1, redeemed: 2 });
  });

  it("an event's takes are recorded pending before D1 and settled after the commit", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "scarf", { type: "reward", name: "Scarf", stock: 3 });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("scarf")]));
    const userId = uniqueUser();
    await admin.apply({ id: "buy-1", userId, type: "buy" });
    const rows = await reservationsOf(admin, userId);
    expect(rows.map((r) => [r.status, r.stock_taken, r.codes_wanted])).toEqual([["confirmed", 1, 0]]);
    expect(await objectReservations(admin, userId)).toEqual({ pending: [], applied: [rows[0]!.id] });
    // Settled: nothing pending, so no sweep is scheduled ("the sweep timer runs while, and
    // only while, reservations are pending").
    const stub = admin.stub(userId);
    const alarm = await runInDurableObject(stub, async (_instance: UserState, state) => ({
      alarm: await state.storage.getAlarm(),
      timers: state.storage.sql.exec<{ name: string }>(`SELECT name FROM timers ORDER BY name`).toArray().map((t) => t.name),
    }));
    expect(alarm, "no alarm once every reservation is settled").toEqual({ alarm: null, timers: [] });
    // A sweep, had one been left, changes nothing.
    await runDurableObjectAlarm(stub);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 2, redeemed: 1 });
    expect((await reservationsOf(admin, userId)).map((r) => r.status)).toEqual(["confirmed"]);
  });
});

describe("POST /products/{id}/codes", () => {
  it("validates the upload: at most 10,000 codes of 1-128 printable ASCII, all or nothing", async () => {
    const admin = await freshAdmin();
    await admin.define("products", "voucher", { type: "reward", name: "Voucher" });
    const post = (body: unknown) => admin.at("POST", "/products/voucher/codes", body);

    const tooMany = await post({ codes: Array.from({ length: 10_001 }, (_, i) => `C${i}`) });
    expectProblemReply(tooMany, 400, "invalid_request");
    expect(errorPaths(tooMany)).toEqual(["codes"]);

    const spaced = await post({ codes: ["GOOD", "HAS SPACE"] });
    expectProblemReply(spaced, 400, "invalid_request");
    expect(errorPaths(spaced)).toEqual(["codes[1]"]);

    for (const [codes, path] of [
      [[""], "codes[0]"],
      [["x".repeat(129)], "codes[0]"],
      [["café"], "codes[0]"],
      [["tab\there"], "codes[0]"],
      [["ok", 42], "codes[1]"],
      [[], "codes"],
      ["A1", "codes"],
    ] as const) {
      const a = await post({ codes });
      expectProblemReply(a, 400, "invalid_request");
      expect(errorPaths(a), JSON.stringify(codes)).toEqual([path]);
    }
    const missing = await post({});
    expectProblemReply(missing, 400, "invalid_request");
    expect(errorPaths(missing)).toEqual(["codes"]);
    const extra = await post({ codes: ["A"], more: true });
    expectProblemReply(extra, 400, "invalid_request");
    expect(errorPaths(extra)).toEqual(["more"]);

    // Nothing of a refused upload was stored.
    expect(await pool(admin, "voucher")).toEqual({ available: 0, allocated: 0 });

    // The limits themselves are accepted.
    const longest = "~".repeat(128);
    expect(await addCodes(admin, "voucher", [longest, "!"])).toEqual({ product: "voucher", added: 2, available: 2, allocated: 0 });
    const max = await post({ codes: Array.from({ length: 10_000 }, (_, i) => `M${i}`) });
    expect(max.status, max.text).toBe(200);
    expect(max.body).toEqual({ product: "voucher", added: 10_000, available: 10_002, allocated: 0 });
  });

  it("ignores duplicates within a call and across calls; an allocated code is never reissued", async () => {
    const admin = await freshAdmin();
    await admin.define("products", "voucher", { type: "reward", name: "Voucher" });
    expect(await addCodes(admin, "voucher", ["A", "A", "B"])).toEqual({ product: "voucher", added: 2, available: 2, allocated: 0 });
    expect(await addCodes(admin, "voucher", ["B", "C", "C"])).toEqual({ product: "voucher", added: 1, available: 3, allocated: 0 });
    expect(await addCodes(admin, "voucher", ["A", "B", "C"])).toEqual({ product: "voucher", added: 0, available: 3, allocated: 0 });
    // Codes are case-sensitive: "a" is another code.
    expect(await addCodes(admin, "voucher", ["a"])).toEqual({ product: "voucher", added: 1, available: 4, allocated: 0 });

    const userId = uniqueUser();
    const granted = await admin.grant(userId, { product: "voucher" });
    expect(granted.status, granted.text).toBe(201);
    expect(granted.body).toEqual({ product: "voucher", quantity: 1, codes: ["A"] });
    // Uploading the allocated code again does not put it back in the pool.
    expect(await addCodes(admin, "voucher", ["A"])).toEqual({ product: "voucher", added: 0, available: 3, allocated: 1 });
    expect((await codeOwners(admin, "voucher")).filter((c) => c.code === "A")).toEqual([{ code: "A", user_id: userId, reservation_id: expect.stringMatching(/^rsv_/) }]);

    // Pools are per product and per space.
    await admin.define("products", "other", { type: "reward", name: "Other" });
    expect(await addCodes(admin, "other", ["A"])).toEqual({ product: "other", added: 1, available: 1, allocated: 0 });
    const elsewhere = await freshAdmin();
    await elsewhere.define("products", "voucher", { type: "reward", name: "Voucher" });
    expect(await addCodes(elsewhere, "voucher", ["A", "B"])).toEqual({ product: "voucher", added: 2, available: 2, allocated: 0 });
    expect(await pool(admin, "voucher")).toEqual({ available: 3, allocated: 1 });
  });

  it("rewards only (422 for a badge or an item), 404 for an unknown or archived product, 403 for a read key", async () => {
    const admin = await freshAdmin();
    await admin.define("products", "voucher", { type: "reward", name: "Voucher" });
    await admin.define("products", "medal", { type: "badge", name: "Medal" });
    await admin.define("products", "ticket", { type: "item", name: "Ticket", stock: 5 });
    await admin.define("products", "gone", { type: "reward", name: "Gone" });

    for (const id of ["medal", "ticket"]) {
      const a = await admin.at("POST", `/products/${id}/codes`, { codes: ["X"] });
      expectProblemReply(a, 422, "invalid_definition");
      expect(errorPaths(a)).toEqual(["path.id"]);
      expect(await pool(admin, id)).toEqual({ available: 0, allocated: 0 });
    }
    expectProblemReply(await admin.at("POST", "/products/nope/codes", { codes: ["X"] }), 404, "not_found");
    const deleted = await admin.at("DELETE", "/products/gone");
    expect(deleted.status, deleted.text).toBe(204);
    expectProblemReply(await admin.at("POST", "/products/gone/codes", { codes: ["X"] }), 404, "not_found");
    expect(await pool(admin, "gone")).toEqual({ available: 0, allocated: 0 });

    const reader = adminOf(admin.space, (await createKey(admin.space, ["read"])).secret);
    expectProblemReply(await reader.at("POST", "/products/voucher/codes", { codes: ["X"] }), 403, "insufficient_scope");
    const writer = adminOf(admin.space, (await createKey(admin.space, ["events:write", "users:write"])).secret);
    expectProblemReply(await writer.at("POST", "/products/voucher/codes", { codes: ["X"] }), 403, "insufficient_scope");
    expect(await pool(admin, "voucher")).toEqual({ available: 0, allocated: 0 });
    const key = adminOf(admin.space, (await createKey(admin.space, ["admin"])).secret);
    const ok = await key.at("POST", "/products/voucher/codes", { codes: ["X"] });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ product: "voucher", added: 1, available: 1, allocated: 0 });
  });
});

describe("stock writes", () => {
  it("a new stock value sets what remains; the same value again leaves it; null is unlimited", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    const created = await admin.define("products", "scarf", { type: "reward", name: "Scarf", price: { metric: "points", amount: 10 }, stock: 10 });
    expect(created).toMatchObject({ stock: 10, redeemed: 0 });
    const userId = uniqueUser();
    expect((await admin.adjust(userId, "points", { amount: 1000, reason: "seed" })).status).toBe(201);

    // Takes by a grant and a redemption.
    expect((await admin.grant(userId, { product: "scarf", quantity: 3 })).status).toBe(201);
    const redeemed = await admin.at("POST", `/users/${userId}/redemptions`, { product: "scarf" });
    expect(redeemed.status, redeemed.text).toBe(201);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 6, redeemed: 4 });

    const set = await admin.at("PATCH", "/products/scarf", { stock: 50 });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ stock: 50, redeemed: 4 });
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 50, redeemed: 4 });

    expect((await admin.grant(userId, { product: "scarf", quantity: 2 })).status).toBe(201);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 48, redeemed: 6 });

    // The same value again, by PATCH, by PUT, or a patch of another field: remaining stays.
    const same = await admin.at("PATCH", "/products/scarf", { stock: 50 });
    expect(same.status, same.text).toBe(200);
    expect(same.body).toMatchObject({ stock: 48, redeemed: 6 });
    const put = await admin.at("PUT", "/products/scarf", { type: "reward", name: "Scarf", price: { metric: "points", amount: 10 }, stock: 50 });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ stock: 48 });
    const renamed = await admin.at("PATCH", "/products/scarf", { name: "Warm scarf" });
    expect(renamed.status, renamed.text).toBe(200);
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 48, redeemed: 6 });

    // null: unlimited; takes never run out.
    const unlimited = await admin.at("PATCH", "/products/scarf", { stock: null });
    expect(unlimited.status, unlimited.text).toBe(200);
    expect(unlimited.body.stock).toBeNull();
    expect((await admin.grant(userId, { product: "scarf", quantity: 1000 })).status).toBe(201);
    const afterUnlimited = await stockOf(admin, "scarf");
    expect(afterUnlimited.stock).toBeNull();

    // Back to a number: that number remains; all or none beyond it.
    const five = await admin.at("PATCH", "/products/scarf", { stock: 5 });
    expect(five.body).toMatchObject({ stock: 5 });
    expectProblemReply(await admin.grant(userId, { product: "scarf", quantity: 6 }), 409, "out_of_stock");
    expect((await stockOf(admin, "scarf")).stock).toBe(5);
    expect((await admin.grant(userId, { product: "scarf", quantity: 5 })).status).toBe(201);
    expect((await stockOf(admin, "scarf")).stock).toBe(0);
    expectProblemReply(await admin.grant(userId, { product: "scarf" }), 409, "out_of_stock");
    // Restocking to the same configured value (5) leaves it at 0; a new value restocks.
    expect((await admin.at("PATCH", "/products/scarf", { stock: 5 })).body).toMatchObject({ stock: 0 });
    expect((await admin.at("PATCH", "/products/scarf", { stock: 7 })).body).toMatchObject({ stock: 7 });
    expect((await stockOf(admin, "scarf")).stock).toBe(7);
  });

  it("stock must be a non-negative integer or null", async () => {
    const admin = await freshAdmin();
    await admin.define("products", "scarf", { type: "reward", name: "Scarf", stock: 3 });
    for (const stock of [-1, 1.5, "10"]) {
      const a = await admin.at("PATCH", "/products/scarf", { stock });
      expectProblemReply(a, 400, "invalid_request");
      expect(errorPaths(a)).toEqual(["stock"]);
    }
    expect(await stockOf(admin, "scarf")).toEqual({ stock: 3, redeemed: 0 });
    const unlimited = await admin.define("products", "free", { type: "item", name: "Free" });
    expect(unlimited).toMatchObject({ stock: null, redeemed: 0 });
  });

  it("an effect grant with stock null never runs out", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("products", "ticket", { type: "item", name: "Ticket" });
    await admin.define("campaigns", "on-buy", onEvent("buy", [grant("ticket", 100)]));
    const userId = uniqueUser();
    for (let i = 0; i < 3; i++) {
      const outcome = await admin.apply({ id: `b-${i}`, userId, type: "buy" });
      expect(outcome.effects).toEqual([{ campaign: "on-buy", step: "s", type: "product.grant", status: "applied", product: "ticket", quantity: 100 }]);
    }
    expect((await stockOf(admin, "ticket")).stock).toBeNull();
    expect(await myRewards(admin, userId)).toEqual([{ product: "ticket", type: "item", name: "Ticket", quantity: 300, codes: [] }]);
  });
});

describe("/me/catalog", () => {
  it("rewards with a price, their stock state, affordability and redeemability; a user never seen gets one too and is not created", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    const price = (amount: number) => ({ metric: "points", amount });
    await admin.define("products", "a-plenty", { type: "reward", name: "Plenty", description: "Always there", price: price(50) });
    await admin.define("products", "b-low", { type: "reward", name: "Low", price: price(10), stock: 20 });
    await admin.define("products", "c-edge", { type: "reward", name: "Edge", price: price(10), stock: 20 });
    await admin.define("products", "d-gone", { type: "reward", name: "Gone", price: price(10), stock: 0 });
    await admin.define("products", "e-pricey", { type: "reward", name: "Pricey", price: price(51) });
    await admin.define("products", "f-limited", { type: "reward", name: "Limited", price: price(10), perUserLimit: 1 });
    await admin.define("products", "g-single", { type: "reward", name: "Single", price: price(10), stock: 1 });
    // Not in the catalogue: a reward without a price, a badge, an item (even with a price).
    await admin.define("products", "h-gift", { type: "reward", name: "Gift" });
    await admin.define("products", "i-medal", { type: "badge", name: "Medal" });
    await admin.define("products", "j-ticket", { type: "item", name: "Ticket", price: price(5) });

    const userId = uniqueUser();
    const other = uniqueUser("other");
    expect((await admin.adjust(userId, "points", { amount: 50, reason: "seed" })).status).toBe(201);
    // Stock taken before the catalogue is first read (it is cached a few seconds).
    expect((await admin.grant(other, { product: "b-low", quantity: 18 })).status).toBe(201); // 2 of 20 left: low
    expect((await admin.grant(other, { product: "c-edge", quantity: 17 })).status).toBe(201); // 3 of 20 left: available
    expect((await admin.grant(userId, { product: "f-limited" })).status).toBe(201);
    expect(await stockOf(admin, "b-low")).toEqual({ stock: 2, redeemed: 18 });
    expect(await stockOf(admin, "c-edge")).toEqual({ stock: 3, redeemed: 17 });

    const entry = (product: string, name: string, amount: number, stock: string, affordable: boolean, held: number, perUserLimit: number | null, redeemable: boolean, description: string | null = null) => ({
      product,
      name,
      description,
      imageUrl: null,
      price: price(amount),
      stock,
      affordable,
      held,
      perUserLimit,
      redeemable,
    });
    const catalog = await meGet(admin.space, await admin.token(userId), "/catalog");
    expect(catalog.status, catalog.text).toBe(200);
    expect(catalog.headers.get("cache-control")).toBe("private, no-store");
    expect(catalog.body).toEqual({
      data: [
        entry("a-plenty", "Plenty", 50, "available", true, 0, null, true, "Always there"),
        entry("b-low", "Low", 10, "low", true, 0, null, true),
        entry("c-edge", "Edge", 10, "available", true, 0, null, true),
        entry("d-gone", "Gone", 10, "out", true, 0, null, false),
        entry("e-pricey", "Pricey", 51, "available", false, 0, null, false),
        entry("f-limited", "Limited", 10, "available", true, 1, 1, false),
        entry("g-single", "Single", 10, "low", true, 0, null, true),
      ],
    });

    // A user never seen: the same catalogue from a zero balance, and still no user.
    const stranger = uniqueUser("never");
    const strangers = await meGet(admin.space, await admin.token(stranger), "/catalog");
    expect(strangers.status, strangers.text).toBe(200);
    expect(strangers.body).toEqual({
      data: [
        entry("a-plenty", "Plenty", 50, "available", false, 0, null, false, "Always there"),
        entry("b-low", "Low", 10, "low", false, 0, null, false),
        entry("c-edge", "Edge", 10, "available", false, 0, null, false),
        entry("d-gone", "Gone", 10, "out", false, 0, null, false),
        entry("e-pricey", "Pricey", 51, "available", false, 0, null, false),
        entry("f-limited", "Limited", 10, "available", false, 0, 1, false),
        entry("g-single", "Single", 10, "low", false, 0, null, false),
      ],
    });
    expect((await admin.user(stranger)).status).toBe(404);
    expect(await runInDurableObject(admin.stub(stranger), (instance: UserState) => instance.getState())).toBeNull();
    const rewards = await meGet(admin.space, await admin.token(stranger), "/rewards");
    expect(rewards.status, rewards.text).toBe(200);
    expect(rewards.body).toEqual({ data: [] });
    expect((await admin.user(stranger)).status).toBe(404);
  });

  it("an empty programme answers an empty catalogue", async () => {
    const admin = await freshAdmin();
    const a = await meGet(admin.space, await admin.token(uniqueUser()), "/catalog");
    expect(a.status, a.text).toBe(200);
    expect(a.body).toEqual({ data: [] });
  });
});
