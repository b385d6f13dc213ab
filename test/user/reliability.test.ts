import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { browserSubscription } from "../helpers/push";
import { FAULT_EVENT_TYPE, type UserState } from "../../src/user/user-state";
import { errorPaths, expectProblemReply, freshAdmin, sumDeltas, uniqueUser, type Admin } from "../helpers/users-api";

// Reliability of event ingestion against the real runtime (issue 4, SPEC §5.1, §5.2,
// §5.7): requests go through SELF.fetch to the Worker, the user's real Durable Object,
// D1 and the deliveries queue. Every test builds its own space and users.

// SELF.fetch slows down with every request a file sends (cloudflare/workers-sdk#15446).
vi.setConfig({ testTimeout: 30_000 });

const points = { name: "Points", kind: "currency" };

/** A campaign awarding `amount` points for every `eventType` event (no repeat limit). */
function perEvent(eventType: string, amount: number, extra: Record<string, unknown> = {}) {
  return {
    name: `Per ${eventType}`,
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "s", name: "Each", trigger: { eventType }, effects: [{ type: "metric.add", metric: "points", amount }] }],
    ...extra,
  };
}

async function spaceWithPerEvent(eventType = "read", amount = 1): Promise<Admin> {
  const admin = await freshAdmin();
  await admin.define("metrics", "points", points);
  await admin.define("campaigns", "per-event", perEvent(eventType, amount));
  return admin;
}

/** What the user's object holds, read over RPC and through the Admin API. */
async function snapshot(admin: Admin, userId: string) {
  const stub = admin.stub(userId);
  const doc = await admin.user(userId);
  return {
    userStatus: doc.status,
    user: doc.body,
    ledger: await admin.ledger(userId, "points"),
    ledgerSum: await stub.ledgerSum("points"),
    activity: await admin.activity(userId),
    outbox: await stub.outboxSize(),
  };
}

