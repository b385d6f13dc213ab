import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { configOf } from "../../src/config";
import type { Env } from "../../src/env";
import { deliveryIdOf } from "../../src/outbound/delivery-log";
import { retryDelaySeconds } from "../../src/outbound/schedule";
import { armFault, disarmFault, type FaultName } from "../../src/testing/faults";
import { UserState } from "../../src/user/user-state";
import { answer, callDirect, createSpace, type Answer, type TestSpace } from "../helpers/harness";
import { runQueue } from "../helpers/queue";
import { ADMIN, expectProblemReply, pageAll, uniqueUser } from "../helpers/users-api";

// Fault injection (issue #10): a Durable Object storage failure mid-event, a Queue send
// failure, a D1 failure during a redemption (before and after D1 committed the take) and a
// webhook receiver that times out. Each test arms a switch of src/testing/faults.ts in one
// user's object (a meta row only a test writes; TEST_FAULT_INJECTION is "on" only in
// vitest.config.ts), acts, checks the immediate answer and that the state is consistent
// (balance = ledger, stock and codes = the reservations holding them, the outbox), disarms,
// drives the recovery (a retry, the object's alarm, the queue) and checks again: nothing
// lost, nothing twice. The Worker is called in-process (callDirect); the real deliveries
// and index queues run their consumers in this isolate, so a spy on globalThis.fetch sees
// the webhooks they send.

vi.setConfig({ testTimeout: 60_000 });

afterEach(() => {
  vi.restoreAllMocks();
});

const report = { faultsInjected: 0, recovered: 0, inconsistencies: 0, faults: {} as Record<string, { injected: number; recovered: number }> };

afterAll(() => {
  console.log(`FAULTS-REPORT ${JSON.stringify(report)}`);
});

/** A switch of src/testing/faults.ts, or the test's own receiver that never answers. */
type Injected = FaultName | "webhook.timeout";
function injected(name: Injected, n = 1): void {
  report.faultsInjected += n;
  (report.faults[name] ??= { injected: 0, recovered: 0 }).injected += n;
}
function recovered(name: Injected, n = 1): void {
  report.recovered += n;
  (report.faults[name] ??= { injected: 0, recovered: 0 }).recovered += n;
}
/** Asserts no inconsistency; counts any for the report first. */
function expectConsistent(issues: string[]): void {
  report.inconsistencies += issues.length;
  expect(issues).toEqual([]);
}

// ---------------------------------------------------------------------------------------
// Helpers

const POINTS = { name: "Points", kind: "currency" };

