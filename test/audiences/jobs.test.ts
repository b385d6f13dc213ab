import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { runQueue, type QueueResult } from "../helpers/queue";
import { answer, callDirect, createSpace, type Answer, type TestSpace } from "../helpers/harness";

// Background recompute jobs (SPEC §4.3, §4.4, §5.8): a change of a dynamic segment's rule
// or of a ladder's levels starts a job that walks the space's D1 user directory in pages
// through the real `loyalty-jobs` queue and asks every user's Durable Object to recompute.
// Real Worker (called in-process: callDirect, this file sends thousands of requests),
// Durable Objects, D1 and queues. The directory is eventually consistent, so every test
// waits (deadline loops) until its users are listed before it changes a rule.

vi.setConfig({ testTimeout: 120_000 });

const ADMIN = "/api/loyalty/admin";
const JOB_DEADLINE_MS = 60_000;
const INDEX_DEADLINE_MS = 60_000;

// ---------------------------------------------------------------------------------------
// An Admin API client bound to one space, through the Worker's fetch handler in-process.

type Admin = ReturnType<typeof adminOf>;

function adminOf(space: TestSpace) {
  const at = async (method: string, path: string, body?: unknown): Promise<Answer> =>
    answer(await callDirect(`${ADMIN}${path}`, { method, space: space.slug, body }));
  return {
    space,
    at,
    get: (path: string) => at("GET", path),
    /** PUT a definition with a chosen id, expecting 201. */
    define: async (kind: string, id: string, body: Record<string, unknown>): Promise<Answer> => {
      const a = await at("PUT", `/${kind}/${id}`, body);
      expect(a.status, `${kind}/${id}: ${a.text}`).toBe(201);
      return a;
    },
    user: (userId: string) => at("GET", `/users/${encodeURIComponent(userId)}`),
    activity: (userId: string) => at("GET", `/users/${encodeURIComponent(userId)}/activity?limit=100`),
    /** The object's stored state (not the view, which re-levels ladders lazily as of now). */
    stored: async (userId: string) => {
      const snapshot = await env.USERS.getByName(JSON.stringify([space.id, userId])).snapshot();
      return snapshot.state as unknown as { ladders: Record<string, string>; dynamicSegments: string[] } | null;
    },
  };
}

async function freshAdmin(): Promise<Admin> {
  return adminOf(await createSpace());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds or the deadline passes; answers the last value either way. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, deadlineMs: number, intervalMs = 200): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > end) return value;
    await sleep(intervalMs);
  }
}

