import { describe, expect, it } from "vitest";
import type { StreakBody } from "../../src/definitions/kinds/streaks";
import { applyEvent, finishRun, startRun } from "../../src/engine/evaluate";
import { nextStreakTimer, settleAllStreaks } from "../../src/engine/streak-run";
import {
  checkin,
  newStreakState,
  nextSettlement,
  periodBounds,
  restore,
  settle,
  settlementPeriod,
  streakStatusAt,
  type CheckinResult,
  type StreakChange,
  type StreakState,
} from "../../src/engine/streaks";
import { periodKey, type WeekStart } from "../../src/engine/time";
import { streaksView } from "../../src/engine/views";
import { checkinOn, derivedTypes, effectsOf, metric, oneStep, product, programmeOf, Sim, streak, streakBody } from "./builders";

// SPEC §4.5 (streaks) and §5.6 (their derived events), pure: period bounds on 23-, 24- and
// 25-hour days, check-ins on either side of UTC and local midnight, freezes, breaks,
// late and duplicate check-ins, zone changes, reads as of now, the alarm's next instant,
// restore, conditions on streak state and a campaign on streak length. Instants are
// written with the local offset they stand for (`2026-03-29T23:30:00+01:00`).

const ms = (t: string) => Date.parse(t);
const utc = (t: string) => new Date(Date.parse(t)).toISOString();
const H = 3_600_000;

function play(body: StreakBody, zone: string, at: string[], state: StreakState = newStreakState(body)) {
  const results: CheckinResult[] = [];
  const changes: StreakChange[][] = [];
  for (const t of at) {
    const r = checkin("s", body, state, ms(t), zone);
    results.push(r.result);
    changes.push(r.changes);
  }
  return { state, results, changes };
}

const daily = (body: Record<string, unknown> = {}) => streakBody(body);
const weekly = (weekStart: WeekStart = "monday", body: Record<string, unknown> = {}) => streakBody({ period: "week", weekStart, ...body });
const withFreezes = (initial: number, max = 2, body: Record<string, unknown> = {}) => daily({ freezes: { initial, max }, ...body });

const started = (current: number, longest: number) => [
  { type: "loyalty.streak.started", data: { streak: "s", current, longest } },
  { type: "loyalty.streak.extended", data: { streak: "s", current, longest } },
];
const extended = (current: number, longest: number) => ({ type: "loyalty.streak.extended", data: { streak: "s", current, longest } });
const freezeUsed = (period: string, freezesLeft: number) => ({ type: "loyalty.streak.freeze_used", data: { streak: "s", period, freezesLeft } });
const broken = (length: number) => ({ type: "loyalty.streak.broken", data: { streak: "s", length } });

describe("periodBounds: a period starts at the first instant of its first local day (23-, 24- and 25-hour days)", () => {
  it.each<[zone: string, period: "day" | "week", weekStart: WeekStart, key: string, start: string, end: string, hours: number]>([
    ["UTC", "day", "monday", "2026-11-25", "2026-11-25T00:00:00.000Z", "2026-11-26T00:00:00.000Z", 24],
    ["America/Los_Angeles", "day", "monday", "2026-11-25", "2026-11-25T08:00:00.000Z", "2026-11-26T08:00:00.000Z", 24],
    ["Europe/London", "day", "monday", "2026-03-28", "2026-03-28T00:00:00.000Z", "2026-03-29T00:00:00.000Z", 24],
    ["Europe/London", "day", "monday", "2026-03-29", "2026-03-29T00:00:00.000Z", "2026-03-29T23:00:00.000Z", 23],
    ["Europe/London", "day", "monday", "2026-03-30", "2026-03-29T23:00:00.000Z", "2026-03-30T23:00:00.000Z", 24],
    ["Europe/London", "day", "monday", "2026-10-24", "2026-10-23T23:00:00.000Z", "2026-10-24T23:00:00.000Z", 24],
    ["Europe/London", "day", "monday", "2026-10-25", "2026-10-24T23:00:00.000Z", "2026-10-26T00:00:00.000Z", 25],
    ["America/New_York", "day", "monday", "2026-03-08", "2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z", 23],
    ["America/New_York", "day", "monday", "2026-11-01", "2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z", 25],
    ["Asia/Kolkata", "day", "monday", "2026-11-25", "2026-11-24T18:30:00.000Z", "2026-11-25T18:30:00.000Z", 24],
    ["Asia/Kathmandu", "day", "monday", "2026-11-25", "2026-11-24T18:15:00.000Z", "2026-11-25T18:15:00.000Z", 24],
    ["Pacific/Kiritimati", "day", "monday", "2026-11-25", "2026-11-24T10:00:00.000Z", "2026-11-25T10:00:00.000Z", 24],
    ["Pacific/Kiritimati", "day", "monday", "2027-01-01", "2026-12-31T10:00:00.000Z", "2027-01-01T10:00:00.000Z", 24],
    ["Pacific/Pago_Pago", "day", "monday", "2026-11-25", "2026-11-25T11:00:00.000Z", "2026-11-26T11:00:00.000Z", 24],
    ["Pacific/Pago_Pago", "day", "monday", "2026-12-31", "2026-12-31T11:00:00.000Z", "2027-01-01T11:00:00.000Z", 24],
    ["UTC", "week", "monday", "2026-W01", "2025-12-29T00:00:00.000Z", "2026-01-05T00:00:00.000Z", 168],
    ["UTC", "week", "monday", "2026-W53", "2026-12-28T00:00:00.000Z", "2027-01-04T00:00:00.000Z", 168],
    ["UTC", "week", "monday", "2027-W01", "2027-01-04T00:00:00.000Z", "2027-01-11T00:00:00.000Z", 168],
    ["Asia/Kathmandu", "week", "monday", "2026-W53", "2026-12-27T18:15:00.000Z", "2027-01-03T18:15:00.000Z", 168],
    ["Europe/London", "week", "monday", "2026-W13", "2026-03-23T00:00:00.000Z", "2026-03-29T23:00:00.000Z", 167],
    ["Europe/London", "week", "monday", "2026-W43", "2026-10-18T23:00:00.000Z", "2026-10-26T00:00:00.000Z", 169],
    ["America/New_York", "week", "sunday", "2026-03-08~W", "2026-03-08T05:00:00.000Z", "2026-03-15T04:00:00.000Z", 167],
    ["America/New_York", "week", "sunday", "2026-11-01~W", "2026-11-01T04:00:00.000Z", "2026-11-08T05:00:00.000Z", 169],
    ["Pacific/Kiritimati", "week", "sunday", "2026-12-27~W", "2026-12-26T10:00:00.000Z", "2027-01-02T10:00:00.000Z", 168],
  ])("%s %s %s %s: [%s, %s) = %i h", (zone, period, weekStart, key, start, end, hours) => {
    const bounds = periodBounds(key, period, weekStart, zone);
    expect({ start: new Date(bounds.start).toISOString(), end: new Date(bounds.end).toISOString(), hours: (bounds.end - bounds.start) / H }).toEqual({ start, end, hours });
    // The bounds are exact: the key holds from start to the last millisecond before end.
    const keyAt = (t: number) => periodKey(t, zone, period, weekStart);
    expect([keyAt(bounds.start - 1) === key, keyAt(bounds.start), keyAt(bounds.end - 1), keyAt(bounds.end) === key]).toEqual([false, key, key, false]);
  });
});

