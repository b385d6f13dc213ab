import { afterEach, describe, expect, it, vi } from "vitest";
import { call, createKey } from "../helpers/harness";
import { ADMIN, adminOf, expectProblemReply, freshAdmin, meGet, uniqueUser, type Admin } from "../helpers/users-api";

// Streaks through the APIs (issue 5, SPEC §4.5, §9, §7): the shapes of /me/streaks and
// /me/streaks/{id}, the zone each streak is read in, the period bounds as UTC instants of
// the local period, the /me profile's summaries, the admin user document, the
// `streak.freeze` effect and who may call the restore route. Real Worker, Durable Objects
// and D1 through SELF.fetch; a fresh space and users in every test.
//
// The clock is pinned (vi.setSystemTime moves Date.now() for the Worker and its Durable
// Objects alike) to 20:00 UTC two days after the real today, so a read can never straddle
// a midnight, and the zones below land on different local dates: Asia/Kathmandu (UTC+05:45)
// is already on the next day, Pacific/Honolulu (UTC−10) and Europe/London on this one.
// Local day bounds are computed here from Intl's offset names, not with the engine's code.

vi.setConfig({ testTimeout: 30_000 });

afterEach(() => {
  vi.useRealTimers();
});

const MIN = 60_000;
const DAY = 86_400_000;

/** The zone's UTC offset (ms) at an instant, from Intl's `longOffset` name ("GMT+05:45", "GMT"). */
function offsetAt(zone: string, instant: number): number {
  const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
    .formatToParts(new Date(instant))
    .find((p) => p.type === "timeZoneName")!.value;
  const m = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(name);
  if (!m) throw new Error(`unexpected offset name ${name}`);
  if (!m[1]) return 0;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * MIN;
}

const addDays = (date: string, days: number): string => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
const localDate = (zone: string, instant: number): string => new Date(instant + offsetAt(zone, instant)).toISOString().slice(0, 10);
/** The UTC instant of local midnight starting `date` in `zone` (zones here have no midnight gap). */
function startOf(zone: string, date: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  const guess = utcMidnight - offsetAt(zone, utcMidnight);
  return utcMidnight - offsetAt(zone, guess);
}
const iso = (instant: number) => new Date(instant).toISOString();
/** The local day containing `instant` in `zone`, as the API shows it. */
function dayBounds(zone: string, instant: number) {
  const date = localDate(zone, instant);
  return { date, periodStart: iso(startOf(zone, date)), periodEnd: iso(startOf(zone, addDays(date, 1))) };
}
/** ISO weekday (1 = Monday) of a civil date. */
const weekdayOf = (date: string) => ((new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7) + 1;

/** Pins the clock at 20:00 UTC, two days after the real today; returns that instant. */
function pinClock(): number {
  const today = new Date().toISOString().slice(0, 10);
  const now = Date.parse(`${addDays(today, 2)}T20:00:00Z`);
  vi.setSystemTime(now);
  return now;
}

const SPEC_FIELDS = [
  "current",
  "freezes",
  "history",
  "keptThrough",
  "lastCheckinPeriod",
  "longest",
  "name",
  "period",
  "periodEnd",
  "periodStart",
  "status",
  "streak",
  "timezone",
];

function onEvery(eventType: string, effects: unknown[]) {
  return { name: `On ${eventType}`, status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "Each", trigger: { eventType }, effects }] };
}

/**
 * A space (zone `spaceZone`) with four streaks: `daily` (user mode, no zone of its own),
 * `weekly`, `hawaii` (user mode, falling back to Pacific/Honolulu) and `matchday` (fixed:
 * Europe/London for everyone); a `visit` checks in to all four; `gift` grants freezes.
 */
async function streaksSpace(spaceZone = "UTC"): Promise<Admin> {
  const admin = await freshAdmin({ timezone: spaceZone });
  await admin.define("streaks", "daily", { name: "Daily visit", period: "day", freezes: { initial: 1, max: 2 } });
  await admin.define("streaks", "weekly", { name: "Weekly visit", period: "week" });
  await admin.define("streaks", "hawaii", { name: "Aloha", period: "day", timezone: "Pacific/Honolulu" });
  await admin.define("streaks", "matchday", { name: "Matchday", period: "day", timezoneMode: "fixed", timezone: "Europe/London" });
  await admin.define(
    "campaigns",
    "checkin",
    onEvery(
      "visit",
      ["daily", "weekly", "hawaii", "matchday"].map((streak) => ({ type: "streak.checkin", streak })),
    ),
  );
  return admin;
}