function client(space: TestSpace) {
  const at = async (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> =>
    answer(await callDirect(`${ADMIN}${path}`, { method, space: space.slug, body, headers }));
  const u = (userId: string) => `/users/${encodeURIComponent(userId)}`;
  const api = {
    space,
    at,
    define: async (kind: string, id: string, body: Record<string, unknown>): Promise<any> => {
      const a = await at("PUT", `/${kind}/${id}`, body);
      expect(a.status, `${kind}/${id}: ${a.text}`).toBe(201);
      return a.body;
    },
    event: (body: Record<string, unknown>) => at("POST", "/events", body),
    adjust: (userId: string, amount: number, headers?: Record<string, string>) => at("POST", `${u(userId)}/metrics/points/adjust`, { amount, reason: "seed" }, headers),
    redeem: (userId: string, body: Record<string, unknown>, headers?: Record<string, string>) => at("POST", `${u(userId)}/redemptions`, body, headers),
    user: (userId: string) => at("GET", u(userId)),
    ledger: (userId: string, metric = "points"): Promise<any[]> => pageAll((q) => at("GET", `${u(userId)}/metrics/${metric}/transactions${q}`), 100),
    activity: (userId: string): Promise<any[]> => pageAll((q) => at("GET", `${u(userId)}/activity${q}`), 100),
    delivery: (webhook: string, id: string) => at("GET", `/webhooks/${webhook}/deliveries/${id}`),
    stub: (userId: string) => env.USERS.getByName(JSON.stringify([space.id, userId])),
    /** Points balance, lifetime and products held (product → quantity); zeros for a user never seen. */
    holdings: async (userId: string): Promise<{ balance: number; lifetime: number; products: Record<string, number> }> => {
      const a = await api.user(userId);
      if (a.status === 404) return { balance: 0, lifetime: 0, products: {} };
      expect(a.status, a.text).toBe(200);
      const points = (a.body.metrics as Array<{ metric: string; balance: number; lifetime: number }>).find((m) => m.metric === "points");
      const held = a.body.rewards as Array<{ product: string; quantity: number }>;
      return { balance: points?.balance ?? 0, lifetime: points?.lifetime ?? 0, products: Object.fromEntries(held.map((p) => [p.product, p.quantity])) };
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

const arm = (admin: Client, userId: string, name: FaultName) =>
  runInDurableObject(admin.stub(userId), (_i: UserState, state) => armFault(state.storage.sql, name));
const disarm = (admin: Client, userId: string, name: FaultName) =>
  runInDurableObject(admin.stub(userId), (_i: UserState, state) => disarmFault(state.storage.sql, name));

/** What the user's object holds besides the state: outbox rows by queue, takes, timers, alarm. */
async function objectRows(admin: Client, userId: string) {
  return runInDurableObject(admin.stub(userId), async (_i: UserState, state) => {
    const sql = state.storage.sql;
    const outbox = sql.exec<{ queue: string; message: string }>(`SELECT queue, message FROM outbox ORDER BY id`).toArray();
    return {
      deliveries: outbox.filter((r) => r.queue === "deliveries").map((r) => JSON.parse(r.message)),
      index: outbox.filter((r) => r.queue === "index").map((r) => JSON.parse(r.message)),
      pending: sql.exec<{ id: string }>(`SELECT id FROM pending_reservations ORDER BY id`).toArray().map((r) => r.id),
      applied: sql.exec<{ id: string }>(`SELECT id FROM applied_reservations ORDER BY id`).toArray().map((r) => r.id),
      redemptions: sql.exec<{ id: string; status: string }>(`SELECT id, status FROM redemptions ORDER BY created_at, id`).toArray().map((r) => ({ ...r })),
      timers: sql.exec<{ name: string }>(`SELECT name FROM timers ORDER BY name`).toArray().map((r) => r.name),
      alarm: await state.storage.getAlarm(),
      directoryRevision: Number(sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'directoryRevision'`).toArray()[0]?.value ?? 0),
    };
  });
}

/** The user's money: balance = ledger sum, lifetime = sum of credits, each balanceAfter follows from the one before. */
async function userIssues(admin: Client, userId: string): Promise<string[]> {
  const issues: string[] = [];
  const { balance, lifetime } = await admin.holdings(userId);
  const ledger = (await admin.ledger(userId)).reverse();
  const sum = await admin.stub(userId).ledgerSum("points");
  if (sum !== balance) issues.push(`${userId}: balance ${balance} ≠ ledger sum ${sum}`);
  const credits = ledger.filter((e) => e.delta > 0).reduce((s, e) => s + e.delta, 0);
  if (credits !== lifetime) issues.push(`${userId}: lifetime ${lifetime} ≠ credits ${credits}`);
  let running = 0;
  for (const e of ledger) {
    running += e.delta;
    if (e.balanceAfter !== running) issues.push(`${userId}: ledger ${e.id} balanceAfter ${e.balanceAfter} ≠ ${running}`);
    if (e.balanceAfter < 0) issues.push(`${userId}: ledger ${e.id} below 0`);
  }
  return issues;
}

interface Stock {
  remaining: number | null;
  redeemed: number;
  codesAllocated: number;
  reservations: Record<string, number>;
}

/** D1's view of a product: the stock row, allocated codes and reservations by status. */
async function stockOf(admin: Client, product: string): Promise<Stock> {
  const row = await env.DB.prepare(`SELECT remaining, redeemed FROM product_stock WHERE space_id = ?1 AND product_id = ?2`)
    .bind(admin.space.id, product)
    .first<{ remaining: number | null; redeemed: number }>();
  const codes = await env.DB.prepare(`SELECT COUNT(*) AS n FROM product_codes WHERE space_id = ?1 AND product_id = ?2 AND reservation_id IS NOT NULL`)
    .bind(admin.space.id, product)
    .first<{ n: number }>();
  const { results } = await env.DB.prepare(`SELECT status, COUNT(*) AS n FROM reservations WHERE space_id = ?1 AND product_id = ?2 GROUP BY status ORDER BY status`)
    .bind(admin.space.id, product)
    .all<{ status: string; n: number }>();
  return { remaining: row?.remaining ?? null, redeemed: row?.redeemed ?? 0, codesAllocated: codes?.n ?? 0, reservations: Object.fromEntries(results.map((r) => [r.status, r.n])) };
}

/**
 * Stock and codes agree with the reservations holding them: remaining = configured − held
 * stocked units, redeemed = held units, allocated codes = codes of reservations not
 * released; never below zero.
 */
async function stockIssues(admin: Client, product: string, configured: number | null): Promise<string[]> {
  const issues: string[] = [];
  const row = await env.DB.prepare(`SELECT remaining, redeemed FROM product_stock WHERE space_id = ?1 AND product_id = ?2`)
    .bind(admin.space.id, product)
    .first<{ remaining: number | null; redeemed: number }>();
  const held = await env.DB.prepare(
    `SELECT COALESCE(SUM(quantity), 0) AS units, COALESCE(SUM(quantity * stock_taken), 0) AS stocked FROM reservations
     WHERE space_id = ?1 AND product_id = ?2 AND status IN ('reserved', 'confirmed')`,
  )
    .bind(admin.space.id, product)
    .first<{ units: number; stocked: number }>();
  const codes = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM product_codes WHERE space_id = ?1 AND product_id = ?2 AND reservation_id IS NOT NULL) AS allocated,
            (SELECT COALESCE(SUM(codes_allocated), 0) FROM reservations WHERE space_id = ?1 AND product_id = ?2 AND status != 'released') AS owed`,
  )
    .bind(admin.space.id, product)
    .first<{ allocated: number; owed: number }>();
  if (!row) return [`${product}: no stock row`];
  if (configured !== null && row.remaining !== configured - held!.stocked) issues.push(`${product}: remaining ${row.remaining} ≠ ${configured} − ${held!.stocked} held`);
  if (row.remaining !== null && row.remaining < 0) issues.push(`${product}: remaining ${row.remaining} < 0`);
  if (row.redeemed !== held!.units) issues.push(`${product}: redeemed ${row.redeemed} ≠ ${held!.units} held`);
  if (codes!.allocated !== codes!.owed) issues.push(`${product}: ${codes!.allocated} codes allocated ≠ ${codes!.owed} owed by reservations`);
  return issues;
}

/** A user's takes in D1 agree with the object: confirmed ⇔ applied; nothing `reserved` unless the object has it pending. */
async function takeIssues(admin: Client, userId: string): Promise<string[]> {
  const issues: string[] = [];
  const rows = await objectRows(admin, userId);
  const { results } = await env.DB.prepare(`SELECT id, status FROM reservations WHERE space_id = ?1 AND user_id = ?2`)
    .bind(admin.space.id, userId)
    .all<{ id: string; status: string }>();
  for (const r of results) {
    if (r.status === "reserved" && !rows.pending.includes(r.id)) issues.push(`${r.id}: reserved in D1 but not pending in the object (stuck)`);
    if (r.status === "confirmed" && !rows.applied.includes(r.id)) issues.push(`${r.id}: confirmed in D1 but never applied`);
    if (r.status === "released" && rows.applied.includes(r.id)) issues.push(`${r.id}: applied but released`);
  }
  return issues;
}

/** Polls `probe` until `done` or the deadline; the caller asserts on what it answers. */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  id: string;
  body: any;
}
let hostSerial = 0;
/** A webhook URL unique to one test; the worker's fetch to it is answered by `respond`. */
function receiver(respond: (seen: Seen, n: number, signal: AbortSignal | undefined) => Promise<Response> = async () => new Response("ok")) {
  const url = `https://hooks.example.com/faults-${Date.now().toString(36)}-${++hostSerial}/in`;
  const seen: Seen[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (request.url !== url) return real(input as RequestInfo, init);
    const s = { id: request.headers.get("webhook-id") ?? "", body: JSON.parse(await request.text()) };
    seen.push(s);
    return respond(s, seen.length, init?.signal ?? undefined);
  });
  return { url, seen };
}

/** webhook-id of an outbox message (SPEC §8.1: space, user, event, endpoint, type). */
const webhookIdOf = (admin: Client, userId: string, m: { eventId: string; webhook: string; type: string; seq?: number }) =>
  deliveryIdOf(admin.space.id, userId, { kind: "webhook", ...m });

const count = (ids: string[]) => ids.reduce<Record<string, number>>((c, id) => ({ ...c, [id]: (c[id] ?? 0) + 1 }), {});

const directoryRow = (admin: Client, userId: string) =>
  env.DB.prepare(`SELECT generation, revision FROM user_directory WHERE space_id = ?1 AND user_id = ?2`)
    .bind(admin.space.id, userId)
    .first<{ generation: number; revision: number }>();

const onEvent = (eventType: string, effects: unknown[]) => ({
  name: `On ${eventType}`,
  status: "active",
  repeat: { limit: null },
  steps: [{ id: "s", name: "S", trigger: { eventType }, effects }],
});
const reward = (price: number, stock: number | null) => ({ name: "Scarf", type: "reward", price: { metric: "points", amount: price }, stock, perUserLimit: null });

// ---------------------------------------------------------------------------------------

describe("(a) the user's storage fails mid-event (after the ledger rows, before the outbox rows)", () => {
  it("the event and an admin operation leave nothing (state, ledger, take, outbox, seen id); their retries apply once and deliver once", async () => {
    const admin = await fresh();
    const hook = receiver();
    await admin.define("products", "tee", { ...reward(10, 3), name: "Tee" });
    await admin.define("webhooks", "crm", { url: hook.url, events: ["loyalty.metric.changed", "loyalty.product.granted"] });
    await admin.define("campaigns", "earn", onEvent("buy", [{ type: "metric.add", metric: "points", amount: 50 }, { type: "product.grant", product: "tee" }]));
    const userId = uniqueUser("a");
    const buy = (n: number) => ({ id: `a-buy-${n}-${userId}`, userId, type: "buy", data: { n } });

    expect((await admin.event(buy(0))).status).toBe(201);
    // The first event's two webhooks are delivered (the real queue) before the fault.
    await until(async () => hook.seen.length, (n) => n >= 2);
    const before = { holdings: await admin.holdings(userId), ledger: await admin.ledger(userId), activity: await admin.activity(userId), stock: await stockOf(admin, "tee") };
    expect(before.holdings).toEqual({ balance: 50, lifetime: 50, products: { tee: 1 } });
    expect(before.stock).toMatchObject({ remaining: 2, redeemed: 1, reservations: { confirmed: 1 } });

    await arm(admin, userId, "do.transaction");
    const failed = await admin.event(buy(1));
    expectProblemReply(failed, 503, "unavailable");
    expect(failed.text).not.toContain("injected");
    injected("do.transaction");
    // An admin operation with an Idempotency-Key fails the same way; its key is not burnt.
    const refusedAdjust = await admin.adjust(userId, 7, { "Idempotency-Key": "adj-1" });
    expectProblemReply(refusedAdjust, 503, "unavailable");
    expect(refusedAdjust.headers.get("retry-after")).toBe("1");
    injected("do.transaction");

    // Nothing of either is stored: state, ledger, activity, the take (released), outbox, timers.
    expect(await admin.holdings(userId)).toEqual(before.holdings);
    expect(await admin.ledger(userId)).toEqual(before.ledger);
    expect(await admin.activity(userId)).toEqual(before.activity);
    expect(await stockOf(admin, "tee")).toEqual({ ...before.stock, reservations: { confirmed: 1, released: 1 } });
    const rows = await objectRows(admin, userId);
    expect(rows).toMatchObject({ deliveries: [], index: [], pending: [], timers: [], alarm: null });
    expectConsistent([...(await userIssues(admin, userId)), ...(await stockIssues(admin, "tee", 3)), ...(await takeIssues(admin, userId))]);

    await disarm(admin, userId, "do.transaction");
    // The same event id is new to the user (its seen id rolled back): applied, once.
    const retried = await admin.event(buy(1));
    expect(retried.status, retried.text).toBe(201);
    expect(retried.body.duplicate).toBe(false);
    expect(retried.body.outcome.effects.map((e: any) => [e.type, e.status])).toEqual([["metric.add", "applied"], ["product.grant", "applied"]]);
    const again = await admin.event(buy(1));
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    const adjusted = await admin.adjust(userId, 7, { "Idempotency-Key": "adj-1" });
    expect(adjusted.status, adjusted.text).toBe(201);
    expect(adjusted.headers.get("idempotent-replayed")).toBeNull();
    expect((await admin.adjust(userId, 7, { "Idempotency-Key": "adj-1" })).headers.get("idempotent-replayed")).toBe("true");

    expect(await admin.holdings(userId)).toEqual({ balance: 107, lifetime: 107, products: { tee: 2 } });
    expect((await admin.ledger(userId)).map((e) => e.delta)).toEqual([7, 50, 50]);
    // The released take was taken anew under the same reservation id, then confirmed.
    expect(await stockOf(admin, "tee")).toMatchObject({ remaining: 1, redeemed: 2, reservations: { confirmed: 2 } });

    // Webhooks: each webhook-id arrives once (the first event's two, the retry's two, the adjustment's one).
    const seen = await until(async () => hook.seen.length, (n) => n >= 5);
    await sleep(1500); // a straggler would arrive within the consumer's batch window
    expect(seen).toBe(5);
    expect(Object.values(count(hook.seen.map((s) => s.id)))).toEqual([1, 1, 1, 1, 1]);
    expect(hook.seen.filter((s) => s.body.eventId.startsWith(`a-buy-1-`)).map((s) => s.body.type).sort()).toEqual(["loyalty.metric.changed", "loyalty.product.granted"]);
    expect(hook.seen.filter((s) => s.body.eventId.startsWith("adm_")).map((s) => [s.body.type, s.body.data.delta])).toEqual([["loyalty.metric.changed", 7]]);
    expect(await objectRows(admin, userId)).toMatchObject({ deliveries: [], index: [], pending: [], timers: [] });
    expectConsistent([...(await userIssues(admin, userId)), ...(await stockIssues(admin, "tee", 3)), ...(await takeIssues(admin, userId))]);
    recovered("do.transaction", 2);
  });
});

describe("(b) a Queue send fails when the object flushes its outbox", () => {
  it("deliveries: the rows stay, the alarm re-sends them once the queue is back; each webhook-id is delivered once", async () => {
    const admin = await fresh();
    const hook = receiver();
    await admin.define("webhooks", "crm", { url: hook.url, events: ["loyalty.metric.changed"] });
    await admin.define("campaigns", "earn", onEvent("buy", [{ type: "metric.add", metric: "points", amount: 5 }]));
    const userId = uniqueUser("b");
    await arm(admin, userId, "queue.deliveries");

    for (const n of [1, 2]) {
      const a = await admin.event({ id: `b-buy-${n}-${userId}`, userId, type: "buy" });
      // The event committed: the send failure happens after the commit.
      expect(a.status, a.text).toBe(201);
    }
    injected("queue.deliveries", 2);
    expect((await admin.holdings(userId)).balance).toBe(10);
    let rows = await objectRows(admin, userId);
    expect(rows.deliveries.map((m) => [m.kind, m.type])).toEqual([["webhook", "loyalty.metric.changed"], ["webhook", "loyalty.metric.changed"]]);
    // The index queue is another queue: its row went out.
    expect(rows.index).toEqual([]);
    expect(rows.timers).toEqual(["outbox"]);
    expect(rows.alarm).not.toBeNull();
    const expected = await Promise.all(rows.deliveries.map((m) => webhookIdOf(admin, userId, m)));
    expect(new Set(expected).size).toBe(2);
    expectConsistent(await userIssues(admin, userId));

    // The alarm while the queue is still down keeps the rows and sets another alarm.
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    injected("queue.deliveries");
    rows = await objectRows(admin, userId);
    expect(rows.deliveries).toHaveLength(2);
    expect(rows.alarm).not.toBeNull();
    expect(hook.seen).toEqual([]);

    await disarm(admin, userId, "queue.deliveries");
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    rows = await objectRows(admin, userId);
    expect(rows).toMatchObject({ deliveries: [], index: [], timers: [], alarm: null });
    await until(async () => hook.seen.length, (n) => n >= 2);
    await sleep(1500);
    expect(count(hook.seen.map((s) => s.id))).toEqual(Object.fromEntries(expected.map((id) => [id, 1])));
    for (const id of expected) {
      const d = await until(() => admin.delivery("crm", id), (a) => a.body?.status === "delivered");
      expect(d.body).toMatchObject({ status: "delivered", attempts: [expect.objectContaining({ statusCode: 200 })] });
    }
    // Nothing is left: another alarm has nothing to run.
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(false);
    expectConsistent(await userIssues(admin, userId));
    recovered("queue.deliveries", 3);
  });

  it("index: the directory update waits in the outbox while deliveries flow; the alarm sends it; nothing is delivered twice", async () => {
    const admin = await fresh();
    const hook = receiver();
    await admin.define("webhooks", "crm", { url: hook.url, events: ["loyalty.metric.changed"] });
    await admin.define("campaigns", "earn", onEvent("buy", [{ type: "metric.add", metric: "points", amount: 5 }]));
    const userId = uniqueUser("b-index");
    await arm(admin, userId, "queue.index");

    const a = await admin.event({ id: `b-idx-1-${userId}`, userId, type: "buy" });
    expect(a.status, a.text).toBe(201);
    injected("queue.index");
    let rows = await objectRows(admin, userId);
    expect(rows.deliveries).toEqual([]);
    expect(rows.index).toHaveLength(1);
    expect(rows.index[0]).toMatchObject({ spaceId: admin.space.id, userId, generation: 0, revision: rows.directoryRevision });
    expect(rows.alarm).not.toBeNull();
    // The webhook went out regardless (one queue down does not hold up the other).
    await until(async () => hook.seen.length, (n) => n >= 1);
    expect(await directoryRow(admin, userId)).toBeNull();

    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    injected("queue.index");
    expect((await objectRows(admin, userId)).index).toHaveLength(1);

    await disarm(admin, userId, "queue.index");
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    rows = await objectRows(admin, userId);
    expect(rows).toMatchObject({ deliveries: [], index: [], timers: [], alarm: null });
    const row = await until(() => directoryRow(admin, userId), (r) => r !== null);
    expect(row).toEqual({ generation: 0, revision: rows.directoryRevision });
    await sleep(1500);
    expect(hook.seen).toHaveLength(1);
    expect(await admin.at("GET", `/users?q=${encodeURIComponent(userId)}`)).toMatchObject({ status: 200, body: { data: [expect.objectContaining({ userId })] } });
    expectConsistent(await userIssues(admin, userId));
    recovered("queue.index", 2);
  });
});

describe("(c) D1 fails during a redemption", () => {
  /** A reward with stock 1 and a code pool of 2, a user with 500 points. */
  async function setup(prefix: string) {
    const admin = await fresh();
    await admin.define("products", "scarf", reward(100, 1));
    expect((await admin.at("POST", "/products/scarf/codes", { codes: ["C1", "C2"] })).status).toBe(200);
    const userId = uniqueUser(prefix);
    expect((await admin.adjust(userId, 500)).status).toBe(201);
    return { admin, userId };
  }
  const all = async (admin: Client, userId: string) => [
    ...(await userIssues(admin, userId)),
    ...(await stockIssues(admin, "scarf", 1)),
    ...(await takeIssues(admin, userId)),
  ];
  const untouched = async (admin: Client, userId: string) => {
    expect(await admin.holdings(userId)).toEqual({ balance: 500, lifetime: 500, products: {} });
    expect(await admin.ledger(userId)).toHaveLength(1);
    expect((await objectRows(admin, userId)).redemptions).toEqual([]);
  };

  it("before the batch reached D1: 500, nothing taken, a pending trace; the retry with the same Idempotency-Key redeems once; the alarm settles", async () => {
    const { admin, userId } = await setup("c-before");
    const key = { "Idempotency-Key": "redeem-before" };
    await arm(admin, userId, "d1.reserve.before");
    expectProblemReply(await admin.redeem(userId, { product: "scarf" }, key), 503, "unavailable");
    injected("d1.reserve.before");

    await untouched(admin, userId);
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 1, redeemed: 0, codesAllocated: 0, reservations: {} });
    const rows = await objectRows(admin, userId);
    // The take was recorded as pending before D1 was asked: the alarm will look at it.
    expect(rows.pending).toHaveLength(1);
    expect(rows.timers).toEqual(["reservations"]);
    expect(rows.alarm).not.toBeNull();
    expectConsistent(await all(admin, userId));

    await disarm(admin, userId, "d1.reserve.before");
    const ok = await admin.redeem(userId, { product: "scarf" }, key);
    expect(ok.status, ok.text).toBe(201);
    expect(ok.headers.get("idempotent-replayed")).toBeNull();
    expect(ok.body).toMatchObject({ product: "scarf", quantity: 1, balance: 400, code: "C1" });
    await runDurableObjectAlarm(admin.stub(userId));
    expect(await objectRows(admin, userId)).toMatchObject({ pending: [], timers: [], alarm: null, redemptions: [{ id: ok.body.id, status: "completed" }] });
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 0, redeemed: 1, codesAllocated: 1, reservations: { confirmed: 1 } });
    const replay = await admin.redeem(userId, { product: "scarf" }, key);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(ok.body);
    expect(await admin.holdings(userId)).toEqual({ balance: 400, lifetime: 500, products: { scarf: 1 } });
    expectConsistent(await all(admin, userId));
    recovered("d1.reserve.before");
  });

  it("after D1 committed the take but the object saw an error: 500, the hold is pending; the retry with the same Idempotency-Key gets the last unit", async () => {
    const { admin, userId } = await setup("c-after");
    const key = { "Idempotency-Key": "redeem-after" };
    await arm(admin, userId, "d1.reserve.after");
    expectProblemReply(await admin.redeem(userId, { product: "scarf" }, key), 503, "unavailable");
    injected("d1.reserve.after");

    await untouched(admin, userId);
    // D1 holds the unit and a code for a take the object never applied — pending, so the
    // object knows about it (not stuck) and its alarm is set.
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 0, redeemed: 1, codesAllocated: 1, reservations: { reserved: 1 } });
    const rows = await objectRows(admin, userId);
    expect(rows.pending).toHaveLength(1);
    expect(rows.applied).toEqual([]);
    expect(rows.alarm).not.toBeNull();
    expectConsistent(await all(admin, userId));

    await disarm(admin, userId, "d1.reserve.after");
    // The client retries at once (before the alarm): the failed attempt's hold must not
    // make it out_of_stock — a refusal it would then replay for this key for 24 hours.
    const ok = await admin.redeem(userId, { product: "scarf" }, key);
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ product: "scarf", quantity: 1, balance: 400, code: "C1" });
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 0, redeemed: 1, codesAllocated: 1, reservations: { confirmed: 1, released: 1 } });
    await runDurableObjectAlarm(admin.stub(userId));
    expect(await objectRows(admin, userId)).toMatchObject({ pending: [], timers: [], alarm: null, redemptions: [{ id: ok.body.id, status: "completed" }] });
    const replay = await admin.redeem(userId, { product: "scarf" }, key);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(ok.body);
    expect(await admin.holdings(userId)).toEqual({ balance: 400, lifetime: 500, products: { scarf: 1 } });
    expectConsistent(await all(admin, userId));
    recovered("d1.reserve.after");
  });

  it("after D1 committed the take, with no retry: the alarm releases the hold (stock and code back) and a later redemption gets them", async () => {
    const { admin, userId } = await setup("c-alarm");
    await arm(admin, userId, "d1.reserve.after");
    expectProblemReply(await admin.redeem(userId, { product: "scarf" }), 503, "unavailable");
    injected("d1.reserve.after");
    expect(await stockOf(admin, "scarf")).toMatchObject({ remaining: 0, reservations: { reserved: 1 } });
    await disarm(admin, userId, "d1.reserve.after");

    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    expect(await objectRows(admin, userId)).toMatchObject({ pending: [], applied: [], timers: [], alarm: null });
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 1, redeemed: 0, codesAllocated: 0, reservations: { released: 1 } });
    await untouched(admin, userId);
    expectConsistent(await all(admin, userId));

    const other = uniqueUser("c-alarm-other");
    expect((await admin.adjust(other, 100)).status).toBe(201);
    const ok = await admin.redeem(other, { product: "scarf" });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.code).toBe("C1");
    expectConsistent([...(await all(admin, userId)), ...(await userIssues(admin, other)), ...(await takeIssues(admin, other))]);
    recovered("d1.reserve.after");
  });

  it("an event's grant after D1 committed the take: the retried event id gets the product, not a failed grant", async () => {
    const admin = await fresh();
    await admin.define("products", "tee", { ...reward(10, 1), name: "Tee" });
    await admin.define("campaigns", "gift", onEvent("visit", [{ type: "product.grant", product: "tee" }, { type: "metric.add", metric: "points", amount: 3 }]));
    const userId = uniqueUser("c-event");
    const visit = { id: `c-visit-${userId}`, userId, type: "visit" };
    await arm(admin, userId, "d1.reserve.after");
    expectProblemReply(await admin.event(visit), 503, "unavailable");
    injected("d1.reserve.after");
    expect(await stockOf(admin, "tee")).toMatchObject({ remaining: 0, reservations: { reserved: 1 } });
    expect(await admin.holdings(userId)).toEqual({ balance: 0, lifetime: 0, products: {} });

    await disarm(admin, userId, "d1.reserve.after");
    const retried = await admin.event(visit);
    expect(retried.status, retried.text).toBe(201);
    expect(retried.body.outcome.effects.map((e: any) => [e.type, e.status])).toEqual([["product.grant", "applied"], ["metric.add", "applied"]]);
    await runDurableObjectAlarm(admin.stub(userId));
    expect(await objectRows(admin, userId)).toMatchObject({ pending: [], timers: [], alarm: null });
    expect(await stockOf(admin, "tee")).toMatchObject({ remaining: 0, redeemed: 1, reservations: { confirmed: 1 } });
    expect(await admin.holdings(userId)).toEqual({ balance: 3, lifetime: 3, products: { tee: 1 } });
    expectConsistent([...(await userIssues(admin, userId)), ...(await stockIssues(admin, "tee", 1)), ...(await takeIssues(admin, userId))]);
    recovered("d1.reserve.after");
  });

  it("confirming fails after the commit: 201, the take stays reserved and pending; the alarm confirms it once D1 answers", async () => {
    const { admin, userId } = await setup("c-settle");
    await arm(admin, userId, "d1.settle");
    const ok = await admin.redeem(userId, { product: "scarf" });
    expect(ok.status, ok.text).toBe(201);
    injected("d1.settle");
    expect(await admin.holdings(userId)).toEqual({ balance: 400, lifetime: 500, products: { scarf: 1 } });
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 0, redeemed: 1, codesAllocated: 1, reservations: { reserved: 1 } });
    let rows = await objectRows(admin, userId);
    expect(rows.pending).toHaveLength(1);
    expect(rows.applied).toEqual(rows.pending);
    expect(rows.alarm).not.toBeNull();
    expectConsistent(await all(admin, userId));

    // The alarm while D1 is still failing keeps it pending and tries again later.
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    injected("d1.settle");
    rows = await objectRows(admin, userId);
    expect(rows.pending).toHaveLength(1);
    expect(rows.alarm).not.toBeNull();

    await disarm(admin, userId, "d1.settle");
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    expect(await objectRows(admin, userId)).toMatchObject({ pending: [], timers: [], alarm: null, redemptions: [{ id: ok.body.id, status: "completed" }] });
    expect(await stockOf(admin, "scarf")).toEqual({ remaining: 0, redeemed: 1, codesAllocated: 1, reservations: { confirmed: 1 } });
    expectConsistent(await all(admin, userId));
    recovered("d1.settle", 2);
  });
});