/** Every item of a paginated Admin API list, following cursors. */
async function all(admin: Admin, path: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const a = await admin.get(`${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(a.status, a.text).toBe(200);
    out.push(...a.body.data);
    cursor = a.body.nextCursor;
    if (cursor === null) return out;
  }
  throw new Error(`too many pages of ${path}`);
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

/** Waits until the D1 directory lists exactly these users (SPEC §5.8: eventually consistent). */
async function waitForDirectory(admin: Admin, userIds: string[]): Promise<void> {
  const want = sorted(userIds);
  const listed = await until(
    async () => sorted((await all(admin, "/users")).map((u) => u.userId)),
    (ids) => JSON.stringify(ids) === JSON.stringify(want),
    INDEX_DEADLINE_MS,
  );
  expect(listed).toEqual(want);
}

/** Waits until the D1 member index of a segment is exactly this set of users. */
async function waitForMembers(admin: Admin, segment: string, userIds: string[]): Promise<void> {
  const want = sorted(userIds);
  const listed = await until(
    async () => sorted((await all(admin, `/segments/${segment}/users`)).map((u) => u.userId)),
    (ids) => JSON.stringify(ids) === JSON.stringify(want),
    INDEX_DEADLINE_MS,
  );
  expect(listed).toEqual(want);
}

/** Polls GET /jobs/{id} until the job is no longer running; answers the job. */
async function waitForJob(admin: Admin, jobId: string): Promise<any> {
  const a = await until(() => admin.get(`/jobs/${jobId}`), (r) => r.status !== 200 || r.body.status !== "running", JOB_DEADLINE_MS, 250);
  expect(a.status, a.text).toBe(200);
  expect(a.body.status, `job ${jobId} still running after ${JOB_DEADLINE_MS} ms: ${a.text}`).toBe("finished");
  return a.body;
}

/** A job as GET /jobs/{id} answers it once finished. */
function finishedJob(id: string, definitions: string[], counts: { total: number; processed: number; changed: number }, notify = true) {
  return {
    id,
    type: "recompute",
    status: "finished",
    reason: { definitions },
    notify,
    total: counts.total,
    processed: counts.processed,
    changed: counts.changed,
    failed: 0,
    errors: [],
    createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    finishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
  };
}

/** The job id a definition write started (the Loyalty-Job header), asserting there is one. */
function jobOf(a: Answer): string {
  expect(a.status, a.text).toBeLessThan(300);
  const id = a.headers.get("loyalty-job");
  expect(id, `no Loyalty-Job header on ${a.status} ${a.text}`).toMatch(/^job_[0-9a-z]{26}$/);
  return id!;
}

/** Runs async work over items, `width` at a time. */
async function inChunks<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

// ---------------------------------------------------------------------------------------
// Programme pieces.

const gte = (metric: string, value: number) => ({ path: `user.metrics.${metric}.balance`, op: "gte", value });

/** `metric` and an active campaign crediting it by `event.data.amount` on every `earn` event. */
async function defineEarning(admin: Admin, metric: string, kind: "currency" | "counter" = "currency"): Promise<void> {
  await admin.define("metrics", metric, { name: metric, kind });
  await admin.define("campaigns", `earn-${metric}`, {
    name: `Earn ${metric}`,
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "earn", name: "Earn", trigger: { eventType: "earn" }, effects: [{ type: "metric.add", metric, amount: { path: "event.data.amount" } }] }],
  });
}

/** Creates users with amounts through POST /events/batch (one `earn` event each); all 201. */
async function seedUsers(admin: Admin, users: Array<[string, number]>): Promise<void> {
  for (let i = 0; i < users.length; i += 500) {
    const events = users.slice(i, i + 500).map(([userId, amount]) => ({ id: `seed-${userId}`, userId, type: "earn", data: { amount } }));
    const a = await admin.at("POST", "/events/batch", { events });
    expect(a.status, a.text).toBe(200);
    const statuses = (a.body.results as Array<{ status: number }>).map((r) => r.status);
    expect(statuses, a.text.slice(0, 2000)).toEqual(events.map(() => 201));
  }
}

let serial = 0;
/** Ids unique in this run, zero-padded so they sort as numbered. */
function userIds(prefix: string, n: number): string[] {
  serial += 1;
  const base = `${prefix}${serial}-${Date.now().toString(36)}`;
  return Array.from({ length: n }, (_, i) => `${base}-${String(i).padStart(3, "0")}`);
}

const metricOf = (doc: any, metric: string) => (doc.metrics as Array<{ metric: string; balance: number; lifetime: number }>).find((m) => m.metric === metric);

// ---------------------------------------------------------------------------------------
// The worker's queue export, driven with a MessageBatch built by the pool.

const deliver = (queue: string, messages: Array<{ id: string; body: unknown; attempts?: number }>) => runQueue(queue, messages);

function expectAcked(result: QueueResult, ids: string[]): void {
  expect(result.outcome).toBe("ok");
  expect(result.retryBatch.retry).toBe(false);
  expect(result.retryMessages).toEqual([]);
  expect(sorted(result.explicitAcks)).toEqual(sorted(ids));
}

const pageMessage = (spaceId: string, jobId: string, after: string) => ({
  v: 1,
  type: "job.page",
  key: `${jobId}:${after}`,
  body: { spaceId, jobId, after },
});

// ---------------------------------------------------------------------------------------

describe("recompute jobs: a dynamic segment's rule changes for 200 existing users", () => {
  it("the job walks every user once; memberships, the member index and segment.left campaigns follow the new rule", async () => {
    const admin = await freshAdmin();
    await defineEarning(admin, "points");
    await admin.define("metrics", "consolation", { name: "Consolation", kind: "counter" });
    // Created before any user: members are evaluated live as users earn.
    await admin.define("segments", "big", { name: "Big", type: "dynamic", rule: gte("points", 50) });
    await admin.define("campaigns", "console", {
      name: "Consolation for leaving big",
      status: "active",
      repeat: { limit: null }, // a second loyalty.segment.left would pay twice
      steps: [
        {
          id: "left",
          name: "Left big",
          trigger: { eventType: "loyalty.segment.left", conditions: { path: "event.data.segment", op: "eq", value: "big" } },
          effects: [{ type: "metric.add", metric: "consolation", amount: 7 }],
        },
      ],
    });

    // 200 users with balances 0..199 in an order unrelated to their ids.
    const ids = userIds("big", 200);
    const balance = new Map(ids.map((id, i) => [id, (i * 37) % 200]));
    await seedUsers(admin, ids.map((id) => [id, balance.get(id)!]));
    const before = ids.filter((id) => balance.get(id)! >= 50);
    const after = ids.filter((id) => balance.get(id)! >= 120);
    const leavers = ids.filter((id) => balance.get(id)! >= 50 && balance.get(id)! < 120);
    expect([before.length, after.length, leavers.length]).toEqual([150, 80, 70]);

    await waitForDirectory(admin, ids);
    await waitForMembers(admin, "big", before);

    const patch = await admin.at("PATCH", "/segments/big", { rule: gte("points", 120) });
    expect(patch.status, patch.text).toBe(200);
    expect(patch.body.rule).toEqual(gte("points", 120));
    const jobId = jobOf(patch);
    const job = await waitForJob(admin, jobId);
    expect(job).toEqual(finishedJob(jobId, ["segments/big"], { total: 200, processed: 200, changed: leavers.length }));

    // Every user's membership follows the new rule exactly; each leaver got one consolation.
    const docs = await inChunks(ids, 25, async (id) => {
      const a = await admin.user(id);
      expect(a.status, a.text).toBe(200);
      return [id, a.body] as const;
    });
    const leaving = new Set(leavers);
    for (const [id, doc] of docs) {
      const member = balance.get(id)! >= 120;
      expect({ id, segments: doc.segments }).toEqual({ id, segments: member ? [{ segment: "big", name: "Big" }] : [] });
      expect({ id, points: metricOf(doc, "points")!.balance }).toEqual({ id, points: balance.get(id) });
      const consolation = metricOf(doc, "consolation")!;
      expect({ id, consolation: [consolation.balance, consolation.lifetime] }).toEqual({ id, consolation: leaving.has(id) ? [7, 7] : [0, 0] });
    }

    // A leaver's activity names the job: one job.recompute entry with the change and the campaign's effect.
    const leaver = leavers[0]!;
    const activity = await admin.activity(leaver);
    expect(activity.status, activity.text).toBe(200);
    const entries = (activity.body.data as any[]).filter((e) => e.type === "job.recompute");
    expect(entries.map((e) => e.eventId)).toEqual([jobId]);
    expect(entries[0].outcome.changes).toEqual([{ type: "segment", segment: "big", member: false }]);
    expect(entries[0].outcome.effects).toEqual([
      expect.objectContaining({ campaign: "console", step: "left", type: "metric.add", metric: "consolation", amount: 7, balance: 7, status: "applied" }),
    ]);
    // A user whose membership did not change has no activity entry for the job.
    const stayer = after[0]!;
    const quiet = await admin.activity(stayer);
    expect((quiet.body.data as any[]).filter((e) => e.type === "job.recompute")).toEqual([]);

    // The D1 member index converges to the new members; memberCount follows.
    await waitForMembers(admin, "big", after);
    const segment = await until(() => admin.get("/segments/big"), (a) => a.body?.memberCount === after.length, INDEX_DEADLINE_MS);
    expect(segment.body.memberCount).toBe(80);
    // The job is unchanged once finished.
    expect((await admin.get(`/jobs/${jobId}`)).body).toEqual(job);
  });
});

describe("recompute jobs: notify", () => {
  it.each([
    { label: "?notify=false on the rule change", query: "?notify=false", notify: false, outcome: "skipped (silent)" },
    { label: "notify by default", query: "", notify: true, outcome: "applied" },
  ])("$label: the recompute's segment.entered campaign runs and its webhook.send is $outcome", async ({ query, notify }) => {
    const admin = await freshAdmin();
    await defineEarning(admin, "points");
    await admin.define("segments", "big", { name: "Big", type: "dynamic", rule: gte("points", 100) });
    await admin.define("webhooks", "hook", { url: "https://example.com/hook", events: ["loyalty.segment.entered"] });
    await admin.define("campaigns", "greet", {
      name: "Greet new bigs",
      status: "active",
      steps: [
        {
          id: "entered",
          name: "Entered big",
          trigger: { eventType: "loyalty.segment.entered", conditions: { path: "event.data.segment", op: "eq", value: "big" } },
          effects: [{ type: "webhook.send", webhook: "hook", payload: { hello: "big" } }],
        },
      ],
    });
    const [enters, stays] = userIds("notify", 2) as [string, string];
    await seedUsers(admin, [[enters, 60], [stays, 10]]);
    await waitForDirectory(admin, [enters, stays]);

    const change = await admin.at("PATCH", `/segments/big${query}`, { rule: gte("points", 50) });
    expect(change.status, change.text).toBe(200);
    const jobId = jobOf(change);
    expect(await waitForJob(admin, jobId)).toEqual(finishedJob(jobId, ["segments/big"], { total: 2, processed: 2, changed: 1 }, notify));

    const doc = await admin.user(enters);
    expect(doc.body.segments).toEqual([{ segment: "big", name: "Big" }]);
    expect((await admin.user(stays)).body.segments).toEqual([]);

    const activity = await admin.activity(enters);
    expect(activity.status, activity.text).toBe(200);
    const entries = (activity.body.data as any[]).filter((e) => e.type === "job.recompute");
    expect(entries.map((e) => e.eventId)).toEqual([jobId]);
    const outcome = entries[0].outcome;
    expect(outcome.changes).toEqual([{ type: "segment", segment: "big", member: true }]);
    // Recomputed users run the engine as a live change would: the campaign counts either
    // way; only the outbound effect depends on notify.
    expect(outcome.campaignsCompleted).toEqual([{ campaign: "greet", completions: 1 }]);
    expect(outcome.effects).toEqual([
      notify
        ? { campaign: "greet", step: "entered", type: "webhook.send", webhook: "hook", status: "applied" }
        : { campaign: "greet", step: "entered", type: "webhook.send", webhook: "hook", status: "skipped", reason: "silent" },
    ]);
  });
});

describe("recompute jobs: ladders", () => {
  it("a threshold change re-levels stored levels without any event; level names, static segments and metrics start no job", async () => {
    const admin = await freshAdmin();
    await defineEarning(admin, "xp", "counter");
    const levels = (silver: number, gold: number, names = ["Bronze", "Silver", "Gold"]) => [
      { id: "bronze", name: names[0], threshold: 0 },
      { id: "silver", name: names[1], threshold: silver },
      { id: "gold", name: names[2], threshold: gold },
    ];
    const created = await admin.define("ladders", "tiers", { name: "Tiers", metric: "xp", levels: levels(100, 300) });
    // Created in a space without users: a job, finished at once with nothing to do.
    const firstJob = jobOf(created);
    expect((await admin.get(`/jobs/${firstJob}`)).body).toEqual(finishedJob(firstJob, ["ladders/tiers"], { total: 0, processed: 0, changed: 0 }));

    const [u50, u150, u250, u400] = userIds("ladder", 4) as [string, string, string, string];
    const xp = new Map([[u50, 50], [u150, 150], [u250, 250], [u400, 400]]);
    await seedUsers(admin, [...xp]);
    await waitForDirectory(admin, [...xp.keys()]);
    const storedLevels = async () =>
      Object.fromEntries(await Promise.all([...xp.keys()].map(async (id) => [id, (await admin.stored(id))!.ladders.tiers])));
    expect(await storedLevels()).toEqual({ [u50]: "bronze", [u150]: "silver", [u250]: "silver", [u400]: "gold" });

    // Lower thresholds: u50 and u250 go up, from the stored state alone (no new event).
    const put = await admin.at("PUT", "/ladders/tiers", { name: "Tiers", metric: "xp", levels: levels(50, 200) });
    expect(put.status, put.text).toBe(200);
    const jobId = jobOf(put);
    expect(await waitForJob(admin, jobId)).toEqual(finishedJob(jobId, ["ladders/tiers"], { total: 4, processed: 4, changed: 2 }));
    expect(await storedLevels()).toEqual({ [u50]: "silver", [u150]: "silver", [u250]: "gold", [u400]: "gold" });
    for (const [id, level] of [[u50, "silver"], [u150, "silver"], [u250, "gold"], [u400, "gold"]] as const) {
      const doc = await admin.user(id);
      expect({ id, ladder: doc.body.ladders[0].ladder, level: doc.body.ladders[0].level.id }).toEqual({ id, ladder: "tiers", level });
    }
    const activity = (await admin.activity(u50)).body.data as any[];
    // Only the seed event and the job: nothing else ran for the user.
    expect(activity.map((e) => [e.type, e.eventId])).toEqual([["job.recompute", jobId], ["earn", `seed-${u50}`]]);
    expect(activity[0].outcome.changes).toEqual([{ type: "ladder", ladder: "tiers", from: "bronze", to: "silver" }]);
    expect(activity[0].outcome.derivedEvents.map((d: any) => d.type)).toEqual(["loyalty.ladder.level_changed"]);

    // demotion turned on, gold raised above u250: a job, and u250 goes down.
    const demote = await admin.at("PATCH", "/ladders/tiers", { demotion: true, levels: levels(50, 300) });
    expect(demote.status, demote.text).toBe(200);
    const demoteJob = jobOf(demote);
    expect(await waitForJob(admin, demoteJob)).toEqual(finishedJob(demoteJob, ["ladders/tiers"], { total: 4, processed: 4, changed: 1 }));
    expect(await storedLevels()).toEqual({ [u50]: "silver", [u150]: "silver", [u250]: "silver", [u400]: "gold" });
    const down = ((await admin.activity(u250)).body.data as any[])[0];
    expect([down.type, down.eventId, down.outcome.changes]).toEqual(["job.recompute", demoteJob, [{ type: "ladder", ladder: "tiers", from: "gold", to: "silver" }]]);

    const jobsBefore = await all(admin, "/jobs");
    expect(jobsBefore.map((j) => j.id)).toEqual([demoteJob, jobId, firstJob]);

    // Changes that reinterpret no one's level or membership start no job.
    const noJob = (a: Answer, status: number) => {
      expect(a.status, a.text).toBe(status);
      expect(a.headers.get("loyalty-job"), a.text).toBeNull();
    };
    noJob(await admin.at("PUT", "/ladders/tiers", { name: "Tiers renamed", metric: "xp", demotion: true, levels: levels(50, 300, ["Bronze", "Argent", "Or"]) }), 200);
    noJob(await admin.at("PATCH", "/ladders/tiers", { description: "Levels by XP" }), 200);
    noJob(await admin.at("PUT", "/segments/vip", { name: "VIP", type: "static" }), 201);
    noJob(await admin.at("PATCH", "/segments/vip", { name: "Very important" }), 200);
    noJob(await admin.at("PATCH", "/metrics/xp", { name: "Experience", max: 1_000_000 }), 200);
    noJob(await admin.at("POST", "/metrics", { id: "coins", name: "Coins", kind: "currency" }), 201);
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: gte("xp", 10_000) }).then((a) => jobOf(a));
    const richJobs = (await all(admin, "/jobs")).map((j) => j.id);
    noJob(await admin.at("PATCH", "/segments/rich", { name: "Rich people" }), 200);
    // A notify flag that is neither true nor false is refused before anything is stored.
    const bad = await admin.at("PATCH", "/segments/rich?notify=maybe", { rule: gte("xp", 1) });
    expect([bad.status, bad.body?.code, bad.headers.get("loyalty-job")]).toEqual([400, "invalid_request", null]);
    expect((await admin.get("/segments/rich")).body.rule).toEqual(gte("xp", 10_000));
    expect((await all(admin, "/jobs")).map((j) => j.id)).toEqual(richJobs);
    expect(richJobs.slice(1)).toEqual(jobsBefore.map((j) => j.id));
    // The renamed level is what the view shows; the stored levels did not move.
    expect((await admin.user(u150)).body.ladders[0].level).toEqual({ id: "silver", name: "Argent", threshold: 50 });
    expect(await storedLevels()).toEqual({ [u50]: "silver", [u150]: "silver", [u250]: "silver", [u400]: "gold" });
  });
});

describe("recompute jobs: pages through the real queue handler", () => {
  it("a finished job's pages delivered again are acked and change nothing", async () => {
    const admin = await freshAdmin();
    await defineEarning(admin, "points");
    await admin.define("metrics", "bonus", { name: "Bonus", kind: "counter" });
    await admin.define("segments", "big", { name: "Big", type: "dynamic", rule: gte("points", 1000) });
    await admin.define("campaigns", "welcome-big", {
      name: "Welcome to big",
      status: "active",
      repeat: { limit: null },
      steps: [
        {
          id: "in",
          name: "Entered",
          trigger: { eventType: "loyalty.segment.entered", conditions: { path: "event.data.segment", op: "eq", value: "big" } },
          effects: [{ type: "metric.add", metric: "bonus", amount: 1 }],
        },
      ],
    });
    const ids = userIds("redeliver", 3);
    await seedUsers(admin, ids.map((id, i) => [id, 10 * (i + 1)]));
    await waitForDirectory(admin, ids);
    const jobId = jobOf(await admin.at("PATCH", "/segments/big", { rule: gte("points", 15) }));
    const job = await waitForJob(admin, jobId);
    expect(job).toEqual(finishedJob(jobId, ["segments/big"], { total: 3, processed: 3, changed: 2 }));

    const first = await deliver("loyalty-jobs", [{ id: "again-first", body: pageMessage(admin.space.id, jobId, "") }]);
    expectAcked(first, ["again-first"]);
    const last = await deliver("loyalty-jobs", [{ id: "again-last", body: pageMessage(admin.space.id, jobId, sorted(ids)[2]!), attempts: 4 }]);
    expectAcked(last, ["again-last"]);
    expect((await admin.get(`/jobs/${jobId}`)).body).toEqual(job);
    for (const [i, id] of ids.entries()) {
      const doc = (await admin.user(id)).body;
      expect({ id, bonus: metricOf(doc, "bonus")!.balance }).toEqual({ id, bonus: i === 0 ? 0 : 1 });
    }
  });

  it("a page of a job that does not exist, or of another space's job, is acked and changes nothing", async () => {
    const admin = await freshAdmin();
    const other = await freshAdmin();
    await defineEarning(admin, "points");
    const ids = userIds("nojob", 2);
    await seedUsers(admin, ids.map((id) => [id, 5]));
    await waitForDirectory(admin, ids);
    const jobId = jobOf(await admin.define("segments", "some", { name: "Some", type: "dynamic", rule: gte("points", 1) }));
    const job = await waitForJob(admin, jobId);
    expect(job).toEqual(finishedJob(jobId, ["segments/some"], { total: 2, processed: 2, changed: 2 }));

    const result = await deliver("loyalty-jobs", [
      { id: "ghost", body: pageMessage(admin.space.id, "job_0000000000zzzzzzzzzzzzzzzz", "") },
      { id: "elsewhere", body: pageMessage(other.space.id, jobId, "") },
      { id: "no-space", body: pageMessage("spc_doesnotexist", jobId, "") },
    ]);
    expectAcked(result, ["ghost", "elsewhere", "no-space"]);
    expect((await admin.get(`/jobs/${jobId}`)).body).toEqual(job);
    expect((await other.get("/jobs")).body).toEqual({ data: [], nextCursor: null });
  });

  it.each<[string, unknown]>([
    ["no body", undefined],
    ["a string body", "page"],
    ["no jobId", { spaceId: "spc_x", after: "" }],
    ["an empty jobId", { spaceId: "spc_x", jobId: "", after: "" }],
    ["a numeric after", { spaceId: "spc_x", jobId: "job_x", after: 5 }],
    ["no after", { spaceId: "spc_x", jobId: "job_x" }],
  ])("a job.page with a malformed body (%s) is poison: acked and logged, never retried", async (_label, body) => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const result = await deliver("loyalty-jobs", [{ id: "poison", body: { v: 1, type: "job.page", key: "k", body } }]);
      expectAcked(result, ["poison"]);
      expect(errors.mock.calls.flat().join("\n")).toContain("queue.job_poison");
    } finally {
      errors.mockRestore();
    }
  });

  it("the first page delivered twice more while the queue delivers it too: every user counted once, effects once", async () => {
    const admin = await freshAdmin();
    await defineEarning(admin, "points");
    await admin.define("metrics", "bonus", { name: "Bonus", kind: "counter" });
    await admin.define("segments", "big", { name: "Big", type: "dynamic", rule: gte("points", 1000) });
    await admin.define("campaigns", "welcome-big", {
      name: "Welcome to big",
      status: "active",
      repeat: { limit: null }, // entering twice would pay twice
      steps: [
        {
          id: "in",
          name: "Entered",
          trigger: { eventType: "loyalty.segment.entered", conditions: { path: "event.data.segment", op: "eq", value: "big" } },
          effects: [{ type: "metric.add", metric: "bonus", amount: 1 }],
        },
      ],
    });
    // 60 users: two pages (50 + 10), so the duplicated first page also duplicates the second.
    const ids = userIds("twice", 60);
    await seedUsers(admin, ids.map((id, i) => [id, i + 1]));
    await waitForDirectory(admin, ids);

    const jobId = jobOf(await admin.at("PATCH", "/segments/big", { rule: gte("points", 21) }));
    const copies = await Promise.all([
      deliver("loyalty-jobs", [{ id: "copy-1", body: pageMessage(admin.space.id, jobId, "") }]),
      deliver("loyalty-jobs", [{ id: "copy-2", body: pageMessage(admin.space.id, jobId, "") }]),
    ]);
    expectAcked(copies[0]!, ["copy-1"]);
    expectAcked(copies[1]!, ["copy-2"]);
    const entering = ids.filter((_, i) => i + 1 >= 21);
    const job = await waitForJob(admin, jobId);
    expect(job).toEqual(finishedJob(jobId, ["segments/big"], { total: 60, processed: 60, changed: entering.length }));

    const docs = await inChunks(ids, 20, async (id) => [id, (await admin.user(id)).body] as const);
    for (const [id, doc] of docs) {
      const member = entering.includes(id);
      expect({ id, segments: doc.segments.map((s: any) => s.segment), bonus: metricOf(doc, "bonus")!.balance }).toEqual({
        id,
        segments: member ? ["big"] : [],
        bonus: member ? 1 : 0,
      });
    }
    await waitForMembers(admin, "big", entering);
    // Copies of the second page still in flight die at the cursor: the counts stay put.
    const settled = await until(() => admin.get(`/jobs/${jobId}`), () => false, 3_000, 500);
    expect(settled.body).toEqual(job);
  });

  it("a page delivered before the page before it is recorded is kept for later (retried), not dropped", async () => {
    // The runner sends page n+1 before it records page n (runner.ts). When page n+1 is
    // delivered while the job's cursor still waits for an earlier page, acking it loses
    // the only message carrying the rest of the job, which then stays `running` forever.
    // Here the third page (after the 100th user) is delivered right after the job starts:
    // the queue's own chain needs two recorded pages (two queue round trips) to get there.
    const admin = await freshAdmin();
    await defineEarning(admin, "points");
    await admin.define("segments", "big", { name: "Big", type: "dynamic", rule: gte("points", 1000) });
    const ids = userIds("early", 110);
    await seedUsers(admin, ids.map((id) => [id, 5]));
    await waitForDirectory(admin, ids);

    const jobId = jobOf(await admin.at("PATCH", "/segments/big", { rule: gte("points", 1) }));
    const early = await deliver("loyalty-jobs", [{ id: "early", body: pageMessage(admin.space.id, jobId, sorted(ids)[99]!) }]);
    const meanwhile = await admin.get(`/jobs/${jobId}`);
    // The pages before it were not both recorded when the early page was handled.
    expect(meanwhile.body.processed, meanwhile.text).toBeLessThan(100);
    expect({ acked: early.explicitAcks, retried: early.retryMessages.map((m) => m.msgId) }).toEqual({ acked: [], retried: ["early"] });
    expect(await waitForJob(admin, jobId)).toEqual(finishedJob(jobId, ["segments/big"], { total: 110, processed: 110, changed: 110 }));
  });
});

describe("recompute jobs: listing and spaces", () => {
  it("a space without users gets a job finished at once; GET /jobs is newest first, paginated and per space", async () => {
    const admin = await freshAdmin();
    const other = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await other.define("metrics", "points", { name: "Points", kind: "currency" });

    const created: string[] = [];
    for (const [i, id] of ["s1", "s2", "s3", "s4", "s5"].entries()) {
      const a = await admin.at("POST", "/segments", { id, name: id, type: "dynamic", rule: gte("points", i + 1) });
      expect(a.status, a.text).toBe(201);
      const jobId = jobOf(a);
      // Answered finished: nothing to walk, nothing queued.
      const job = await admin.get(`/jobs/${jobId}`);
      expect(job.body).toEqual(finishedJob(jobId, [`segments/${id}`], { total: 0, processed: 0, changed: 0 }));
      expect(job.body.finishedAt).toBe(job.body.createdAt);
      created.push(jobId);
      await sleep(2); // ids are time-ordered to the millisecond
    }
    const otherJob = jobOf(await other.define("segments", "theirs", { name: "Theirs", type: "dynamic", rule: gte("points", 1) }));

    // Newest first, two at a time.
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const a = await admin.get(`/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(a.status, a.text).toBe(200);
      pages.push(a.body.data.map((j: any) => j.id));
      cursor = a.body.nextCursor;
    } while (cursor !== null && pages.length < 10);
    const newestFirst = [...created].reverse();
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
    const firstPage = await admin.get("/jobs?limit=2");
    expect(firstPage.body.data[0]).toEqual(finishedJob(newestFirst[0]!, ["segments/s5"], { total: 0, processed: 0, changed: 0 }));
    expect(firstPage.body.data[1]).toEqual(finishedJob(newestFirst[1]!, ["segments/s4"], { total: 0, processed: 0, changed: 0 }));

    // Never another space's jobs: not listed, not readable, and its cursors are refused.
    expect((await all(admin, "/jobs")).map((j) => j.id)).toEqual(newestFirst);
    expect((await all(other, "/jobs")).map((j) => j.id)).toEqual([otherJob]);
    const foreign = await admin.get(`/jobs/${otherJob}`);
    expect([foreign.status, foreign.body?.code]).toEqual([404, "not_found"]);
    const own = await other.get(`/jobs/${otherJob}`);
    expect(own.status).toBe(200);
    const theirCursor = firstPage.body.nextCursor as string;
    const crossed = await other.get(`/jobs?limit=2&cursor=${encodeURIComponent(theirCursor)}`);
    expect([crossed.status, crossed.body?.code]).toEqual([400, "invalid_cursor"]);
    const missing = await admin.get("/jobs/job_0000000000zzzzzzzzzzzzzzzz");
    expect([missing.status, missing.body?.code]).toEqual([404, "not_found"]);
  });
});