let serial = 0;
const visit = (admin: Admin, userId: string, instant: number) =>
  admin.apply({ id: `visit-${++serial}`, userId, type: "visit", occurredAt: iso(instant) });

async function myStreaks(admin: Admin, userId: string): Promise<Record<string, any>> {
  const a = await meGet(admin.space, await admin.token(userId), "/streaks");
  expect(a.status, a.text).toBe(200);
  expect(a.headers.get("cache-control")).toBe("private, no-store");
  expect(Object.keys(a.body)).toEqual(["data"]);
  return Object.fromEntries(a.body.data.map((s: any) => [s.streak, s]));
}

describe("/me/streaks for a user never seen", () => {
  it("answers 200 with every streak in status none, in the zone each falls back to, and creates nothing", async () => {
    const now = pinClock();
    const admin = await streaksSpace("Asia/Kathmandu");
    const userId = uniqueUser("new");
    const token = await admin.token(userId);
    const a = await meGet(admin.space, token, "/streaks");
    expect(a.status, a.text).toBe(200);
    expect(a.body.data.map((s: any) => s.streak).sort()).toEqual(["daily", "hawaii", "matchday", "weekly"]);
    const byId = Object.fromEntries(a.body.data.map((s: any) => [s.streak, s]));
    for (const s of a.body.data) expect(Object.keys(s).sort(), s.streak).toEqual(SPEC_FIELDS);

    // No profile zone: the streak's own zone, else the space's (Asia/Kathmandu); fixed: London.
    const kathmandu = dayBounds("Asia/Kathmandu", now);
    expect(kathmandu.date, "Kathmandu is already on the next day").toBe(addDays(iso(now).slice(0, 10), 1));
    expect(byId.daily).toEqual({
      streak: "daily",
      name: "Daily visit",
      period: "day",
      status: "none",
      current: 0,
      longest: 0,
      freezes: 1,
      timezone: "Asia/Kathmandu",
      periodStart: kathmandu.periodStart,
      periodEnd: kathmandu.periodEnd,
      lastCheckinPeriod: null,
      keptThrough: null,
      history: [],
    });
    expect(byId.hawaii).toMatchObject({ status: "none", freezes: 0, timezone: "Pacific/Honolulu", ...pick(dayBounds("Pacific/Honolulu", now)) });
    expect(byId.matchday).toMatchObject({ status: "none", timezone: "Europe/London", ...pick(dayBounds("Europe/London", now)) });
    // The week (Monday start) containing Kathmandu's today.
    const monday = addDays(kathmandu.date, -(weekdayOf(kathmandu.date) - 1));
    expect(byId.weekly).toMatchObject({
      status: "none",
      period: "week",
      timezone: "Asia/Kathmandu",
      periodStart: iso(startOf("Asia/Kathmandu", monday)),
      periodEnd: iso(startOf("Asia/Kathmandu", addDays(monday, 7))),
    });

    const one = await meGet(admin.space, token, "/streaks/daily");
    expect(one.status, one.text).toBe(200);
    expect(one.body).toEqual(byId.daily);
    expect(one.headers.get("cache-control")).toBe("private, no-store");

    const profile = await meGet(admin.space, token);
    expect(profile.status, profile.text).toBe(200);
    expect(sortBy(profile.body.streaks)).toEqual([
      { streak: "daily", status: "none", current: 0, longest: 0 },
      { streak: "hawaii", status: "none", current: 0, longest: 0 },
      { streak: "matchday", status: "none", current: 0, longest: 0 },
      { streak: "weekly", status: "none", current: 0, longest: 0 },
    ]);
    // Reading never creates the user.
    expect((await admin.user(userId)).status).toBe(404);
  });

  it("a space without streaks answers an empty list; an unknown streak id is 404 not_found", async () => {
    pinClock();
    const admin = await freshAdmin();
    const userId = uniqueUser("empty");
    const token = await admin.token(userId);
    const list = await meGet(admin.space, token, "/streaks");
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [] });
    expectProblemReply(await meGet(admin.space, token, "/streaks/nope"), 404, "not_found");
    expectProblemReply(await meGet(admin.space, token, "/streaks/Not_An_Id!"), 400, "invalid_request");
    // Without a token: 401.
    const anonymous = await meGet(admin.space, "not-a-token", "/streaks");
    expect(anonymous.status).toBe(401);
  });
});

const pick = ({ periodStart, periodEnd }: { periodStart: string; periodEnd: string }) => ({ periodStart, periodEnd });
const sortBy = (items: Array<{ streak: string }>) => [...items].sort((a, b) => (a.streak < b.streak ? -1 : 1));