describe("exactly once under concurrency", () => {
  it("200 concurrent requests carrying 50 ids (4 times each) apply each event exactly once", { timeout: 60_000 }, async () => {
    const amount = 7;
    const admin = await spaceWithPerEvent("read", amount);
    const userId = uniqueUser();
    const ids = Array.from({ length: 50 }, (_, i) => `evt-${i}`);
    // Interleaved: copies of one id are far apart and near copies of others.
    const bodies = [0, 1, 2, 3].flatMap(() => ids.map((id, i) => ({ id, userId, type: "read", data: { n: i } })));
    const answers = await Promise.all(bodies.map((body) => admin.event(body)));

    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(50);
    expect(statuses.filter((s) => s === 200)).toHaveLength(150);
    // Exactly one 201 per id, and every 200 is a duplicate of that id carrying its outcome.
    const created = new Map<string, any>();
    for (const a of answers.filter((x) => x.status === 201)) {
      expect(a.body.duplicate).toBe(false);
      expect(created.has(a.body.eventId), `two 201s for ${a.body.eventId}`).toBe(false);
      created.set(a.body.eventId, a.body.outcome);
    }
    expect([...created.keys()].sort()).toEqual([...ids].sort());
    for (const a of answers.filter((x) => x.status === 200)) {
      expect(a.body).toMatchObject({ duplicate: true, userId });
      expect(a.body.outcome, `duplicate of ${a.body.eventId}`).toEqual(created.get(a.body.eventId));
    }
    // Each original outcome applied its effect once.
    for (const outcome of created.values()) {
      expect(outcome.effects).toEqual([expect.objectContaining({ campaign: "per-event", type: "metric.add", amount, status: "applied" })]);
    }
    const balances = [...created.values()].map((o) => o.effects[0].balance).sort((a, b) => a - b);
    expect(balances).toEqual(ids.map((_, i) => (i + 1) * amount));

    expect(await admin.balance(userId, "points")).toBe(50 * amount);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(50 * amount);
    const ledger = await admin.ledger(userId, "points", 20);
    expect(ledger).toHaveLength(50);
    expect(ledger.every((e) => e.reason === "effect" && e.delta === amount && e.source.campaign === "per-event")).toBe(true);
    expect(new Set(ledger.map((e) => e.source.eventId))).toEqual(new Set(ids));
    // Newest first, seq strictly decreasing, balanceAfter consistent with the deltas.
    for (let i = 1; i < ledger.length; i++) expect(ledger[i].seq).toBeLessThan(ledger[i - 1].seq);
    expect(ledger[0].balanceAfter).toBe(50 * amount);
    expect(sumDeltas(ledger)).toBe(50 * amount);
    const activity = await admin.activity(userId, 30);
    expect(activity.map((e) => e.eventId).sort()).toEqual([...ids].sort());
  });

  it("100 concurrent distinct events (+1 each) never lose an update", { timeout: 60_000 }, async () => {
    const admin = await spaceWithPerEvent("tick", 1);
    const userId = uniqueUser();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => admin.event({ id: `tick-${i}`, userId, type: "tick" })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(100).fill(201));
    expect(await admin.balance(userId, "points")).toBe(100);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(100);
    // Every intermediate balance was seen exactly once: no two events read the same state.
    const ledger = await admin.ledger(userId, "points");
    expect(ledger.map((e) => e.balanceAfter).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const seen = answers.map((a) => a.body.outcome.effects[0].balance).sort((a: number, b: number) => a - b);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("concurrent events and admin adjustments for one user serialise too", { timeout: 60_000 }, async () => {
    const admin = await spaceWithPerEvent("tick", 1);
    const userId = uniqueUser();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 2 === 0
          ? admin.event({ id: `tick-${i}`, userId, type: "tick" })
          : admin.adjust(userId, "points", { amount: 2, reason: `bonus ${i}` }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(60).fill(201));
    expect(await admin.balance(userId, "points")).toBe(30 * 1 + 30 * 2);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(90);
    const ledger = await admin.ledger(userId, "points");
    expect(ledger).toHaveLength(60);
    // Each entry's balanceAfter follows from the one before it (oldest first).
    const oldestFirst = [...ledger].reverse();
    oldestFirst.reduce((before, e) => {
      expect(e.balanceAfter).toBe(before + e.delta);
      return e.balanceAfter;
    }, 0);
  });
});

describe("an exception inside evaluation leaves no partial state", () => {
  async function faultySpace(): Promise<Admin> {
    const admin = await spaceWithPerEvent("read", 1);
    // Would change state: a step on the fault event adding points (and a badge).
    await admin.define("products", "badge", { type: "badge", name: "Badge" });
    await admin.define("campaigns", "on-fault", {
      name: "On fault",
      status: "active",
      repeat: { limit: null },
      steps: [
        {
          id: "s",
          name: "Fault",
          trigger: { eventType: FAULT_EVENT_TYPE },
          effects: [
            { type: "metric.add", metric: "points", amount: 100 },
            { type: "product.grant", product: "badge" },
          ],
        },
      ],
    });
    return admin;
  }

  it("answers 503 unavailable (Retry-After), stores nothing, keeps the id unused; the next event works", async () => {
    const admin = await faultySpace();
    const userId = uniqueUser();
    await admin.apply({ id: "ok-1", userId, type: "read" });
    const before = await snapshot(admin, userId);
    expect(before.ledgerSum).toBe(1);

    const fault = await admin.event({ id: "boom-1", userId, type: FAULT_EVENT_TYPE, data: { x: 1 } });
    const problem = expectProblemReply(fault, 503, "unavailable");
    expect(fault.headers.get("retry-after")).toBe("1");
    expect(fault.text).not.toMatch(/injected|transaction|stack/i);
    expect(problem.requestId).toBe(fault.headers.get("x-request-id"));

    const after = await snapshot(admin, userId);
    expect(after).toEqual(before);
    expect(after.user.rewards).toEqual([]);

    // The id was not recorded: another body with the same id applies (no 409), once.
    const reuse = await admin.event({ id: "boom-1", userId, type: "read", data: { y: 2 } });
    expect(reuse.status, reuse.text).toBe(201);
    expect(reuse.body.outcome.effects).toEqual([expect.objectContaining({ type: "metric.add", amount: 1, balance: 2, status: "applied" })]);
    const again = await admin.event({ id: "boom-1", userId, type: "read", data: { y: 2 } });
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);

    // The next ordinary event still works, on the state as committed.
    const next = await admin.apply({ id: "ok-2", userId, type: "read" });
    expect(next.effects[0]).toMatchObject({ amount: 1, balance: 3 });
    expect(await admin.balance(userId, "points")).toBe(3);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(3);
    const activity = await admin.activity(userId);
    expect(activity.map((e) => e.eventId)).toEqual(["ok-2", "boom-1", "ok-1"]);
    expect(activity.find((e) => e.eventId === "boom-1").type).toBe("read");
  });

  it("the same fault sent again fails again (nothing was remembered), then a retry of the same id with a good body applies", async () => {
    const admin = await faultySpace();
    const userId = uniqueUser();
    for (let i = 0; i < 3; i++) {
      expectProblemReply(await admin.event({ id: "boom", userId, type: FAULT_EVENT_TYPE }), 503, "unavailable");
    }
    // The fault was the user's first event: the user was not even created.
    expect((await admin.user(userId)).status).toBe(404);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(0);
    expect(await admin.activity(userId)).toEqual([]);
    await admin.apply({ id: "boom", userId, type: "read" });
    expect(await admin.balance(userId, "points")).toBe(1);
  });

  it("a fault among concurrent events fails alone; the others all apply", { timeout: 60_000 }, async () => {
    const admin = await faultySpace();
    const userId = uniqueUser();
    const answers = await Promise.all(
      Array.from({ length: 21 }, (_, i) =>
        admin.event(i === 10 ? { id: "boom", userId, type: FAULT_EVENT_TYPE } : { id: `r-${i}`, userId, type: "read" }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 21 }, (_, i) => (i === 10 ? 503 : 201)));
    expect(await admin.balance(userId, "points")).toBe(20);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(20);
    expect((await admin.ledger(userId, "points")).length).toBe(20);
  });
});

describe("outbox", () => {
  type Sent = Array<{ body: any }>;

  /** A space with a webhook endpoint and a campaign that sends a webhook and a push. */
  async function outboxSpace(): Promise<Admin> {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    await admin.define("webhooks", "hook", { url: "https://hooks.example.com/x", events: ["loyalty.campaign.completed"] });
    await admin.define("campaigns", "notify", {
      name: "Notify",
      status: "active",
      repeat: { limit: null },
      steps: [
        {
          id: "s",
          name: "Order",
          trigger: { eventType: "order" },
          effects: [
            { type: "metric.add", metric: "points", amount: 5 },
            { type: "webhook.send", webhook: "hook", payload: { user: "{{user.id}}", amount: "{{event.data.amount}}" } },
          ],
        },
      ],
      effects: [{ type: "push.send", title: "Thanks", body: "You earned {{completion.metric.points}} points" }],
    });
    return admin;
  }

  /**
   * Replaces the deliveries binding inside the user's object (its own env, which a spy
   * on the test's env would not reach): `fail` makes every send reject, otherwise sends
   * are recorded and succeed. Returns the recorded sends.
   */
  async function setDeliveries(admin: Admin, userId: string, mode: "fail" | "record" | "restore", sent: Sent = []): Promise<Sent> {
    await runInDurableObject(admin.stub(userId), (instance: UserState) => {
      const holder = instance as unknown as { env: Cloudflare.Env; realEnv?: Cloudflare.Env };
      holder.realEnv ??= holder.env;
      if (mode === "restore") {
        holder.env = holder.realEnv;
        return;
      }
      const DELIVERIES = {
        send: async () => {
          throw new Error("send is not used by the outbox");
        },
        sendBatch: async (messages: Iterable<{ body: unknown }>) => {
          if (mode === "fail") throw new Error("queue down");
          for (const m of messages) sent.push({ body: structuredClone(m.body) });
        },
      };
      holder.env = { ...holder.realEnv, DELIVERIES: DELIVERIES as unknown as Queue };
    });
    return sent;
  }

  /** One Web Push subscription for the user: a push is handed over once per subscription. */
  async function subscribe(admin: Admin, userId: string): Promise<void> {
    const subscription = await browserSubscription(`https://fcm.googleapis.com/fcm/send/${userId}`);
    const res = await admin.at("PUT", `/users/${userId}/push-subscriptions`, subscription);
    expect(res.status, res.text).toBe(201);
  }

  const alarmOf = (admin: Admin, userId: string) =>
    runInDurableObject(admin.stub(userId), (_instance: UserState, state) => state.storage.getAlarm());

  it("with the real queue, the outbox is handed over after commit and left empty", async () => {
    const admin = await outboxSpace();
    const userId = uniqueUser();
    const outcome = await admin.apply({ id: "o-1", userId, type: "order", data: { amount: 12 } });
    expect(outcome.effects.map((e: any) => [e.type, e.status])).toEqual([
      ["metric.add", "applied"],
      ["webhook.send", "applied"],
      ["push.send", "applied"],
    ]);
    expect(await admin.stub(userId).outboxSize()).toBe(0);
  });

  it("rows survive a failed queue send, an alarm is set, and the alarm re-sends them", async () => {
    const admin = await outboxSpace();
    const userId = uniqueUser();
    await subscribe(admin, userId);
    await setDeliveries(admin, userId, "fail");

    const answer = await admin.event({ id: "o-1", userId, type: "order", data: { amount: 12 } });
    expect(answer.status, answer.text).toBe(201);
    // The event itself committed: the send failure happens after commit.
    expect(await admin.balance(userId, "points")).toBe(5);
    // webhook.send + push.send + the endpoint's subscription to loyalty.campaign.completed.
    const stub = admin.stub(userId);
    expect(await stub.outboxSize()).toBe(3);
    const alarm = await alarmOf(admin, userId);
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeGreaterThan(Date.now() - 1000);

    // A dry run adds nothing to the outbox.
    expect((await admin.event({ id: "o-dry", userId, type: "order", data: { amount: 1 } }, "?dryRun=true")).status).toBe(201);
    expect(await stub.outboxSize()).toBe(3);

    // The alarm while the queue is still down keeps the rows and sets another alarm.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.outboxSize()).toBe(3);
    expect(await alarmOf(admin, userId)).not.toBeNull();

    // The queue is back: the alarm sends every row once and empties the outbox.
    const sent = await setDeliveries(admin, userId, "record");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.outboxSize()).toBe(0);
    expect(await alarmOf(admin, userId)).toBeNull();
    expect(sent).toHaveLength(3);
    for (const { body } of sent) {
      expect(body).toMatchObject({ v: 1, type: "delivery", key: expect.any(String) });
      // The consumer needs to know the space of what it delivers.
      expect(body.body.spaceId, JSON.stringify(body)).toBe(admin.space.id);
    }
    expect(new Set(sent.map((s) => s.body.key)).size).toBe(3);
    const messages = sent.map((s) => s.body.body.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "webhook", webhook: "hook", type: "webhook.send", data: { user: userId, amount: 12 } }),
        expect.objectContaining({ kind: "push", title: "Thanks", body: "You earned 5 points" }),
        expect.objectContaining({ kind: "webhook", webhook: "hook", type: "loyalty.campaign.completed" }),
      ]),
    );
    // Nothing is left to send: another alarm sends nothing.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    expect(sent).toHaveLength(3);
    await setDeliveries(admin, userId, "restore");
  });

  it("rows left by a failed send go out with the next event once the queue is back", async () => {
    const admin = await outboxSpace();
    const userId = uniqueUser();
    await subscribe(admin, userId);
    await setDeliveries(admin, userId, "fail");
    await admin.apply({ id: "o-1", userId, type: "order", data: { amount: 1 } });
    expect(await admin.stub(userId).outboxSize()).toBe(3);
    const sent = await setDeliveries(admin, userId, "record");
    await admin.apply({ id: "o-2", userId, type: "order", data: { amount: 2 } });
    expect(await admin.stub(userId).outboxSize()).toBe(0);
    expect(sent).toHaveLength(6);
    expect(sent.every((s) => s.body.body.spaceId === admin.space.id)).toBe(true);
    await setDeliveries(admin, userId, "restore");
  });

  it("rows too large for one queue batch (256 KB) are still handed over, with the real queue", async () => {
    const admin = await freshAdmin();
    await admin.define("webhooks", "hook", { url: "https://hooks.example.com/x", events: ["loyalty.reward.redeemed"] });
    // 20 webhook.send effects, each carrying the event's ~15 KiB blob: ~300 KB in all.
    const effects = Array.from({ length: 20 }, () => ({ type: "webhook.send", webhook: "hook", payload: { blob: "{{event.data.blob}}" } }));
    await admin.define("campaigns", "fanout", { name: "Fan-out", status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "s", trigger: { eventType: "big" }, effects }] });
    const userId = uniqueUser();
    const outcome = await admin.apply({ id: "big-1", userId, type: "big", data: { blob: "x".repeat(15 * 1024) } });
    expect(outcome.effects.filter((e: any) => e.status === "applied")).toHaveLength(20);
    const stub = admin.stub(userId);
    expect(await stub.outboxSize()).toBe(0);
    expect(await alarmOf(admin, userId)).toBeNull();
  });

  it("a message too large to deliver is refused in the outcome and never blocks the outbox", async () => {
    const admin = await freshAdmin();
    await admin.define("webhooks", "hook", { url: "https://hooks.example.com/x", events: ["loyalty.reward.redeemed"] });
    // Ten copies of a 15 KiB field: a ~150 KB payload (SPEC §8.1: a body is ≤ 64 KiB).
    const payload = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, "{{event.data.blob}}"]));
    const sendOn = (eventType: string, body: unknown) => ({
      name: eventType,
      status: "active",
      repeat: { limit: null },
      steps: [{ id: "s", name: "s", trigger: { eventType }, effects: [{ type: "webhook.send", webhook: "hook", payload: body }] }],
    });
    await admin.define("campaigns", "huge", sendOn("huge", payload));
    await admin.define("campaigns", "small", sendOn("small", { a: 1 }));
    const userId = uniqueUser();
    const huge = await admin.apply({ id: "h-1", userId, type: "huge", data: { blob: "x".repeat(15 * 1024) } });
    expect(huge.effects).toEqual([expect.objectContaining({ type: "webhook.send", status: "failed", reason: "payload_too_large" })]);
    const stub = admin.stub(userId);
    expect(await stub.outboxSize()).toBe(0);
    const sent = await setDeliveries(admin, userId, "record");
    await admin.apply({ id: "s-1", userId, type: "small" });
    expect(await stub.outboxSize()).toBe(0);
    expect(sent.map((m) => m.body.body.message.data)).toEqual([{ a: 1 }]);
    await setDeliveries(admin, userId, "restore");
  });

  it("a silent event sends nothing and leaves nothing in the outbox", async () => {
    const admin = await outboxSpace();
    const userId = uniqueUser();
    const sent = await setDeliveries(admin, userId, "record");
    const outcome = await admin.apply({ id: "s-1", userId, type: "order", data: { amount: 3 }, silent: true });
    expect(outcome.effects.find((e: any) => e.type === "webhook.send")).toMatchObject({ status: "skipped", reason: "silent" });
    expect(await admin.stub(userId).outboxSize()).toBe(0);
    expect(sent).toEqual([]);
    expect(await admin.balance(userId, "points")).toBe(5);
    await setDeliveries(admin, userId, "restore");
  });
});

