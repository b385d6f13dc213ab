import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { UserState } from "../../src/user/user-state";
import { expectProblemReply, freshAdmin, meGet, uniqueUser, type Admin } from "../helpers/users-api";

// Streak settlement by the user's Durable Object alarm (issue 5, SPEC §4.5, §5.6, §7, §9),
// through the real runtime: events and admin calls go through SELF.fetch to the Worker,
// the alarm is run with runDurableObjectAlarm, and what it did is read back through
// /me/streaks, the ledger, the activity log, the object's alarm and its `timers` table.
//
// The clock: the object settles as of Date.now(). vi.setSystemTime moves Date.now() for
// the Worker and for its Durable Objects alike (they share the test's isolate; checked in
// "the test clock is the object's clock" below), so each test pins the clock to chosen
// instants of days *after* the real today (an alarm set in the real past would fire on
// its own) and moves it to the instant the object's alarm is scheduled for.
//
// The user lives in Asia/Kolkata (UTC+05:30, no DST): local midnight is 18:30 UTC, so a
// streak cut by UTC days instead of the user's days would be caught. The oracle for local
// day bounds below is plain offset arithmetic, not the engine's time code.

vi.setConfig({ testTimeout: 30_000 });

afterEach(() => {
  vi.useRealTimers();
});

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const ZONE = "Asia/Kolkata";
const OFFSET = 5 * HOUR + 30 * MIN;
const GRACE_MIN = 60;
const GRACE = GRACE_MIN * MIN;
/** The object adds up to a minute of jitter to each streak timer. */
const JITTER = MIN;

/** The local (Asia/Kolkata) date of an instant. */
const localDate = (instant: number): string => new Date(instant + OFFSET).toISOString().slice(0, 10);
const addDays = (date: string, days: number): string => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
/** The first instant of a local date. */
const startOf = (date: string): number => Date.parse(`${date}T00:00:00Z`) - OFFSET;

/**
 * A calendar of local days starting two days after the real today (so every alarm the
 * object sets is in the real future). `day(n)` is the key of local day n; `at(n, h, m)` an
 * instant on it; `endOf(n)` the instant day n ends.
 */
function calendar() {
  const d0 = addDays(localDate(Date.now()), 2);
  const day = (n: number) => addDays(d0, n);
  return {
    day,
    at: (n: number, hours = 0, minutes = 0) => startOf(day(n)) + hours * HOUR + minutes * MIN,
    endOf: (n: number) => startOf(day(n + 1)),
  };
}

const iso = (instant: number) => new Date(instant).toISOString();

/** A campaign running `effects` on every `eventType` event (no repeat limit). */
function onEvery(eventType: string, effects: unknown[]) {
  return { name: `On ${eventType}`, status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "Each", trigger: { eventType }, effects }] };
}

const FREEZE_POINTS = 5;
const BROKEN_POINTS = 7;
const RESTORED_POINTS = 11;

/**
 * A fresh space: a daily streak (grace 60 min, 1 freeze at start, 2 at most), a campaign
 * checking in on `visit`, one granting a freeze on `gift`, and campaigns awarding points
 * on the streak's derived events so the alarm's work shows in the ledger.
 */
async function streakSpace(options: { freezes?: { initial: number; max: number }; period?: "day" | "week" } = {}): Promise<Admin> {
  const admin = await freshAdmin();
  await admin.define("metrics", "points", { name: "Points", kind: "currency" });
  await admin.define("streaks", "daily", {
    name: "Daily visit",
    period: options.period ?? "day",
    graceMinutes: GRACE_MIN,
    freezes: options.freezes ?? { initial: 1, max: 2 },
  });
  await admin.define("campaigns", "checkin", onEvery("visit", [{ type: "streak.checkin", streak: "daily" }]));
  await admin.define("campaigns", "gift", onEvery("gift", [{ type: "streak.freeze", streak: "daily", count: 1 }]));
  await admin.define("campaigns", "on-freeze", onEvery("loyalty.streak.freeze_used", [{ type: "metric.add", metric: "points", amount: FREEZE_POINTS }]));
  await admin.define("campaigns", "on-broken", onEvery("loyalty.streak.broken", [{ type: "metric.add", metric: "points", amount: BROKEN_POINTS }]));
  await admin.define("campaigns", "on-restored", onEvery("loyalty.streak.restored", [{ type: "metric.add", metric: "points", amount: RESTORED_POINTS }]));
  return admin;
}