describe("check-ins count local periods, not UTC ones", () => {
  it.each<[name: string, body: StreakBody, zone: string, at: string[], keys: string[], results: CheckinResult[], current: number]>([
    [
      "Los Angeles: 23:30 local is already the next UTC day, still the same local day",
      daily(), "America/Los_Angeles",
      ["2026-11-24T23:30:00-08:00", "2026-11-25T23:30:00-08:00", "2026-11-26T00:30:00-08:00"],
      ["2026-11-24", "2026-11-25", "2026-11-26"], ["started", "extended", "extended"], 3,
    ],
    [
      "the same instants in UTC: two check-ins fall on one UTC day",
      daily(), "UTC",
      ["2026-11-24T23:30:00-08:00", "2026-11-25T23:30:00-08:00", "2026-11-26T00:30:00-08:00"],
      ["2026-11-25", "2026-11-26", "2026-11-26"], ["started", "extended", "same_period"], 2,
    ],
    [
      "Europe/London spring forward (2026-03-29, 23 h): 00:30 GMT and 23:30 BST are one day",
      daily(), "Europe/London",
      ["2026-03-28T23:30:00+00:00", "2026-03-29T00:30:00+00:00", "2026-03-29T23:30:00+01:00", "2026-03-30T00:30:00+01:00"],
      ["2026-03-28", "2026-03-29", "2026-03-29", "2026-03-30"], ["started", "extended", "same_period", "extended"], 3,
    ],
    [
      "Europe/London fall back (2026-10-25, 25 h): 00:30 BST, both 01:30s and 23:30 GMT are one day",
      daily(), "Europe/London",
      ["2026-10-24T23:30:00+01:00", "2026-10-25T00:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-25T01:30:00+00:00", "2026-10-25T23:30:00+00:00", "2026-10-26T00:30:00+00:00"],
      ["2026-10-24", "2026-10-25", "2026-10-25", "2026-10-25", "2026-10-25", "2026-10-26"],
      ["started", "extended", "same_period", "same_period", "same_period", "extended"], 3,
    ],
    [
      "America/New_York spring forward (2026-03-08, 23 h)",
      daily(), "America/New_York",
      ["2026-03-07T23:30:00-05:00", "2026-03-08T00:30:00-05:00", "2026-03-08T23:30:00-04:00", "2026-03-09T00:30:00-04:00"],
      ["2026-03-07", "2026-03-08", "2026-03-08", "2026-03-09"], ["started", "extended", "same_period", "extended"], 3,
    ],
    [
      "America/New_York fall back (2026-11-01, 25 h)",
      daily(), "America/New_York",
      ["2026-10-31T23:30:00-04:00", "2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T23:30:00-05:00", "2026-11-02T00:30:00-05:00"],
      ["2026-10-31", "2026-11-01", "2026-11-01", "2026-11-01", "2026-11-01", "2026-11-02"],
      ["started", "extended", "same_period", "same_period", "same_period", "extended"], 3,
    ],
    [
      "Asia/Kolkata (+05:30): 23:59 and 00:00 local are two days",
      daily(), "Asia/Kolkata",
      ["2026-11-24T23:59:00+05:30", "2026-11-25T00:00:00+05:30", "2026-11-25T23:59:00+05:30"],
      ["2026-11-24", "2026-11-25", "2026-11-25"], ["started", "extended", "same_period"], 2,
    ],
    [
      "Asia/Kathmandu (+05:45): 23:50 and 00:10 local are two days",
      daily(), "Asia/Kathmandu",
      ["2026-11-24T23:50:00+05:45", "2026-11-25T00:10:00+05:45", "2026-11-25T23:50:00+05:45", "2026-11-26T00:10:00+05:45"],
      ["2026-11-24", "2026-11-25", "2026-11-25", "2026-11-26"], ["started", "extended", "same_period", "extended"], 3,
    ],
    [
      "Pacific/Kiritimati (+14): 09:30Z and 10:30Z are two local days",
      daily(), "Pacific/Kiritimati",
      ["2026-11-25T09:30:00Z", "2026-11-25T10:30:00Z", "2026-11-26T10:30:00Z"],
      ["2026-11-25", "2026-11-26", "2026-11-27"], ["started", "extended", "extended"], 3,
    ],
    [
      "Pacific/Pago_Pago (−11): the same instants are a day behind",
      daily(), "Pacific/Pago_Pago",
      ["2026-11-25T09:30:00Z", "2026-11-25T10:30:00Z", "2026-11-26T10:30:00Z"],
      ["2026-11-24", "2026-11-24", "2026-11-25"], ["started", "same_period", "extended"], 2,
    ],
    [
      "Pacific/Kiritimati: New Year arrives at 10:00Z on Dec 31",
      daily(), "Pacific/Kiritimati",
      ["2026-12-31T09:59:00Z", "2026-12-31T10:00:00Z"], ["2026-12-31", "2027-01-01"], ["started", "extended"], 2,
    ],
    [
      "Pacific/Pago_Pago: New Year arrives at 11:00Z on Jan 1",
      daily(), "Pacific/Pago_Pago",
      ["2027-01-01T10:59:00Z", "2027-01-01T11:00:00Z"], ["2026-12-31", "2027-01-01"], ["started", "extended"], 2,
    ],
    [
      "weekly ISO: 2026-W52 → 2026-W53 → 2027-W01 (week 53, year boundary)",
      weekly(), "UTC",
      ["2026-12-24T12:00:00Z", "2026-12-31T12:00:00Z", "2027-01-03T23:59:00Z", "2027-01-04T00:00:00Z"],
      ["2026-W52", "2026-W53", "2026-W53", "2027-W01"], ["started", "extended", "same_period", "extended"], 3,
    ],
    [
      "weekly ISO: 2025-12-29 already belongs to 2026-W01",
      weekly(), "UTC",
      ["2025-12-28T12:00:00Z", "2025-12-29T12:00:00Z", "2026-01-05T00:00:00Z"],
      ["2025-W52", "2026-W01", "2026-W02"], ["started", "extended", "extended"], 3,
    ],
    [
      "weekly ISO in Europe/London: Monday 00:30 BST after spring forward is Sunday in UTC",
      weekly(), "Europe/London",
      ["2026-03-22T23:30:00+00:00", "2026-03-29T23:30:00+01:00", "2026-03-30T00:30:00+01:00"],
      ["2026-W12", "2026-W13", "2026-W14"], ["started", "extended", "extended"], 3,
    ],
    [
      "weekly ISO in Pacific/Kiritimati: 2026-W53 starts at 10:00Z on Sunday Dec 27",
      weekly(), "Pacific/Kiritimati",
      ["2026-12-27T09:59:00Z", "2026-12-27T10:00:00Z"], ["2026-W52", "2026-W53"], ["started", "extended"], 2,
    ],
    [
      "weeks starting on Sunday in Los Angeles, across the year boundary and UTC midnight",
      weekly("sunday"), "America/Los_Angeles",
      ["2026-12-26T12:00:00-08:00", "2026-12-27T00:30:00-08:00", "2027-01-02T23:30:00-08:00", "2027-01-03T00:30:00-08:00"],
      ["2026-12-20~W", "2026-12-27~W", "2026-12-27~W", "2027-01-03~W"], ["started", "extended", "same_period", "extended"], 3,
    ],
    [
      "weeks starting on Sunday in UTC: Saturday 23:30 in Los Angeles is already Sunday",
      weekly("sunday"), "UTC",
      ["2026-12-26T12:00:00-08:00", "2026-12-27T00:30:00-08:00", "2027-01-02T23:30:00-08:00", "2027-01-03T00:30:00-08:00"],
      ["2026-12-20~W", "2026-12-27~W", "2027-01-03~W", "2027-01-03~W"], ["started", "extended", "extended", "same_period"], 3,
    ],
    [
      "weeks starting on Sunday in Pacific/Kiritimati",
      weekly("sunday"), "Pacific/Kiritimati",
      ["2026-12-26T09:30:00Z", "2026-12-26T10:30:00Z"], ["2026-12-20~W", "2026-12-27~W"], ["started", "extended"], 2,
    ],
  ])("%s", (_name, body, zone, at, keys, results, current) => {
    expect(at.map((t) => periodKey(ms(t), zone, body.period, body.weekStart))).toEqual(keys);
    const { state, results: got } = play(body, zone, at);
    expect(got).toEqual(results);
    expect([state.current, state.longest, state.lastCheckinPeriod, state.keptThrough, state.zone]).toEqual([current, current, keys.at(-1), keys.at(-1), zone]);
  });
});

