import { beforeAll, describe, expect, it, vi } from "vitest";
import { createKey } from "../helpers/harness";
import { adminOf, expectProblemReply, freshAdmin, meGet, uniqueUser, type Admin, type Reply } from "../helpers/users-api";

// Audiences (issue 6; SPEC §4.3, §4.7 audience, §5.5, §5.6, §6 segment.add/remove, §7,
// §9 /me/segments): dynamic segments re-evaluated in the user's Durable Object after each
// change, static membership through the Admin API and through effects, the derived events
// loyalty.segment.entered / left that campaigns react to, campaign audiences judged at
// event time, the eventually consistent D1 directory, and isolation between users and
// spaces. Real Worker, Durable Objects, D1 and queues (SELF.fetch).

// SELF.fetch slows down with every request a file sends (cloudflare/workers-sdk#15446), and
// the directory is fed by a queue.
vi.setConfig({ testTimeout: 60_000 });

/** Polls `probe` every 100 ms until `done` holds or the deadline passes; the caller asserts. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const typesOf = (outcome: any): string[] => outcome.derivedEvents.map((d: any) => d.type);
/** The segment transitions of an outcome, in order: [segment, member]. */
const segmentChanges = (outcome: any): Array<[string, boolean]> =>
  outcome.changes.filter((c: any) => c.type === "segment").map((c: any) => [c.segment, c.member]);
/** The effects one campaign ran in an outcome, without the campaign/step bookkeeping. */
const effectsOf = (outcome: any, campaign: string): any[] =>
  outcome.effects.filter((e: any) => e.campaign === campaign).map(({ campaign: _c, step: _s, ...rest }: any) => rest);
const stepCampaigns = (outcome: any): string[] => outcome.steps.map((s: any) => s.campaign);
const idsOf = (a: Reply): string[] => (a.body?.data ?? []).map((u: any) => u.userId);
const segPath = (userId: string, segment: string) => `/users/${encodeURIComponent(userId)}/segments/${segment}`;

/** A campaign with one step on `eventType` (conditions optional), unlimited repeats. */
function oneStep(name: string, eventType: string, effects: unknown[], extra: Record<string, unknown> = {}, conditions: unknown = null) {
  return { name, status: "active", repeat: { limit: null }, ...extra, steps: [{ id: "s", name: "S", trigger: { eventType, conditions }, effects }] };
}
/** The trigger of a campaign reacting to entering or leaving one segment. */
const onSegment = (type: "entered" | "left", segment: string) => ({
  eventType: `loyalty.segment.${type}`,
  conditions: { path: "event.data.segment", op: "eq", value: segment },
});
const add = (metric: string, amount: unknown) => ({ type: "metric.add", metric, amount });

/** The newest activity entry and how many there are. */
async function latestActivity(admin: Admin, userId: string): Promise<{ count: number; latest: any }> {
  const all = await admin.activity(userId);
  return { count: all.length, latest: all[0] };
}

async function balances(admin: Admin, userId: string): Promise<Record<string, number>> {
  const doc = await admin.user(userId);
  expect(doc.status, doc.text).toBe(200);
  return Object.fromEntries(doc.body.metrics.map((m: any) => [m.metric, m.balance]));
}

async function documentSegments(admin: Admin, userId: string): Promise<unknown> {
  const doc = await admin.user(userId);
  expect(doc.status, doc.text).toBe(200);
  return doc.body.segments;
}

async function mySegments(admin: Admin, userId: string): Promise<unknown> {
  const a = await meGet(admin.space, await admin.token(userId), "/segments");
  expect(a.status, a.text).toBe(200);
  return a.body;
}

// 1. Dynamic segments ------------------------------------------------------------------