/** A user of the space living in Asia/Kolkata. */
/** The common start of a test: the clock at local day `day`, `hour`, a streak space and a Kolkata user. */
async function kolkataStreakAt(day: number, hour: number, options?: Parameters<typeof streakSpace>[0]) {
  const cal = calendar();
  vi.setSystemTime(cal.at(day, hour));
  const admin = await streakSpace(options);
  const userId = await kolkataUser(admin);
  return { cal, admin, userId };
}

async function kolkataUser(admin: Admin): Promise<string> {
  const userId = uniqueUser("sk");
  const put = await admin.putUser(userId, { timezone: ZONE });
  expect(put.status, put.text).toBe(201);
  return userId;
}

let visits = 0;
/** A `visit` at `instant` (its occurredAt); returns the outcome. */
async function visit(admin: Admin, userId: string, instant: number): Promise<any> {
  return admin.apply({ id: `visit-${++visits}`, userId, type: "visit", occurredAt: iso(instant) });
}

/** /me/streaks/daily as the user sees it now (a token minted at the current test time). */
async function myStreak(admin: Admin, userId: string): Promise<any> {
  const a = await meGet(admin.space, await admin.token(userId), "/streaks/daily");
  expect(a.status, a.text).toBe(200);
  return a.body;
}

const alarmOf = (admin: Admin, userId: string): Promise<number | null> =>
  runInDurableObject(admin.stub(userId), (_instance: UserState, state) => state.storage.getAlarm());

const timersOf = (admin: Admin, userId: string): Promise<Array<{ name: string; due_at: number }>> =>
  runInDurableObject(admin.stub(userId), (_instance: UserState, state) =>
    state.storage.sql.exec<{ name: string; due_at: number }>(`SELECT name, due_at FROM timers ORDER BY name`).toArray().map((r) => ({ ...r })),
  );

/** Asserts the alarm (and the streak timer behind it) is due at `due` plus at most a minute's jitter; returns it. */
async function expectStreakAlarm(admin: Admin, userId: string, due: number): Promise<number> {
  const alarm = await alarmOf(admin, userId);
  expect(alarm, `alarm ${alarm === null ? null : iso(alarm)}, expected ${iso(due)} + jitter`).not.toBeNull();
  expect(alarm!).toBeGreaterThanOrEqual(due);
  expect(alarm!).toBeLessThan(due + JITTER);
  expect(await timersOf(admin, userId)).toEqual([{ name: "streaks", due_at: alarm }]);
  return alarm!;
}

async function expectNoAlarm(admin: Admin, userId: string): Promise<void> {
  expect(await alarmOf(admin, userId)).toBeNull();
  expect(await timersOf(admin, userId)).toEqual([]);
}

/** The newest activity entries of the alarm's settlement runs. */
async function timerRuns(admin: Admin, userId: string): Promise<any[]> {
  return (await admin.activity(userId)).filter((e) => e.type === "timer.streaks");
}

const derivedTypes = (outcome: any): string[] => outcome.derivedEvents.map((d: { type: string }) => d.type);

describe("the test clock is the object's clock", () => {
  it("vi.setSystemTime moves Date.now() inside the user's Durable Object too", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser();
    const target = Date.now() + 3 * DAY + 12_345;
    vi.setSystemTime(target);
    expect(await runInDurableObject(admin.stub(userId), () => Date.now())).toBe(target);
    // And what the object commits is stamped with it.
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    expect((await admin.adjust(userId, "points", { amount: 1, reason: "clock" })).status).toBe(201);
    expect((await admin.ledger(userId, "points"))[0].at).toBe(iso(target));
  });
});

