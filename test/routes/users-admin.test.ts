import { describe, expect, it, vi } from "vitest";
import { createKey } from "../helpers/harness";
import { adminOf, errorPaths, expectProblemReply, freshAdmin, meGet, sumDeltas, uniqueUser, type Admin } from "../helpers/users-api";

// Users through the Admin API (SPEC §7): profiles, adjustments, grants and revocations,
// the ledger and activity lists, erasure, scopes and spaces. Real Worker, Durable Objects
// and D1 (SELF.fetch); every test builds its own space and users.

// SELF.fetch slows down with every request a file sends (cloudflare/workers-sdk#15446).
vi.setConfig({ testTimeout: 30_000 });

async function withMetrics(): Promise<Admin> {
  const admin = await freshAdmin();
  await admin.define("metrics", "points", { name: "Points", kind: "currency" });
  await admin.define("metrics", "capped", { name: "Capped", kind: "currency", max: 50 });
  await admin.define("products", "ticket", { type: "item", name: "Ticket", perUserLimit: 3 });
  await admin.define("products", "star", { type: "badge", name: "Star" });
  await admin.define("campaigns", "per-read", {
    name: "Per read",
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "s", name: "s", trigger: { eventType: "read" }, effects: [{ type: "metric.add", metric: "points", amount: 1 }] }],
  });
  return admin;
}

describe("profiles: PUT and PATCH", () => {
  it("PUT creates (201) then replaces (200); PATCH merges; null removes an attribute", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    const created = await admin.putUser(userId, { attributes: { country: "GB", plan: "pro", tags: ["a", "b"] }, timezone: "Europe/London", locale: "en-GB" });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      userId,
      attributes: { country: "GB", plan: "pro", tags: ["a", "b"] },
      timezone: "Europe/London",
      locale: "en-GB",
    });
    expect(created.body.metrics.map((m: any) => [m.metric, m.balance]).sort()).toEqual([
      ["capped", 0],
      ["points", 0],
    ]);
    expect(Date.parse(created.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    // PUT replaces the attributes (the zone is sent unchanged: it may change once a day).
    const replaced = await admin.putUser(userId, { attributes: { vip: true }, timezone: "Europe/London" });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body.attributes).toEqual({ vip: true });
    expect(replaced.body.locale).toBeNull();
    expect(replaced.body.createdAt).toBe(created.body.createdAt);

    const patched = await admin.patchUser(userId, { attributes: { vip: null, score: 7, country: "IE" } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.attributes).toEqual({ score: 7, country: "IE" });
    expect(patched.body.timezone).toBe("Europe/London");

    const again = await admin.patchUser(userId, { locale: "fr" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ attributes: { score: 7, country: "IE" }, locale: "fr", timezone: "Europe/London" });
    expect((await admin.user(userId)).body).toMatchObject({ attributes: { score: 7, country: "IE" }, locale: "fr" });

    // PATCH on a user never seen creates them (201).
    const fresh = await admin.patchUser(uniqueUser(), { attributes: { a: 1 } });
    expect(fresh.status, fresh.text).toBe(201);
  });

  it("a profile write emits loyalty.user.updated that campaigns can match", async () => {
    const admin = await withMetrics();
    await admin.define("campaigns", "on-update", {
      name: "Profile completed",
      status: "active",
      steps: [
        {
          id: "s",
          name: "s",
          trigger: { eventType: "loyalty.user.updated", conditions: { path: "event.data.changed", op: "contains", value: "email" } },
          effects: [{ type: "metric.add", metric: "points", amount: 25 }],
        },
      ],
    });
    const userId = uniqueUser();
    expect((await admin.putUser(userId, { attributes: { name: "A" } })).status).toBe(201);
    expect(await admin.balance(userId, "points")).toBe(0);
    expect((await admin.patchUser(userId, { attributes: { email: "a@example.com" } })).status).toBe(200);
    expect(await admin.balance(userId, "points")).toBe(25);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(25);
  });

  it("invalid input is 400 at its path and changes nothing", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    expect((await admin.putUser(userId, { attributes: { a: 1 } })).status).toBe(201);
    const cases: Array<[unknown, string]> = [
      [{ timezone: "Mars/Olympus" }, "timezone"],
      [{ attributes: { "bad-key": 1 } }, "attributes.bad-key"],
      [{ attributes: { nested: { x: 1 } } }, "attributes.nested"],
      [{ unknown: 1 }, "unknown"],
    ];
    for (const [body, path] of cases) {
      const a = await admin.patchUser(userId, body);
      expectProblemReply(a, 400, "invalid_request");
      expect(errorPaths(a).join(","), a.text).toContain(path.split(".")[0]);
    }
    const tz = await admin.putUser(uniqueUser(), { timezone: "Not/AZone" });
    expectProblemReply(tz, 400, "invalid_request");
    expect(errorPaths(tz)).toEqual(["timezone"]);
    expect((await admin.user(userId)).body.attributes).toEqual({ a: 1 });
  });

  it("the time zone changes at most once per 24 hours (409 frozen)", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    expect((await admin.putUser(userId, { attributes: {} })).status).toBe(201);
    // The first zone is set…
    const first = await admin.patchUser(userId, { timezone: "America/New_York" });
    expect(first.status, first.text).toBe(200);
    // …the same zone again is no change…
    expect((await admin.patchUser(userId, { timezone: "America/New_York", locale: "en-US" })).status).toBe(200);
    // …another zone within 24 h is frozen, and nothing of that write is applied.
    const second = await admin.patchUser(userId, { timezone: "Europe/Paris", attributes: { x: 1 } });
    expectProblemReply(second, 409, "frozen");
    expect(errorPaths(second)).toEqual(["timezone"]);
    const doc = (await admin.user(userId)).body;
    expect(doc).toMatchObject({ timezone: "America/New_York", locale: "en-US", attributes: {} });
  });
});

