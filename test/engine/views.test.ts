import { describe, expect, it } from "vitest";
import { campaignsView, laddersView, metricsView, profileView, rewardsView, segmentsView, userDocument } from "../../src/engine/views";
import { emptyUserState, type CampaignState, type UserState } from "../../src/engine/types";
import { campaign, DAY, ladder, metric, product, programmeOf, segment } from "./builders";

// SPEC §9 (and §4.4's progress formula): what a user sees of their state, as of `now`.

const NOW = Date.parse("2026-11-25T10:00:00.000Z");
const user = (over: Partial<UserState> = {}): UserState => ({ ...emptyUserState("u1"), ...over });

describe("metricsView", () => {
  const programme = programmeOf([metric("points"), metric("xp", { kind: "counter", initial: 50 }), metric("temp", { kind: "gauge", initial: -5 })]);
  it("every metric, untouched ones at their initial value", () => {
    expect(metricsView(programme, user({ metrics: { points: { balance: 30, lifetime: 80 } } }))).toEqual([
      { metric: "points", name: "points", kind: "currency", balance: 30, lifetime: 80 },
      { metric: "xp", name: "xp", kind: "counter", balance: 50, lifetime: 50 },
      { metric: "temp", name: "temp", kind: "gauge", balance: -5, lifetime: 0 },
    ]);
  });
});

describe("laddersView: progress = clamp((value − level) / (next − level), 0, 1), 1 at the top", () => {
  const defs = [metric("points"), metric("xp", { kind: "counter", initial: 150 })];
  const tiers = { bronze: 0, silver: 100, gold: 500 };
  const brief = (id: string) => ({ id, name: id, threshold: tiers[id as keyof typeof tiers] });
  it.each<[name: string, basis: string, held: { balance: number; lifetime: number } | undefined, level: string | undefined, out: { level: string; next: string | null; value: number; progress: number }]>([
    ["a user never seen", "lifetime", undefined, undefined, { level: "bronze", next: "silver", value: 0, progress: 0 }],
    ["bronze, a quarter of the way", "lifetime", { balance: 25, lifetime: 25 }, "bronze", { level: "bronze", next: "silver", value: 25, progress: 0.25 }],
    ["silver, between", "lifetime", { balance: 0, lifetime: 250 }, "silver", { level: "silver", next: "gold", value: 250, progress: 0.375 }],
    ["silver on the balance basis", "balance", { balance: 300, lifetime: 900 }, "silver", { level: "silver", next: "gold", value: 300, progress: 0.5 }],
    ["a kept level below its threshold clamps at 0", "balance", { balance: 50, lifetime: 200 }, "silver", { level: "silver", next: "gold", value: 50, progress: 0 }],
    ["the top level", "lifetime", { balance: 0, lifetime: 600 }, "gold", { level: "gold", next: null, value: 600, progress: 1 }],
    ["the top level exactly at its threshold", "lifetime", { balance: 0, lifetime: 500 }, "gold", { level: "gold", next: null, value: 500, progress: 1 }],
  ])("%s", (_name, basis, held, level, out) => {
    const programme = programmeOf([...defs, ladder("tiers", "points", tiers, { basis })]);
    const state = user({ metrics: held ? { points: held } : {}, ladders: level ? { tiers: level } : {} });
    expect(laddersView(programme, state)).toEqual([
      { ladder: "tiers", name: "tiers", level: brief(out.level), next: out.next ? brief(out.next) : null, value: out.value, progress: out.progress },
    ]);
  });
});