describe("dynamic segments", () => {
  async function richProgramme(): Promise<Admin> {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("metrics", "bonus", { name: "Bonus", kind: "counter" });
    await admin.define("metrics", "consolation", { name: "Consolation", kind: "counter" });
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "gte", value: 100 } });
    await admin.define("segments", "poor", { name: "Poor", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "lt", value: 100 } });
    await admin.define("campaigns", "earn", oneStep("Earn", "buy", [add("points", { path: "event.data.amount" })]));
    const entered = onSegment("entered", "rich");
    const left = onSegment("left", "rich");
    await admin.define("campaigns", "on-rich", oneStep("Became rich", entered.eventType, [add("bonus", 7)], {}, entered.conditions));
    await admin.define("campaigns", "on-rich-left", oneStep("No longer rich", left.eventType, [add("consolation", 3)], {}, left.conditions));
    return admin;
  }

  it("entering, staying, leaving and re-entering: derived events, campaigns on them, the ledger, /me, the directory", async () => {
    const admin = await richProgramme();
    const a = uniqueUser("rich-a");
    const b = uniqueUser("rich-b");

    // First sight with 0 points: the complementary segment is entered at creation.
    let o = await admin.apply({ id: "a1", userId: a, type: "buy", data: { amount: 60 } });
    expect(typesOf(o)).toEqual([
      "loyalty.user.created",
      "loyalty.segment.entered",
      "loyalty.metric.changed",
      "loyalty.step.completed",
      "loyalty.campaign.completed",
    ]);
    expect(segmentChanges(o)).toEqual([["poor", true]]);
    expect(effectsOf(o, "on-rich")).toEqual([]);
    expect(await documentSegments(admin, a)).toEqual([{ segment: "poor", name: "Poor" }]);

    // 60 + 50 = 110 ≥ 100: leaves poor, enters rich; the campaign on entering pays 7 once.
    o = await admin.apply({ id: "a2", userId: a, type: "buy", data: { amount: 50 } });
    expect(segmentChanges(o)).toEqual([
      ["poor", false],
      ["rich", true],
    ]);
    expect(typesOf(o).filter((t) => t.startsWith("loyalty.segment."))).toEqual(["loyalty.segment.left", "loyalty.segment.entered"]);
    const enteredEvent = o.derivedEvents.find((d: any) => d.type === "loyalty.segment.entered");
    expect(enteredEvent).toEqual({ id: "a2#3", type: "loyalty.segment.entered", depth: 1 });
    expect(effectsOf(o, "earn")).toEqual([{ type: "metric.add", status: "applied", metric: "points", amount: 50, balance: 110 }]);
    expect(effectsOf(o, "on-rich")).toEqual([{ type: "metric.add", status: "applied", metric: "bonus", amount: 7, balance: 7 }]);
    expect(effectsOf(o, "on-rich-left")).toEqual([]);
    expect(await documentSegments(admin, a)).toEqual([{ segment: "rich", name: "Rich" }]);
    expect(await mySegments(admin, a)).toEqual({ data: [{ segment: "rich", name: "Rich" }] });
    const me = await meGet(admin.space, await admin.token(a));
    expect(me.body.segments, me.text).toEqual(["rich"]);

    // Still rich: no transition, no second bonus.
    o = await admin.apply({ id: "a3", userId: a, type: "buy", data: { amount: 10 } });
    expect(segmentChanges(o)).toEqual([]);
    expect(typesOf(o).filter((t) => t.startsWith("loyalty.segment."))).toEqual([]);
    expect(effectsOf(o, "on-rich")).toEqual([]);

    // An admin debit to 90: leaves rich (the campaign on leaving pays 3), back in poor.
    let adj = await admin.adjust(a, "points", { amount: -30, reason: "refund" });
    expect(adj.status, adj.text).toBe(201);
    expect(adj.body).toMatchObject({ metric: "points", amount: -30, balance: 90 });
    let act = await latestActivity(admin, a);
    expect(act.latest.type).toBe("admin.adjust");
    expect(segmentChanges(act.latest.outcome)).toEqual([
      ["poor", true],
      ["rich", false],
    ]);
    expect(typesOf(act.latest.outcome).filter((t) => t.startsWith("loyalty.segment."))).toEqual(["loyalty.segment.entered", "loyalty.segment.left"]);
    expect(effectsOf(act.latest.outcome, "on-rich-left")).toEqual([{ type: "metric.add", status: "applied", metric: "consolation", amount: 3, balance: 3 }]);
    expect(effectsOf(act.latest.outcome, "on-rich")).toEqual([]);
    expect(await documentSegments(admin, a)).toEqual([{ segment: "poor", name: "Poor" }]);
    expect(await mySegments(admin, a)).toEqual({ data: [{ segment: "poor", name: "Poor" }] });

    // A credit to exactly 100 (gte): re-enters rich, a second bonus.
    adj = await admin.adjust(a, "points", { amount: 10, reason: "goodwill" });
    expect(adj.status, adj.text).toBe(201);
    act = await latestActivity(admin, a);
    expect(segmentChanges(act.latest.outcome)).toEqual([
      ["poor", false],
      ["rich", true],
    ]);
    expect(effectsOf(act.latest.outcome, "on-rich")).toEqual([{ type: "metric.add", status: "applied", metric: "bonus", amount: 7, balance: 14 }]);
    const reentered = act.latest.outcome.derivedEvents.find((d: any) => d.type === "loyalty.segment.entered");
    expect(reentered.id.startsWith(`${act.latest.eventId}#`)).toBe(true);

    // Exact balances and the bonus ledger: one entry per entry into the segment, each
    // sourced at the derived loyalty.segment.entered event that caused it.
    expect(await balances(admin, a)).toEqual({ points: 100, bonus: 14, consolation: 3 });
    const ledger = await admin.ledger(a, "bonus");
    expect(ledger.map((e) => [e.delta, e.balanceAfter, e.reason])).toEqual([
      [7, 14, "effect"],
      [7, 7, "effect"],
    ]);
    expect(ledger[0].source).toEqual({ eventId: act.latest.eventId, derivedEventId: reentered.id, campaign: "on-rich", step: "s" });
    expect(ledger[1].source).toEqual({ eventId: "a2", derivedEventId: "a2#3", campaign: "on-rich", step: "s" });
    expect((await admin.ledger(a, "consolation")).map((e) => e.delta)).toEqual([3]);

    // User b: rich at once (150), then debited to 50.
    o = await admin.apply({ id: "b1", userId: b, type: "buy", data: { amount: 150 } });
    expect(segmentChanges(o).filter(([s]) => s === "rich")).toEqual([["rich", true]]);
    expect(effectsOf(o, "on-rich")).toEqual([{ type: "metric.add", status: "applied", metric: "bonus", amount: 7, balance: 7 }]);
    expect(await documentSegments(admin, b)).toEqual([{ segment: "rich", name: "Rich" }]);
    adj = await admin.adjust(b, "points", { amount: -100, reason: "refund" });
    expect(adj.status, adj.text).toBe(201);
    expect(await documentSegments(admin, b)).toEqual([{ segment: "poor", name: "Poor" }]);
    expect(await balances(admin, b)).toEqual({ points: 50, bonus: 7, consolation: 3 });

    // The D1 directory converges to the final memberships: rich = [a], poor = [b].
    const richMembers = await until(() => admin.get("/segments/rich/users"), (r) => JSON.stringify(idsOf(r)) === JSON.stringify([a]));
    expect(richMembers.status, richMembers.text).toBe(200);
    expect(richMembers.body.data).toEqual([expect.objectContaining({ userId: a, segments: ["rich"] })]);
    expect(richMembers.body.nextCursor).toBeNull();
    const poorMembers = await until(() => admin.get("/segments/poor/users"), (r) => JSON.stringify(idsOf(r)) === JSON.stringify([b]));
    expect(poorMembers.body.data).toEqual([expect.objectContaining({ userId: b, segments: ["poor"] })]);
    const byQuery = await admin.get("/users?segment=rich");
    expect(byQuery.status, byQuery.text).toBe(200);
    expect(idsOf(byQuery)).toEqual([a]);
    const all = await admin.get("/users");
    expect(idsOf(all).sort()).toEqual([a, b].sort());
    for (const [id, count] of [["rich", 1], ["poor", 1]] as const) {
      const seg = await admin.get(`/segments/${id}`);
      expect(seg.status, seg.text).toBe(200);
      expect(seg.body.memberCount, `${id}: ${seg.text}`).toBe(count);
    }
    const unknown = expectProblemReply(await admin.get("/segments/nope/users"), 404, "not_found");
    expect(unknown.errors.map((e: any) => e.path)).toEqual(["path.id"]);
    expectProblemReply(await admin.get("/users?segment=nope"), 404, "not_found");
    const list = await admin.get("/segments");
    expect(list.body.data.map((s: any) => [s.id, s.memberCount]).sort()).toEqual([
      ["poor", 1],
      ["rich", 1],
    ]);
  });

  it("a rule over an attribute: a profile write enters and leaves; a never-seen user reads as a non-member without being created", async () => {
    const admin = await freshAdmin();
    await admin.define("segments", "gb", { name: "Britons", type: "dynamic", rule: { path: "user.attributes.country", op: "in", value: ["GB", "IE"] } });
    const u = uniqueUser("attr");
    const ghost = uniqueUser("ghost");
    expect(await mySegments(admin, ghost)).toEqual({ data: [] });
    expect((await admin.user(ghost)).status).toBe(404);

    const put = await admin.putUser(u, { attributes: { country: "IE" } });
    expect(put.status, put.text).toBe(201);
    expect(put.body.segments).toEqual([{ segment: "gb", name: "Britons" }]);
    let act = await latestActivity(admin, u);
    expect(segmentChanges(act.latest.outcome)).toEqual([["gb", true]]);

    const patch = await admin.patchUser(u, { attributes: { country: "FR" } });
    expect(patch.status, patch.text).toBe(200);
    expect(patch.body.segments).toEqual([]);
    act = await latestActivity(admin, u);
    expect(segmentChanges(act.latest.outcome)).toEqual([["gb", false]]);
    expect(typesOf(act.latest.outcome)).toEqual(["loyalty.user.updated", "loyalty.segment.left"]);
    expect(await mySegments(admin, u)).toEqual({ data: [] });
  });
});