describe("adjustments", () => {
  it("credits and debits with a ledger entry; never clamped: 409 with nothing changed", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    const credit = await admin.adjust(userId, "points", { amount: 100, reason: "welcome gift" });
    expect(credit.status, credit.text).toBe(201);
    expect(credit.body).toMatchObject({ metric: "points", amount: 100, balance: 100, lifetime: 100 });
    const debit = await admin.adjust(userId, "points", { amount: -30, reason: "correction" });
    expect(debit.status).toBe(201);
    expect(debit.body).toMatchObject({ balance: 70, lifetime: 100 });

    const ledgerBefore = await admin.ledger(userId, "points");
    const tooMuch = await admin.adjust(userId, "points", { amount: -71, reason: "too much" });
    expectProblemReply(tooMuch, 409, "insufficient_balance");
    expect(await admin.balance(userId, "points")).toBe(70);
    expect(await admin.ledger(userId, "points")).toEqual(ledgerBefore);

    expect((await admin.adjust(userId, "capped", { amount: 40, reason: "a" })).status).toBe(201);
    const over = await admin.adjust(userId, "capped", { amount: 11, reason: "b" });
    expectProblemReply(over, 409, "above_max");
    expect(await admin.balance(userId, "capped")).toBe(40);
    expect((await admin.adjust(userId, "capped", { amount: 10, reason: "c" })).status).toBe(201);
    expect(await admin.balance(userId, "capped")).toBe(50);

    // The ledger: reasons, the key that adjusted, balanceAfter; its sum is the balance.
    const ledger = await admin.ledger(userId, "points");
    expect(ledger.map((e) => [e.delta, e.reason, e.balanceAfter])).toEqual([
      [-30, "correction", 70],
      [100, "welcome gift", 100],
    ]);
    expect(ledger[0].source).toMatchObject({ adjustmentBy: "root", eventId: expect.stringMatching(/^adm_/) });
    expect(await admin.stub(userId).ledgerSum("points")).toBe(70);
    expect(await admin.stub(userId).ledgerSum("capped")).toBe(50);
  });

  it("amount 0 and missing reasons are 400; an unknown metric is 404; a refused first write creates no user", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    const zero = await admin.adjust(userId, "points", { amount: 0, reason: "nothing" });
    expectProblemReply(zero, 400, "invalid_request");
    expect(errorPaths(zero)).toEqual(["amount"]);
    const fraction = await admin.adjust(userId, "points", { amount: 1.5, reason: "half" });
    expect(errorPaths(fraction)).toEqual(["amount"]);
    const noReason = await admin.adjust(userId, "points", { amount: 5 });
    expectProblemReply(noReason, 400, "invalid_request");
    expect(errorPaths(noReason)).toEqual(["reason"]);
    expectProblemReply(await admin.adjust(userId, "nope", { amount: 5, reason: "x" }), 404, "not_found");
    expectProblemReply(await admin.adjust(userId, "points", { amount: -5, reason: "x" }), 409, "insufficient_balance");
    expect((await admin.user(userId)).status).toBe(404);
    expect(await admin.activity(userId)).toEqual([]);
  });
});