describe("zones: the user's profile zone, a fixed-zone streak, and the bounds of the current period", () => {
  it("after PUT timezone, user-mode streaks are cut in the user's zone; the fixed streak stays on Europe/London", async () => {
    const now = pinClock();
    const admin = await streaksSpace("UTC");
    const userId = uniqueUser("ktm");
    const put = await admin.putUser(userId, { timezone: "Asia/Kathmandu" });
    expect(put.status, put.text).toBe(201);
    const outcome = await visit(admin, userId, now);
    expect(outcome.effects.map((e: any) => [e.streak, e.status, e.current])).toEqual([
      ["daily", "applied", 1],
      ["weekly", "applied", 1],
      ["hawaii", "applied", 1],
      ["matchday", "applied", 1],
    ]);

    const streaks = await myStreaks(admin, userId);
    const kathmandu = dayBounds("Asia/Kathmandu", now);
    const london = dayBounds("Europe/London", now);
    expect(kathmandu.date).not.toBe(london.date);
    for (const id of ["daily", "hawaii"]) {
      // `hawaii`'s own zone is only a fallback: the user's zone wins.
      expect(streaks[id], id).toMatchObject({
        status: "active",
        current: 1,
        longest: 1,
        timezone: "Asia/Kathmandu",
        periodStart: kathmandu.periodStart,
        periodEnd: kathmandu.periodEnd,
        lastCheckinPeriod: kathmandu.date,
        keptThrough: kathmandu.date,
        history: [{ period: kathmandu.date, kept: "checkin" }],
      });
    }
    expect(Date.parse(streaks.daily.periodEnd) - Date.parse(streaks.daily.periodStart)).toBe(DAY);
    expect(streaks.daily.periodStart).toMatch(/T18:15:00\.000Z$/);
    expect(streaks.matchday).toMatchObject({
      status: "active",
      timezone: "Europe/London",
      periodStart: london.periodStart,
      periodEnd: london.periodEnd,
      lastCheckinPeriod: london.date,
      keptThrough: london.date,
    });
    expect(streaks.weekly).toMatchObject({ status: "active", timezone: "Asia/Kathmandu", lastCheckinPeriod: expect.stringMatching(/^\d{4}-W\d{2}$/) });

    // /streaks/{id} answers the same object as the list's entry.
    const one = await meGet(admin.space, await admin.token(userId), "/streaks/matchday");
    expect(one.body).toEqual(streaks.matchday);
  });

  it("without a profile zone, a user-mode streak uses its own zone, else the space's", async () => {
    const now = pinClock();
    const admin = await streaksSpace("Asia/Kathmandu");
    const userId = uniqueUser("nozone");
    await visit(admin, userId, now);
    const streaks = await myStreaks(admin, userId);
    const honolulu = dayBounds("Pacific/Honolulu", now);
    expect(streaks.hawaii).toMatchObject({ timezone: "Pacific/Honolulu", lastCheckinPeriod: honolulu.date, ...pick(honolulu) });
    const kathmandu = dayBounds("Asia/Kathmandu", now);
    expect(streaks.daily).toMatchObject({ timezone: "Asia/Kathmandu", lastCheckinPeriod: kathmandu.date, ...pick(kathmandu) });
    expect(honolulu.date).not.toBe(kathmandu.date);
  });

  it("two visits three hours apart on one London evening fall on two Kathmandu days", async () => {
    const now = pinClock();
    const admin = await streaksSpace("UTC");
    const userId = uniqueUser("ktm2");
    expect((await admin.putUser(userId, { timezone: "Asia/Kathmandu" })).status).toBe(201);
    // 17:00 and 20:00 UTC: one evening in London, but 22:45 and 01:45 (the next day) in
    // Kathmandu. The user-mode streak counts two days; the fixed-zone streak one.
    await visit(admin, userId, now - 3 * 3_600_000);
    const second = await visit(admin, userId, now);
    expect(second.effects.find((e: any) => e.streak === "daily")).toMatchObject({ status: "applied", current: 2 });
    expect(second.effects.find((e: any) => e.streak === "matchday")).toMatchObject({ status: "skipped", reason: "same_period", current: 1 });
    const streaks = await myStreaks(admin, userId);
    expect(streaks.daily).toMatchObject({ current: 2, status: "active" });
    expect(streaks.matchday).toMatchObject({ current: 1, status: "active" });
  });
});