describe("campaignsView", () => {
  const visible = (id: string, body: Record<string, unknown> = {}) => campaign(id, [{ id: "a", on: "x", target: 3 }, { id: "b", on: "y" }], body);
  const programme = programmeOf([
    segment("vip"),
    segment("staff"),
    visible("active"),
    visible("hidden", { visibility: "hidden" }),
    visible("paused", { status: "paused" }),
    visible("draft", { status: "draft" }),
    visible("archived", { status: "archived" }),
    visible("upcoming", { startsAt: "2026-12-01T00:00:00Z" }),
    visible("ended-recently", { endsAt: new Date(NOW - 30 * DAY).toISOString() }),
    visible("ended-long-ago", { endsAt: new Date(NOW - 30 * DAY - 1).toISOString() }),
    visible("for-vips", { audience: { include: ["vip"] } }),
    visible("not-for-staff", { audience: { exclude: ["staff"] } }),
  ]);
  const ids = (state: UserState, includeHidden = false) => campaignsView(programme, state, NOW, { includeHidden }).map((c) => [c.campaign, c.status]);

  it("lists visible active, paused, upcoming and recently ended campaigns in the audience, by id", () => {
    expect(ids(user())).toEqual([
      ["active", "active"],
      ["ended-recently", "ended"],
      ["not-for-staff", "active"],
      ["paused", "paused"],
      ["upcoming", "upcoming"],
    ]);
  });
  it.each<[name: string, segments: string[], includeHidden: boolean, added: string[], removed: string[]]>([
    ["a vip sees the vip campaign", ["vip"], false, ["for-vips"], []],
    ["staff do not see the campaign excluding them", ["staff"], false, [], ["not-for-staff"]],
    ["the admin document includes hidden campaigns", [], true, ["hidden"], []],
  ])("%s", (_name, segments, includeHidden, added, removed) => {
    const base = ids(user()).map(([id]) => id);
    const got = ids(user({ staticSegments: segments }), includeHidden).map(([id]) => id);
    expect(got).toEqual([...base.filter((id) => !removed.includes(id!)), ...added].sort());
  });

  const cs = (c: Partial<CampaignState>): CampaignState => ({ completions: 0, period: "all", periodCompletions: 0, progress: {}, ...c });
  it.each<[name: string, repeat: Record<string, unknown>, held: CampaignState | undefined, remaining: number | null, progress: number[]]>([
    ["never started, limit 1", {}, undefined, 1, [0, 0]],
    ["in progress", {}, cs({ progress: { a: 2 } }), 1, [2, 0]],
    ["done, limit 1", {}, cs({ completions: 1, periodCompletions: 1, progress: { a: 3, b: 1 } }), 0, [3, 1]],
    ["unlimited", { limit: null }, cs({ completions: 7, periodCompletions: 7 }), null, [0, 0]],
    ["total left", { limit: null, total: 5 }, cs({ completions: 2, periodCompletions: 2 }), 3, [0, 0]],
    ["per day, today", { limit: 2, every: "day" }, cs({ completions: 4, period: "2026-11-25", periodCompletions: 1, progress: { a: 1 } }), 1, [1, 0]],
    ["per day, an older day resets", { limit: 2, every: "day" }, cs({ completions: 4, period: "2026-11-24", periodCompletions: 2, progress: { a: 1 } }), 2, [0, 0]],
    ["per day with a total nearly used", { limit: 2, every: "day", total: 5 }, cs({ completions: 4, period: "2026-11-24", periodCompletions: 2 }), 1, [0, 0]],
    ["per week", { limit: 1, every: "week" }, cs({ completions: 1, period: "2026-W48", periodCompletions: 1, progress: { a: 3, b: 1 } }), 0, [3, 1]],
  ])("remaining and progress: %s", (_name, repeat, held, remaining, progress) => {
    const p = programmeOf([visible("c", { repeat })]);
    const [view] = campaignsView(p, user({ campaigns: held ? { c: held } : {} }), NOW);
    expect(view).toEqual({
      campaign: "c",
      name: "c",
      description: null,
      imageUrl: null,
      status: "active",
      startsAt: null,
      endsAt: null,
      steps: [
        { step: "a", name: "a", progress: progress[0], target: 3, completed: progress[0]! >= 3 },
        { step: "b", name: "b", progress: progress[1], target: 1, completed: progress[1]! >= 1 },
      ],
      completions: held?.completions ?? 0,
      remaining,
    });
  });

  it("periods follow the user's zone", () => {
    const p = programmeOf([visible("c", { repeat: { limit: 1, every: "day" } })]);
    const held = { c: cs({ completions: 1, period: "2026-11-25", periodCompletions: 1 }) };
    // 10:00Z is already 2026-11-26 in Kiritimati (+14): a new day, one completion left.
    expect(campaignsView(p, user({ campaigns: held }), NOW)[0]!.remaining).toBe(0);
    expect(campaignsView(p, user({ campaigns: held, timezone: "Pacific/Kiritimati" }), NOW)[0]!.remaining).toBe(1);
  });
});

describe("profileView, rewards, segments and the admin document", () => {
  const programme = programmeOf([
    metric("points"),
    ladder("tiers", "points", { bronze: 0, silver: 100 }),
    product("badge", { type: "badge" }),
    product("badge2", { type: "badge" }),
    product("ticket"),
    segment("vip"),
    segment("rich", { path: "user.metrics.points.balance", op: "gte", value: 100 }),
  ]);
  const state = user({
    attributes: JSON.parse('{"nick":"ada","email":"a@x","country":"GB"}'),
    timezone: "Europe/London",
    metrics: { points: { balance: 150, lifetime: 200 } },
    products: { badge: 1, badge2: 1, ticket: 4 },
    staticSegments: ["vip", "gone"],
    dynamicSegments: ["rich"],
    ladders: { tiers: "silver" },
  });

  it.each<[publicAttributes: string[], attributes: Record<string, unknown>]>([
    [[], {}],
    [["nick"], { nick: "ada" }],
    [["nick", "country", "missing", "toString"], { nick: "ada", country: "GB" }],
  ])("public attributes %j only", (publicAttributes, attributes) => {
    expect(profileView(programme, state, publicAttributes, NOW)).toEqual({
      userId: "u1",
      attributes,
      timezone: "Europe/London",
      metrics: [{ metric: "points", balance: 150 }],
      ladders: [{ ladder: "tiers", level: "silver" }],
      streaks: [],
      badges: 2,
      segments: ["rich", "vip"],
    });
  });

  it("rewards and segments", () => {
    expect(rewardsView(programme, state)).toEqual([
      { product: "badge", type: "badge", name: "badge", quantity: 1, codes: [] },
      { product: "badge2", type: "badge", name: "badge2", quantity: 1, codes: [] },
      { product: "ticket", type: "item", name: "ticket", quantity: 4, codes: [] },
    ]);
    expect(segmentsView(programme, state)).toEqual([
      { segment: "rich", name: "rich" },
      { segment: "vip", name: "vip" },
    ]);
  });

  it("a user never seen gets an empty, well-formed document", () => {
    expect(userDocument(programme, user(), NOW)).toEqual({
      userId: "u1",
      attributes: {},
      timezone: null,
      locale: null,
      metrics: [{ metric: "points", name: "points", kind: "currency", balance: 0, lifetime: 0 }],
      ladders: [{ ladder: "tiers", name: "tiers", level: { id: "bronze", name: "bronze", threshold: 0 }, next: { id: "silver", name: "silver", threshold: 100 }, value: 0, progress: 0 }],
      streaks: [],
      rewards: [],
      segments: [],
      campaigns: [],
      createdAt: null,
      lastSeenAt: null,
    });
  });
});