// 2. Static membership through the Admin API --------------------------------------------

describe("static membership through the Admin API", () => {
  async function staticProgramme(): Promise<Admin> {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("metrics", "perks", { name: "Perks", kind: "counter" });
    await admin.define("segments", "vip", { name: "VIP", type: "static" });
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "gte", value: 100 } });
    const entered = onSegment("entered", "vip");
    await admin.define("campaigns", "welcome-vip", oneStep("Welcome VIP", entered.eventType, [add("perks", 1)], {}, entered.conditions));
    return admin;
  }

  it("PUT adds (creating the user), PUT again changes nothing, DELETE removes, DELETE again is 204", async () => {
    const admin = await staticProgramme();
    const u = uniqueUser("vip");
    expect((await admin.user(u)).status).toBe(404);

    const put = await admin.at("PUT", segPath(u, "vip"));
    expect(put.status, put.text).toBe(200);
    expect(put.body).toEqual({ segment: "vip", member: true });
    let act = await latestActivity(admin, u);
    expect(act.count).toBe(1);
    expect(act.latest.type).toBe("admin.segment");
    expect(typesOf(act.latest.outcome)).toEqual([
      "loyalty.user.created",
      "loyalty.segment.entered",
      "loyalty.metric.changed",
      "loyalty.step.completed",
      "loyalty.campaign.completed",
    ]);
    expect(segmentChanges(act.latest.outcome)).toEqual([["vip", true]]);
    expect(effectsOf(act.latest.outcome, "welcome-vip")).toEqual([{ type: "metric.add", status: "applied", metric: "perks", amount: 1, balance: 1 }]);
    expect(await documentSegments(admin, u)).toEqual([{ segment: "vip", name: "VIP" }]);
    expect(await mySegments(admin, u)).toEqual({ data: [{ segment: "vip", name: "VIP" }] });

    // Idempotent: the same answer, no new activity, no second entered event.
    const again = await admin.at("PUT", segPath(u, "vip"));
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual({ segment: "vip", member: true });
    expect((await latestActivity(admin, u)).count).toBe(1);
    expect(await balances(admin, u)).toEqual({ points: 0, perks: 1 });

    const del = await admin.at("DELETE", segPath(u, "vip"));
    expect(del.status, del.text).toBe(204);
    expect(del.text).toBe("");
    act = await latestActivity(admin, u);
    expect(act.count).toBe(2);
    expect(act.latest.type).toBe("admin.segment");
    expect(typesOf(act.latest.outcome)).toEqual(["loyalty.segment.left"]);
    expect(segmentChanges(act.latest.outcome)).toEqual([["vip", false]]);
    expect(await documentSegments(admin, u)).toEqual([]);
    expect(await mySegments(admin, u)).toEqual({ data: [] });

    const delAgain = await admin.at("DELETE", segPath(u, "vip"));
    expect(delAgain.status, delAgain.text).toBe(204);
    expect((await latestActivity(admin, u)).count).toBe(2);

    // Back in: entered again, the welcome campaign counts again (unlimited repeats).
    expect((await admin.at("PUT", segPath(u, "vip"))).status).toBe(200);
    act = await latestActivity(admin, u);
    expect(act.count).toBe(3);
    expect(segmentChanges(act.latest.outcome)).toEqual([["vip", true]]);
    expect(await balances(admin, u)).toEqual({ points: 0, perks: 2 });

    // The directory follows.
    const members = await until(() => admin.get("/segments/vip/users"), (r) => JSON.stringify(idsOf(r)) === JSON.stringify([u]));
    expect(idsOf(members)).toEqual([u]);
    const seg = await admin.get("/segments/vip");
    expect(seg.body.memberCount).toBe(1);
  });

  it("concurrent PUTs and DELETEs for one user: one transition each way", async () => {
    const admin = await staticProgramme();
    const u = uniqueUser("race");
    const puts = await Promise.all(Array.from({ length: 5 }, () => admin.at("PUT", segPath(u, "vip"))));
    expect(puts.map((p) => [p.status, p.body])).toEqual(Array.from({ length: 5 }, () => [200, { segment: "vip", member: true }]));
    let all = await admin.activity(u);
    expect(all.map((e) => segmentChanges(e.outcome))).toEqual([[["vip", true]]]);
    const dels = await Promise.all(Array.from({ length: 5 }, () => admin.at("DELETE", segPath(u, "vip"))));
    expect(dels.map((d) => d.status)).toEqual([204, 204, 204, 204, 204]);
    all = await admin.activity(u);
    expect(all.map((e) => segmentChanges(e.outcome))).toEqual([[["vip", false]], [["vip", true]]]);
    expect(await balances(admin, u)).toEqual({ points: 0, perks: 1 });
  });

  it("DELETE for a user never seen does not create them; PUT does", async () => {
    const admin = await staticProgramme();
    const ghost = uniqueUser("ghost");
    const del = await admin.at("DELETE", segPath(ghost, "vip"));
    expect(del.status, del.text).toBe(204);
    expectProblemReply(await admin.user(ghost), 404, "not_found");
    const activity = await admin.activityPage(ghost);
    expect(activity.status, activity.text).toBe(200);
    expect(activity.body.data).toEqual([]);

    const fresh = uniqueUser("fresh");
    const put = await admin.at("PUT", segPath(fresh, "vip"));
    expect(put.status, put.text).toBe(200);
    const doc = await admin.user(fresh);
    expect(doc.status, doc.text).toBe(200);
    expect(doc.body).toMatchObject({ userId: fresh, segments: [{ segment: "vip", name: "VIP" }] });
    expect(Date.parse(doc.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  describe("refusals write nothing", () => {
    let admin: Admin;
    // One space for the table (rows only add users): the segment "old" is archived, "rich"
    // is dynamic, "nope" never existed.
    beforeAll(async () => {
      admin = await staticProgramme();
      await admin.define("segments", "old", { name: "Old", type: "static" });
      const archived = await admin.at("DELETE", "/segments/old");
      expect(archived.status, archived.text).toBe(204);
    });

    it.each<[label: string, method: "PUT" | "DELETE", segment: string, status: number, code: string]>([
      ["unknown", "PUT", "nope", 404, "not_found"],
      ["unknown", "DELETE", "nope", 404, "not_found"],
      ["dynamic", "PUT", "rich", 400, "invalid_request"],
      ["dynamic", "DELETE", "rich", 400, "invalid_request"],
      ["archived", "PUT", "old", 404, "not_found"],
      ["archived", "DELETE", "old", 404, "not_found"],
      ["malformed (upper case, a dot)", "PUT", "Bad.Id", 400, "invalid_request"],
      ["malformed (upper case, a dot)", "DELETE", "Bad.Id", 400, "invalid_request"],
      ["malformed (65 characters)", "PUT", "a".repeat(65), 400, "invalid_request"],
    ])("%s segment: %s …/segments/%s → %i %s at path.segmentId; the new user stays unknown", async (_label, method, segment, status, code) => {
      const u = uniqueUser("refused");
      const problem = expectProblemReply(await admin.at(method, segPath(u, segment)), status, code);
      expect(problem.errors.map((e: any) => e.path)).toEqual(["path.segmentId"]);
      expectProblemReply(await admin.user(u), 404, "not_found");
      const activity = await admin.activityPage(u);
      expect(activity.body.data).toEqual([]);
    });

    it("a member stays a member, with no new activity, after refused requests", async () => {
      const u = uniqueUser("member");
      expect((await admin.at("PUT", segPath(u, "vip"))).status).toBe(200);
      const before = await admin.user(u);
      const count = (await latestActivity(admin, u)).count;
      expectProblemReply(await admin.at("PUT", segPath(u, "rich")), 400, "invalid_request");
      expectProblemReply(await admin.at("DELETE", segPath(u, "old")), 404, "not_found");
      expectProblemReply(await admin.at("PUT", segPath(u, "nope")), 404, "not_found");
      expect((await latestActivity(admin, u)).count).toBe(count);
      const after = await admin.user(u);
      expect(after.body.segments).toEqual([{ segment: "vip", name: "VIP" }]);
      expect(after.body.lastSeenAt).toBe(before.body.lastSeenAt);
    });
  });
});

// 3. Static membership through effects --------------------------------------------------

describe("static membership through effects", () => {
  async function clubProgramme(): Promise<Admin> {
    const admin = await freshAdmin();
    await admin.define("metrics", "welcome", { name: "Welcome", kind: "counter" });
    await admin.define("metrics", "goodbye", { name: "Goodbye", kind: "counter" });
    await admin.define("segments", "club", { name: "Club", type: "static" });
    await admin.define("campaigns", "join", oneStep("Join", "join", [{ type: "segment.add", segment: "club" }]));
    await admin.define("campaigns", "leave", oneStep("Leave", "leave", [{ type: "segment.remove", segment: "club" }]));
    const entered = onSegment("entered", "club");
    const left = onSegment("left", "club");
    await admin.define("campaigns", "on-enter", oneStep("Welcome", entered.eventType, [add("welcome", 5)], {}, entered.conditions));
    await admin.define("campaigns", "on-left", oneStep("Goodbye", left.eventType, [add("goodbye", 1)], {}, left.conditions));
    return admin;
  }

  it("segment.add on join, segment.remove on leave: applied or skipped, entered/left once, campaigns react", async () => {
    const admin = await clubProgramme();
    const u = uniqueUser("club");

    let o = await admin.apply({ id: "j1", userId: u, type: "join" });
    expect(effectsOf(o, "join")).toEqual([{ type: "segment.add", status: "applied", segment: "club" }]);
    expect(typesOf(o)).toEqual([
      "loyalty.user.created",
      "loyalty.segment.entered",
      "loyalty.step.completed",
      "loyalty.campaign.completed",
      "loyalty.metric.changed",
      "loyalty.step.completed",
      "loyalty.campaign.completed",
    ]);
    expect(o.derivedEvents[1]).toEqual({ id: "j1#2", type: "loyalty.segment.entered", depth: 1 });
    expect(segmentChanges(o)).toEqual([["club", true]]);
    expect(effectsOf(o, "on-enter")).toEqual([{ type: "metric.add", status: "applied", metric: "welcome", amount: 5, balance: 5 }]);
    expect(await documentSegments(admin, u)).toEqual([{ segment: "club", name: "Club" }]);

    o = await admin.apply({ id: "j2", userId: u, type: "join" });
    expect(effectsOf(o, "join")).toEqual([{ type: "segment.add", status: "skipped", reason: "already_member", segment: "club" }]);
    expect(segmentChanges(o)).toEqual([]);
    expect(typesOf(o)).toEqual(["loyalty.step.completed", "loyalty.campaign.completed"]);

    o = await admin.apply({ id: "l1", userId: u, type: "leave" });
    expect(effectsOf(o, "leave")).toEqual([{ type: "segment.remove", status: "applied", segment: "club" }]);
    expect(segmentChanges(o)).toEqual([["club", false]]);
    expect(typesOf(o).filter((t) => t.startsWith("loyalty.segment."))).toEqual(["loyalty.segment.left"]);
    expect(effectsOf(o, "on-left")).toEqual([{ type: "metric.add", status: "applied", metric: "goodbye", amount: 1, balance: 1 }]);
    expect(await documentSegments(admin, u)).toEqual([]);

    o = await admin.apply({ id: "l2", userId: u, type: "leave" });
    expect(effectsOf(o, "leave")).toEqual([{ type: "segment.remove", status: "skipped", reason: "not_member", segment: "club" }]);
    expect(segmentChanges(o)).toEqual([]);
    expect(effectsOf(o, "on-left")).toEqual([]);

    expect(await balances(admin, u)).toEqual({ welcome: 5, goodbye: 1 });
  });

  it("membership added by the API and by an effect is one membership", async () => {
    const admin = await clubProgramme();
    const u = uniqueUser("both");

    // API first, then the effect finds the user already a member.
    expect((await admin.at("PUT", segPath(u, "club"))).status).toBe(200);
    let o = await admin.apply({ id: "j1", userId: u, type: "join" });
    expect(effectsOf(o, "join")).toEqual([{ type: "segment.add", status: "skipped", reason: "already_member", segment: "club" }]);
    expect(segmentChanges(o)).toEqual([]);
    expect(await documentSegments(admin, u)).toEqual([{ segment: "club", name: "Club" }]);
    expect(await mySegments(admin, u)).toEqual({ data: [{ segment: "club", name: "Club" }] });

    // One DELETE ends it.
    expect((await admin.at("DELETE", segPath(u, "club"))).status).toBe(204);
    expect(await documentSegments(admin, u)).toEqual([]);
    o = await admin.apply({ id: "l1", userId: u, type: "leave" });
    expect(effectsOf(o, "leave")).toEqual([{ type: "segment.remove", status: "skipped", reason: "not_member", segment: "club" }]);

    // The effect first, then the API PUT is a no-op (no activity), and the effect removes it.
    o = await admin.apply({ id: "j2", userId: u, type: "join" });
    expect(segmentChanges(o)).toEqual([["club", true]]);
    const count = (await latestActivity(admin, u)).count;
    const put = await admin.at("PUT", segPath(u, "club"));
    expect(put.status, put.text).toBe(200);
    expect(put.body).toEqual({ segment: "club", member: true });
    expect((await latestActivity(admin, u)).count).toBe(count);
    o = await admin.apply({ id: "l2", userId: u, type: "leave" });
    expect(effectsOf(o, "leave")).toEqual([{ type: "segment.remove", status: "applied", segment: "club" }]);
    expect(segmentChanges(o)).toEqual([["club", false]]);
    expect(await documentSegments(admin, u)).toEqual([]);

    // Entered twice (PUT, j2), left twice (DELETE, l2).
    expect(await balances(admin, u)).toEqual({ welcome: 10, goodbye: 2 });
  });

  it("segment.add and segment.remove refuse a dynamic segment on write (422)", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "gte", value: 100 } });
    for (const type of ["segment.add", "segment.remove"]) {
      const a = await admin.at("POST", "/campaigns", oneStep("Bad", "x", [{ type, segment: "rich" }]));
      const problem = expectProblemReply(a, 422, "invalid_definition");
      expect(problem.errors.map((e: any) => e.path)).toEqual(["steps[0].effects[0].segment"]);
    }
  });
});