describe("freezes cover 1 and 2 missed periods, not 3", () => {
  const base = ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "2026-11-03T10:00:00Z"];
  it.each<[name: string, initial: number, next: string, changes: unknown[], after: Partial<StreakState>, following: unknown[]]>([
    [
      "1 missed day, 1 freeze: kept, current does not grow for the frozen day",
      1, "2026-11-05T10:00:00Z",
      [freezeUsed("2026-11-04", 0), extended(4, 4)],
      { current: 4, longest: 4, freezes: 0, keptThrough: "2026-11-05", brokenLength: null },
      [extended(5, 5)],
    ],
    [
      "2 missed days, 2 freezes: kept",
      2, "2026-11-06T10:00:00Z",
      [freezeUsed("2026-11-04", 1), freezeUsed("2026-11-05", 0), extended(4, 4)],
      { current: 4, longest: 4, freezes: 0, keptThrough: "2026-11-06", brokenLength: null },
      [extended(5, 5)],
    ],
    [
      "3 missed days, 2 freezes: both consumed, then broken (length 3), restarted at 1 with longest kept",
      2, "2026-11-07T10:00:00Z",
      [freezeUsed("2026-11-04", 1), freezeUsed("2026-11-05", 0), broken(3), ...started(1, 3)],
      { current: 1, longest: 3, freezes: 0, keptThrough: "2026-11-07", brokenLength: null, startedAt: "2026-11-07T10:00:00.000Z" },
      [extended(2, 3)],
    ],
    [
      "2 missed days, 1 freeze: the freeze is consumed, then broken",
      1, "2026-11-06T10:00:00Z",
      [freezeUsed("2026-11-04", 0), broken(3), ...started(1, 3)],
      { current: 1, longest: 3, freezes: 0, keptThrough: "2026-11-06" },
      [extended(2, 3)],
    ],
    [
      "1 missed day, no freeze: broken, restarted at 1",
      0, "2026-11-05T10:00:00Z",
      [broken(3), ...started(1, 3)],
      { current: 1, longest: 3, freezes: 0, keptThrough: "2026-11-05", startedAt: "2026-11-05T10:00:00.000Z" },
      [extended(2, 3)],
    ],
  ])("%s", (_name, initial, next, changes, after, following) => {
    const body = withFreezes(initial);
    const { state } = play(body, "UTC", base);
    expect([state.current, state.freezes, state.startedAt]).toEqual([3, initial, "2026-11-01T10:00:00.000Z"]);
    const r = checkin("s", body, state, ms(next), "UTC");
    expect(r.changes).toEqual(changes);
    expect(state).toMatchObject(after);
    const day = (t: string) => utc(new Date(ms(t) + 86_400_000).toISOString());
    expect(checkin("s", body, state, ms(day(next)), "UTC").changes).toEqual(following);
  });

  it("history records how each period was kept (checkin / freeze), oldest first, at most 30", () => {
    const body = withFreezes(2);
    const { state } = play(body, "UTC", ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "2026-11-05T10:00:00Z"]);
    expect(state.history).toEqual([
      { period: "2026-11-01", kept: "checkin" },
      { period: "2026-11-02", kept: "checkin" },
      { period: "2026-11-03", kept: "freeze" },
      { period: "2026-11-04", kept: "freeze" },
      { period: "2026-11-05", kept: "checkin" },
    ]);
    const long = play(daily(), "UTC", Array.from({ length: 40 }, (_, i) => new Date(ms("2026-10-01T12:00:00Z") + i * 86_400_000).toISOString())).state;
    expect([long.current, long.history.length, long.history[0], long.history.at(-1)]).toEqual([
      40, 30, { period: "2026-10-11", kept: "checkin" }, { period: "2026-11-09", kept: "checkin" },
    ]);
  });

  it.each<[name: string, body: StreakBody, at: string[], changes: unknown[]]>([
    ["weekly ISO: a freeze covers 2026-W53", weekly("monday", { freezes: { initial: 1, max: 1 } }), ["2026-12-17T12:00:00Z", "2026-12-24T12:00:00Z", "2027-01-05T12:00:00Z"], [freezeUsed("2026-W53", 0), extended(3, 3)]],
    ["weekly ISO: without a freeze 2026-W53 breaks it", weekly(), ["2026-12-17T12:00:00Z", "2026-12-24T12:00:00Z", "2027-01-05T12:00:00Z"], [broken(2), ...started(1, 2)]],
    ["weeks starting on Sunday: a freeze covers the week of 2026-12-27", weekly("sunday", { freezes: { initial: 1, max: 1 } }), ["2026-12-24T12:00:00Z", "2027-01-05T12:00:00Z"], [freezeUsed("2026-12-27~W", 0), extended(2, 2)]],
    ["Europe/London daily: a freeze covers the 23-hour day", withFreezes(1), ["2026-03-28T23:30:00+00:00", "2026-03-30T00:30:00+01:00"], [freezeUsed("2026-03-29", 0), extended(2, 2)]],
  ])("%s", (_name, body, at, changes) => {
    const zone = body.period === "day" ? "Europe/London" : "UTC";
    expect(play(body, zone, at).changes.at(-1)).toEqual(changes);
  });
});