describe("recompute jobs: PUT /programme", () => {
  it("a changed dynamic segment answers recompute and a job; dryRun answers the same diff and no job", async () => {
    const admin = await freshAdmin();
    await defineEarning(admin, "points");
    await admin.define("segments", "big", { name: "Big", type: "dynamic", rule: gte("points", 50) });
    await admin.define("segments", "vip", { name: "VIP", type: "static" });
    await admin.define("ladders", "tiers", {
      name: "Tiers",
      metric: "points",
      levels: [{ id: "low", name: "Low", threshold: 0 }, { id: "high", name: "High", threshold: 100 }],
    });
    const ids = userIds("programme", 3);
    await seedUsers(admin, [[ids[0]!, 40], [ids[1]!, 60], [ids[2]!, 150]]);
    await waitForDirectory(admin, ids);
    const jobsBefore = (await all(admin, "/jobs")).map((j) => j.id);

    const exported = await admin.get("/programme");
    expect(exported.status, exported.text).toBe(200);
    const document = structuredClone(exported.body);
    const big = document.segments.find((s: any) => s.id === "big");
    big.rule = gte("points", 100);
    document.segments.find((s: any) => s.id === "vip").name = "Very important";

    const dry = await admin.at("PUT", "/programme?dryRun=true", document);
    expect(dry.status, dry.text).toBe(200);
    expect(sorted(dry.body.updated)).toEqual(["segments/big", "segments/vip"]);
    expect(dry.body).toMatchObject({ recompute: ["segments/big"], job: null, dryRun: true });
    expect(dry.headers.get("loyalty-job")).toBeNull();
    expect((await all(admin, "/jobs")).map((j) => j.id)).toEqual(jobsBefore);

    const applied = await admin.at("PUT", "/programme", document);
    expect(applied.status, applied.text).toBe(200);
    expect(sorted(applied.body.updated)).toEqual(["segments/big", "segments/vip"]);
    expect(applied.body).toMatchObject({ recompute: ["segments/big"], dryRun: false, created: [], archived: [] });
    const jobId = applied.body.job as string;
    expect(jobId).toMatch(/^job_/);
    expect(applied.headers.get("loyalty-job")).toBe(jobId);
    expect(await waitForJob(admin, jobId)).toEqual(finishedJob(jobId, ["segments/big"], { total: 3, processed: 3, changed: 1 }));
    expect((await admin.user(ids[1]!)).body.segments).toEqual([]);
    expect((await admin.user(ids[2]!)).body.segments).toEqual([{ segment: "big", name: "Big" }]);

    // Applying the same document again changes nothing and starts no job.
    const again = await admin.at("PUT", "/programme", document);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ updated: [], recompute: [], job: null });
    expect(again.headers.get("loyalty-job")).toBeNull();

    // Two changes needing a recompute in one document: one job naming both, silent with notify=false.
    document.segments.find((s: any) => s.id === "big").rule = gte("points", 10);
    document.ladders.find((l: any) => l.id === "tiers").levels[1].threshold = 50;
    const both = await admin.at("PUT", "/programme?notify=false", document);
    expect(both.status, both.text).toBe(200);
    expect([sorted(both.body.updated), sorted(both.body.recompute)]).toEqual([["ladders/tiers", "segments/big"], ["ladders/tiers", "segments/big"]]);
    const bothJob = both.body.job as string;
    expect(both.headers.get("loyalty-job")).toBe(bothJob);
    const bothDone = await waitForJob(admin, bothJob);
    expect({ ...bothDone, reason: { definitions: sorted(bothDone.reason.definitions) } }).toEqual(
      finishedJob(bothJob, ["ladders/tiers", "segments/big"], { total: 3, processed: 3, changed: 2 }, false),
    );
    expect(bothDone.reason.definitions).toEqual(both.body.recompute);
    expect((await all(admin, "/jobs")).map((j) => j.id)).toEqual([bothJob, jobId, ...jobsBefore]);
    expect((await admin.stored(ids[1]!))!.ladders.tiers).toBe("high");
    expect((await admin.stored(ids[0]!))!.dynamicSegments).toEqual(["big"]);
  });
});