describe("products", () => {
  it("grants up to the per-user limit, a badge once, partial and full revocation", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    const g1 = await admin.grant(userId, { product: "ticket", quantity: 2 });
    expect(g1.status, g1.text).toBe(201);
    expect(g1.body).toEqual({ product: "ticket", quantity: 2 });
    expectProblemReply(await admin.grant(userId, { product: "ticket", quantity: 2 }), 409, "per_user_limit");
    expect((await admin.grant(userId, { product: "ticket" })).body).toEqual({ product: "ticket", quantity: 3 });
    expectProblemReply(await admin.grant(userId, { product: "ticket" }), 409, "per_user_limit");

    expect((await admin.grant(userId, { product: "star" })).status).toBe(201);
    expectProblemReply(await admin.grant(userId, { product: "star" }), 409, "per_user_limit");
    expectProblemReply(await admin.grant(userId, { product: "ghost" }), 404, "not_found");
    const byProduct = (a: any, b: any) => (a.product < b.product ? -1 : 1);
    expect((await admin.user(userId)).body.rewards.sort(byProduct)).toEqual([
      { product: "star", type: "badge", name: "Star", quantity: 1, codes: [] },
      { product: "ticket", type: "item", name: "Ticket", quantity: 3, codes: [] },
    ]);

    const partial = await admin.revoke(userId, "ticket", 2);
    expect(partial.status, partial.text).toBe(200);
    expect(partial.body).toEqual({ product: "ticket", quantity: 1 });
    const all = await admin.revoke(userId, "ticket");
    expect(all.body).toEqual({ product: "ticket", quantity: 0 });
    expectProblemReply(await admin.revoke(userId, "ticket"), 404, "not_found");
    expectProblemReply(await admin.revoke(userId, "ghost"), 404, "not_found");
    expect((await admin.revoke(userId, "ticket", 0)).status).toBe(400);
    // Revoked quantities free the per-user limit again.
    expect((await admin.grant(userId, { product: "ticket", quantity: 3 })).status).toBe(201);
    const token = await admin.token(userId);
    expect((await meGet(admin.space, token, "/rewards")).body.data.map((r: any) => [r.product, r.quantity]).sort()).toEqual([
      ["star", 1],
      ["ticket", 3],
    ]);
    const activity = await admin.activity(userId);
    expect(activity.map((a) => a.type)).toEqual(["admin.grant", "admin.revoke", "admin.revoke", "admin.grant", "admin.grant", "admin.grant"]);
  });
});