describe("late and duplicate check-ins change nothing", () => {
  it.each<[name: string, body: StreakBody, before: string[], prepare: ((s: StreakState, b: StreakBody) => void) | null, late: string, result: CheckinResult]>([
    ["a second check-in in the same day", daily(), ["2026-11-01T10:00:00Z"], null, "2026-11-01T23:59:59Z", "same_period"],
    ["a second check-in in the same ISO week", weekly(), ["2026-12-28T00:00:00Z"], null, "2027-01-03T23:59:59Z", "same_period"],
    ["a check-in for a day before the last check-in", daily(), ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"], null, "2026-11-01T23:00:00Z", "late"],
    ["a check-in for a day before a restart", daily(), ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "2026-11-05T10:00:00Z"], null, "2026-11-03T10:00:00Z", "late"],
    ["a check-in for a week before the last check-in", weekly(), ["2026-12-24T12:00:00Z", "2027-01-04T12:00:00Z"], null, "2026-12-31T12:00:00Z", "late"],
    [
      "a check-in for a day the alarm already covered with a freeze (settled)",
      withFreezes(1), ["2026-11-01T10:00:00Z"],
      (s, b) => settle("s", b, s, "2026-11-03"),
      "2026-11-02T23:00:00Z", "late",
    ],
    [
      "a check-in for the day the alarm already settled as broken (settled: the break is final)",
      daily(), ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"],
      (s, b) => settle("s", b, s, "2026-11-04"),
      "2026-11-03T23:00:00Z", "late",
    ],
  ])("%s", (_name, body, before, prepare, late, result) => {
    const { state } = play(body, "UTC", before);
    prepare?.(state, body);
    const snapshot = structuredClone(state);
    const r = checkin("s", body, state, ms(late), "UTC");
    expect([r.result, r.changes]).toEqual([result, []]);
    expect(state).toEqual(snapshot);
  });

  it("after a late check-in for a settled frozen day the next day still extends (the freeze does not add)", () => {
    const body = withFreezes(1);
    const { state } = play(body, "UTC", ["2026-11-01T10:00:00Z"]);
    expect(settle("s", body, state, "2026-11-03")).toEqual([freezeUsed("2026-11-02", 0)]);
    expect(play(body, "UTC", ["2026-11-02T23:00:00Z", "2026-11-03T10:00:00Z"], state).results).toEqual(["late", "extended"]);
    expect([state.current, state.keptThrough, state.lastCheckinPeriod]).toEqual([2, "2026-11-03", "2026-11-03"]);
  });

  it("after the alarm broke the streak, the next period's check-in starts a new run at 1", () => {
    const body = daily();
    const { state } = play(body, "UTC", ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"]);
    expect(settle("s", body, state, "2026-11-04")).toEqual([broken(2)]);
    expect([state.current, state.longest, state.brokenLength]).toEqual([0, 2, 2]);
    const r = checkin("s", body, state, ms("2026-11-04T10:00:00Z"), "UTC");
    expect([r.result, r.changes]).toEqual(["started", started(1, 2)]);
    expect([state.current, state.longest, state.brokenLength, state.keptThrough]).toEqual([1, 2, null, "2026-11-04"]);
  });

  it("through the engine: skipped with the reason, nothing emitted", () => {
    const sim = new Sim(programmeOf([streak("s"), checkinOn("c", "s")]));
    expect(effectsOf(sim.send("visit", {}, { at: "2026-11-02T10:00:00.000Z" }))).toEqual([{ type: "streak.checkin", status: "applied", streak: "s", current: 1, longest: 1 }]);
    let r = sim.send("visit", {}, { at: "2026-11-02T20:00:00.000Z" });
    expect([effectsOf(r), derivedTypes(r)]).toEqual([[{ type: "streak.checkin", status: "skipped", reason: "same_period", streak: "s", current: 1 }], ["loyalty.step.completed", "loyalty.campaign.completed"]]);
    r = sim.send("visit", {}, { at: "2026-11-01T20:00:00.000Z", now: ms("2026-11-02T21:00:00.000Z") });
    expect(effectsOf(r)).toEqual([{ type: "streak.checkin", status: "skipped", reason: "late", streak: "s", current: 1 }]);
    expect(sim.state.streaks!.s).toMatchObject({ current: 1, lastCheckinPeriod: "2026-11-02", keptThrough: "2026-11-02" });
  });
});

describe("a user's zone change keeps the streak: the period in progress is kept, the new zone applies from the next period", () => {
  const programme = programmeOf([streak("s"), checkinOn("c", "s")]);
  const visit = (sim: Sim, at: string) => effectsOf(sim.send("visit", {}, { at: utc(at) }))[0];
  const view = (sim: Sim, at: string) => {
    const v = streaksView(programme, sim.state, ms(at))[0]!;
    return { status: v.status, current: v.current, periodStart: v.periodStart, periodEnd: v.periodEnd };
  };
  const rezone = (sim: Sim, timezone: string, at: string) => expect(sim.admin({ op: "profile", timezone }, { at: utc(at) }).refused).toBeUndefined();

  it("Europe/London → Asia/Tokyo (east): the London day in progress stays checked in (same_period), Tokyo's next day extends, no break", () => {
    const sim = new Sim(programme, "u1", { timezone: "Europe/London" });
    visit(sim, "2026-11-24T12:00:00Z");
    expect(visit(sim, "2026-11-25T12:00:00Z")).toMatchObject({ status: "applied", current: 2 });
    rezone(sim, "Asia/Tokyo", "2026-11-25T20:00:00Z");
    // 20:00Z is Nov 26 in Tokyo but the London day in progress is kept.
    expect(view(sim, "2026-11-25T20:00:00Z")).toEqual({ status: "active", current: 2, periodStart: "2026-11-25T00:00:00.000Z", periodEnd: "2026-11-26T00:00:00.000Z" });
    expect(visit(sim, "2026-11-25T23:30:00Z")).toMatchObject({ status: "skipped", reason: "same_period", current: 2 });
    // The next period is Tokyo's Nov 26 (ends 15:00Z): the alarm moves to its end + grace.
    expect(nextStreakTimer(programme, sim.state, ms("2026-11-25T23:30:00Z"))).toBe(ms("2026-11-26T16:00:00Z"));
    expect(view(sim, "2026-11-26T01:00:00Z")).toEqual({ status: "at_risk", current: 2, periodStart: "2026-11-25T15:00:00.000Z", periodEnd: "2026-11-26T15:00:00.000Z" });
    expect(visit(sim, "2026-11-26T10:00:00+09:00")).toMatchObject({ status: "applied", current: 3 });
    expect(visit(sim, "2026-11-27T00:30:00+09:00")).toMatchObject({ status: "applied", current: 4 });
    expect(sim.state.streaks!.s).toMatchObject({ current: 4, longest: 4, zone: "Asia/Tokyo", lastCheckinPeriod: "2026-11-27" });
    expect(sim.state.streaks!.s!.history.map((h) => h.kept)).toEqual(["checkin", "checkin", "checkin", "checkin"]);
  });

  it("Europe/London → America/Los_Angeles (west): Los Angeles' Nov 25 counts as the day already checked in, its next day extends", () => {
    const sim = new Sim(programme, "u1", { timezone: "Europe/London" });
    visit(sim, "2026-11-24T12:00:00Z");
    visit(sim, "2026-11-25T12:00:00Z");
    rezone(sim, "America/Los_Angeles", "2026-11-25T13:00:00Z");
    // 03:00Z on Nov 26: London's Nov 25 is over; it is still Nov 25 in Los Angeles, already checked in.
    expect(view(sim, "2026-11-26T03:00:00Z")).toEqual({ status: "active", current: 2, periodStart: "2026-11-25T08:00:00.000Z", periodEnd: "2026-11-26T08:00:00.000Z" });
    expect(visit(sim, "2026-11-26T03:00:00Z")).toMatchObject({ status: "skipped", reason: "same_period", current: 2 });
    expect(nextStreakTimer(programme, sim.state, ms("2026-11-26T03:00:00Z"))).toBe(ms("2026-11-27T09:00:00Z"));
    expect(visit(sim, "2026-11-26T23:30:00-08:00")).toMatchObject({ status: "applied", current: 3 });
    expect(view(sim, "2026-11-27T01:30:00-08:00")).toEqual({ status: "at_risk", current: 3, periodStart: "2026-11-27T08:00:00.000Z", periodEnd: "2026-11-28T08:00:00.000Z" });
    expect(sim.state.streaks!.s).toMatchObject({ current: 3, zone: "America/Los_Angeles", lastCheckinPeriod: "2026-11-26" });
  });

  it("Pacific/Kiritimati → Pacific/Pago_Pago (25 h west): right after the +14 day ends it is the day before in −11: late, never broken", () => {
    const sim = new Sim(programme, "u1", { timezone: "Pacific/Kiritimati" });
    expect(visit(sim, "2026-11-25T02:00:00+14:00")).toMatchObject({ status: "applied", current: 1 });
    rezone(sim, "Pacific/Pago_Pago", "2026-11-24T13:00:00Z");
    // Kiritimati's Nov 25 ended at 10:00Z; it is Nov 24 23:30 in Pago Pago: the user is ahead of their zone.
    expect(view(sim, "2026-11-25T10:30:00Z")).toMatchObject({ status: "active", current: 1 });
    expect(nextStreakTimer(programme, sim.state, ms("2026-11-25T10:30:00Z"))).toBe(ms("2026-11-27T12:00:00Z"));
    expect(visit(sim, "2026-11-25T10:30:00Z")).toMatchObject({ status: "skipped", reason: "late", current: 1 });
    expect(visit(sim, "2026-11-25T23:30:00-11:00")).toMatchObject({ status: "skipped", reason: "same_period", current: 1 });
    expect(visit(sim, "2026-11-26T00:30:00-11:00")).toMatchObject({ status: "applied", current: 2 });
  });

  it("fixed-zone streaks ignore the user's zone", () => {
    const fixed = programmeOf([streak("s", { timezoneMode: "fixed", timezone: "Europe/London" }), checkinOn("c", "s")]);
    const sim = new Sim(fixed, "u1", { timezone: "America/Los_Angeles" });
    sim.send("visit", {}, { at: utc("2026-11-25T23:30:00-08:00") });
    expect(sim.state.streaks!.s).toMatchObject({ lastCheckinPeriod: "2026-11-26", zone: "Europe/London" });
  });

  it("zone precedence: user, then the streak's zone, then the space's, then UTC", () => {
    const at = utc("2026-11-25T23:30:00-08:00"); // Nov 26 07:30Z
    const keyFor = (defs: Parameters<typeof programmeOf>[0], space: string, user: string | null) => {
      const sim = new Sim(programmeOf(defs, space), "u1", { timezone: user });
      sim.send("visit", {}, { at });
      return sim.state.streaks!.s!.lastCheckinPeriod;
    };
    expect([
      keyFor([streak("s", { timezone: "Asia/Tokyo" }), checkinOn("c", "s")], "UTC", "America/Los_Angeles"),
      keyFor([streak("s", { timezone: "America/Los_Angeles" }), checkinOn("c", "s")], "Asia/Tokyo", null),
      keyFor([streak("s"), checkinOn("c", "s")], "America/Los_Angeles", null),
      keyFor([streak("s"), checkinOn("c", "s")], "UTC", null),
    ]).toEqual(["2026-11-25", "2026-11-25", "2026-11-25", "2026-11-26"]);
  });
});

describe("freezes: freezes.initial on first touch, the streak.freeze effect capped by freezes.max", () => {
  const freezeProgramme = (initial: number, max: number, counts: number[] = []) =>
    programmeOf([
      streak("s", { freezes: { initial, max } }),
      checkinOn("c", "s"),
      ...[...new Set(counts)].map((n) => oneStep(`gift${n}`, `gift${n}`, [{ type: "streak.freeze", streak: "s", count: n }], { repeat: { limit: null } })),
    ]);

  it("the first check-in creates the state with freezes.initial", () => {
    const sim = new Sim(freezeProgramme(1, 2));
    expect(sim.state.streaks).toEqual({});
    sim.send("visit", {}, { at: "2026-11-01T10:00:00.000Z" });
    expect(sim.state.streaks!.s).toMatchObject({ current: 1, freezes: 1 });
  });

  it.each<[name: string, initial: number, max: number, counts: number[], reports: Array<Record<string, unknown>>, freezes: number]>([
    ["a grant under the cap", 0, 2, [1], [{ status: "applied", count: 1, freezes: 1 }], 1],
    ["the first touch grants initial, then the effect adds up to the cap (partial grant reports requested)", 1, 2, [5], [{ status: "applied", count: 1, requested: 5, freezes: 2 }], 2],
    ["grants add up to the cap, then skipped with freeze_cap", 0, 2, [1, 1, 1], [{ status: "applied", count: 1, freezes: 1 }, { status: "applied", count: 1, freezes: 2 }, { status: "skipped", reason: "freeze_cap", freezes: 2 }], 2],
    ["initial already at the cap: skipped", 2, 2, [1], [{ status: "skipped", reason: "freeze_cap", freezes: 2 }], 2],
    ["max 0: always skipped", 0, 0, [1], [{ status: "skipped", reason: "freeze_cap", freezes: 0 }], 0],
  ])("%s", (_name, initial, max, counts, reports, freezes) => {
    const sim = new Sim(freezeProgramme(initial, max, counts));
    const got = counts.map((n) => effectsOf(sim.send(`gift${n}`, {}, { at: "2026-11-01T10:00:00.000Z" }))[0]);
    expect(got).toEqual(reports.map((r) => ({ type: "streak.freeze", streak: "s", ...r })));
    expect(sim.state.streaks!.s!.freezes).toBe(freezes);
  });

  it("a granted freeze covers a later missed day", () => {
    const sim = new Sim(freezeProgramme(0, 1, [1]));
    sim.send("visit", {}, { at: "2026-11-01T10:00:00.000Z" });
    sim.send("gift1", {}, { at: "2026-11-01T11:00:00.000Z" });
    const r = sim.send("visit", {}, { at: "2026-11-03T10:00:00.000Z" });
    expect(r.derived.filter((d) => d.type.startsWith("loyalty.streak")).map((d) => [d.type, d.data])).toEqual([
      ["loyalty.streak.freeze_used", { streak: "s", period: "2026-11-02", freezesLeft: 0 }],
      ["loyalty.streak.extended", { streak: "s", current: 2, longest: 2 }],
    ]);
  });

  it("freezes.initial is granted once: a break and a restart do not grant it again", () => {
    const sim = new Sim(freezeProgramme(1, 2));
    for (const at of ["2026-11-01", "2026-11-02", "2026-11-04", "2026-11-07", "2026-11-08"]) sim.send("visit", {}, { at: `${at}T10:00:00.000Z` });
    expect(sim.state.streaks!.s).toMatchObject({ current: 2, longest: 3, freezes: 0 });
  });
});

describe("streakStatusAt: reads as of now (settled as of now − grace, never written)", () => {
  it.each<[name: string, body: StreakBody, zone: string, at: string[], now: string, expected: Record<string, unknown>]>([
    ["never started: none", daily(), "UTC", [], "2026-11-25T10:00:00Z", { status: "none", current: 0, period: "2026-11-25", start: "2026-11-25T00:00:00.000Z", end: "2026-11-26T00:00:00.000Z" }],
    ["checked in today: active", daily(), "UTC", ["2026-11-25T09:00:00Z"], "2026-11-25T10:00:00Z", { status: "active", current: 1 }],
    ["checked in yesterday: at_risk", daily(), "UTC", ["2026-11-24T09:00:00Z"], "2026-11-25T23:59:59Z", { status: "at_risk", current: 1 }],
    ["two days ago, inside yesterday's grace window: still at_risk", daily(), "UTC", ["2026-11-24T09:00:00Z"], "2026-11-26T00:59:59.999Z", { status: "at_risk", current: 1, period: "2026-11-26" }],
    ["two days ago, grace over: broken, current 0, longest kept", daily(), "UTC", ["2026-11-23T09:00:00Z", "2026-11-24T09:00:00Z"], "2026-11-26T01:00:00Z", { status: "broken", current: 0, longest: 2 }],
    ["graceMinutes 0: broken at midnight", daily({ graceMinutes: 0 }), "UTC", ["2026-11-24T09:00:00Z"], "2026-11-26T00:00:00Z", { status: "broken", current: 0 }],
    ["graceMinutes 0: at_risk until midnight", daily({ graceMinutes: 0 }), "UTC", ["2026-11-24T09:00:00Z"], "2026-11-25T23:59:59.999Z", { status: "at_risk", current: 1 }],
    ["a freeze covers yesterday on read", withFreezes(1, 1), "UTC", ["2026-11-24T09:00:00Z"], "2026-11-26T01:00:00Z", { status: "at_risk", current: 1, freezes: 0, keptThrough: "2026-11-25" }],
    ["Los Angeles: 23:59 local is still the checked-in day", daily(), "America/Los_Angeles", ["2026-11-25T23:30:00-08:00"], "2026-11-26T07:59:00Z", { status: "active", period: "2026-11-25", start: "2026-11-25T08:00:00.000Z", end: "2026-11-26T08:00:00.000Z" }],
    ["Asia/Kathmandu: at_risk from local midnight (18:15Z)", daily(), "Asia/Kathmandu", ["2026-11-25T12:00:00+05:45"], "2026-11-25T18:15:00Z", { status: "at_risk", period: "2026-11-26", start: "2026-11-25T18:15:00.000Z", end: "2026-11-26T18:15:00.000Z" }],
    ["Asia/Kathmandu: active until local midnight", daily(), "Asia/Kathmandu", ["2026-11-25T12:00:00+05:45"], "2026-11-25T18:14:59.999Z", { status: "active", period: "2026-11-25" }],
    ["Europe/London: the 23-hour day's grace ends at 00:00Z (01:00 BST)", daily(), "Europe/London", ["2026-03-28T12:00:00Z"], "2026-03-29T23:59:59.999Z", { status: "at_risk", current: 1, period: "2026-03-30", start: "2026-03-29T23:00:00.000Z" }],
    ["Europe/London: broken once the 23-hour day's grace is over", daily(), "Europe/London", ["2026-03-28T12:00:00Z"], "2026-03-30T00:00:00Z", { status: "broken", current: 0 }],
    ["America/New_York: the 25-hour day's grace ends at 06:00Z", daily(), "America/New_York", ["2026-10-31T12:00:00-04:00"], "2026-11-02T05:59:59.999Z", { status: "at_risk", current: 1 }],
    ["America/New_York: broken once the 25-hour day's grace is over", daily(), "America/New_York", ["2026-10-31T12:00:00-04:00"], "2026-11-02T06:00:00Z", { status: "broken", current: 0 }],
    ["weekly ISO: at_risk in 2027-W01 after a 2026-W53 check-in", weekly(), "UTC", ["2026-12-31T12:00:00Z"], "2027-01-05T12:00:00Z", { status: "at_risk", current: 1, period: "2027-W01", start: "2027-01-04T00:00:00.000Z", end: "2027-01-11T00:00:00.000Z" }],
    ["weekly ISO: broken once 2027-W01 and its grace are over", weekly(), "UTC", ["2026-12-31T12:00:00Z"], "2027-01-11T01:00:00Z", { status: "broken", current: 0 }],
  ])("%s", (_name, body, zone, at, now, expected) => {
    const stored = at.length > 0 ? play(body, zone, at).state : undefined;
    const snapshot = structuredClone(stored);
    const { state, status, period, bounds } = streakStatusAt(body, stored, ms(now), zone);
    const got = { status, current: state.current, longest: state.longest, freezes: state.freezes, keptThrough: state.keptThrough, period, start: new Date(bounds.start).toISOString(), end: new Date(bounds.end).toISOString() };
    expect(got).toMatchObject(expected);
    expect(stored).toEqual(snapshot);
  });
});

describe("nextSettlement: the end of the next period plus grace, for live streaks only", () => {
  it.each<[name: string, body: StreakBody, zone: string, at: string[], now: string, expected: string | null]>([
    ["checked in today: the end of tomorrow + 60 min", daily(), "UTC", ["2026-11-25T10:00:00Z"], "2026-11-25T10:00:00Z", "2026-11-27T01:00:00.000Z"],
    ["checked in yesterday: the end of today + 60 min", daily(), "UTC", ["2026-11-24T10:00:00Z"], "2026-11-25T10:00:00Z", "2026-11-26T01:00:00.000Z"],
    ["inside yesterday's grace window: still due at the end of that window", daily(), "UTC", ["2026-11-24T10:00:00Z"], "2026-11-26T00:30:00Z", "2026-11-26T01:00:00.000Z"],
    ["graceMinutes 0: at midnight", daily({ graceMinutes: 0 }), "UTC", ["2026-11-24T10:00:00Z"], "2026-11-25T10:00:00Z", "2026-11-26T00:00:00.000Z"],
    ["never checked in: none", daily(), "UTC", [], "2026-11-25T10:00:00Z", null],
    ["backfilled history (last check-in long ago): none", daily(), "UTC", ["2026-01-10T10:00:00Z"], "2026-11-25T10:00:00Z", null],
    ["the day before yesterday, grace over: none (settled lazily)", daily(), "UTC", ["2026-11-23T10:00:00Z"], "2026-11-25T10:00:00Z", null],
    ["Europe/London 23-hour day: 23:00Z + 60 min", daily(), "Europe/London", ["2026-03-28T12:00:00Z"], "2026-03-28T12:00:00Z", "2026-03-30T00:00:00.000Z"],
    ["Europe/London 25-hour day: 00:00Z + 60 min", daily(), "Europe/London", ["2026-10-24T12:00:00+01:00"], "2026-10-24T12:00:00+01:00", "2026-10-26T01:00:00.000Z"],
    ["America/New_York 23-hour day", daily(), "America/New_York", ["2026-03-07T12:00:00-05:00"], "2026-03-07T12:00:00-05:00", "2026-03-09T05:00:00.000Z"],
    ["America/New_York 25-hour day", daily(), "America/New_York", ["2026-10-31T12:00:00-04:00"], "2026-10-31T12:00:00-04:00", "2026-11-02T06:00:00.000Z"],
    ["Asia/Kolkata", daily(), "Asia/Kolkata", ["2026-11-25T12:00:00+05:30"], "2026-11-25T12:00:00+05:30", "2026-11-26T19:30:00.000Z"],
    ["Asia/Kathmandu", daily(), "Asia/Kathmandu", ["2026-11-25T12:00:00+05:45"], "2026-11-25T12:00:00+05:45", "2026-11-26T19:15:00.000Z"],
    ["Pacific/Kiritimati", daily(), "Pacific/Kiritimati", ["2026-11-25T12:00:00+14:00"], "2026-11-25T12:00:00+14:00", "2026-11-26T11:00:00.000Z"],
    ["Pacific/Pago_Pago", daily(), "Pacific/Pago_Pago", ["2026-11-25T12:00:00-11:00"], "2026-11-25T12:00:00-11:00", "2026-11-27T12:00:00.000Z"],
    ["weekly ISO: checked in 2026-W53 → the end of 2027-W01 + 60 min", weekly(), "UTC", ["2026-12-31T12:00:00Z"], "2026-12-31T12:00:00Z", "2027-01-11T01:00:00.000Z"],
    ["weekly from Sunday in Los Angeles", weekly("sunday"), "America/Los_Angeles", ["2026-12-27T12:00:00-08:00"], "2026-12-27T12:00:00-08:00", "2027-01-10T09:00:00.000Z"],
    ["weekly, backfilled: none", weekly(), "UTC", ["2026-10-01T12:00:00Z"], "2026-12-31T12:00:00Z", null],
  ])("%s", (_name, body, zone, at, now, expected) => {
    const state = at.length > 0 ? play(body, zone, at).state : newStreakState(body);
    const due = nextSettlement(body, state, ms(now), zone);
    expect(due === null ? null : new Date(due).toISOString()).toBe(expected);
  });

  it("a broken streak has no timer; after the alarm uses a freeze the next one is a period later", () => {
    const body = withFreezes(1, 1);
    const { state } = play(body, "UTC", ["2026-11-24T10:00:00Z"]);
    const alarmAt = ms("2026-11-26T01:00:30Z");
    expect(nextSettlement(body, state, ms("2026-11-25T10:00:00Z"), "UTC")).toBe(ms("2026-11-26T01:00:00Z"));
    expect(settle("s", body, state, settlementPeriod(body, state, alarmAt, "UTC"))).toEqual([freezeUsed("2026-11-25", 0)]);
    expect(nextSettlement(body, state, alarmAt, "UTC")).toBe(ms("2026-11-27T01:00:00Z"));
    expect(settle("s", body, state, settlementPeriod(body, state, ms("2026-11-27T01:00:30Z"), "UTC"))).toEqual([broken(1)]);
    expect(nextSettlement(body, state, ms("2026-11-27T01:00:30Z"), "UTC")).toBeNull();
  });

  it("the settlement moment is now − grace: nothing settles before, the period settles at exactly end + grace", () => {
    const body = daily();
    const { state } = play(body, "UTC", ["2026-11-24T10:00:00Z"]);
    const due = nextSettlement(body, state, ms("2026-11-24T10:00:00Z"), "UTC")!;
    expect([settlementPeriod(body, state, due - 1, "UTC"), settlementPeriod(body, state, due, "UTC")]).toEqual(["2026-11-25", "2026-11-26"]);
    expect(settle("s", body, structuredClone(state), settlementPeriod(body, state, due - 1, "UTC"))).toEqual([]);
    expect(settle("s", body, structuredClone(state), settlementPeriod(body, state, due, "UTC"))).toEqual([broken(1)]);
  });
});

describe("the alarm's settlement (pure part): freezes consumed and breaks emitted as of now − grace", () => {
  const programme = programmeOf([streak("s", { freezes: { initial: 1, max: 1 } }), streak("t"), checkinOn("c", "s"), checkinOn("l", "t", "lesson")]);
  const alarm = (sim: Sim, at: string) => {
    const run = startRun(programme, sim.state, { id: `tmr_${at}`, type: "timer.streaks", occurredAt: utc(at), data: {}, silent: false }, { now: ms(at), system: true });
    settleAllStreaks(run);
    const r = finishRun(run);
    sim.state = r.state;
    return r.derived.map((d) => [d.type, d.data]);
  };

  it("fires nothing before the end + grace, a freeze at the first settlement, the break at the next; the timer follows", () => {
    const sim = new Sim(programme, "u1", { timezone: "Europe/London" });
    sim.send("visit", {}, { at: utc("2026-10-24T12:00:00+01:00") });
    sim.send("lesson", {}, { at: utc("2026-10-24T12:00:00+01:00") });
    // Both are due at the end of the 25-hour Oct 25 (00:00Z Oct 26) + 60 min.
    expect(nextStreakTimer(programme, sim.state, ms("2026-10-24T12:00:00Z"))).toBe(ms("2026-10-26T01:00:00Z"));
    expect(alarm(sim, "2026-10-26T00:59:59Z")).toEqual([]);
    expect(alarm(sim, "2026-10-26T01:00:00Z")).toEqual([
      ["loyalty.streak.freeze_used", { streak: "s", period: "2026-10-25", freezesLeft: 0 }],
      ["loyalty.streak.broken", { streak: "t", length: 1 }],
    ]);
    expect(nextStreakTimer(programme, sim.state, ms("2026-10-26T01:00:00Z"))).toBe(ms("2026-10-27T01:00:00Z"));
    expect(alarm(sim, "2026-10-27T01:00:00Z")).toEqual([["loyalty.streak.broken", { streak: "s", length: 1 }]]);
    expect(nextStreakTimer(programme, sim.state, ms("2026-10-27T01:00:00Z"))).toBeNull();
    expect(sim.state.streaks).toMatchObject({ s: { current: 0, longest: 1, brokenLength: 1 }, t: { current: 0, longest: 1, brokenLength: 1 } });
  });

  it("another streak's check-in inside the grace window keeps the pending settlement's timer", () => {
    const sim = new Sim(programme);
    sim.send("visit", {}, { at: "2026-11-24T10:00:00.000Z" });
    sim.send("lesson", {}, { at: "2026-11-24T10:00:00.000Z" });
    sim.send("lesson", {}, { at: "2026-11-25T10:00:00.000Z" });
    // 00:30Z on Nov 26: s's Nov 25 is still inside its grace window; t was checked in on Nov 26.
    sim.send("lesson", {}, { at: "2026-11-26T00:30:00.000Z" });
    expect(nextStreakTimer(programme, sim.state, ms("2026-11-26T00:30:00Z"))).toBe(ms("2026-11-26T01:00:00Z"));
  });

  it("a check-in arriving after the alarm broke the streak, for the broken day, is late; the next day starts a new run", () => {
    const sim = new Sim(programmeOf([streak("s"), checkinOn("c", "s")]));
    sim.send("visit", {}, { at: "2026-11-24T10:00:00.000Z" });
    const run = startRun(sim.programme, sim.state, { id: "tmr", type: "timer.streaks", occurredAt: "2026-11-26T01:00:30.000Z", data: {}, silent: false }, { now: ms("2026-11-26T01:00:30Z"), system: true });
    settleAllStreaks(run);
    sim.state = finishRun(run).state;
    const r = applyEvent(sim.programme, sim.state, { id: "late", type: "visit", occurredAt: "2026-11-25T23:59:00.000Z", data: {}, silent: false }, { now: ms("2026-11-26T01:05:00Z") });
    expect(effectsOf(r)).toEqual([{ type: "streak.checkin", status: "skipped", reason: "late", streak: "s", current: 0 }]);
    sim.state = r.state;
    expect(effectsOf(sim.send("visit", {}, { at: "2026-11-26T10:00:00.000Z" }))).toEqual([{ type: "streak.checkin", status: "applied", streak: "s", current: 1, longest: 1 }]);
  });
});

describe("restore: a broken streak comes back with its length, kept through the previous period", () => {
  const brokenState = (body: StreakBody, zone: string, at: string[], settleAs: string) => {
    const { state } = play(body, zone, at);
    settle("s", body, state, settleAs);
    expect(state.current).toBe(0);
    return state;
  };

  it.each<[name: string, body: StreakBody, zone: string, at: string[], settleAs: string, now: string, length: number, keptThrough: string]>([
    ["daily UTC", daily(), "UTC", ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "2026-11-03T10:00:00Z", "2026-11-04T10:00:00Z"], "2026-11-06", "2026-11-06T12:00:00Z", 4, "2026-11-05"],
    ["daily in Los Angeles: the previous local day", daily(), "America/Los_Angeles", ["2026-11-01T10:00:00-08:00", "2026-11-02T10:00:00-08:00", "2026-11-03T10:00:00-08:00"], "2026-11-05", "2026-11-05T23:00:00-08:00", 3, "2026-11-04"],
    ["daily on the 23-hour day", daily(), "Europe/London", ["2026-03-26T12:00:00Z", "2026-03-27T12:00:00Z"], "2026-03-29", "2026-03-30T00:30:00+01:00", 2, "2026-03-29"],
    ["weekly ISO: now in 2027-W01 → kept through 2026-W53", weekly(), "UTC", ["2026-12-17T12:00:00Z", "2026-12-24T12:00:00Z"], "2027-W01", "2027-01-05T12:00:00Z", 2, "2026-W53"],
    ["weeks from Sunday", weekly("sunday"), "UTC", ["2026-12-17T12:00:00Z", "2026-12-24T12:00:00Z"], "2027-01-03~W", "2027-01-05T12:00:00Z", 2, "2026-12-27~W"],
  ])("%s", (_name, body, zone, at, settleAs, now, length, keptThrough) => {
    const state = brokenState(body, zone, at, settleAs);
    expect(restore("s", body, state, ms(now), zone)).toEqual([{ type: "loyalty.streak.restored", data: { streak: "s", length } }]);
    expect(state).toMatchObject({ current: length, longest: length, keptThrough, brokenLength: null });
    expect(streakStatusAt(body, state, ms(now), zone).status).toBe("at_risk");
    expect(nextSettlement(body, state, ms(now), zone)).not.toBeNull();
    // The current period's check-in extends the restored run.
    const r = checkin("s", body, state, ms(now), zone);
    expect([r.result, state.current]).toEqual(["extended", length + 1]);
  });

  it.each<[name: string, at: string[], settleAs: string | null]>([
    ["never started", [], null],
    ["live", ["2026-11-05T10:00:00Z"], null],
    ["restarted after a break", ["2026-11-01T10:00:00Z", "2026-11-04T10:00:00Z"], null],
    ["already restored", ["2026-11-01T10:00:00Z"], "2026-11-03"],
  ])("refused when not broken: %s", (_name, at, settleAs) => {
    const body = daily();
    const { state } = play(body, "UTC", at);
    if (settleAs) {
      settle("s", body, state, settleAs);
      expect(restore("s", body, state, ms("2026-11-06T12:00:00Z"), "UTC")).not.toBeNull();
    }
    const snapshot = structuredClone(state);
    expect(restore("s", body, state, ms("2026-11-06T12:00:00Z"), "UTC")).toBeNull();
    expect(state).toEqual(snapshot);
  });

  it("through the admin operation: settled first (broken emitted), then restored; refused when not broken", () => {
    const sim = new Sim(programmeOf([streak("s"), checkinOn("c", "s")]));
    for (const d of ["01", "02", "03"]) sim.send("visit", {}, { at: `2026-11-${d}T10:00:00.000Z` });
    const op = sim.admin({ op: "restoreStreak", streak: "s" }, { at: "2026-11-05T12:00:00.000Z" });
    expect(op.applied).toEqual({ streak: "s", current: 3, keptThrough: "2026-11-04" });
    expect(derivedTypes(op.result!)).toEqual(["loyalty.streak.broken", "loyalty.streak.restored"]);
    expect(op.result!.derived.map((d) => d.data)).toEqual([{ streak: "s", length: 3 }, { streak: "s", length: 3 }]);
    expect(sim.admin({ op: "restoreStreak", streak: "s" }, { at: "2026-11-05T12:00:01.000Z" }).refused).toMatchObject({ refused: "invalid_transition" });
    expect(sim.admin({ op: "restoreStreak", streak: "nope" }, { at: "2026-11-05T12:00:01.000Z" }).refused).toMatchObject({ refused: "not_found" });
    sim.send("visit", {}, { at: "2026-11-05T13:00:00.000Z" });
    expect(sim.state.streaks!.s).toMatchObject({ current: 4, longest: 4 });
  });
});