describe("status as of now", () => {
  it("active (today), at_risk (yesterday), broken (days ago, no freeze left: current 0, longest kept)", async () => {
    const now = pinClock();
    const admin = await streaksSpace("UTC");
    const zone = "Asia/Kathmandu";
    const users = { today: uniqueUser("t"), yesterday: uniqueUser("y"), gone: uniqueUser("g") };
    for (const userId of Object.values(users)) expect((await admin.putUser(userId, { timezone: zone })).status).toBe(201);
    await visit(admin, users.today, now);
    await visit(admin, users.yesterday, now - DAY);
    // Two days running, then four days without a visit: the one freeze covers one.
    await visit(admin, users.gone, now - 6 * DAY);
    await visit(admin, users.gone, now - 5 * DAY);

    const bounds = pick(dayBounds(zone, now));
    const today = localDate(zone, now);
    expect((await myStreaks(admin, users.today)).daily).toMatchObject({ status: "active", current: 1, freezes: 1, keptThrough: today, ...bounds });
    expect((await myStreaks(admin, users.yesterday)).daily).toMatchObject({
      status: "at_risk",
      current: 1,
      freezes: 1,
      lastCheckinPeriod: addDays(today, -1),
      keptThrough: addDays(today, -1),
      ...bounds,
    });
    const gone = (await myStreaks(admin, users.gone)).daily;
    expect(gone).toMatchObject({
      status: "broken",
      current: 0,
      longest: 2,
      freezes: 0,
      lastCheckinPeriod: addDays(today, -5),
      keptThrough: addDays(today, -4),
      ...bounds,
    });
    // Newest first.
    expect(gone.history).toEqual([
      { period: addDays(today, -4), kept: "freeze" },
      { period: addDays(today, -5), kept: "checkin" },
      { period: addDays(today, -6), kept: "checkin" },
    ]);
    // The fixed-zone streak with no freezes broke too.
    expect((await myStreaks(admin, users.gone)).matchday).toMatchObject({ status: "broken", current: 0, longest: 2, freezes: 0 });
  });

  it("the /me profile summarises each streak; the admin user document carries the full /me/streaks entries", async () => {
    const now = pinClock();
    const admin = await streaksSpace("UTC");
    const userId = uniqueUser("doc");
    expect((await admin.putUser(userId, { timezone: "Europe/London" })).status).toBe(201);
    await visit(admin, userId, now - DAY);
    await visit(admin, userId, now);
    const token = await admin.token(userId);
    const profile = await meGet(admin.space, token);
    expect(profile.status, profile.text).toBe(200);
    expect(profile.body).toMatchObject({ userId, timezone: "Europe/London" });
    expect(sortBy(profile.body.streaks)).toEqual([
      { streak: "daily", status: "active", current: 2, longest: 2 },
      { streak: "hawaii", status: "active", current: 2, longest: 2 },
      { streak: "matchday", status: "active", current: 2, longest: 2 },
      // Yesterday and today may share a week.
      { streak: "weekly", status: "active", current: expect.any(Number), longest: expect.any(Number) },
    ]);

    const streaks = await myStreaks(admin, userId);
    const doc = await admin.user(userId);
    expect(doc.status, doc.text).toBe(200);
    expect(sortBy(doc.body.streaks)).toEqual(sortBy(Object.values(streaks)));
    expect(streaks.daily).toMatchObject({ timezone: "Europe/London", ...pick(dayBounds("Europe/London", now)) });
  });
});

