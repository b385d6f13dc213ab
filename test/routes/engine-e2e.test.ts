import { describe, expect, it, vi } from "vitest";
import { freshAdmin, meGet, sumDeltas, uniqueUser, type Admin } from "../helpers/users-api";

// Issue 4's "Done when": a small programme built through the Admin API — points, an XP
// ladder, a 3-step sequential challenge ending with a badge, a hidden repeatable daily
// campaign, an audience-restricted campaign and a campaign triggered by
// loyalty.ladder.level_changed — driven with events for a user, checking every outcome,
// the User API views (minted token) and the admin user document. Real Worker, Durable
// Objects and D1 (SELF.fetch).

// SELF.fetch slows down with every request a file sends (cloudflare/workers-sdk#15446).
vi.setConfig({ testTimeout: 30_000 });

const DAY = 86_400_000;
/** Noon UTC `daysAgo` days ago: days apart in UTC (the space's zone; the user has none). */
const noon = (daysAgo: number) => {
  const d = new Date(Date.now() - daysAgo * DAY);
  d.setUTCHours(12, 0, 0, 0);
  return d.toISOString();
};

async function buildProgramme(): Promise<Admin> {
  const admin = await freshAdmin();
  await admin.define("metrics", "points", { name: "Points", kind: "currency" });
  await admin.define("metrics", "xp", { name: "XP", kind: "counter" });
  await admin.define("ladders", "tiers", {
    name: "Tier",
    metric: "xp",
    levels: [
      { id: "bronze", name: "Bronze", threshold: 0 },
      { id: "silver", name: "Silver", threshold: 100 },
      { id: "gold", name: "Gold", threshold: 300 },
    ],
  });
  await admin.define("products", "finisher", { type: "badge", name: "Finisher" });
  await admin.define("segments", "vip", { name: "VIP", type: "static" });

  // XP for every read (unlimited repeats).
  await admin.define("campaigns", "xp-per-read", {
    name: "XP per read",
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "read", name: "Read", trigger: { eventType: "read" }, effects: [{ type: "metric.add", metric: "xp", amount: 40 }] }],
  });
  // The 3-step sequential challenge: read twice, share, buy for 50 or more; a badge on
  // the last step and XP on completion.
  await admin.define("campaigns", "challenge", {
    name: "Welcome challenge",
    description: "Read, share, buy",
    status: "active",
    order: "sequential",
    steps: [
      { id: "read-2", name: "Read two articles", trigger: { eventType: "read" }, target: 2, effects: [{ type: "metric.add", metric: "points", amount: 10 }] },
      { id: "share", name: "Share one", trigger: { eventType: "share" }, effects: [{ type: "metric.add", metric: "points", amount: 20 }] },
      {
        id: "buy",
        name: "Buy for 50+",
        trigger: { eventType: "purchase", conditions: { path: "event.data.amount", op: "gte", value: 50 } },
        effects: [{ type: "product.grant", product: "finisher" }],
      },
    ],
    effects: [{ type: "metric.add", metric: "xp", amount: 200 }],
  });
  // Hidden daily login bonus: once per day.
  await admin.define("campaigns", "daily-login", {
    name: "Daily login",
    status: "active",
    visibility: "hidden",
    repeat: { limit: 1, every: "day" },
    steps: [{ id: "login", name: "Log in", trigger: { eventType: "login" }, effects: [{ type: "metric.add", metric: "points", amount: 5 }] }],
  });
  // Joining the VIP club (a static segment) and the VIP-only bonus.
  await admin.define("campaigns", "join-vip", {
    name: "Join VIP",
    status: "active",
    steps: [{ id: "join", name: "Join", trigger: { eventType: "join_vip" }, effects: [{ type: "segment.add", segment: "vip" }] }],
  });
  await admin.define("campaigns", "vip-bonus", {
    name: "VIP bonus",
    status: "active",
    audience: { include: ["vip"] },
    repeat: { limit: null },
    steps: [{ id: "read", name: "Read as a VIP", trigger: { eventType: "read" }, effects: [{ type: "metric.add", metric: "points", amount: 100 }] }],
  });
  // Reaching gold pays 500 points.
  await admin.define("campaigns", "gold-bonus", {
    name: "Gold bonus",
    status: "active",
    steps: [
      {
        id: "gold",
        name: "Reach gold",
        trigger: { eventType: "loyalty.ladder.level_changed", conditions: { path: "event.data.to", op: "eq", value: "gold" } },
        effects: [{ type: "metric.add", metric: "points", amount: 500 }],
      },
    ],
  });
  return admin;
}