describe("lists", () => {
  it("the ledger pages newest first with cursors; a foreign cursor is 400", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    for (let i = 1; i <= 7; i++) expect((await admin.adjust(userId, "points", { amount: i, reason: `r${i}` })).status).toBe(201);
    const first = await admin.ledgerPage(userId, "points", "?limit=3");
    expect(first.status).toBe(200);
    expect(first.body.data.map((e: any) => e.delta)).toEqual([7, 6, 5]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const all = await admin.ledger(userId, "points", 3);
    expect(all.map((e) => e.delta)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(all.map((e) => e.balanceAfter)).toEqual([28, 21, 15, 10, 6, 3, 1]);
    expect(new Set(all.map((e) => e.id)).size).toBe(7);
    expect(sumDeltas(all)).toBe(28);
    // Exactly a page: no next cursor on the last one.
    const exact = await admin.ledgerPage(userId, "points", "?limit=7");
    expect(exact.body.data).toHaveLength(7);
    expect(exact.body.nextCursor).toBeNull();

    const cursor = encodeURIComponent(first.body.nextCursor);
    // Another metric's list, another user's, another space's: all refused.
    expectProblemReply(await admin.ledgerPage(userId, "capped", `?cursor=${cursor}`), 400, "invalid_cursor");
    expectProblemReply(await admin.ledgerPage(uniqueUser(), "points", `?cursor=${cursor}`), 400, "invalid_cursor");
    expectProblemReply(await admin.activityPage(userId, `?cursor=${cursor}`), 400, "invalid_cursor");
    const other = adminOf((await withMetrics()).space);
    expectProblemReply(await other.ledgerPage(userId, "points", `?cursor=${cursor}`), 400, "invalid_cursor");
    expectProblemReply(await admin.ledgerPage(userId, "points", "?cursor=garbage"), 400, "invalid_cursor");
    expect((await admin.ledgerPage(userId, "points", "?limit=0")).status).toBe(400);
    expect((await admin.ledgerPage(userId, "points", "?limit=101")).status).toBe(400);
  });

  it("activity pages newest first with the outcome of each event and operation", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    for (let i = 0; i < 5; i++) await admin.apply({ id: `r-${i}`, userId, type: "read" });
    await admin.adjust(userId, "points", { amount: 10, reason: "bonus" });
    const all = await admin.activity(userId, 2);
    expect(all).toHaveLength(6);
    expect(all.map((a) => a.eventId).slice(1)).toEqual(["r-4", "r-3", "r-2", "r-1", "r-0"]);
    expect(all[0]).toMatchObject({ type: "admin.adjust", eventId: expect.stringMatching(/^adm_/) });
    expect(all[1]).toMatchObject({ type: "read", outcome: { effects: [expect.objectContaining({ amount: 1, balance: 5 })] } });
    for (let i = 1; i < all.length; i++) expect(all[i].seq).toBeLessThan(all[i - 1].seq);
    // The user sees the same list.
    const token = await admin.token(userId);
    const mine = await meGet(admin.space, token, "/activity?limit=100");
    expect(mine.body.data.map((a: any) => a.eventId)).toEqual(all.map((a) => a.eventId));
  });
});

describe("erasure", () => {
  it("DELETE erases everything (204, idempotent); the user is gone and /me is empty; ids are free again", async () => {
    const admin = await withMetrics();
    const userId = uniqueUser();
    await admin.putUser(userId, { attributes: { a: 1 }, timezone: "Europe/London" });
    await admin.apply({ id: "r-1", userId, type: "read" });
    await admin.adjust(userId, "points", { amount: 9, reason: "x" });
    await admin.grant(userId, { product: "star" });
    expect(await admin.balance(userId, "points")).toBe(10);

    const del = await admin.deleteUser(userId);
    expect(del.status, del.text).toBe(204);
    expect(del.text).toBe("");
    expectProblemReply(await admin.user(userId), 404, "not_found");
    const stub = admin.stub(userId);
    expect(await stub.ledgerSum("points")).toBe(0);
    expect(await stub.getState()).toBeNull();
    expect(await admin.ledger(userId, "points")).toEqual([]);
    expect(await admin.activity(userId)).toEqual([]);

    // Tokens issued in the erasure's second (or before) are refused (test/routes/erasure.test.ts).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const token = await admin.token(userId);
    const me = await meGet(admin.space, token);
    expect(me.status, me.text).toBe(200);
    expect(me.body).toMatchObject({ userId, attributes: {}, timezone: null, metrics: [{ balance: 0 }, { balance: 0 }], badges: 0, segments: [] });

    expect((await admin.deleteUser(userId)).status).toBe(204);
    expect((await admin.deleteUser(uniqueUser())).status).toBe(204);

    // Starting again: the old event id applies anew (seen ids went with the user), and the
    // time zone may be set (no frozen leftover).
    const again = await admin.event({ id: "r-1", userId, type: "read" });
    expect(again.status, again.text).toBe(201);
    expect(await admin.balance(userId, "points")).toBe(1);
    expect((await admin.patchUser(userId, { timezone: "Asia/Tokyo" })).status).toBe(200);
  });
});