describe("the streak.freeze effect (via a campaign)", () => {
  it("adds freezes up to freezes.max; beyond it the effect is skipped with freeze_cap; freezes then cover missed days", async () => {
    const now = pinClock();
    const admin = await freshAdmin();
    await admin.define("streaks", "daily", { name: "Daily", period: "day", freezes: { initial: 0, max: 2 } });
    await admin.define("campaigns", "checkin", onEvery("visit", [{ type: "streak.checkin", streak: "daily" }]));
    await admin.define("campaigns", "gift", onEvery("gift", [{ type: "streak.freeze", streak: "daily", count: 1 }]));
    await admin.define("campaigns", "big-gift", onEvery("big-gift", [{ type: "streak.freeze", streak: "daily", count: 5 }]));
    const userId = uniqueUser("frz");
    const freezesOf = async () => (await myStreaks(admin, userId)).daily;

    // A freeze before any check-in creates the streak's state (status still none).
    const first = await admin.apply({ id: "g-1", userId, type: "gift" });
    expect(first.effects).toEqual([expect.objectContaining({ campaign: "gift", type: "streak.freeze", status: "applied", streak: "daily", count: 1, freezes: 1 })]);
    expect(await freezesOf()).toMatchObject({ status: "none", freezes: 1, current: 0 });

    // Five requested, one room left: one granted, the request reported.
    const big = await admin.apply({ id: "g-2", userId, type: "big-gift" });
    expect(big.effects).toEqual([expect.objectContaining({ type: "streak.freeze", status: "applied", count: 1, requested: 5, freezes: 2 })]);
    const capped = await admin.apply({ id: "g-3", userId, type: "gift" });
    expect(capped.effects).toEqual([expect.objectContaining({ type: "streak.freeze", status: "skipped", reason: "freeze_cap", freezes: 2 })]);
    expect(await freezesOf()).toMatchObject({ freezes: 2 });

    // Two freezes cover two missed days, not three.
    await admin.apply({ id: "v-1", userId, type: "visit", occurredAt: iso(now - 3 * DAY) });
    const covered = await admin.apply({ id: "v-2", userId, type: "visit", occurredAt: iso(now) });
    expect(covered.effects[0]).toMatchObject({ type: "streak.checkin", status: "applied", current: 2 });
    const today = iso(now).slice(0, 10);
    expect(await freezesOf()).toMatchObject({
      status: "active",
      current: 2,
      freezes: 0,
      history: [
        { period: today, kept: "checkin" },
        { period: addDays(today, -1), kept: "freeze" },
        { period: addDays(today, -2), kept: "freeze" },
        { period: addDays(today, -3), kept: "checkin" },
      ],
    });
    // An unknown streak in an effect cannot be defined (validated on write).
    const bad = await admin.at("PUT", "/campaigns/bad", onEvery("x", [{ type: "streak.freeze", streak: "nope", count: 1 }]));
    expect(bad.status, bad.text).toBe(422);
  });
});

describe("who may restore a streak", () => {
  /** A user whose `daily` streak (no freezes) broke: one visit three days ago. */
  async function brokenUser(admin: Admin, now: number): Promise<string> {
    const userId = uniqueUser("brk");
    await admin.apply({ id: `old-${userId}`, userId, type: "visit", occurredAt: iso(now - 3 * DAY) });
    expect((await myStreaks(admin, userId)).daily).toMatchObject({ status: "broken" });
    return userId;
  }

  it("users:write and admin keys may (200); read and events:write keys get 403 insufficient_scope; a user token 401", async () => {
    const now = pinClock();
    const root = await freshAdmin();
    await root.define("streaks", "daily", { name: "Daily", period: "day" });
    await root.define("campaigns", "checkin", onEvery("visit", [{ type: "streak.checkin", streak: "daily" }]));
    const path = (userId: string) => `/users/${userId}/streaks/daily/restore`;

    for (const scope of ["read", "events:write"]) {
      const key = adminOf(root.space, (await createKey(root.space, [scope])).secret);
      const userId = await brokenUser(root, now);
      const refused = expectProblemReply(await key.at("POST", path(userId)), 403, "insufficient_scope");
      expect(refused.detail).toContain("users:write");
      expect((await myStreaks(root, userId)).daily).toMatchObject({ status: "broken", current: 0 });
    }
    for (const scope of ["users:write", "admin"]) {
      const key = adminOf(root.space, (await createKey(root.space, [scope])).secret);
      const userId = await brokenUser(root, now);
      const ok = await key.at("POST", path(userId));
      expect(ok.status, `${scope}: ${ok.text}`).toBe(200);
      expect(ok.body).toEqual({ streak: "daily", current: 1, keptThrough: addDays(iso(now).slice(0, 10), -1) });
      expect((await myStreaks(root, userId)).daily).toMatchObject({ status: "at_risk", current: 1 });
      // Once restored it is live: the same key is refused with 409 invalid_transition.
      expectProblemReply(await key.at("POST", path(userId)), 409, "invalid_transition");
    }
    // A user's own token is no Admin API credential.
    const userId = await brokenUser(root, now);
    const token = await root.token(userId);
    const withToken = await root.at("POST", path(userId), undefined, { Authorization: `Bearer ${token}` });
    expect(withToken.status, withToken.text).toBe(401);
    expect((await myStreaks(root, userId)).daily).toMatchObject({ status: "broken" });
  });

  it("the restore route is in the OpenAPI document", async () => {
    const res = await call("/api/loyalty/openapi.json", { key: null });
    expect(res.status).toBe(200);
    const spec: any = await res.json();
    const op = spec.paths[`${ADMIN}/users/{userId}/streaks/{id}/restore`]?.post;
    expect(op, "POST …/streaks/{id}/restore is documented").toBeDefined();
    expect(op.security, "admin credentials").toEqual(expect.arrayContaining([expect.any(Object)]));
    // (409 invalid_transition is described in the text only: no route lists 409 responses yet.)
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "401", "403", "404"]));
    expect(op.description).toContain("409 invalid_transition");
  });
});