describe("(d) a webhook receiver that times out", () => {
  it("the attempt is logged as a timeout and retried per the schedule; the later success delivers once, with the same webhook-id", async () => {
    const admin = await fresh();
    // Attempts 1 and 2 never answer (the fetch only ends when the timeout aborts it); 3 is 200.
    const hook = receiver(async (_s, n, signal) => {
      if (n >= 3) return new Response("ok");
      return new Promise<Response>((_resolve, reject) => {
        if (!signal) return reject(new Error("no timeout signal on the delivery fetch"));
        signal.addEventListener("abort", () => reject(signal.reason));
      });
    });
    await admin.define("webhooks", "crm", { url: hook.url, events: ["loyalty.metric.changed"] });
    await admin.define("campaigns", "earn", onEvent("buy", [{ type: "metric.add", metric: "points", amount: 5 }]));
    const userId = uniqueUser("d");

    // The messages the user's object hands to the deliveries queue, kept from the real queue.
    const sent: Array<{ body: any }> = [];
    await runInDurableObject(admin.stub(userId), (instance: UserState) => {
      const holder = instance as unknown as { env: Env };
      const DELIVERIES = { sendBatch: async (messages: Iterable<{ body: unknown }>) => void sent.push(...[...messages].map((m) => ({ body: structuredClone(m.body) }))) };
      holder.env = { ...holder.env, DELIVERIES: DELIVERIES as unknown as Queue };
    });
    expect((await admin.event({ id: `d-buy-1-${userId}`, userId, type: "buy" })).status).toBe(201);
    expect(sent).toHaveLength(1);
    const message = sent[0]!.body;
    const id = await webhookIdOf(admin, message.body.userId, message.body.message);

    // The 15 s of SPEC §8.1, shortened for this call only (TEST_FAULT_INJECTION is "on").
    const shortTimeout = { ...(env as unknown as Env), TEST_DELIVERY_TIMEOUT_MS: "300" } as Env;
    const attempt = async (attempts: number) => {
      const started = Date.now();
      const result = await runQueue("loyalty-deliveries", [{ body: message, attempts }], shortTimeout);
      return { result, ms: Date.now() - started };
    };

    const first = await attempt(1);
    injected("webhook.timeout");
    expect(first.ms).toBeGreaterThanOrEqual(300);
    expect(first.ms).toBeLessThan(5_000);
    expect(first.result.explicitAcks).toEqual([]);
    expect(first.result.retryMessages).toHaveLength(1);
    const firstDelay = first.result.retryMessages[0]!.delaySeconds!;
    expect(firstDelay).toBeGreaterThanOrEqual(retryDelaySeconds(1, () => 0)!);
    expect(firstDelay).toBeLessThanOrEqual(retryDelaySeconds(1, () => 0.9999)!);
    let logged = await admin.delivery("crm", id);
    expect(logged.body).toMatchObject({ id, status: "pending", lastStatusCode: null, lastError: "no answer within 0.3 s" });
    expect(logged.body.attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: null, error: "no answer within 0.3 s" })]);
    expect(logged.body.attempts[0].latencyMs).toBeGreaterThanOrEqual(300);

    const second = await attempt(2);
    const secondDelay = second.result.retryMessages[0]?.delaySeconds;
    expect(secondDelay).toBeGreaterThanOrEqual(retryDelaySeconds(2, () => 0)!);
    expect(secondDelay).toBeLessThanOrEqual(retryDelaySeconds(2, () => 0.9999)!);
    injected("webhook.timeout");

    const third = await attempt(3);
    expect(third.result.retryMessages).toEqual([]);
    expect(third.result.explicitAcks).toHaveLength(1);
    logged = await admin.delivery("crm", id);
    expect(logged.body).toMatchObject({ id, status: "delivered", lastStatusCode: 200, lastError: null });
    expect(logged.body.attempts.map((a: any) => [a.attempt, a.statusCode, a.error])).toEqual([
      [1, null, "no answer within 0.3 s"],
      [2, null, "no answer within 0.3 s"],
      [3, 200, null],
    ]);
    // The receiver saw one webhook-id three times (at least once), answered it once.
    expect(hook.seen.map((s) => s.id)).toEqual([id, id, id]);
    expect(new Set(hook.seen.map((s) => JSON.stringify(s.body))).size).toBe(1);
    const list = await admin.at("GET", "/webhooks/crm/deliveries");
    expect(list.body.data.map((d: any) => [d.id, d.status])).toEqual([[id, "delivered"]]);
    expectConsistent(await userIssues(admin, userId));
    recovered("webhook.timeout", 2);
  });
});