describe("scopes and spaces", () => {
  it("read cannot write; users:write adjusts but cannot erase; events:write ingests but cannot read users", async () => {
    const root = await withMetrics();
    const userId = uniqueUser();
    await root.adjust(userId, "points", { amount: 5, reason: "seed" });
    const read = adminOf(root.space, (await createKey(root.space, ["read"])).secret);
    const users = adminOf(root.space, (await createKey(root.space, ["users:write"])).secret);
    const events = adminOf(root.space, (await createKey(root.space, ["events:write"])).secret);

    expect((await read.user(userId)).status).toBe(200);
    expect((await read.ledgerPage(userId, "points")).status).toBe(200);
    expectProblemReply(await read.adjust(userId, "points", { amount: 1, reason: "x" }), 403, "insufficient_scope");
    expectProblemReply(await read.patchUser(userId, { attributes: { a: 1 } }), 403, "insufficient_scope");
    expectProblemReply(await read.event({ id: "e", userId, type: "read" }), 403, "insufficient_scope");

    const adjusted = await users.adjust(userId, "points", { amount: 1, reason: "by key" });
    expect(adjusted.status, adjusted.text).toBe(201);
    const keyId = (await root.ledger(userId, "points"))[0].source.adjustmentBy;
    expect(keyId).toMatch(/^key_/);
    expect((await users.grant(userId, { product: "star" })).status).toBe(201);
    expect((await users.patchUser(userId, { attributes: { b: 2 } })).status).toBe(200);
    expectProblemReply(await users.deleteUser(userId), 403, "insufficient_scope");

    const ingested = await events.event({ id: "e-1", userId, type: "read" });
    expect(ingested.status, ingested.text).toBe(201);
    expectProblemReply(await events.user(userId), 403, "insufficient_scope");
    expectProblemReply(await events.adjust(userId, "points", { amount: 1, reason: "x" }), 403, "insufficient_scope");

    expect(await root.balance(userId, "points")).toBe(7);
    expect((await root.deleteUser(userId)).status).toBe(204);
  });

  it("a user of space A is invisible from space B, and A's keys do not work in B", async () => {
    const a = await withMetrics();
    const b = await withMetrics();
    const userId = uniqueUser();
    await a.adjust(userId, "points", { amount: 42, reason: "A only" });
    expect(await a.balance(userId, "points")).toBe(42);
    expectProblemReply(await b.user(userId), 404, "not_found");
    expect(await b.ledger(userId, "points")).toEqual([]);
    expect(await b.activity(userId)).toEqual([]);
    // B's operations on the same id are B's user; erasing it in B leaves A's.
    await b.adjust(userId, "points", { amount: 1, reason: "B" });
    expect((await b.deleteUser(userId)).status).toBe(204);
    expect(await a.balance(userId, "points")).toBe(42);

    const keyOfA = (await createKey(a.space, ["admin"])).secret;
    const aKeyInB = adminOf(b.space, keyOfA);
    expectProblemReply(await aKeyInB.user(userId), 403, "wrong_space");
    expectProblemReply(await aKeyInB.adjust(userId, "points", { amount: 1, reason: "x" }), 403, "wrong_space");
    // A token minted in A does not read B.
    const tokenA = await a.token(userId);
    const cross = await meGet(b.space, tokenA);
    expect([400, 401, 403]).toContain(cross.status);
    // A problem, never the user's state (a substring check would trip over request ids).
    expect(Object.keys(cross.body).sort()).toEqual(["code", "detail", "requestId", "status", "title", "type"]);
  });
});