const typesOf = (outcome: any): string[] => outcome.derivedEvents.map((d: any) => d.type);
const campaignOf = (view: any, id: string) => (view.body.data ?? view.body.campaigns).find((c: any) => c.campaign === id);

describe("engine end to end", () => {
  it("a programme built through the Admin API, driven by events, seen through /me", { timeout: 60_000 }, async () => {
    const admin = await buildProgramme();
    const userId = uniqueUser("player");
    const token = await admin.token(userId);
    const ev = (id: string, type: string, extra: Record<string, unknown> = {}) =>
      admin.apply({ id, userId, type, ...extra }, "?explain=true");

    // 1. First read: the user is created; XP per read; challenge step 1 at 1/2; the VIP
    //    bonus does not count (not in the audience).
    let o = await ev("r1", "read");
    expect(o.steps).toEqual([
      { campaign: "challenge", step: "read-2", progress: 1, target: 2, completed: false },
      { campaign: "xp-per-read", step: "read", progress: 1, target: 1, completed: true },
    ]);
    expect(o.campaignsCompleted).toEqual([{ campaign: "xp-per-read", completions: 1 }]);
    expect(o.effects).toEqual([expect.objectContaining({ campaign: "xp-per-read", step: "read", type: "metric.add", metric: "xp", amount: 40, balance: 40, status: "applied" })]);
    expect(o.changes).toEqual([]);
    expect(o.derivedEvents[0]).toEqual({ id: "r1#1", type: "loyalty.user.created", depth: 1 });
    expect(typesOf(o)).toEqual(["loyalty.user.created", "loyalty.metric.changed", "loyalty.step.completed", "loyalty.campaign.completed"]);
    expect(o.derivedEvents.map((d: any) => d.id)).toEqual(["r1#1", "r1#2", "r1#3", "r1#4"]);
    expect(o.explain).toContainEqual({ campaign: "vip-bonus", step: "read", reason: "not_in_audience" });
    expect(o.cascadeLimited).toBe(false);
    expect(o.late).toBe(false);

    // /me/campaigns: per-step progress; hidden and out-of-audience campaigns absent.
    let campaigns = await meGet(admin.space, token, "/campaigns");
    expect(campaigns.status, campaigns.text).toBe(200);
    expect(campaigns.body.data.map((c: any) => c.campaign)).toEqual(["challenge", "gold-bonus", "join-vip", "xp-per-read"]);
    expect(campaignOf(campaigns, "challenge")).toEqual({
      campaign: "challenge",
      name: "Welcome challenge",
      description: "Read, share, buy",
      imageUrl: null,
      status: "active",
      startsAt: null,
      endsAt: null,
      steps: [
        { step: "read-2", name: "Read two articles", progress: 1, target: 2, completed: false },
        { step: "share", name: "Share one", progress: 0, target: 1, completed: false },
        { step: "buy", name: "Buy for 50+", progress: 0, target: 1, completed: false },
      ],
      completions: 0,
      remaining: 1,
    });
    expect(campaignOf(campaigns, "xp-per-read")).toMatchObject({ completions: 1, remaining: null });

    // 2. Second read completes step 1 (+10 points); a purchase now is not the next step.
    o = await ev("r2", "read");
    expect(o.steps).toEqual([
      { campaign: "challenge", step: "read-2", progress: 2, target: 2, completed: true },
      { campaign: "xp-per-read", step: "read", progress: 1, target: 1, completed: true },
    ]);
    expect(o.effects.map((e: any) => [e.campaign, e.metric, e.amount, e.balance])).toEqual([
      ["challenge", "points", 10, 10],
      ["xp-per-read", "xp", 40, 80],
    ]);
    expect(o.campaignsCompleted).toEqual([{ campaign: "xp-per-read", completions: 2 }]);
    expect(typesOf(o)).not.toContain("loyalty.user.created");

    o = await ev("p0", "purchase", { data: { amount: 100 } });
    expect(o.steps).toEqual([]);
    expect(o.explain).toContainEqual({ campaign: "challenge", step: "buy", reason: "not_next_step" });

    // 3. Share: step 2 (+20 points).
    o = await ev("sh1", "share");
    expect(o.steps).toEqual([{ campaign: "challenge", step: "share", progress: 1, target: 1, completed: true }]);
    expect(o.effects).toEqual([expect.objectContaining({ campaign: "challenge", step: "share", metric: "points", amount: 20, balance: 30, status: "applied" })]);

    // 4. Third read: XP 120 → silver. The gold bonus sees level_changed but its condition fails.
    o = await ev("r3", "read");
    expect(o.steps).toEqual([{ campaign: "xp-per-read", step: "read", progress: 1, target: 1, completed: true }]);
    expect(o.changes).toEqual([{ type: "ladder", ladder: "tiers", from: "bronze", to: "silver" }]);
    expect(typesOf(o)).toContain("loyalty.ladder.level_changed");
    expect(o.explain).toContainEqual(
      expect.objectContaining({ campaign: "gold-bonus", step: "gold", reason: "condition_false", path: "event.data.to" }),
    );
    expect(o.explain).toContainEqual({ campaign: "challenge", step: "read-2", reason: "already_counted" });
    expect(o.campaignsCompleted).toEqual([{ campaign: "xp-per-read", completions: 3 }]);

    // 5. A small purchase does not meet step 3's condition.
    o = await ev("p1", "purchase", { data: { amount: 20 } });
    expect(o.steps).toEqual([]);
    expect(o.explain).toContainEqual(
      expect.objectContaining({ campaign: "challenge", step: "buy", reason: "condition_false", path: "event.data.amount", actual: 20 }),
    );
    o = await ev("p1b", "purchase", { data: { amount: "60" } }); // no type coercion
    expect(o.steps).toEqual([]);

    // 6. A purchase of 60: step 3 → the badge; completion → +200 XP → gold → +500 points.
    o = await ev("p2", "purchase", { data: { amount: 60 } });
    expect(o.steps).toEqual([
      { campaign: "challenge", step: "buy", progress: 1, target: 1, completed: true },
      { campaign: "gold-bonus", step: "gold", progress: 1, target: 1, completed: true },
    ]);
    expect(o.campaignsCompleted).toEqual([
      { campaign: "challenge", completions: 1 },
      { campaign: "gold-bonus", completions: 1 },
    ]);
    expect(o.effects).toEqual([
      expect.objectContaining({ campaign: "challenge", step: "buy", type: "product.grant", product: "finisher", quantity: 1, status: "applied" }),
      expect.objectContaining({ campaign: "challenge", step: null, type: "metric.add", metric: "xp", amount: 200, balance: 320, status: "applied" }),
      expect.objectContaining({ campaign: "gold-bonus", step: "gold", type: "metric.add", metric: "points", amount: 500, balance: 530, status: "applied" }),
    ]);
    expect(o.changes).toEqual([{ type: "ladder", ladder: "tiers", from: "silver", to: "gold" }]);
    expect(typesOf(o)).toEqual(
      expect.arrayContaining([
        "loyalty.product.granted",
        "loyalty.step.completed",
        "loyalty.campaign.completed",
        "loyalty.metric.changed",
        "loyalty.ladder.level_changed",
      ]),
    );
    const levelChanged = o.derivedEvents.filter((d: any) => d.type === "loyalty.ladder.level_changed");
    expect(levelChanged).toHaveLength(1);
    // Derived events are numbered breadth-first from the root id.
    expect(o.derivedEvents.map((d: any) => d.id)).toEqual(o.derivedEvents.map((_: unknown, i: number) => `p2#${i + 1}`));

    // The challenge is done (limit 1): another purchase does nothing.
    o = await ev("p3", "purchase", { data: { amount: 80 } });
    expect(o.steps).toEqual([]);
    expect(o.explain).toContainEqual({ campaign: "challenge", step: "buy", reason: "repeat_exhausted" });

    // 7. The hidden daily login: once a day, by occurredAt; an older day is late.
    o = await ev("l1", "login", { occurredAt: noon(3) });
    expect(o.effects).toEqual([expect.objectContaining({ campaign: "daily-login", amount: 5, balance: 535 })]);
    expect(o.campaignsCompleted).toEqual([{ campaign: "daily-login", completions: 1 }]);
    o = await ev("l2", "login", { occurredAt: new Date(Date.parse(noon(3)) + 3_600_000).toISOString() });
    expect(o.effects).toEqual([]);
    expect(o.explain).toContainEqual({ campaign: "daily-login", step: "login", reason: "repeat_exhausted" });
    o = await ev("l3", "login", { occurredAt: noon(2) });
    expect(o.effects).toEqual([expect.objectContaining({ campaign: "daily-login", amount: 5, balance: 540 })]);
    expect(o.campaignsCompleted).toEqual([{ campaign: "daily-login", completions: 2 }]);
    o = await ev("l4", "login", { occurredAt: noon(4) });
    expect(o.late).toBe(true);
    expect(o.effects).toEqual([]);

    // 8. Not yet a VIP: reads give no bonus. Joining adds the segment; then reads do.
    o = await ev("j1", "join_vip");
    expect(o.effects).toEqual([expect.objectContaining({ campaign: "join-vip", type: "segment.add", segment: "vip", status: "applied" })]);
    expect(o.changes).toEqual([{ type: "segment", segment: "vip", member: true }]);
    expect(typesOf(o)).toContain("loyalty.segment.entered");
    o = await ev("r4", "read");
    expect(o.steps).toEqual([
      { campaign: "vip-bonus", step: "read", progress: 1, target: 1, completed: true },
      { campaign: "xp-per-read", step: "read", progress: 1, target: 1, completed: true },
    ]);
    expect(o.effects.map((e: any) => [e.campaign, e.metric, e.amount, e.balance])).toEqual([
      ["vip-bonus", "points", 100, 640],
      ["xp-per-read", "xp", 40, 360],
    ]);

    // Final balances: points 10 + 20 + 500 + 5 + 5 + 100 = 640; XP 4 × 40 + 200 = 360.
    const expected = { points: 640, xp: 360 };

    // The admin user document: every piece, hidden campaigns included.
    const doc = await admin.user(userId);
    expect(doc.status, doc.text).toBe(200);
    expect(doc.headers.get("cache-control")).toMatch(/no-store/);
    expect(doc.body).toMatchObject({
      userId,
      attributes: {},
      timezone: null,
      locale: null,
      metrics: [
        { metric: "points", name: "Points", kind: "currency", balance: 640, lifetime: 640 },
        { metric: "xp", name: "XP", kind: "counter", balance: 360, lifetime: 360 },
      ],
      ladders: [
        { ladder: "tiers", name: "Tier", level: { id: "gold", name: "Gold", threshold: 300 }, next: null, value: 360, progress: 1 },
      ],
      streaks: [],
      rewards: [{ product: "finisher", type: "badge", name: "Finisher", quantity: 1, codes: [] }],
      segments: [{ segment: "vip", name: "VIP" }],
    });
    // createdAt is the earliest occurredAt seen (the backfilled login four days ago).
    expect(doc.body.createdAt).toBe(noon(4));
    expect(Date.parse(doc.body.lastSeenAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(campaignOf(doc, "daily-login")).toMatchObject({ completions: 2, remaining: 1 });
    expect(campaignOf(doc, "vip-bonus")).toMatchObject({ completions: 1, remaining: null });

    // Ledger invariants for both metrics.
    for (const [metric, balance] of Object.entries(expected)) {
      const ledger = await admin.ledger(userId, metric, 3);
      expect(sumDeltas(ledger)).toBe(balance);
      expect(await admin.stub(userId).ledgerSum(metric)).toBe(balance);
      expect(ledger[0].balanceAfter).toBe(balance);
    }

    // The User API views.
    const me = await meGet(admin.space, token);
    expect(me.status, me.text).toBe(200);
    expect(me.headers.get("cache-control")).toBe("private, no-store");
    expect(me.body).toMatchObject({
      userId,
      attributes: {},
      timezone: null,
      metrics: [
        { metric: "points", balance: 640 },
        { metric: "xp", balance: 360 },
      ],
      ladders: [{ ladder: "tiers", level: "gold" }],
      streaks: [],
      badges: 1,
      segments: ["vip"],
    });

    const metrics = await meGet(admin.space, token, "/metrics");
    expect(metrics.body).toEqual({
      data: [
        { metric: "points", name: "Points", kind: "currency", balance: 640, lifetime: 640 },
        { metric: "xp", name: "XP", kind: "counter", balance: 360, lifetime: 360 },
      ],
    });
    const one = await meGet(admin.space, token, "/metrics/xp");
    expect(one.body).toEqual({ metric: "xp", name: "XP", kind: "counter", balance: 360, lifetime: 360 });
    expect((await meGet(admin.space, token, "/metrics/nope")).status).toBe(404);

    // The points ledger through the User API: newest first, paginated, summing to the balance.
    const entries: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await meGet(admin.space, token, `/metrics/points/transactions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status, page.text).toBe(200);
      entries.push(...page.body.data);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(entries.map((e) => e.delta)).toEqual([100, 5, 5, 500, 20, 10]);
    expect(entries.map((e) => e.source.eventId)).toEqual(["r4", "l3", "l1", "p2", "sh1", "r2"]);
    expect(entries[3].source).toMatchObject({ eventId: "p2", campaign: "gold-bonus", step: "gold", derivedEventId: expect.stringMatching(/^p2#\d+$/) });
    expect(entries[0]).toMatchObject({ metric: "points", reason: "effect", balanceAfter: 640, occurredAt: expect.any(String), at: expect.any(String) });

    const rewards = await meGet(admin.space, token, "/rewards");
    expect(rewards.body).toEqual({ data: [{ product: "finisher", type: "badge", name: "Finisher", quantity: 1, codes: [] }] });

    const ladders = await meGet(admin.space, token, "/ladders");
    expect(ladders.body).toEqual({
      data: [{ ladder: "tiers", name: "Tier", level: { id: "gold", name: "Gold", threshold: 300 }, next: null, value: 360, progress: 1 }],
    });

    campaigns = await meGet(admin.space, token, "/campaigns");
    expect(campaigns.body.data.map((c: any) => c.campaign)).toEqual(["challenge", "gold-bonus", "join-vip", "vip-bonus", "xp-per-read"]);
    expect(campaignOf(campaigns, "challenge")).toMatchObject({
      steps: [
        { step: "read-2", progress: 2, target: 2, completed: true },
        { step: "share", progress: 1, target: 1, completed: true },
        { step: "buy", progress: 1, target: 1, completed: true },
      ],
      completions: 1,
      remaining: 0,
    });
    expect(campaignOf(campaigns, "gold-bonus")).toMatchObject({ completions: 1, remaining: 0 });
    expect(campaignOf(campaigns, "vip-bonus")).toMatchObject({ completions: 1, remaining: null });
    expect(campaignOf(campaigns, "daily-login")).toBeUndefined();
    expect((await meGet(admin.space, token, "/campaigns/daily-login")).status).toBe(404);
    const single = await meGet(admin.space, token, "/campaigns/challenge");
    expect(single.body).toEqual(campaignOf(campaigns, "challenge"));

    const segments = await meGet(admin.space, token, "/segments");
    expect(segments.body).toEqual({ data: [{ segment: "vip", name: "VIP" }] });

    const activity = await meGet(admin.space, token, "/activity?limit=100");
    expect(activity.status).toBe(200);
    expect(activity.body.data.map((a: any) => a.eventId)).toEqual(
      ["r4", "j1", "l4", "l3", "l2", "l1", "p3", "p2", "p1b", "p1", "r3", "sh1", "p0", "r2", "r1"],
    );
    const p2 = activity.body.data.find((a: any) => a.eventId === "p2");
    expect(p2).toMatchObject({ type: "purchase", outcome: { campaignsCompleted: [{ campaign: "challenge", completions: 1 }, { campaign: "gold-bonus", completions: 1 }] } });
  });

  it("the audience-restricted campaign never counts for a user outside it", async () => {
    const admin = await buildProgramme();
    const outsider = uniqueUser("outsider");
    const insider = uniqueUser("insider");
    await admin.apply({ id: "j", userId: insider, type: "join_vip" });
    for (const userId of [outsider, insider]) {
      await admin.apply({ id: "r1", userId, type: "read" });
      await admin.apply({ id: "r2", userId, type: "read" });
    }
    expect(await admin.balance(outsider, "points")).toBe(10); // the challenge's step 1 only
    expect(await admin.balance(insider, "points")).toBe(210);
    const outsiderCampaigns = await meGet(admin.space, await admin.token(outsider), "/campaigns");
    expect(outsiderCampaigns.body.data.map((c: any) => c.campaign)).not.toContain("vip-bonus");
    expect((await meGet(admin.space, await admin.token(outsider), "/campaigns/vip-bonus")).status).toBe(404);
    const insiderCampaigns = await meGet(admin.space, await admin.token(insider), "/campaigns");
    expect(campaignOf(insiderCampaigns, "vip-bonus")).toMatchObject({ completions: 2 });
    expect((await meGet(admin.space, await admin.token(outsider), "/segments")).body).toEqual({ data: [] });
  });

  it("the daily campaign's days are the user's local days", async () => {
    const admin = await buildProgramme();
    const kiribati = uniqueUser("kiritimati"); // UTC+14
    const utc = uniqueUser("utc");
    expect((await admin.putUser(kiribati, { timezone: "Pacific/Kiritimati" })).status).toBe(201);
    // 09:00Z and 11:00Z on one UTC day are 23:00 and 01:00 (next day) in Kiritimati.
    const day = noon(3).slice(0, 10);
    for (const userId of [kiribati, utc]) {
      await admin.apply({ id: "a", userId, type: "login", occurredAt: `${day}T09:00:00Z` });
      await admin.apply({ id: "b", userId, type: "login", occurredAt: `${day}T11:00:00Z` });
    }
    expect(await admin.balance(kiribati, "points")).toBe(10);
    expect(await admin.balance(utc, "points")).toBe(5);
  });

  it("an unseen user's /me views answer an empty, well-formed state and do not create the user", async () => {
    const admin = await buildProgramme();
    const ghost = uniqueUser("ghost");
    const token = await admin.token(ghost);

    const me = await meGet(admin.space, token);
    expect(me.status, me.text).toBe(200);
    expect(me.body).toEqual({
      userId: ghost,
      attributes: {},
      timezone: null,
      metrics: [
        { metric: "points", balance: 0 },
        { metric: "xp", balance: 0 },
      ],
      ladders: [{ ladder: "tiers", level: "bronze" }],
      streaks: [],
      badges: 0,
      segments: [],
      space: admin.space.slug,
    });
    expect((await meGet(admin.space, token, "/metrics")).body).toEqual({
      data: [
        { metric: "points", name: "Points", kind: "currency", balance: 0, lifetime: 0 },
        { metric: "xp", name: "XP", kind: "counter", balance: 0, lifetime: 0 },
      ],
    });
    expect((await meGet(admin.space, token, "/metrics/points/transactions")).body).toEqual({ data: [], nextCursor: null });
    expect((await meGet(admin.space, token, "/rewards")).body).toEqual({ data: [] });
    expect((await meGet(admin.space, token, "/segments")).body).toEqual({ data: [] });
    expect((await meGet(admin.space, token, "/activity")).body).toEqual({ data: [], nextCursor: null });
    expect((await meGet(admin.space, token, "/ladders")).body).toEqual({
      data: [
        {
          ladder: "tiers",
          name: "Tier",
          level: { id: "bronze", name: "Bronze", threshold: 0 },
          next: { id: "silver", name: "Silver", threshold: 100 },
          value: 0,
          progress: 0,
        },
      ],
    });
    const campaigns = await meGet(admin.space, token, "/campaigns");
    expect(campaigns.body.data.map((c: any) => c.campaign)).toEqual(["challenge", "gold-bonus", "join-vip", "xp-per-read"]);
    expect(campaignOf(campaigns, "challenge")).toMatchObject({
      steps: [
        { step: "read-2", progress: 0, target: 2, completed: false },
        { step: "share", progress: 0, target: 1, completed: false },
        { step: "buy", progress: 0, target: 1, completed: false },
      ],
      completions: 0,
      remaining: 1,
    });

    // Reading created nothing.
    const doc = await admin.user(ghost);
    expect(doc.status, doc.text).toBe(404);
    expect(doc.body.code).toBe("not_found");
    expect(await admin.stub(ghost).getState()).toBeNull();
  });
});