describe("conditions on user.streaks.<id>.current|longest are settled as of the event", () => {
  const programme = (initial: number) =>
    programmeOf([
      metric("points"),
      streak("s", { freezes: { initial, max: 1 } }),
      checkinOn("c", "s"),
      oneStep("cur", "probe", [{ type: "metric.add", metric: "points", amount: 1 }], { repeat: { limit: null } }, { path: "user.streaks.s.current", op: "gte", value: 3 }),
      oneStep("long", "probe", [{ type: "metric.add", metric: "points", amount: 10 }], { repeat: { limit: null } }, { path: "user.streaks.s.longest", op: "gte", value: 3 }),
    ]);
  it.each<[name: string, initial: number, probeAt: string, points: number]>([
    ["the day of the third check-in: current 3", 0, "2026-11-03T23:00:00.000Z", 11],
    ["the next day, not yet checked in: current 3 (not settled yet)", 0, "2026-11-04T23:59:00.000Z", 11],
    ["two days later: the missed day settles as broken: current 0, longest 3", 0, "2026-11-05T00:00:00.000Z", 10],
    ["two days later with a freeze: the freeze covers the missed day on evaluation", 1, "2026-11-05T12:00:00.000Z", 11],
  ])("%s", (_name, initial, probeAt, points) => {
    const sim = new Sim(programme(initial));
    for (const d of ["01", "02", "03"]) sim.send("visit", {}, { at: `2026-11-${d}T10:00:00.000Z` });
    const before = structuredClone(sim.state.streaks);
    sim.send("probe", {}, { at: probeAt });
    expect(sim.state.metrics.points?.balance ?? 0).toBe(points);
    // The condition settled a copy: the stored streak is unchanged.
    expect(sim.state.streaks).toEqual(before);
  });
});