// 4. Campaign audiences -------------------------------------------------------------------

describe("campaign audiences", () => {
  async function audienceProgramme(): Promise<Admin> {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("metrics", "hits", { name: "Hits", kind: "counter" });
    await admin.define("segments", "vip", { name: "VIP", type: "static" });
    await admin.define("segments", "staff", { name: "Staff", type: "static" });
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "gte", value: 100 } });
    const hit = [add("hits", 1)];
    await admin.define("campaigns", "everyone", oneStep("Everyone", "read", hit));
    await admin.define("campaigns", "vip-only", oneStep("VIP only", "read", hit, { audience: { include: ["vip"], exclude: [] } }));
    await admin.define("campaigns", "rich-only", oneStep("Rich only", "read", hit, { audience: { include: ["rich"] } }));
    await admin.define("campaigns", "not-staff", oneStep("Not staff", "read", hit, { audience: { exclude: ["staff"] } }));
    await admin.define("campaigns", "vip-not-staff", oneStep("VIP, not staff", "read", hit, { audience: { include: ["vip"], exclude: ["staff"] } }));
    await admin.define("campaigns", "vip-or-rich", oneStep("VIP or rich", "read", hit, { audience: { include: ["vip", "rich"] } }));
    return admin;
  }

  describe("who counts", () => {
    let admin: Admin;
    // One space for the table (rows only add users).
    beforeAll(async () => {
      admin = await audienceProgramme();
    });

    it.each<[label: string, statics: string[], points: number, counted: string[]]>([
      ["in no segment", [], 0, ["everyone", "not-staff"]],
      ["vip", ["vip"], 0, ["everyone", "not-staff", "vip-not-staff", "vip-only", "vip-or-rich"]],
      ["staff", ["staff"], 0, ["everyone"]],
      ["vip and staff", ["vip", "staff"], 0, ["everyone", "vip-only", "vip-or-rich"]],
      ["rich (exactly 100)", [], 100, ["everyone", "not-staff", "rich-only", "vip-or-rich"]],
      ["almost rich (99)", [], 99, ["everyone", "not-staff"]],
      ["rich staff vip", ["vip", "staff"], 150, ["everyone", "rich-only", "vip-only", "vip-or-rich"]],
    ])("%s", async (_label, statics, points, counted) => {
      const u = uniqueUser("aud");
      for (const s of statics) expect((await admin.at("PUT", segPath(u, s))).status).toBe(200);
      if (points > 0) expect((await admin.adjust(u, "points", { amount: points, reason: "setup" })).status).toBe(201);
      const o = await admin.apply({ id: "r1", userId: u, type: "read" }, "?explain=true");
      expect(stepCampaigns(o).sort()).toEqual(counted);
      const refused = o.explain.filter((x: any) => x.reason === "not_in_audience").map((x: any) => x.campaign).sort();
      const all = ["everyone", "not-staff", "rich-only", "vip-not-staff", "vip-only", "vip-or-rich"];
      expect(refused).toEqual(all.filter((c) => !counted.includes(c)));
      expect((await balances(admin, u)).hits).toBe(counted.length);
      // The User API shows the campaigns whose audience the user is in now.
      const mine = await meGet(admin.space, await admin.token(u), "/campaigns");
      expect(mine.status, mine.text).toBe(200);
      expect(mine.body.data.map((c: any) => c.campaign).sort()).toEqual(counted);
    });
  });

  it("membership is judged at event time: gained, lost and gained again", async () => {
    const admin = await audienceProgramme();
    const u = uniqueUser("time");
    const read = async (id: string) => stepCampaigns(await admin.apply({ id, userId: u, type: "read" })).sort();

    expect(await read("r1")).toEqual(["everyone", "not-staff"]);
    expect((await admin.adjust(u, "points", { amount: 100, reason: "x" })).status).toBe(201);
    expect(await read("r2")).toEqual(["everyone", "not-staff", "rich-only", "vip-or-rich"]);
    expect((await admin.adjust(u, "points", { amount: -1, reason: "x" })).status).toBe(201);
    expect(await read("r3")).toEqual(["everyone", "not-staff"]);
    expect((await admin.at("PUT", segPath(u, "staff"))).status).toBe(200);
    expect(await read("r4")).toEqual(["everyone"]);
    expect((await admin.at("PUT", segPath(u, "vip"))).status).toBe(200);
    expect(await read("r5")).toEqual(["everyone", "vip-only", "vip-or-rich"]);
    expect((await admin.at("DELETE", segPath(u, "staff"))).status).toBe(204);
    expect(await read("r6")).toEqual(["everyone", "not-staff", "vip-not-staff", "vip-only", "vip-or-rich"]);
    expect((await admin.at("DELETE", segPath(u, "vip"))).status).toBe(204);
    expect((await admin.adjust(u, "points", { amount: 1, reason: "x" })).status).toBe(201);
    expect(await read("r7")).toEqual(["everyone", "not-staff", "rich-only", "vip-or-rich"]);
    // 2 + 4 + 2 + 1 + 3 + 5 + 4 hits.
    expect(await balances(admin, u)).toEqual({ points: 100, hits: 21 });
  });

  it("membership gained earlier in the same event's cascade counts for lower-priority campaigns only", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("metrics", "hits", { name: "Hits", kind: "counter" });
    await admin.define("segments", "club", { name: "Club", type: "static" });
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "gte", value: 100 } });
    const hit = [add("hits", 1)];
    // Static: joining the club (priority 10) lets the priority-0 club campaign count the same event.
    await admin.define("campaigns", "join-club", oneStep("Join", "join", [{ type: "segment.add", segment: "club" }], { priority: 10 }));
    await admin.define("campaigns", "club-early", oneStep("Club early", "join", hit, { priority: 20, audience: { include: ["club"] } }));
    await admin.define("campaigns", "club-late", oneStep("Club late", "join", hit, { priority: 0, audience: { include: ["club"] } }));
    // Dynamic: the 100 points of buy-earn (priority 10) make the user rich for rich-late.
    await admin.define("campaigns", "buy-earn", oneStep("Earn", "buy", [add("points", 100)], { priority: 10 }));
    await admin.define("campaigns", "rich-early", oneStep("Rich early", "buy", hit, { priority: 20, audience: { include: ["rich"] } }));
    await admin.define("campaigns", "rich-late", oneStep("Rich late", "buy", hit, { priority: 0, audience: { include: ["rich"] } }));
    // Exclusion in the cascade: joining the club shuts out the lower-priority non-member campaign.
    await admin.define("campaigns", "outsider-late", oneStep("Outsiders", "join", hit, { priority: -5, audience: { exclude: ["club"] } }));

    const u = uniqueUser("cascade");
    let o = await admin.apply({ id: "j1", userId: u, type: "join" }, "?explain=true");
    expect(stepCampaigns(o)).toEqual(["join-club", "club-late"]);
    expect(o.explain.filter((x: any) => x.reason === "not_in_audience").map((x: any) => x.campaign).sort()).toEqual(["club-early", "outsider-late"]);
    o = await admin.apply({ id: "j2", userId: u, type: "join" });
    expect(stepCampaigns(o)).toEqual(["club-early", "join-club", "club-late"]);

    o = await admin.apply({ id: "b1", userId: u, type: "buy" }, "?explain=true");
    expect(stepCampaigns(o)).toEqual(["buy-earn", "rich-late"]);
    expect(segmentChanges(o)).toEqual([["rich", true]]);
    expect(o.explain.filter((x: any) => x.reason === "not_in_audience").map((x: any) => x.campaign)).toEqual(["rich-early"]);
    o = await admin.apply({ id: "b2", userId: u, type: "buy" });
    expect(stepCampaigns(o)).toEqual(["rich-early", "buy-earn", "rich-late"]);
    // club-late (j1), club-early + club-late (j2), rich-late (b1), rich-early + rich-late (b2).
    expect(await balances(admin, u)).toEqual({ points: 200, hits: 6 });
  });
});

