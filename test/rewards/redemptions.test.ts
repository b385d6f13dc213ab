import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { UserState } from "../../src/user/user-state";
import { answer, callDirect, createKey, createSpace, type Answer, type TestSpace } from "../helpers/harness";
import { ADMIN, errorPaths, expectProblemReply, pageAll, uniqueUser } from "../helpers/users-api";

// Redemptions through the Admin API (SPEC §4.2, §5.1, §5.6, §7): stock is never oversold,
// a balance never crosses its floor, a redemption is all or nothing (even when the user's
// transaction fails after the stock was reserved), Idempotency-Key redeems once, cancelling
// refunds without counting as earned and restocks once. Everything runs in workerd with the
// real Durable Objects and D1. The file sends many hundreds of requests, so it talks to the
// Worker's fetch handler in-process (callDirect) rather than through SELF.fetch.

vi.setConfig({ testTimeout: 120_000 });

const POINTS = { name: "Points", kind: "currency" };

/** An Admin API client for one space over callDirect; `key` defaults to the root key. */
function client(space: TestSpace, key?: string) {
  const at = async (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> =>
    answer(await callDirect(`${ADMIN}${path}`, { method, space: space.slug, body, headers, key }));
  const u = (userId: string) => `/users/${encodeURIComponent(userId)}`;
  const api = {
    space,
    at,
    get: (path: string) => at("GET", path),
    define: async (kind: string, id: string, body: Record<string, unknown>): Promise<any> => {
      const a = await at("PUT", `/${kind}/${id}`, body);
      expect(a.status, `${kind}/${id}: ${a.text}`).toBe(201);
      return a.body;
    },
    /** Credits points and expects 201. */
    seed: async (userId: string, amount: number): Promise<void> => {
      const a = await at("POST", `${u(userId)}/metrics/points/adjust`, { amount, reason: "seed" });
      expect(a.status, a.text).toBe(201);
    },
    redeem: (userId: string, body: Record<string, unknown>, headers?: Record<string, string>) => at("POST", `${u(userId)}/redemptions`, body, headers),
    cancel: (userId: string, id: string, body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
      at("POST", `${u(userId)}/redemptions/${encodeURIComponent(id)}/cancel`, body, headers),
    user: (userId: string) => at("GET", u(userId)),
    /** The product's remaining stock and redeemed count (D1's counter). */
    product: async (id: string): Promise<{ stock: number | null; redeemed: number }> => {
      const a = await at("GET", `/products/${id}`);
      expect(a.status, a.text).toBe(200);
      return { stock: a.body.stock, redeemed: a.body.redeemed };
    },
    /** The pool's counts, read by re-adding a code already in it (duplicates are ignored). */
    pool: async (product: string, knownCode: string): Promise<{ available: number; allocated: number }> => {
      const a = await at("POST", `/products/${product}/codes`, { codes: [knownCode] });
      expect(a.status, a.text).toBe(200);
      expect(a.body.added).toBe(0);
      return { available: a.body.available, allocated: a.body.allocated };
    },
    ledger: (userId: string, metric = "points"): Promise<any[]> => pageAll((q) => at("GET", `${u(userId)}/metrics/${metric}/transactions${q}`), 100),
    activity: (userId: string): Promise<any[]> => pageAll((q) => at("GET", `${u(userId)}/activity${q}`), 100),
    stub: (userId: string) => env.USERS.getByName(JSON.stringify([space.id, userId])),
    /** Points balance and lifetime, and the rewards held, from the admin user document. */
    holdings: async (userId: string): Promise<{ balance: number; lifetime: number; rewards: any[] }> => {
      const a = await api.user(userId);
      expect(a.status, a.text).toBe(200);
      const points = (a.body.metrics as Array<{ metric: string; balance: number; lifetime: number }>).find((m) => m.metric === "points")!;
      return { balance: points.balance, lifetime: points.lifetime, rewards: a.body.rewards };
    },
  };
  return api;
}
type Client = ReturnType<typeof client>;

async function fresh(): Promise<Client> {
  const admin = client(await createSpace());
  await admin.define("metrics", "points", POINTS);
  return admin;
}

const reward = (price: number, stock: number | null, extra: Record<string, unknown> = {}) => ({
  name: "Scarf",
  type: "reward",
  price: { metric: "points", amount: price },
  stock,
  perUserLimit: null,
  ...extra,
});

/** D1's reservation rows of a product, counted by status. */
async function reservationsOf(admin: Client, productId: string): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare(
    `SELECT status, COUNT(*) AS n FROM reservations WHERE space_id = ?1 AND product_id = ?2 GROUP BY status ORDER BY status`,
  )
    .bind(admin.space.id, productId)
    .all<{ status: string; n: number }>();
  return Object.fromEntries(results.map((r) => [r.status, r.n]));
}

/** What the user's object keeps about takes: pending reservations and redemption rows. */
async function objectRows(admin: Client, userId: string): Promise<{ pending: number; redemptions: Array<{ id: string; status: string }> }> {
  return runInDurableObject(admin.stub(userId), (_instance: UserState, state) => ({
    pending: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM pending_reservations`).one().n,
    redemptions: state.storage.sql
      .exec<{ id: string; status: string }>(`SELECT id, status FROM redemptions ORDER BY created_at, id`)
      .toArray()
      .map((r) => ({ id: r.id, status: r.status })),
  }));
}

const redemptionEntries = (ledger: any[]) => ledger.filter((e) => e.source?.redemption !== undefined);

describe("concurrent redemptions", () => {
  it("100 users redeem a product with stock 10 at once: exactly 10 win, 90 are out_of_stock, nothing else moves", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 10));
    const users = Array.from({ length: 100 }, () => uniqueUser("race"));
    await Promise.all(users.map((userId) => admin.seed(userId, 250)));

    const answers = await Promise.all(users.map((userId) => admin.redeem(userId, { product: "scarf" })));

    const winners = users.filter((_, i) => answers[i]!.status === 201);
    const losers = users.filter((_, i) => answers[i]!.status !== 201);
    expect(winners).toHaveLength(10);
    expect(losers).toHaveLength(90);
    for (const [i, a] of answers.entries()) {
      if (a.status === 201) {
        expect(Object.keys(a.body).sort()).toEqual(["balance", "id", "price", "product", "quantity"]);
        expect(a.body).toEqual({ id: expect.stringMatching(/^rdm_/), product: "scarf", quantity: 1, price: { metric: "points", amount: 100 }, balance: 150 });
        expect(a.headers.get("location")).toBe(`/api/loyalty/admin/users/${encodeURIComponent(users[i]!)}/redemptions/${a.body.id}`);
      } else {
        expectProblemReply(a, 409, "out_of_stock");
        expect(errorPaths(a)).toEqual(["quantity"]);
      }
    }
    expect(new Set(answers.filter((a) => a.status === 201).map((a) => a.body.id)).size).toBe(10);

    expect(await admin.product("scarf")).toEqual({ stock: 0, redeemed: 10 });
    // Ten confirmed takes in D1; a refused take left no reservation row at all.
    expect(await reservationsOf(admin, "scarf")).toEqual({ confirmed: 10 });

    await Promise.all(
      users.map(async (userId) => {
        const won = winners.includes(userId);
        const id = answers[users.indexOf(userId)]!.body.id;
        const { balance, lifetime, rewards } = await admin.holdings(userId);
        expect({ userId, balance, lifetime }).toEqual({ userId, balance: won ? 150 : 250, lifetime: 250 });
        expect(rewards).toEqual(won ? [{ product: "scarf", type: "reward", name: "Scarf", quantity: 1, codes: [] }] : []);
        const ledger = await admin.ledger(userId);
        expect(ledger.map((e) => [e.delta, e.balanceAfter, e.reason])).toEqual(
          won ? [[-100, 150, "redemption"], [250, 250, "seed"]] : [[250, 250, "seed"]],
        );
        expect(redemptionEntries(ledger).map((e) => e.source.redemption)).toEqual(won ? [id] : []);
        expect(await admin.stub(userId).ledgerSum("points")).toBe(balance);
        const activity = await admin.activity(userId);
        expect(activity.map((e) => e.type)).toEqual(won ? ["admin.redeem", "admin.adjust"] : ["admin.adjust"]);
        const rows = await objectRows(admin, userId);
        expect(rows).toEqual({ pending: 0, redemptions: won ? [{ id, status: "completed" }] : [] });
      }),
    );
  });

  it("one user with the balance for exactly 3 fires 20 redemptions at once: 3 succeed, 17 are insufficient_balance, never below 0", async () => {
    const admin = await fresh();
    await admin.define("products", "mug", { ...reward(100, null), name: "Mug" });
    const userId = uniqueUser("spender");
    await admin.seed(userId, 300);

    const answers = await Promise.all(Array.from({ length: 20 }, () => admin.redeem(userId, { product: "mug" })));

    const ok = answers.filter((a) => a.status === 201);
    expect(ok).toHaveLength(3);
    for (const a of answers.filter((x) => x.status !== 201)) {
      expectProblemReply(a, 409, "insufficient_balance");
      expect(errorPaths(a)).toEqual(["quantity"]);
    }
    expect(answers.filter((a) => a.status === 409)).toHaveLength(17);
    // Serialised by the user's object: the balances answered are 200, 100 and 0.
    expect(ok.map((a) => a.body.balance).sort((x, y) => y - x)).toEqual([200, 100, 0]);
    expect(new Set(ok.map((a) => a.body.id)).size).toBe(3);

    const { balance, lifetime, rewards } = await admin.holdings(userId);
    expect({ balance, lifetime }).toEqual({ balance: 0, lifetime: 300 });
    expect(rewards).toEqual([{ product: "mug", type: "reward", name: "Mug", quantity: 3, codes: [] }]);
    const ledger = await admin.ledger(userId);
    expect(ledger).toHaveLength(4);
    expect(ledger.every((e) => e.balanceAfter >= 0)).toBe(true);
    expect(ledger.map((e) => [e.delta, e.balanceAfter])).toEqual([[-100, 0], [-100, 100], [-100, 200], [300, 300]]);
    expect(redemptionEntries(ledger).map((e) => e.source.redemption).sort()).toEqual(ok.map((a) => a.body.id).sort());
    expect(await admin.stub(userId).ledgerSum("points")).toBe(0);
    // Unlimited stock stays unlimited; the counter still counts.
    expect(await admin.product("mug")).toEqual({ stock: null, redeemed: 3 });
    expect(await reservationsOf(admin, "mug")).toEqual({ confirmed: 3 });
    expect((await objectRows(admin, userId)).pending).toBe(0);
  });
});

describe("Idempotency-Key on a redemption", () => {
  it("10 concurrent requests with one key redeem once; the others replay or answer 409 in progress; another body is 422", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 5));
    const userId = uniqueUser("idem");
    await admin.seed(userId, 1000);
    const key = { "Idempotency-Key": "redeem-once" };

    const answers = await Promise.all(Array.from({ length: 10 }, () => admin.redeem(userId, { product: "scarf", quantity: 1 }, key)));

    const created = answers.filter((a) => a.status === 201);
    const first = created.filter((a) => a.headers.get("idempotent-replayed") === null);
    expect(first, "exactly one answer is the original").toHaveLength(1);
    const original = first[0]!;
    expect(original.body).toEqual({ id: expect.stringMatching(/^rdm_/), product: "scarf", quantity: 1, price: { metric: "points", amount: 100 }, balance: 900 });
    const location = original.headers.get("location");
    expect(location).toBe(`/api/loyalty/admin/users/${encodeURIComponent(userId)}/redemptions/${original.body.id}`);
    for (const a of created) {
      if (a === original) continue;
      expect(a.headers.get("idempotent-replayed")).toBe("true");
      expect(a.body).toEqual(original.body);
      expect(a.headers.get("location")).toBe(location);
    }
    for (const a of answers.filter((x) => x.status !== 201)) {
      expectProblemReply(a, 409, "idempotency_in_progress");
      expect(errorPaths(a)).toEqual(["header.idempotency-key"]);
    }
    expect(created.length + answers.filter((a) => a.status === 409).length).toBe(10);

    const once = async () => {
      expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });
      const ledger = await admin.ledger(userId);
      expect(redemptionEntries(ledger).map((e) => [e.delta, e.source.redemption])).toEqual([[-100, original.body.id]]);
      expect(ledger).toHaveLength(2);
      const held = await admin.holdings(userId);
      expect(held.balance).toBe(900);
      expect(held.rewards.map((r: any) => [r.product, r.quantity])).toEqual([["scarf", 1]]);
      expect(await admin.stub(userId).ledgerSum("points")).toBe(900);
      expect((await objectRows(admin, userId)).redemptions).toEqual([{ id: original.body.id, status: "completed" }]);
    };
    await once();

    // A later retry replays the same redemption.
    const retry = await admin.redeem(userId, { product: "scarf", quantity: 1 }, key);
    expect(retry.status, retry.text).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body).toEqual(original.body);
    expect(retry.headers.get("location")).toBe(location);

    // The same key with another body (or on another path) is refused.
    for (const other of [{ product: "scarf", quantity: 2 }, { product: "other" }]) {
      const reused = await admin.redeem(userId, other, key);
      expectProblemReply(reused, 422, "idempotency_key_reused");
      expect(errorPaths(reused)).toEqual(["header.idempotency-key"]);
    }
    expectProblemReply(await admin.cancel(userId, original.body.id, { restock: true }, key), 422, "idempotency_key_reused");
    await once();

    // Without the key, the same request is a new redemption.
    const fresh2 = await admin.redeem(userId, { product: "scarf", quantity: 1 });
    expect(fresh2.status, fresh2.text).toBe(201);
    expect(fresh2.body.id).not.toBe(original.body.id);
    expect(fresh2.body.balance).toBe(800);
    expect(await admin.product("scarf")).toEqual({ stock: 3, redeemed: 2 });
  });
});

describe("a redemption that fails inside the user's transaction", () => {
  it("answers 503 (retry) and leaves stock, codes, balance, ledger and products as they were; the next redemption works", async () => {
    const admin = await fresh();
    await admin.define("products", "faulty", reward(100, 5, { name: "Faulty", metadata: { testFault: true } }));
    await admin.define("products", "scarf", reward(100, 3));
    expect((await admin.at("POST", "/products/faulty/codes", { codes: ["F1", "F2"] })).status).toBe(200);
    const userId = uniqueUser("fault");
    await admin.seed(userId, 500);
    // The user holds something already, so "products as before" is not trivially empty.
    const warmup = await admin.redeem(userId, { product: "scarf" });
    expect(warmup.status, warmup.text).toBe(201);

    const before = {
      faulty: await admin.product("faulty"),
      scarf: await admin.product("scarf"),
      pool: await admin.pool("faulty", "F1"),
      holdings: await admin.holdings(userId),
      ledger: await admin.ledger(userId),
      activity: (await admin.activity(userId)).map((e) => e.eventId),
      rows: await objectRows(admin, userId),
    };
    expect(before.faulty).toEqual({ stock: 5, redeemed: 0 });
    expect(before.scarf).toEqual({ stock: 2, redeemed: 1 });
    expect(before.pool).toEqual({ available: 2, allocated: 0 });
    expect(before.holdings).toMatchObject({ balance: 400, lifetime: 500 });

    const failed = await admin.redeem(userId, { product: "faulty" });
    const problem = expectProblemReply(failed, 503, "unavailable");
    expect(problem.requestId).toBe(failed.headers.get("x-request-id"));
    expect(failed.text).not.toContain("injected");

    expect(await admin.product("faulty")).toEqual(before.faulty);
    expect(await admin.product("scarf")).toEqual(before.scarf);
    expect(await admin.pool("faulty", "F1")).toEqual(before.pool);
    expect(await admin.holdings(userId)).toEqual(before.holdings);
    expect(await admin.ledger(userId)).toEqual(before.ledger);
    expect((await admin.activity(userId)).map((e) => e.eventId)).toEqual(before.activity);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(400);
    // The take was released in D1 (never confirmed) and the object keeps no trace of it.
    expect(await reservationsOf(admin, "faulty")).toEqual({ released: 1 });
    expect(await objectRows(admin, userId)).toEqual(before.rows);

    // A retry fails the same way and still takes nothing.
    expectProblemReply(await admin.redeem(userId, { product: "faulty", quantity: 2 }), 503, "unavailable");
    expect(await admin.product("faulty")).toEqual(before.faulty);
    expect(await admin.pool("faulty", "F1")).toEqual(before.pool);

    // A normal product right after: stock accounting intact.
    const ok = await admin.redeem(userId, { product: "scarf", quantity: 2 });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ product: "scarf", quantity: 2, price: { metric: "points", amount: 200 }, balance: 200 });
    expect(await admin.product("scarf")).toEqual({ stock: 0, redeemed: 3 });
    expect(await reservationsOf(admin, "scarf")).toEqual({ confirmed: 2 });
    const after = await admin.holdings(userId);
    expect(after.balance).toBe(200);
    expect(after.rewards.map((r: any) => [r.product, r.quantity])).toEqual([["scarf", 3]]);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(200);
    expectProblemReply(await admin.redeem(userId, { product: "scarf" }), 409, "out_of_stock");
  });

  it("a failed redemption of an unlimited reward is not counted as redeemed", async () => {
    const admin = await fresh();
    await admin.define("products", "faulty", reward(100, null, { name: "Faulty", metadata: { testFault: true } }));
    const userId = uniqueUser("fault-unl");
    await admin.seed(userId, 500);
    expectProblemReply(await admin.redeem(userId, { product: "faulty", quantity: 2 }), 503, "unavailable");
    expect(await reservationsOf(admin, "faulty")).toEqual({ released: 1 });
    expect(await admin.holdings(userId)).toEqual({ balance: 500, lifetime: 500, rewards: [] });
    // "Units taken by confirmed or pending grants and redemptions, minus restocks": none.
    expect(await admin.product("faulty")).toEqual({ stock: null, redeemed: 0 });
  });
});

describe("refused redemptions", () => {
  it("a product without a price or a badge is 422 not_redeemable; an unknown product is 404", async () => {
    const admin = await fresh();
    await admin.define("products", "free", { name: "Free", type: "reward", stock: 5 });
    await admin.define("products", "star", { name: "Star", type: "badge" });
    const userId = uniqueUser("err");
    await admin.seed(userId, 1000);

    for (const product of ["free", "star"]) {
      const a = await admin.redeem(userId, { product });
      expectProblemReply(a, 422, "not_redeemable");
      expect(errorPaths(a)).toEqual(["product"]);
    }
    const unknown = await admin.redeem(userId, { product: "nope" });
    expectProblemReply(unknown, 404, "not_found");
    expect(errorPaths(unknown)).toEqual(["product"]);

    expect(await admin.product("free")).toEqual({ stock: 5, redeemed: 0 });
    const held = await admin.holdings(userId);
    expect(held).toEqual({ balance: 1000, lifetime: 1000, rewards: [] });
    expect(await admin.ledger(userId)).toHaveLength(1);
    expect((await admin.activity(userId)).map((e) => e.type)).toEqual(["admin.adjust"]);
  });

  it("perUserLimit 1: the second redemption is 409 per_user_limit and takes no stock", async () => {
    const admin = await fresh();
    await admin.define("products", "limited", reward(10, 5, { name: "Limited", perUserLimit: 1 }));
    const userId = uniqueUser("limit");
    await admin.seed(userId, 100);

    expect((await admin.redeem(userId, { product: "limited" })).status).toBe(201);
    const second = await admin.redeem(userId, { product: "limited" });
    expectProblemReply(second, 409, "per_user_limit");
    expect(errorPaths(second)).toEqual(["quantity"]);
    expect(await admin.product("limited")).toEqual({ stock: 4, redeemed: 1 });
    expect(await reservationsOf(admin, "limited")).toEqual({ confirmed: 1 });
    expect((await admin.holdings(userId)).balance).toBe(90);
    expect(redemptionEntries(await admin.ledger(userId))).toHaveLength(1);

    // A quantity of 2 at once from another user crosses the limit too.
    const other = uniqueUser("limit");
    await admin.seed(other, 100);
    expectProblemReply(await admin.redeem(other, { product: "limited", quantity: 2 }), 409, "per_user_limit");
    expect(await admin.product("limited")).toEqual({ stock: 4, redeemed: 1 });
    expect((await admin.holdings(other)).balance).toBe(100);
  });

  it.each([0, 1001, 1.5, -1, "1"])("quantity %j is 400 at quantity", async (quantity) => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(1, 10));
    const userId = uniqueUser("q");
    await admin.seed(userId, 10_000);
    const a = await admin.redeem(userId, { product: "scarf", quantity });
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["quantity"]);
    expect(await admin.product("scarf")).toEqual({ stock: 10, redeemed: 0 });
    expect((await admin.holdings(userId)).balance).toBe(10_000);
  });

  it("a quantity larger than the remaining stock is all-or-none", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(10, 3));
    const userId = uniqueUser("bulk");
    await admin.seed(userId, 1000);

    const tooMany = await admin.redeem(userId, { product: "scarf", quantity: 4 });
    expectProblemReply(tooMany, 409, "out_of_stock");
    expect(await admin.product("scarf")).toEqual({ stock: 3, redeemed: 0 });
    expect(await reservationsOf(admin, "scarf")).toEqual({});
    expect(await admin.holdings(userId)).toEqual({ balance: 1000, lifetime: 1000, rewards: [] });
    expect(redemptionEntries(await admin.ledger(userId))).toEqual([]);

    const exact = await admin.redeem(userId, { product: "scarf", quantity: 3 });
    expect(exact.status, exact.text).toBe(201);
    expect(exact.body).toMatchObject({ quantity: 3, price: { metric: "points", amount: 30 }, balance: 970 });
    expect(await admin.product("scarf")).toEqual({ stock: 0, redeemed: 3 });
  });

  it("the balance is checked before the stock: a user who cannot pay takes no stock", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 2));
    const userId = uniqueUser("poor");
    await admin.seed(userId, 150);
    expectProblemReply(await admin.redeem(userId, { product: "scarf", quantity: 2 }), 409, "insufficient_balance");
    expect(await admin.product("scarf")).toEqual({ stock: 2, redeemed: 0 });
    expect(await reservationsOf(admin, "scarf")).toEqual({});
    expect((await admin.holdings(userId)).balance).toBe(150);
  });

  it.each([
    ["an out_of_stock refusal", { product: "scarf", quantity: 2 }, 409, "out_of_stock"],
    ["a failed transaction", { product: "faulty" }, 503, "unavailable"],
  ] as const)("%s leaves no reservation timer behind: the object's alarm does not keep re-arming", async (_name, body, status, code) => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(10, 1));
    await admin.define("products", "faulty", reward(10, 1, { metadata: { testFault: true } }));
    const userId = uniqueUser("alarm");
    await admin.seed(userId, 100);
    expectProblemReply(await admin.redeem(userId, { ...body }), status, code);
    expect((await objectRows(admin, userId)).pending).toBe(0);
    // Nothing is pending, so whatever the take scheduled is settled by one alarm run (a
    // second run would find nothing to do). A timer left behind re-arms the alarm at a
    // past time on every run: an endless alarm loop for the user.
    await runDurableObjectAlarm(admin.stub(userId));
    await runDurableObjectAlarm(admin.stub(userId));
    const left = await runInDurableObject(admin.stub(userId), async (_instance: UserState, state) => ({
      alarm: await state.storage.getAlarm(),
      timers: state.storage.sql.exec<{ name: string }>(`SELECT name FROM timers ORDER BY name`).toArray().map((t) => t.name),
    }));
    expect(left).toEqual({ alarm: null, timers: [] });
    expect(await admin.product(body.product)).toEqual({ stock: 1, redeemed: 0 });
  });
});

/** Replaces the deliveries queue inside the user's object with a recorder (its own env). */
async function recordDeliveries(admin: Client, userId: string): Promise<Array<{ type: string; eventId: string; data: any }>> {
  const sent: Array<{ type: string; eventId: string; data: any }> = [];
  await runInDurableObject(admin.stub(userId), (instance: UserState) => {
    const holder = instance as unknown as { env: Cloudflare.Env };
    const DELIVERIES = {
      send: async () => {
        throw new Error("send is not used by the outbox");
      },
      sendBatch: async (messages: Iterable<{ body: any }>) => {
        for (const m of messages) {
          const message = structuredClone(m.body.body.message);
          if (message.kind === "webhook") sent.push({ type: message.type, eventId: message.eventId, data: message.data });
        }
      },
    };
    holder.env = { ...holder.env, DELIVERIES: DELIVERIES as unknown as Queue };
  });
  return sent;
}

describe("cancelling a redemption", () => {
  it("refunds (lifetime unchanged), revokes, restocks exactly once with restock:true, never with restock:false, and emits the derived events", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 5));
    expect((await admin.at("POST", "/products/scarf/codes", { codes: ["C1", "C2", "C3"] })).status).toBe(200);
    await admin.define("webhooks", "hook", {
      url: "https://hooks.example.com/x",
      events: ["loyalty.reward.redeemed", "loyalty.redemption.cancelled", "loyalty.product.granted", "loyalty.product.revoked"],
    });
    const userId = uniqueUser("cancel");
    const sent = await recordDeliveries(admin, userId);
    await admin.seed(userId, 500);

    const r1 = await admin.redeem(userId, { product: "scarf" });
    expect(r1.status, r1.text).toBe(201);
    expect(r1.body).toEqual({ id: r1.body.id, product: "scarf", quantity: 1, price: { metric: "points", amount: 100 }, code: "C1", codes: ["C1"], balance: 400 });
    const r2 = await admin.redeem(userId, { product: "scarf", quantity: 2 });
    expect(r2.status, r2.text).toBe(201);
    expect(r2.body).toEqual({ id: r2.body.id, product: "scarf", quantity: 2, price: { metric: "points", amount: 200 }, codes: ["C2", "C3"], balance: 200 });
    expect(await admin.product("scarf")).toEqual({ stock: 2, redeemed: 3 });
    expect(await admin.holdings(userId)).toEqual({
      balance: 200,
      lifetime: 500,
      rewards: [{ product: "scarf", type: "reward", name: "Scarf", quantity: 3, codes: ["C1", "C2", "C3"] }],
    });

    // restock:true — the refund, the revocation, the stock back once.
    const c2 = await admin.cancel(userId, r2.body.id, { restock: true });
    expect(c2.status, c2.text).toBe(200);
    expect(c2.body).toEqual({ id: r2.body.id, status: "cancelled", refunded: { metric: "points", amount: 200 }, revoked: 2, restocked: true });
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });
    expect(await admin.holdings(userId)).toEqual({
      balance: 400,
      lifetime: 500,
      rewards: [{ product: "scarf", type: "reward", name: "Scarf", quantity: 1, codes: ["C1"] }],
    });
    // Cancelling twice: 409 invalid_transition, the stock not doubled, nothing refunded again.
    for (const restock of [true, false]) {
      const again = await admin.cancel(userId, r2.body.id, { restock });
      expectProblemReply(again, 409, "invalid_transition");
      expect(errorPaths(again)).toEqual(["path.id"]);
    }
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });
    expect((await admin.holdings(userId)).balance).toBe(400);

    // restock:false (also the default) — the stock stays taken.
    const c1 = await admin.cancel(userId, r1.body.id, {});
    expect(c1.status, c1.text).toBe(200);
    expect(c1.body).toEqual({ id: r1.body.id, status: "cancelled", refunded: { metric: "points", amount: 100 }, revoked: 1, restocked: false });
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });
    expect(await admin.holdings(userId)).toEqual({ balance: 500, lifetime: 500, rewards: [] });
    expectProblemReply(await admin.cancel(userId, r1.body.id, { restock: true }), 409, "invalid_transition");
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });
    expect(await reservationsOf(admin, "scarf")).toEqual({ confirmed: 1, restocked: 1 });

    // A code is never reissued: the pool is spent although stock is back.
    expect(await admin.pool("scarf", "C1")).toEqual({ available: 0, allocated: 3 });
    expectProblemReply(await admin.redeem(userId, { product: "scarf" }), 409, "out_of_codes");
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });

    // Unknown redemption ids are 404.
    expectProblemReply(await admin.cancel(userId, "rdm_nope", { restock: true }), 404, "not_found");
    expectProblemReply(await admin.cancel(uniqueUser("nobody"), r1.body.id, { restock: true }), 404, "not_found");

    // The ledger: debits and refunds, each naming its redemption; balance = sum.
    const ledger = await admin.ledger(userId);
    expect(ledger.map((e) => [e.delta, e.balanceAfter, e.reason, e.source.redemption ?? null])).toEqual([
      [100, 500, "refund", r1.body.id],
      [200, 400, "refund", r2.body.id],
      [-200, 200, "redemption", r2.body.id],
      [-100, 400, "redemption", r1.body.id],
      [500, 500, "seed", null],
    ]);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(500);
    expect((await objectRows(admin, userId)).redemptions.map((r) => r.status)).toEqual(["cancelled", "cancelled"]);

    // The activity: one entry per operation that changed something, with its derived events.
    const activity = await admin.activity(userId);
    expect(activity.map((e) => e.type)).toEqual(["admin.cancelRedemption", "admin.cancelRedemption", "admin.redeem", "admin.redeem", "admin.adjust"]);
    const derivedOf = (entry: any) => entry.outcome.derivedEvents.map((d: any) => d.type);
    for (const entry of activity.slice(0, 2)) {
      expect(derivedOf(entry)).toEqual(expect.arrayContaining(["loyalty.metric.changed", "loyalty.product.revoked", "loyalty.redemption.cancelled"]));
      expect(derivedOf(entry)).not.toContain("loyalty.reward.redeemed");
    }
    for (const entry of activity.slice(2, 4)) {
      expect(derivedOf(entry)).toEqual(expect.arrayContaining(["loyalty.product.granted", "loyalty.metric.changed", "loyalty.reward.redeemed"]));
      expect(derivedOf(entry)).not.toContain("loyalty.redemption.cancelled");
    }

    // The derived events' data (SPEC §5.6), as the subscribed webhook receives it; the
    // event ids are those the activity lists.
    const byType = (type: string) => sent.filter((s) => s.type === type);
    const activityIds = new Set(activity.flatMap((e) => e.outcome.derivedEvents.map((d: any) => d.id)));
    expect(sent.every((s) => activityIds.has(s.eventId))).toBe(true);
    expect(byType("loyalty.reward.redeemed").map((s) => s.data)).toEqual([
      { redemption: r1.body.id, product: "scarf", quantity: 1, price: { metric: "points", amount: 100 }, code: "C1", codes: ["C1"] },
      { redemption: r2.body.id, product: "scarf", quantity: 2, price: { metric: "points", amount: 200 }, codes: ["C2", "C3"] },
    ]);
    expect(byType("loyalty.redemption.cancelled").map((s) => s.data)).toEqual([
      { redemption: r2.body.id, product: "scarf", quantity: 2, price: { metric: "points", amount: 200 }, codes: ["C2", "C3"] },
      { redemption: r1.body.id, product: "scarf", quantity: 1, price: { metric: "points", amount: 100 }, code: "C1", codes: ["C1"] },
    ]);
    expect(byType("loyalty.product.granted").map((s) => s.data)).toEqual([
      { product: "scarf", quantity: 1, code: "C1", codes: ["C1"], via: "redemption" },
      { product: "scarf", quantity: 2, codes: ["C2", "C3"], via: "redemption" },
    ]);
    expect(byType("loyalty.product.revoked").map((s) => s.data)).toEqual([
      { product: "scarf", quantity: 2, via: "redemption" },
      { product: "scarf", quantity: 1, via: "redemption" },
    ]);
    expect(sent).toHaveLength(8);
  });

  it("restock:true on an unlimited reward keeps it unlimited and gives back the redeemed count", async () => {
    const admin = await fresh();
    await admin.define("products", "mug", { ...reward(50, null), name: "Mug" });
    const userId = uniqueUser("unl");
    await admin.seed(userId, 100);
    const r = await admin.redeem(userId, { product: "mug", quantity: 2 });
    expect(r.status, r.text).toBe(201);
    expect(await admin.product("mug")).toEqual({ stock: null, redeemed: 2 });
    const c = await admin.cancel(userId, r.body.id, { restock: true });
    expect(c.status, c.text).toBe(200);
    expect(c.body).toEqual({ id: r.body.id, status: "cancelled", refunded: { metric: "points", amount: 100 }, revoked: 2, restocked: true });
    expect(await admin.product("mug")).toEqual({ stock: null, redeemed: 0 });
    expect(await admin.holdings(userId)).toEqual({ balance: 100, lifetime: 100, rewards: [] });
  });

  it("a cancel with an Idempotency-Key replays instead of answering invalid_transition", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 2));
    const userId = uniqueUser("idc");
    await admin.seed(userId, 100);
    const r = await admin.redeem(userId, { product: "scarf" });
    expect(r.status, r.text).toBe(201);
    const key = { "Idempotency-Key": "cancel-1" };
    const first = await admin.cancel(userId, r.body.id, { restock: true }, key);
    expect(first.status, first.text).toBe(200);
    const again = await admin.cancel(userId, r.body.id, { restock: true }, key);
    expect(again.status, again.text).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await admin.product("scarf")).toEqual({ stock: 2, redeemed: 0 });
    expect((await admin.holdings(userId)).balance).toBe(100);
  });
});

describe("who may redeem and cancel", () => {
  it("a read-scope key cannot redeem or cancel (403); a users:write key can; another space neither sees nor cancels (404)", async () => {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 5));
    const userId = uniqueUser("sec");
    await admin.seed(userId, 500);

    const reader = client(admin.space, (await createKey(admin.space, ["read"])).secret);
    const denied = await reader.redeem(userId, { product: "scarf" });
    expectProblemReply(denied, 403, "insufficient_scope");
    expect(await admin.product("scarf")).toEqual({ stock: 5, redeemed: 0 });
    expect((await admin.holdings(userId)).balance).toBe(500);
    // It may still read.
    expect((await reader.user(userId)).status).toBe(200);

    const writer = client(admin.space, (await createKey(admin.space, ["users:write"])).secret);
    const r = await writer.redeem(userId, { product: "scarf" });
    expect(r.status, r.text).toBe(201);
    expectProblemReply(await reader.cancel(userId, r.body.id, { restock: true }), 403, "insufficient_scope");
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });

    // Another space, through the root key: the same user id and redemption id mean nothing there.
    const other = await fresh();
    await other.define("products", "scarf", reward(100, 5));
    expectProblemReply(await other.cancel(userId, r.body.id, { restock: true }), 404, "not_found");
    expectProblemReply(await other.user(userId), 404, "not_found");
    expect((await other.activity(userId)).length).toBe(0);
    expect(await other.product("scarf")).toEqual({ stock: 5, redeemed: 0 });
    // Another space's admin key naming this space is refused outright.
    const foreignKey = (await createKey(other.space, ["admin"])).secret;
    const foreign = client(admin.space, foreignKey);
    expectProblemReply(await foreign.cancel(userId, r.body.id, { restock: true }), 403, "wrong_space");
    expectProblemReply(await foreign.redeem(userId, { product: "scarf" }), 403, "wrong_space");
    // ...and without naming a space it acts in its own, where there is no such redemption.
    const own = await answer(
      await callDirect(`${ADMIN}/users/${encodeURIComponent(userId)}/redemptions/${r.body.id}/cancel`, { key: foreignKey, body: { restock: true } }),
    );
    expectProblemReply(own, 404, "not_found");

    // Nothing of it touched this space: the redemption still stands and cancels here.
    expect(await admin.product("scarf")).toEqual({ stock: 4, redeemed: 1 });
    expect(await admin.holdings(userId)).toMatchObject({ balance: 400 });
    const cancelled = await writer.cancel(userId, r.body.id, { restock: true });
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(await admin.product("scarf")).toEqual({ stock: 5, redeemed: 0 });
    expect(await admin.holdings(userId)).toMatchObject({ balance: 500, lifetime: 500 });
  });
});