describe("scheduling: a live streak's alarm is the end of the period after keptThrough, plus grace, in the user's zone", () => {
  it("a check-in at 02:00 local (20:30 UTC the day before) sets the alarm at the end of the next local day + 60 min", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 2);
    await expectNoAlarm(admin, userId);

    const outcome = await visit(admin, userId, cal.at(0, 2));
    expect(derivedTypes(outcome)).toEqual(expect.arrayContaining(["loyalty.streak.started", "loyalty.streak.extended"]));
    expect(outcome.effects).toEqual([expect.objectContaining({ campaign: "checkin", type: "streak.checkin", status: "applied", current: 1 })]);
    // UTC says the check-in was on the day before; the user's zone says day 0.
    expect(iso(cal.at(0, 2)).slice(0, 10)).toBe(cal.day(-1));

    // Day 0 is kept; day 1 must be checked in by its end + grace: 00:00 day 2 local + 60 min.
    const alarm = await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);
    expect(iso(cal.endOf(1) + GRACE)).toBe(`${cal.day(1)}T19:30:00.000Z`);
    expect(alarm - cal.at(0, 2)).toBeGreaterThan(DAY);

    const mine = await myStreak(admin, userId);
    expect(mine).toMatchObject({
      status: "active",
      current: 1,
      longest: 1,
      freezes: 1,
      timezone: ZONE,
      lastCheckinPeriod: cal.day(0),
      keptThrough: cal.day(0),
      periodStart: iso(startOf(cal.day(0))),
      periodEnd: iso(cal.endOf(0)),
      history: [{ period: cal.day(0), kept: "checkin" }],
    });
  });

  it("a second check-in the same day keeps the due time; the next day's check-in moves it one day later", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 9);
    await visit(admin, userId, cal.at(0, 9));
    const first = await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);

    vi.setSystemTime(cal.at(0, 21));
    const same = await visit(admin, userId, cal.at(0, 21));
    expect(same.effects[0]).toMatchObject({ type: "streak.checkin", status: "skipped", reason: "same_period", current: 1 });
    // The user's jitter is the same on every event, so the alarm does not move (nor is rewritten).
    expect(await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE)).toBe(first);

    vi.setSystemTime(cal.at(1, 23, 59));
    const next = await visit(admin, userId, cal.at(1, 23, 59));
    expect(next.effects[0]).toMatchObject({ status: "applied", current: 2 });
    const second = await expectStreakAlarm(admin, userId, cal.endOf(2) + GRACE);
    expect(second - first).toBe(DAY);
  });

  it("a weekly streak's alarm is the end of the next local week (Monday 00:00) + grace", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12, { period: "week" });
    await visit(admin, userId, cal.at(0, 12));
    // ISO weekday of local day 0 (1 = Monday): the week after this one ends on the Monday 14 days after this week's.
    const weekday = ((new Date(`${cal.day(0)}T12:00:00Z`).getUTCDay() + 6) % 7) + 1;
    const mondayAfterNext = cal.day(14 - (weekday - 1));
    await expectStreakAlarm(admin, userId, startOf(mondayAfterNext) + GRACE);
    const mine = await myStreak(admin, userId);
    expect(mine).toMatchObject({ status: "active", period: "week", current: 1, periodStart: iso(startOf(cal.day(-(weekday - 1)))), periodEnd: iso(startOf(cal.day(7 - (weekday - 1)))) });
    expect(mine.lastCheckinPeriod).toMatch(/^\d{4}-W\d{2}$/);
  });

  it("a streak kept through yesterday is live (alarm at the end of today + grace); older backfilled history sets no alarm", async () => {
    const cal = calendar();
    vi.setSystemTime(cal.at(3, 10));
    const admin = await streakSpace();
    const yesterday = await kolkataUser(admin);
    await visit(admin, yesterday, cal.at(2, 10));
    await expectStreakAlarm(admin, yesterday, cal.endOf(3) + GRACE);
    expect(await myStreak(admin, yesterday)).toMatchObject({ status: "at_risk", current: 1, freezes: 1, keptThrough: cal.day(2) });

    const backfilled = await kolkataUser(admin);
    await visit(admin, backfilled, cal.at(0, 10));
    await expectNoAlarm(admin, backfilled);
    // Reads settle lazily without writing: day 1 took the freeze, day 2 broke it.
    expect(await myStreak(admin, backfilled)).toMatchObject({ status: "broken", current: 0, longest: 1, freezes: 0, keptThrough: cal.day(1) });
    const stored = (await admin.stub(backfilled).getState()) as any;
    expect(stored.streaks.daily).toMatchObject({ current: 1, freezes: 1, keptThrough: cal.day(0), brokenLength: null });
    expect(await admin.balance(backfilled, "points")).toBe(0);

    // The next check-in settles what the read only showed: freeze_used and broken are
    // emitted (and rewarded) then, and the new run starts at 1 with an alarm.
    const today = await visit(admin, backfilled, cal.at(3, 10));
    expect(derivedTypes(today)).toEqual(
      expect.arrayContaining(["loyalty.streak.freeze_used", "loyalty.streak.broken", "loyalty.streak.started", "loyalty.streak.extended"]),
    );
    expect(await admin.balance(backfilled, "points")).toBe(FREEZE_POINTS + BROKEN_POINTS);
    expect(await myStreak(admin, backfilled)).toMatchObject({ status: "active", current: 1, longest: 1, freezes: 0, keptThrough: cal.day(3) });
    await expectStreakAlarm(admin, backfilled, cal.endOf(4) + GRACE);
  });
});