// 5. Isolation ------------------------------------------------------------------------------

describe("isolation", () => {
  it("a user's token shows only their own segments; another space's token is refused", async () => {
    const admin = await freshAdmin();
    await admin.define("segments", "vip", { name: "VIP", type: "static" });
    await admin.define("segments", "gold", { name: "Gold", type: "static" });
    const a = uniqueUser("a");
    const b = uniqueUser("b");
    expect((await admin.at("PUT", segPath(a, "vip"))).status).toBe(200);
    expect((await admin.at("PUT", segPath(a, "gold"))).status).toBe(200);
    expect((await admin.at("PUT", segPath(b, "gold"))).status).toBe(200);
    const tokenA = await admin.token(a);
    const tokenB = await admin.token(b);
    expect((await meGet(admin.space, tokenA, "/segments")).body).toEqual({
      data: [
        { segment: "gold", name: "Gold" },
        { segment: "vip", name: "VIP" },
      ],
    });
    expect((await meGet(admin.space, tokenB, "/segments")).body).toEqual({ data: [{ segment: "gold", name: "Gold" }] });
    expect((await meGet(admin.space, tokenB)).body.segments).toEqual(["gold"]);

    const other = await freshAdmin();
    await other.define("segments", "vip", { name: "Other VIP", type: "static" });
    expectProblemReply(await meGet(other.space, tokenA, "/segments"), 401, "token_invalid");
    // The same user id in the other space is someone else.
    const tokenA2 = await other.token(a);
    expect((await meGet(other.space, tokenA2, "/segments")).body).toEqual({ data: [] });
    expectProblemReply(await other.user(a), 404, "not_found");
  });

  it("a segment that exists only in another space is 404, and nothing is written in either space", async () => {
    const spaceA = await freshAdmin();
    const spaceB = await freshAdmin();
    await spaceA.define("segments", "vip", { name: "VIP A", type: "static" });
    await spaceB.define("segments", "only-b", { name: "Only B", type: "static" });
    await spaceB.define("segments", "vip", { name: "VIP B", type: "static" });
    const u = uniqueUser("iso");

    for (const method of ["PUT", "DELETE"]) {
      const problem = expectProblemReply(await spaceA.at(method, segPath(u, "only-b")), 404, "not_found");
      expect(problem.errors.map((e: any) => e.path)).toEqual(["path.segmentId"]);
    }
    expectProblemReply(await spaceA.user(u), 404, "not_found");
    expectProblemReply(await spaceB.user(u), 404, "not_found");

    // A membership in A's "vip" is not one in B's "vip".
    expect((await spaceA.at("PUT", segPath(u, "vip"))).status).toBe(200);
    expect(await documentSegments(spaceA, u)).toEqual([{ segment: "vip", name: "VIP A" }]);
    expectProblemReply(await spaceB.user(u), 404, "not_found");

    // An admin key of space A cannot act in space B.
    const key = await createKey(spaceA.space, ["admin"]);
    const foreign = adminOf(spaceB.space, key.secret);
    expectProblemReply(await foreign.at("PUT", segPath(u, "only-b")), 403, "wrong_space");
    expectProblemReply(await spaceB.user(u), 404, "not_found");

    // Once A's index has the member, B's same-named segment still has none.
    const aMembers = await until(() => spaceA.get("/segments/vip/users"), (r) => JSON.stringify(idsOf(r)) === JSON.stringify([u]));
    expect(idsOf(aMembers)).toEqual([u]);
    const bMembers = await spaceB.get("/segments/vip/users");
    expect(bMembers.status, bMembers.text).toBe(200);
    expect(bMembers.body.data).toEqual([]);
    expect(idsOf(await spaceB.get("/users"))).toEqual([]);
    expect((await spaceB.get("/segments/vip")).body.memberCount).toBe(0);
  });
});