describe("cascades that would loop", () => {
  it("ping → pong → ping: 201, no 500, each step counts once per root event, and the cut is marked", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    const emitter = (on: string, emits: string) => ({
      name: `On ${on}`,
      status: "active",
      repeat: { limit: null },
      steps: [
        {
          id: "s",
          name: on,
          trigger: { eventType: on },
          effects: [
            { type: "metric.add", metric: "points", amount: 1 },
            { type: "event.emit", eventType: emits, data: { from: on } },
          ],
        },
      ],
    });
    await admin.define("campaigns", "a-ping", emitter("ping", "pong"));
    await admin.define("campaigns", "b-pong", emitter("pong", "ping"));
    const userId = uniqueUser();
    const a = await admin.event({ id: "loop-1", userId, type: "ping" });
    expect(a.status, a.text).toBe(201);
    const outcome = a.body.outcome;
    // Each campaign counted once: the loop is stopped by the once-per-root-event guard.
    expect(outcome.campaignsCompleted).toEqual([
      { campaign: "a-ping", completions: 1 },
      { campaign: "b-pong", completions: 1 },
    ]);
    const emitted = outcome.derivedEvents.filter((d: any) => d.type === "ping" || d.type === "pong");
    expect(emitted).toEqual([
      { id: expect.stringMatching(/^loop-1#\d+$/), type: "pong", depth: 1 },
      { id: expect.stringMatching(/^loop-1#\d+$/), type: "ping", depth: 2 },
    ]);
    expect(await admin.balance(userId, "points")).toBe(2);
    // SPEC §5.2 step 4: the once-per-root guard is one of the guards; hitting it (the
    // second ping would have counted again) sets cascadeLimited with a cascade_limit change.
    expect(outcome.cascadeLimited).toBe(true);
    expect(outcome.changes).toEqual(expect.arrayContaining([expect.objectContaining({ type: "cascade_limit" })]));
  });

  it("a loop through distinct steps stops at depth 8 with cascade_limit, no 500", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", points);
    // Ten sequential steps on `ping`, each emitting `ping`: every ping advances the next
    // step, so only the depth limit stops the chain.
    const steps = Array.from({ length: 10 }, (_, i) => ({
      id: `s${i + 1}`,
      name: `Step ${i + 1}`,
      trigger: { eventType: "ping" },
      effects: [
        { type: "metric.add", metric: "points", amount: 1 },
        { type: "event.emit", eventType: "ping", data: { step: i + 1 } },
      ],
    }));
    await admin.define("campaigns", "chain", { name: "Chain", status: "active", order: "sequential", steps });
    const userId = uniqueUser();
    const a = await admin.event({ id: "deep", userId, type: "ping" });
    expect(a.status, a.text).toBe(201);
    const outcome = a.body.outcome;
    expect(outcome.cascadeLimited).toBe(true);
    expect(outcome.changes).toContainEqual({ type: "cascade_limit", reason: "depth" });
    // Root (depth 0) and derived pings at depths 1..8 are evaluated: steps 1..9 counted.
    expect(outcome.steps.map((s: any) => s.step)).toEqual(["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]);
    const pings = outcome.derivedEvents.filter((d: any) => d.type === "ping");
    expect(pings.map((d: any) => d.depth)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The depth-9 event is recorded but not evaluated: step 10 did not progress.
    expect(outcome.campaignsCompleted).toEqual([]);
    expect(await admin.balance(userId, "points")).toBe(9);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(9);
    // The stored outcome (replay) says the same.
    const replay = await admin.event({ id: "deep", userId, type: "ping" });
    expect(replay.status).toBe(200);
    expect(replay.body.outcome).toEqual(outcome);
  });
});

describe("dryRun", () => {
  it("answers the outcome but stores nothing; the same id later applies for real", async () => {
    const admin = await spaceWithPerEvent("read", 10);
    const userId = uniqueUser();
    await admin.apply({ id: "first", userId, type: "read" });
    const before = await snapshot(admin, userId);

    const dry = await admin.event({ id: "d-1", userId, type: "read" }, "?dryRun=true");
    expect(dry.status, dry.text).toBe(201);
    expect(dry.body).toMatchObject({ eventId: "d-1", duplicate: false });
    expect(dry.body.outcome.effects).toEqual([expect.objectContaining({ type: "metric.add", amount: 10, balance: 20, status: "applied" })]);
    expect(await snapshot(admin, userId)).toEqual(before);

    // Not recorded: another body under the same id is no conflict, and it applies for real.
    const real = await admin.event({ id: "d-1", userId, type: "read", data: { k: 1 } });
    expect(real.status, real.text).toBe(201);
    expect(real.body.outcome.effects[0]).toMatchObject({ amount: 10, balance: 20 });
    expect(await admin.balance(userId, "points")).toBe(20);

    // On an id already seen a dry run answers the stored outcome as a duplicate.
    const seen = await admin.event({ id: "d-1", userId, type: "read", data: { k: 1 } }, "?dryRun=true");
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ duplicate: true, outcome: real.body.outcome });
    expect(await admin.balance(userId, "points")).toBe(20);
  });

  it("a dry run for a user never seen does not create the user", async () => {
    const admin = await spaceWithPerEvent("read", 10);
    const userId = uniqueUser();
    const dry = await admin.event({ id: "d-1", userId, type: "read" }, "?dryRun=true");
    expect(dry.status, dry.text).toBe(201);
    expect(dry.body.outcome.derivedEvents.map((d: any) => d.type)).toContain("loyalty.user.created");
    expect((await admin.user(userId)).status).toBe(404);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(0);
    expect(await admin.activity(userId)).toEqual([]);
  });
});

describe("event validation", () => {
  async function setup() {
    const admin = await spaceWithPerEvent("read", 1);
    return { admin, userId: uniqueUser() };
  }

  function nested(levels: number): Record<string, unknown> {
    // `levels` objects deep counting `data` itself.
    let value: Record<string, unknown> = { leaf: 1 };
    for (let i = 1; i < levels; i++) value = { n: value };
    return value;
  }

  it("an id is required: 400 at `id`", async () => {
    const { admin, userId } = await setup();
    const a = await admin.event({ userId, type: "read" });
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["id"]);
    expect((await admin.user(userId)).status).toBe(404);
  });

  it("the Idempotency-Key header carries the id; id and a different header is 400", async () => {
    const { admin, userId } = await setup();
    const a = await admin.event({ userId, type: "read" }, "", { "Idempotency-Key": "from-header" });
    expect(a.status, a.text).toBe(201);
    expect(a.body.eventId).toBe("from-header");
    // The same id in the body (same body otherwise) is the same event.
    const again = await admin.event({ id: "from-header", userId, type: "read" });
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    const same = await admin.event({ id: "from-header", userId, type: "read" }, "", { "Idempotency-Key": "from-header" });
    expect(same.status).toBe(200);
    const differ = await admin.event({ id: "body-id", userId, type: "read" }, "", { "Idempotency-Key": "header-id" });
    expectProblemReply(differ, 400, "invalid_request");
    expect(errorPaths(differ)).toEqual(["id"]);
    expect(await admin.balance(userId, "points")).toBe(1);
  });

  it("reserved loyalty.* types are refused: 400 at `type`", async () => {
    const { admin, userId } = await setup();
    for (const type of ["loyalty.x", "loyalty.metric.changed"]) {
      const a = await admin.event({ id: `t-${type}`, userId, type });
      expectProblemReply(a, 400, "invalid_request");
      expect(errorPaths(a)).toEqual(["type"]);
    }
    const bad = await admin.event({ id: "t-bad", userId, type: "has space" });
    expect(errorPaths(bad)).toEqual(["type"]);
  });

  it("occurredAt more than 5 minutes in the future is 400 at `occurredAt`; the past is fine", async () => {
    const { admin, userId } = await setup();
    const future = await admin.event({ id: "f-1", userId, type: "read", occurredAt: new Date(Date.now() + 10 * 60_000).toISOString() });
    expectProblemReply(future, 400, "invalid_request");
    expect(errorPaths(future)).toEqual(["occurredAt"]);
    const garbage = await admin.event({ id: "f-2", userId, type: "read", occurredAt: "yesterday" });
    expect(garbage.status).toBe(400);
    expect(errorPaths(garbage)).toEqual(["occurredAt"]);
    const soon = await admin.event({ id: "f-3", userId, type: "read", occurredAt: new Date(Date.now() + 60_000).toISOString() });
    expect(soon.status, soon.text).toBe(201);
    const past = await admin.event({ id: "f-4", userId, type: "read", occurredAt: "2020-01-01T10:00:00+02:00" });
    expect(past.status, past.text).toBe(201);
    expect(await admin.balance(userId, "points")).toBe(2);
  });

  it("data over 16 KiB, nested deeper than 8 or with more than 256 keys is 400 at `data`", async () => {
    const { admin, userId } = await setup();
    const big = await admin.event({ id: "d-big", userId, type: "read", data: { blob: "x".repeat(17 * 1024) } });
    expectProblemReply(big, 400, "invalid_request");
    expect(errorPaths(big)).toEqual(["data"]);
    const deep = await admin.event({ id: "d-deep", userId, type: "read", data: nested(9) });
    expectProblemReply(deep, 400, "invalid_request");
    expect(errorPaths(deep)).toEqual(["data"]);
    const manyKeys = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, i]));
    const keys = await admin.event({ id: "d-keys", userId, type: "read", data: manyKeys });
    expect(keys.status).toBe(400);
    expect(errorPaths(keys)).toEqual(["data"]);
    // At the limits: accepted.
    const limits = [
      { id: "ok-size", data: { blob: "x".repeat(15 * 1024) } },
      { id: "ok-deep", data: nested(8) },
      { id: "ok-keys", data: Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`k${i}`, i])) },
    ];
    for (const { id, data } of limits) {
      const a = await admin.event({ id, userId, type: "read", data });
      expect(a.status, `${id}: ${a.text}`).toBe(201);
    }
    expect(await admin.balance(userId, "points")).toBe(3);
  });

  it("a reused id with a different body is 409 event_id_reused and changes nothing", async () => {
    const { admin, userId } = await setup();
    await admin.apply({ id: "e-1", userId, type: "read", data: { a: 1 } });
    for (const body of [
      { id: "e-1", userId, type: "read", data: { a: 2 } },
      { id: "e-1", userId, type: "other" },
      { id: "e-1", userId, type: "read", data: { a: 1 }, silent: true },
      { id: "e-1", userId, type: "read", data: { a: 1 }, occurredAt: "2026-01-01T00:00:00Z" },
    ]) {
      const a = await admin.event(body);
      expectProblemReply(a, 409, "event_id_reused");
      expect(errorPaths(a)).toEqual(["id"]);
    }
    // Key order does not make another body.
    const reordered = await admin.event({ type: "read", data: { a: 1 }, userId, id: "e-1" });
    expect(reordered.status).toBe(200);
    expect(await admin.balance(userId, "points")).toBe(1);
    expect(await admin.stub(userId).ledgerSum("points")).toBe(1);
    // Ids are per user: another user may use the same id.
    const other = await admin.event({ id: "e-1", userId: uniqueUser(), type: "other" });
    expect(other.status, other.text).toBe(201);
  });

  it("an unknown field and a bad userId are 400 at their path", async () => {
    const { admin, userId } = await setup();
    const unknown = await admin.event({ id: "x-1", userId, type: "read", extra: true });
    expectProblemReply(unknown, 400, "invalid_request");
    expect(errorPaths(unknown)).toEqual(["extra"]);
    const badUser = await admin.event({ id: "x-2", userId: "has space", type: "read" });
    expect(badUser.status).toBe(400);
    expect(errorPaths(badUser)).toEqual(["userId"]);
    const badId = await admin.event({ id: "bad id", userId, type: "read" });
    expect(badId.status).toBe(400);
    expect(errorPaths(badId)).toEqual(["id"]);
    const notObject = await admin.event({ id: "x-3", userId, type: "read", data: [1, 2] });
    expect(notObject.status).toBe(400);
    expect(errorPaths(notObject)).toEqual(["data"]);
    expect((await admin.user(userId)).status).toBe(404);
  });
});

describe("users are per space", () => {
  it("the same user id and event id in two spaces are two users", async () => {
    const a = await spaceWithPerEvent("read", 1);
    const b = await spaceWithPerEvent("read", 5);
    const userId = uniqueUser();
    await a.apply({ id: "same", userId, type: "read" });
    await b.apply({ id: "same", userId, type: "read" });
    expect(await a.balance(userId, "points")).toBe(1);
    expect(await b.balance(userId, "points")).toBe(5);
    expect(await a.stub(userId).ledgerSum("points")).toBe(1);
    expect(await b.stub(userId).ledgerSum("points")).toBe(5);
  });
});
