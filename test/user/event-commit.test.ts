import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { UserState } from "../../src/user/user-state";
import { freshAdmin, meGet, uniqueUser, type Admin } from "../helpers/users-api";

// What an event's commit does besides the state (src/user/user-state.ts, commit): activity
// past its retention is pruned at most once a minute per run of the object, and the alarm
// is compared with the timers only when a timer moved (or the run has not yet done so).
// Through the real runtime; the clock is moved with vi.setSystemTime, which the object
// shares with the test (test/user/streak-alarms.test.ts checks that).

vi.setConfig({ testTimeout: 30_000 });
afterEach(() => {
  vi.useRealTimers();
});

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/** ACTIVITY_RETENTION_DAYS is unset in the tests' env: the default, 30 days. */
const RETENTION = 30 * DAY;

async function withPoints(): Promise<Admin> {
  const admin = await freshAdmin();
  await admin.define("metrics", "points", { name: "Points", kind: "currency" });
  await admin.define("campaigns", "earn", {
    name: "Earn",
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "s", name: "S", trigger: { eventType: "buy" }, effects: [{ type: "metric.add", metric: "points", amount: 1 }] }],
  });
  return admin;
}

describe("activity retention through the object", () => {
  it("an event prunes the activity older than the retention, at most once a minute; the ledger is kept", async () => {
    const admin = await withPoints();
    const userId = uniqueUser("ret");
    const t0 = Date.parse("2030-03-01T10:00:00Z");
    vi.useFakeTimers({ toFake: ["Date"] });
    const at = async (instant: number, id: string) => {
      vi.setSystemTime(instant);
      await admin.apply({ id, userId, type: "buy" });
    };
    await at(t0, "e1");
    await at(t0 + DAY, "e2");
    // e1 is past the retention now, e2 not yet.
    await at(t0 + RETENTION + MIN, "e3");
    expect((await admin.activity(userId)).map((a) => a.eventId)).toEqual(["e3", "e2"]);
    // Ten seconds before e2 expires: pruned again (a day since the last), e2 kept.
    await at(t0 + DAY + RETENTION - 10_000, "e4");
    expect((await admin.activity(userId)).map((a) => a.eventId)).toEqual(["e4", "e3", "e2"]);
    // e2 has expired, but the last prune was 30 s ago: kept for now.
    await at(t0 + DAY + RETENTION + 20_000, "e5");
    expect((await admin.activity(userId)).map((a) => a.eventId)).toEqual(["e5", "e4", "e3", "e2"]);
    // A minute after the last prune: gone.
    await at(t0 + DAY + RETENTION + 50_000, "e6");
    expect((await admin.activity(userId)).map((a) => a.eventId)).toEqual(["e6", "e5", "e4", "e3"]);
    // The ledger is kept forever (SPEC §5.7).
    expect((await admin.ledger(userId, "points")).length).toBe(6);
  });
});

describe("the alarm follows the timers", () => {
  const alarmOf = (admin: Admin, userId: string) =>
    runInDurableObject(admin.stub(userId), (_i: UserState, state) => state.storage.getAlarm());
  const streakTimerOf = (admin: Admin, userId: string) =>
    runInDurableObject(admin.stub(userId), (_i: UserState, state) =>
      state.storage.sql.exec<{ due_at: number }>(`SELECT due_at FROM timers WHERE name = 'streaks'`).toArray()[0]?.due_at ?? null,
    );

  it("a moved streak timer moves the alarm; a new run of the object compares them again on its first commit", async () => {
    const admin = await withPoints();
    await admin.define("streaks", "daily", { name: "Daily visit", period: "day", graceMinutes: 60 });
    await admin.define("campaigns", "checkin", {
      name: "Check in",
      status: "active",
      repeat: { limit: null },
      steps: [{ id: "s", name: "S", trigger: { eventType: "visit" }, effects: [{ type: "streak.checkin", streak: "daily" }] }],
    });
    const userId = uniqueUser("alarm");
    const t0 = Date.parse("2030-04-01T10:00:00Z");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
    await admin.apply({ id: "v1", userId, type: "visit" });
    const first = await streakTimerOf(admin, userId);
    expect(first).not.toBeNull();
    expect(await alarmOf(admin, userId)).toBe(first);

    // The next day's visit moves the timer a day on, and the alarm with it.
    vi.setSystemTime(t0 + DAY);
    await admin.apply({ id: "v2", userId, type: "visit" });
    const second = await streakTimerOf(admin, userId);
    expect(second).toBe(first! + DAY);
    expect(await alarmOf(admin, userId)).toBe(second);

    // The alarm lost (as by a crash between the commit and setAlarm), then the object
    // restarted: its first commit, though it moves no timer, sets the alarm again.
    await runInDurableObject(admin.stub(userId), (_i: UserState, state) => state.storage.deleteAlarm());
    await runInDurableObject(admin.stub(userId), (_i: UserState, state) => state.abort("restart")).catch(() => undefined);
    await admin.apply({ id: "b1", userId, type: "buy" });
    expect(await streakTimerOf(admin, userId)).toBe(second);
    expect(await alarmOf(admin, userId)).toBe(second);
  });
});

describe("the state a read loads stays in memory, and in step with storage", () => {
  /** Whether this run of the user's object holds the state in memory (its private `cached`). */
  const inMemory = async (admin: Admin, userId: string) =>
    runInDurableObject(admin.stub(userId), (instance: UserState) => (instance as unknown as { cached?: unknown }).cached !== undefined);
  const restart = async (admin: Admin, userId: string) =>
    runInDurableObject(admin.stub(userId), (_i: UserState, state) => state.abort("restart")).catch(() => undefined);

  it("a read after a restart loads the state once and keeps it; events, adjustments and erasure after it are seen", async () => {
    const admin = await withPoints();
    const userId = uniqueUser("cache");
    await admin.apply({ id: "b1", userId, type: "buy" });
    await restart(admin, userId);
    expect(await inMemory(admin, userId)).toBe(false);

    // Before this change a read left memory empty, so every read parsed the state again.
    const token = await admin.token(userId);
    const me = await meGet(admin.space, token);
    expect(me.status, me.text).toBe(200);
    expect(me.body.metrics).toEqual([{ metric: "points", balance: 1 }]);
    expect(await inMemory(admin, userId)).toBe(true);

    // Writes after a read replace what the read kept.
    await admin.apply({ id: "b2", userId, type: "buy" });
    expect(await admin.balance(userId, "points")).toBe(2);
    expect((await admin.adjust(userId, "points", { amount: 5, reason: "goodwill" })).status).toBe(201);
    expect((await meGet(admin.space, token)).body.metrics).toEqual([{ metric: "points", balance: 7 }]);

    // Erasure empties memory with storage: the next read finds no user.
    expect((await admin.deleteUser(userId)).status).toBe(204);
    expect(await inMemory(admin, userId)).toBe(false);
    const after = await admin.user(userId);
    expect(after.status, after.text).toBe(404);
  });

  it("a read of a user never seen keeps nothing and creates nothing", async () => {
    const admin = await withPoints();
    const userId = uniqueUser("never");
    const me = await meGet(admin.space, await admin.token(userId));
    expect(me.status, me.text).toBe(200);
    expect(me.body.metrics).toEqual([{ metric: "points", balance: 0 }]);
    expect(await inMemory(admin, userId)).toBe(false);
    expect((await admin.user(userId)).status).toBe(404);
  });
});