describe("a 7-day badge on loyalty.streak.extended with event.data.current gte 7", () => {
  const programme = programmeOf([
    product("week-badge", { type: "badge" }),
    streak("s"),
    checkinOn("c", "s"),
    oneStep("seven", "loyalty.streak.extended", [{ type: "product.grant", product: "week-badge" }], {}, { path: "event.data.current", op: "gte", value: 7 }),
  ]);

  it("is granted by the 7th consecutive local day, once", () => {
    const sim = new Sim(programme, "u1", { timezone: "America/Los_Angeles" });
    const got: Array<[number, number]> = [];
    // 23:30 in Los Angeles every day: the next UTC day each time.
    for (let day = 1; day <= 8; day++) {
      const r = sim.send("visit", {}, { at: utc(`2026-11-0${day}T23:30:00-08:00`) });
      const ext = r.derived.find((d) => d.type === "loyalty.streak.extended")!;
      got.push([ext.data.current as number, sim.state.products["week-badge"] ?? 0]);
      if (day === 7) {
        expect(ext.data).toEqual({ streak: "s", current: 7, longest: 7 });
        expect(derivedTypes(r)).toContain("loyalty.product.granted");
      }
    }
    expect(got).toEqual([[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [6, 0], [7, 1], [8, 1]]);
  });

  it("is not granted for 7 check-ins with a gap (broken at 3, then 4)", () => {
    const sim = new Sim(programme);
    for (const d of ["01", "02", "03", "05", "06", "07", "08"]) sim.send("visit", {}, { at: `2026-11-${d}T10:00:00.000Z` });
    expect([sim.state.streaks!.s!.current, sim.state.streaks!.s!.longest, sim.state.products["week-badge"]]).toEqual([4, 4, undefined]);
  });
});