describe("(e) the user's object fails to start", () => {
  it("every route that reaches the object answers 503 unavailable with Retry-After, nothing stored; the retry applies once", async () => {
    const admin = await fresh();
    await admin.define("campaigns", "earn", onEvent("buy", [{ type: "metric.add", metric: "points", amount: 5 }]));
    const userId = uniqueUser("e");
    expect((await admin.event({ id: `e-buy-1-${userId}`, userId, type: "buy" })).status).toBe(201);
    const before = { holdings: await admin.holdings(userId), ledger: await admin.ledger(userId) };

    // Armed, then the object is restarted: its next start throws once (as a storage that
    // cannot be opened does), which resets it. The Worker sees the stub's call fail.
    for (const [i, call] of [
      () => admin.event({ id: `e-buy-2-${userId}`, userId, type: "buy" }),
      () => admin.adjust(userId, 7, { "Idempotency-Key": `e-adj-${userId}` }),
      () => admin.user(userId),
    ].entries()) {
      await arm(admin, userId, "do.start");
      await restart(admin, userId);
      const failed = await call();
      expectProblemReply(failed, 503, "unavailable");
      expect(failed.headers.get("retry-after"), `call ${i}`).toBe("1");
      expect(failed.text).not.toContain("injected");
      injected("do.start");
      await disarm(admin, userId, "do.start");
    }
    expect(await admin.holdings(userId)).toEqual(before.holdings);
    expect(await admin.ledger(userId)).toEqual(before.ledger);

    // The retries reach the object: each applied once.
    expect((await admin.event({ id: `e-buy-2-${userId}`, userId, type: "buy" })).status).toBe(201);
    expect((await admin.event({ id: `e-buy-2-${userId}`, userId, type: "buy" })).status).toBe(200);
    expect((await admin.adjust(userId, 7, { "Idempotency-Key": `e-adj-${userId}` })).status).toBe(201);
    expect(await admin.holdings(userId)).toMatchObject({ balance: 17, lifetime: 17 });
    expectConsistent(await userIssues(admin, userId));
    recovered("do.start", 3);
  });
});