/** A zone's UTC offset (ms) at an instant, from Intl's `longOffset` name ("GMT-04:00", "GMT"). */
function offsetAt(zone: string, instant: number): number {
  const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
    .formatToParts(new Date(instant))
    .find((p) => p.type === "timeZoneName")!.value;
  const m = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(name);
  if (!m) throw new Error(`unexpected offset name ${name}`);
  return m[1] ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * MIN : 0;
}

/** Local midnight starting `date` in `zone` (London and New York change clocks at 01:00/02:00, never at midnight). */
function midnightIn(zone: string, date: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  return utcMidnight - offsetAt(zone, utcMidnight - offsetAt(zone, utcMidnight));
}

/** The next two local dates after the real today + 2 whose length is not 24 hours (one 23-hour, one 25-hour day). */
function nextTransitions(zone: string): string[] {
  const found: string[] = [];
  let date = addDays(new Date().toISOString().slice(0, 10), 3);
  for (let i = 0; i < 400 && found.length < 2; i++, date = addDays(date, 1)) {
    if (midnightIn(zone, addDays(date, 1)) - midnightIn(zone, date) !== DAY) found.push(date);
  }
  expect(found, zone).toHaveLength(2);
  return found;
}

describe("DST: the alarm settles a 23- or 25-hour day at its own end + grace", () => {
  const cases = ["Europe/London", "America/New_York"].flatMap((zone) => nextTransitions(zone).map((date) => [zone, date] as const));

  it.each(cases)("%s, the day of the clock change %s", async (zone, transition) => {
    const start = (n: number) => midnightIn(zone, addDays(transition, n));
    const length = start(1) - start(0);
    expect([23 * HOUR, 25 * HOUR]).toContain(length);
    // A visit at noon the day before the change.
    vi.setSystemTime(start(-1) + 12 * HOUR);
    const admin = await streakSpace();
    const userId = uniqueUser("dst");
    expect((await admin.putUser(userId, { timezone: zone })).status).toBe(201);
    await visit(admin, userId, start(-1) + 12 * HOUR);
    // The day of the change must be checked in by its own end (after 23 or 25 hours) + grace.
    const due = await expectStreakAlarm(admin, userId, start(1) + GRACE);
    expect(due - start(0) - GRACE).toBeGreaterThanOrEqual(length);
    expect(due - start(0) - GRACE).toBeLessThan(length + JITTER);

    // An hour before (a 24-hour day's end + grace would be here or an hour later) nothing settles.
    vi.setSystemTime(start(1) + GRACE - HOUR);
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    expect(await timerRuns(admin, userId)).toEqual([]);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", freezes: 1, keptThrough: addDays(transition, -1) });

    vi.setSystemTime(due);
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    const [run] = await timerRuns(admin, userId);
    expect(derivedTypes(run.outcome).filter((t) => t.startsWith("loyalty.streak."))).toEqual(["loyalty.streak.freeze_used"]);
    expect(await myStreak(admin, userId)).toMatchObject({
      status: "at_risk",
      current: 1,
      freezes: 0,
      timezone: zone,
      keptThrough: transition,
      periodStart: iso(start(1)),
      periodEnd: iso(start(2)),
    });
    await expectStreakAlarm(admin, userId, start(2) + GRACE);
  });
});

describe("the alarm consumes freezes and breaks streaks at the right instants", () => {
  it("freeze at the first due instant, break at the next; early alarms change nothing; a broken streak has no alarm", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 8);
    const stub = admin.stub(userId);
    await visit(admin, userId, cal.at(0, 8));
    vi.setSystemTime(cal.at(1, 20));
    await visit(admin, userId, cal.at(1, 20));
    const firstDue = await expectStreakAlarm(admin, userId, cal.endOf(2) + GRACE);
    const kept = await myStreak(admin, userId);
    expect(kept).toMatchObject({ status: "active", current: 2, longest: 2, freezes: 1, keptThrough: cal.day(1) });

    // Day 2 passes without a visit. Alarms run before the due instant do nothing and
    // leave the alarm where it was: during day 2, inside the grace window after it
    // (00:30 on day 3, still at risk and recoverable), and one millisecond early.
    for (const early of [cal.at(2, 12), cal.at(3, 0, 30), firstDue - 1]) {
      vi.setSystemTime(early);
      expect(await runDurableObjectAlarm(stub), iso(early)).toBe(true);
      expect(await alarmOf(admin, userId), iso(early)).toBe(firstDue);
      expect(await timersOf(admin, userId)).toEqual([{ name: "streaks", due_at: firstDue }]);
      expect(await admin.balance(userId, "points")).toBe(0);
      expect(await timerRuns(admin, userId)).toEqual([]);
      // (Within the jitter after end + grace, reads already show the settlement as of now.)
      if (early < cal.endOf(2) + GRACE) {
        expect(await myStreak(admin, userId), iso(early)).toMatchObject({ status: "at_risk", current: 2, freezes: 1, keptThrough: cal.day(1) });
      }
    }
    const stored = (await stub.getState()) as any;
    expect(stored.streaks.daily).toMatchObject({ current: 2, freezes: 1, keptThrough: cal.day(1) });

    // At the due instant: day 2 takes the freeze.
    vi.setSystemTime(firstDue);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [freezeRun] = await timerRuns(admin, userId);
    expect(freezeRun, "the settlement is in the activity log").toBeDefined();
    expect(freezeRun.at).toBe(iso(firstDue));
    expect(derivedTypes(freezeRun.outcome)).toContain("loyalty.streak.freeze_used");
    expect(derivedTypes(freezeRun.outcome)).not.toContain("loyalty.streak.broken");
    expect(freezeRun.outcome.effects).toEqual([expect.objectContaining({ campaign: "on-freeze", type: "metric.add", amount: FREEZE_POINTS, status: "applied" })]);
    expect(await admin.balance(userId, "points")).toBe(FREEZE_POINTS);
    const [entry] = await admin.ledger(userId, "points");
    expect(entry).toMatchObject({ delta: FREEZE_POINTS, reason: "effect", source: expect.objectContaining({ campaign: "on-freeze" }) });
    expect(await myStreak(admin, userId)).toMatchObject({
      status: "at_risk",
      current: 2,
      longest: 2,
      freezes: 0,
      lastCheckinPeriod: cal.day(1),
      keptThrough: cal.day(2),
      periodStart: iso(startOf(cal.day(3))),
      periodEnd: iso(cal.endOf(3)),
      history: [
        { period: cal.day(2), kept: "freeze" },
        { period: cal.day(1), kept: "checkin" },
        { period: cal.day(0), kept: "checkin" },
      ],
    });
    // Next: day 3 must be checked in by its end + grace.
    const secondDue = await expectStreakAlarm(admin, userId, cal.endOf(3) + GRACE);

    // Running it again at the same instant settles nothing more.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await admin.balance(userId, "points")).toBe(FREEZE_POINTS);
    expect(await alarmOf(admin, userId)).toBe(secondDue);

    // Day 3 passes too, with no freeze left: the next alarm breaks the streak.
    vi.setSystemTime(cal.endOf(3) + GRACE - 1);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", current: 2 });
    vi.setSystemTime(secondDue - 1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await timerRuns(admin, userId)).toHaveLength(1);
    expect(await admin.balance(userId, "points")).toBe(FREEZE_POINTS);
    vi.setSystemTime(secondDue);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [breakRun] = await timerRuns(admin, userId);
    expect(breakRun.at).toBe(iso(secondDue));
    expect(derivedTypes(breakRun.outcome)).toContain("loyalty.streak.broken");
    expect(derivedTypes(breakRun.outcome)).not.toContain("loyalty.streak.freeze_used");
    expect(breakRun.outcome.effects).toEqual([expect.objectContaining({ campaign: "on-broken", type: "metric.add", amount: BROKEN_POINTS, status: "applied" })]);
    expect(await admin.balance(userId, "points")).toBe(FREEZE_POINTS + BROKEN_POINTS);
    expect(await myStreak(admin, userId)).toMatchObject({
      status: "broken",
      current: 0,
      longest: 2,
      freezes: 0,
      lastCheckinPeriod: cal.day(1),
      keptThrough: cal.day(2),
    });
    expect((await stub.getState() as any).streaks.daily).toMatchObject({ current: 0, longest: 2, brokenLength: 2 });

    // A broken streak has no alarm; there is nothing for runDurableObjectAlarm to run.
    await expectNoAlarm(admin, userId);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    // Days later, reads still show it broken and nothing else was emitted.
    vi.setSystemTime(cal.at(9, 12));
    expect(await myStreak(admin, userId)).toMatchObject({ status: "broken", current: 0, longest: 2 });
    expect(await admin.balance(userId, "points")).toBe(FREEZE_POINTS + BROKEN_POINTS);
    expect(await timerRuns(admin, userId)).toHaveLength(2);

    // The next visit starts a new run at 1 (longest kept) and schedules an alarm again.
    const restart = await visit(admin, userId, cal.at(9, 12));
    expect(derivedTypes(restart)).toEqual(expect.arrayContaining(["loyalty.streak.started", "loyalty.streak.extended"]));
    expect(await myStreak(admin, userId)).toMatchObject({ status: "active", current: 1, longest: 2 });
    await expectStreakAlarm(admin, userId, cal.endOf(10) + GRACE);
  });

  it("after a freeze, the next day's check-in extends the streak (active); frozen days do not add to current", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12);
    await visit(admin, userId, cal.at(0, 12));
    const due = await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);
    vi.setSystemTime(due);
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", current: 1, freezes: 0, keptThrough: cal.day(1) });

    // A late visit for the frozen day is refused as late; today's extends.
    vi.setSystemTime(cal.at(2, 9));
    const late = await visit(admin, userId, cal.at(1, 22));
    expect(late.effects[0]).toMatchObject({ type: "streak.checkin", status: "skipped", reason: "late" });
    const today = await visit(admin, userId, cal.at(2, 9));
    expect(today.effects[0]).toMatchObject({ status: "applied", current: 2, longest: 2 });
    expect(await myStreak(admin, userId)).toMatchObject({
      status: "active",
      current: 2,
      freezes: 0,
      keptThrough: cal.day(2),
      history: [
        { period: cal.day(2), kept: "checkin" },
        { period: cal.day(1), kept: "freeze" },
        { period: cal.day(0), kept: "checkin" },
      ],
    });
    await expectStreakAlarm(admin, userId, cal.endOf(3) + GRACE);
  });

  it("a visit inside the grace window still counts for the day that just ended and moves the alarm", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12);
    await visit(admin, userId, cal.at(0, 12));
    await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);
    // 00:40 on day 2, reported as 23:50 on day 1: inside the grace window.
    vi.setSystemTime(cal.at(2, 0, 40));
    const outcome = await visit(admin, userId, cal.at(1, 23, 50));
    expect(outcome.effects[0]).toMatchObject({ status: "applied", current: 2 });
    await expectStreakAlarm(admin, userId, cal.endOf(2) + GRACE);
    vi.setSystemTime(cal.endOf(1) + GRACE + JITTER);
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    expect(await admin.balance(userId, "points")).toBe(0);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", current: 2, freezes: 1, keptThrough: cal.day(1) });
  });

  it("two freezes cover two missed days (one alarm each) and the third missed day breaks the streak", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12);
    const stub = admin.stub(userId);
    await visit(admin, userId, cal.at(0, 12));
    // A second freeze from the `gift` campaign (max 2); a third is over the cap.
    const gift = await admin.apply({ id: "gift-1", userId, type: "gift" });
    expect(gift.effects).toEqual([expect.objectContaining({ type: "streak.freeze", status: "applied", count: 1, freezes: 2 })]);
    const capped = await admin.apply({ id: "gift-2", userId, type: "gift" });
    expect(capped.effects).toEqual([expect.objectContaining({ type: "streak.freeze", status: "skipped", reason: "freeze_cap", freezes: 2 })]);

    const settled: Array<{ at: number; types: string[] }> = [];
    for (const [n, expectedFreezes] of [
      [1, 1],
      [2, 0],
    ] as const) {
      const due = await expectStreakAlarm(admin, userId, cal.endOf(n) + GRACE);
      vi.setSystemTime(due);
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      const [run] = await timerRuns(admin, userId);
      settled.push({ at: Date.parse(run.at), types: derivedTypes(run.outcome).filter((t) => t.startsWith("loyalty.streak.")) });
      expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", current: 1, freezes: expectedFreezes, keptThrough: cal.day(n) });
    }
    const due = await expectStreakAlarm(admin, userId, cal.endOf(3) + GRACE);
    vi.setSystemTime(due);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [last] = await timerRuns(admin, userId);
    settled.push({ at: Date.parse(last.at), types: derivedTypes(last.outcome).filter((t) => t.startsWith("loyalty.streak.")) });

    expect(settled.map((s) => s.types)).toEqual([["loyalty.streak.freeze_used"], ["loyalty.streak.freeze_used"], ["loyalty.streak.broken"]]);
    // Each settlement happened within a minute after its period's end + grace.
    settled.forEach((s, i) => {
      expect(s.at - (cal.endOf(i + 1) + GRACE)).toBeGreaterThanOrEqual(0);
      expect(s.at - (cal.endOf(i + 1) + GRACE)).toBeLessThan(JITTER);
    });
    expect(await admin.balance(userId, "points")).toBe(2 * FREEZE_POINTS + BROKEN_POINTS);
    expect(await myStreak(admin, userId)).toMatchObject({
      status: "broken",
      current: 0,
      longest: 1,
      freezes: 0,
      keptThrough: cal.day(2),
      history: [
        { period: cal.day(2), kept: "freeze" },
        { period: cal.day(1), kept: "freeze" },
        { period: cal.day(0), kept: "checkin" },
      ],
    });
    await expectNoAlarm(admin, userId);
  });

  it("an alarm that runs late settles every missed period at once: the freeze, then the break", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12);
    await visit(admin, userId, cal.at(0, 12));
    await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);
    // The object was not woken for five days.
    vi.setSystemTime(cal.at(5, 12));
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    const [run] = await timerRuns(admin, userId);
    expect(derivedTypes(run.outcome).filter((t) => t.startsWith("loyalty.streak."))).toEqual(["loyalty.streak.freeze_used", "loyalty.streak.broken"]);
    expect(await admin.balance(userId, "points")).toBe(FREEZE_POINTS + BROKEN_POINTS);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "broken", current: 0, longest: 1, freezes: 0, keptThrough: cal.day(1) });
    await expectNoAlarm(admin, userId);
  });

  it("the settlement's derived events reach webhooks through the outbox", async () => {
    const cal = calendar();
    vi.setSystemTime(cal.at(0, 12));
    const admin = await streakSpace();
    await admin.define("webhooks", "streak-hook", {
      url: "https://hooks.example.com/streaks",
      events: ["loyalty.streak.freeze_used", "loyalty.streak.broken"],
    });
    const userId = await kolkataUser(admin);
    await visit(admin, userId, cal.at(0, 12));
    const sent = await recordDeliveries(admin, userId);
    try {
      const due = await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);
      vi.setSystemTime(due);
      expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
      const messages = sent.map((s) => s.body.body.message);
      expect(messages).toEqual([
        expect.objectContaining({ kind: "webhook", webhook: "streak-hook", type: "loyalty.streak.freeze_used", data: { streak: "daily", period: cal.day(1), freezesLeft: 0 } }),
      ]);
      const next = await expectStreakAlarm(admin, userId, cal.endOf(2) + GRACE);
      vi.setSystemTime(next);
      expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
      expect(sent.map((s) => s.body.body.message).slice(1)).toEqual([
        expect.objectContaining({ kind: "webhook", webhook: "streak-hook", type: "loyalty.streak.broken", data: { streak: "daily", length: 1 } }),
      ]);
      expect(await admin.stub(userId).outboxSize()).toBe(0);
    } finally {
      await restoreDeliveries(admin, userId);
    }
  });
});