/** Ends the object's current run (as an eviction or a deploy does): its next call starts it anew. */
async function restart(admin: Client, userId: string): Promise<void> {
  await runInDurableObject(admin.stub(userId), (_i: UserState, state) => state.abort("restart")).catch(() => undefined);
}

describe("the switches themselves", () => {
  it("fire only for the user armed, only with TEST_FAULT_INJECTION on; the receiver timeout is 15 s without it", async () => {
    const admin = await fresh();
    await admin.define("campaigns", "earn", onEvent("buy", [{ type: "metric.add", metric: "points", amount: 1 }]));
    const [armed, other] = [uniqueUser("sw"), uniqueUser("sw")];
    await arm(admin, armed, "do.transaction");
    expectProblemReply(await admin.event({ id: `sw-1-${armed}`, userId: armed, type: "buy" }), 503, "unavailable");
    expect((await admin.event({ id: `sw-1-${other}`, userId: other, type: "buy" })).status).toBe(201);

    // The object runs in this test's isolate (pool 0.15.1): the instance is of the class
    // imported here. The switches do not rely on it (they live in the object's storage).
    expect(await runInDurableObject(admin.stub(armed), (instance: UserState) => instance instanceof UserState)).toBe(true);

    // The same armed row under a deployment's env (no TEST_FAULT_INJECTION) does nothing.
    await runInDurableObject(admin.stub(armed), (instance: UserState) => {
      const holder = instance as unknown as { env: Env };
      holder.env = { ...holder.env, TEST_FAULT_INJECTION: undefined };
    });
    const ok = await admin.event({ id: `sw-1-${armed}`, userId: armed, type: "buy" });
    expect(ok.status, ok.text).toBe(201);
    expect(await admin.holdings(armed)).toMatchObject({ balance: 1 });

    const deployed = { ...(env as unknown as Env), TEST_FAULT_INJECTION: undefined, TEST_DELIVERY_TIMEOUT_MS: "300" } as Env;
    expect(configOf(deployed).deliveryTimeoutMs).toBe(15_000);
    expect(configOf({ ...deployed, TEST_DELIVERY_TIMEOUT_MS: undefined } as Env).deliveryTimeoutMs).toBe(15_000);
    expect(configOf({ ...deployed, TEST_FAULT_INJECTION: "on" } as Env).deliveryTimeoutMs).toBe(300);
  });
});