/**
 * Replaces the deliveries binding inside the user's object (as reliability.test.ts does):
 * sends are recorded and succeed. Returns the recorded sends.
 */
async function recordDeliveries(admin: Admin, userId: string): Promise<Array<{ body: any }>> {
  const sent: Array<{ body: any }> = [];
  await runInDurableObject(admin.stub(userId), (instance: UserState) => {
    const holder = instance as unknown as { env: Cloudflare.Env; realEnv?: Cloudflare.Env };
    holder.realEnv ??= holder.env;
    const DELIVERIES = {
      send: async () => {
        throw new Error("send is not used by the outbox");
      },
      sendBatch: async (messages: Iterable<{ body: unknown }>) => {
        for (const m of messages) sent.push({ body: structuredClone(m.body) });
      },
    };
    holder.env = { ...holder.realEnv, DELIVERIES: DELIVERIES as unknown as Queue };
  });
  return sent;
}

async function restoreDeliveries(admin: Admin, userId: string): Promise<void> {
  await runInDurableObject(admin.stub(userId), (instance: UserState) => {
    const holder = instance as unknown as { env: Cloudflare.Env; realEnv?: Cloudflare.Env };
    if (holder.realEnv) holder.env = holder.realEnv;
  });
}

describe("admin restore (POST /users/{userId}/streaks/{id}/restore)", () => {
  const restore = (admin: Admin, userId: string, streak = "daily") =>
    admin.at("POST", `/users/${encodeURIComponent(userId)}/streaks/${streak}/restore`);

  it("brings a streak broken by the alarm back to its length at the break, kept through the previous period", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12, { freezes: { initial: 0, max: 2 } });
    for (const n of [0, 1, 2]) {
      vi.setSystemTime(cal.at(n, 12));
      await visit(admin, userId, cal.at(n, 12));
    }
    const due = await expectStreakAlarm(admin, userId, cal.endOf(3) + GRACE);
    vi.setSystemTime(due);
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(true);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "broken", current: 0, longest: 3 });
    await expectNoAlarm(admin, userId);

    vi.setSystemTime(cal.at(5, 15));
    const restored = await restore(admin, userId);
    expect(restored.status, restored.text).toBe(200);
    expect(restored.body).toMatchObject({ streak: "daily", current: 3, keptThrough: cal.day(4) });
    const [entry] = await admin.activity(userId);
    expect(entry.type).toBe("admin.restoreStreak");
    expect(derivedTypes(entry.outcome)).toContain("loyalty.streak.restored");
    expect(entry.outcome.effects).toEqual([expect.objectContaining({ campaign: "on-restored", type: "metric.add", amount: RESTORED_POINTS, status: "applied" })]);
    expect(await admin.balance(userId, "points")).toBe(BROKEN_POINTS + RESTORED_POINTS);
    expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", current: 3, longest: 3, keptThrough: cal.day(4) });
    // Live again: the alarm is back, for the end of today + grace.
    await expectStreakAlarm(admin, userId, cal.endOf(5) + GRACE);
    // A check-in today extends the restored run.
    const today = await visit(admin, userId, cal.at(5, 15));
    expect(today.effects[0]).toMatchObject({ status: "applied", current: 4, longest: 4 });

    // A live streak cannot be restored: 409 invalid_transition, nothing changes.
    const before = await myStreak(admin, userId);
    expectProblemReply(await restore(admin, userId), 409, "invalid_transition");
    expect(await myStreak(admin, userId)).toEqual(before);
    expect(await admin.balance(userId, "points")).toBe(BROKEN_POINTS + RESTORED_POINTS);
  });

  it("a streak broken only as of now (never settled by an alarm) is settled first, then restored", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12, { freezes: { initial: 0, max: 2 } });
    await visit(admin, userId, cal.at(0, 12));
    vi.setSystemTime(cal.at(1, 12));
    await visit(admin, userId, cal.at(1, 12));
    vi.setSystemTime(cal.at(4, 12));
    expect(await myStreak(admin, userId)).toMatchObject({ status: "broken", current: 0, longest: 2 });
    const restored = await restore(admin, userId);
    expect(restored.status, restored.text).toBe(200);
    expect(restored.body).toMatchObject({ streak: "daily", current: 2, keptThrough: cal.day(3) });
    const [entry] = await admin.activity(userId);
    expect(derivedTypes(entry.outcome)).toEqual(expect.arrayContaining(["loyalty.streak.broken", "loyalty.streak.restored"]));
    expect(await myStreak(admin, userId)).toMatchObject({ status: "at_risk", current: 2, keptThrough: cal.day(3) });
  });

  it("refusals: a live streak 409, a never-started streak 409, an unknown streak 404; none creates a user", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12);
    await visit(admin, userId, cal.at(0, 12));
    const alarm = await alarmOf(admin, userId);

    const live = expectProblemReply(await restore(admin, userId), 409, "invalid_transition");
    expect(live.errors).toEqual([{ path: "path.id", message: expect.any(String) }]);
    expect(await alarmOf(admin, userId)).toBe(alarm);
    expectProblemReply(await restore(admin, userId, "no-such-streak"), 404, "not_found");

    const stranger = uniqueUser("never");
    expectProblemReply(await restore(admin, stranger), 409, "invalid_transition");
    expectProblemReply(await restore(admin, stranger, "no-such-streak"), 404, "not_found");
    expect((await admin.user(stranger)).status).toBe(404);
    expect(await alarmOf(admin, stranger)).toBeNull();
    expect(await admin.balance(userId, "points")).toBe(0);
  });
});

describe("erasure", () => {
  it("DELETE /users/{userId} clears the alarm and the timers; the erased user's streak reads as none", async () => {
    const { cal, admin, userId } = await kolkataStreakAt(0, 12);
    await visit(admin, userId, cal.at(0, 12));
    await expectStreakAlarm(admin, userId, cal.endOf(1) + GRACE);

    const erased = await admin.deleteUser(userId);
    expect(erased.status, erased.text).toBe(204);
    await expectNoAlarm(admin, userId);
    expect(await runDurableObjectAlarm(admin.stub(userId))).toBe(false);
    expect((await admin.user(userId)).status).toBe(404);

    // Long after the erased streak would have been settled, nothing was emitted for it.
    vi.setSystemTime(cal.at(4, 12));
    const mine = await myStreak(admin, userId);
    expect(mine).toMatchObject({ status: "none", current: 0, longest: 0, freezes: 1, lastCheckinPeriod: null, keptThrough: null, history: [] });
    expect((await admin.user(userId)).status).toBe(404);
  });
});
