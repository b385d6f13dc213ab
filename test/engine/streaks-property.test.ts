import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StreakBody } from "../../src/definitions/kinds/streaks";
import { checkin, newStreakState, periodBounds, streakStatusAt, type CheckinResult, type StreakChange, type StreakState } from "../../src/engine/streaks";
import { periodKey, type WeekStart } from "../../src/engine/time";
import { checkinOn, programmeOf, Sim, streak, streakBody } from "./builders";

// SPEC §4.5 as a property: for any sequence of check-in instants (sorted or not) in any
// zone, the streak the engine keeps equals a brute-force reference computed only from the
// local period of each check-in. The reference is written independently of src/: its own
// local-date formatter, periods as integer day numbers, and a walk over every period from
// the first check-in to the last applying the rules (checked in: +1 or a new run at 1;
// missed: a freeze if one is left, otherwise broken — final until the next check-in;
// a check-in before the latest one: late; in the latest one's period: same_period).

const DAY = 86_400_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

const ZONES = [
  "UTC",
  "Europe/London",
  "America/New_York",
  "America/Los_Angeles",
  "America/St_Johns", // −03:30 with DST
  "America/Santiago", // DST changes at local midnight
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Asia/Tokyo",
  "Australia/Lord_Howe", // a 30-minute DST shift
  "Pacific/Kiritimati",
  "Pacific/Pago_Pago",
] as const;

// DST days of the zones above, year boundaries and ISO week 53 (2026-12-28 … 2027-01-03).
const ANCHORS = [
  "2025-12-27",
  "2026-03-07",
  "2026-03-27",
  "2026-04-03",
  "2026-09-04",
  "2026-10-02",
  "2026-10-23",
  "2026-10-30",
  "2026-12-20",
  "2026-12-27",
  "2026-12-29",
].map((d) => Date.parse(`${d}T00:00:00Z`));

const WEEK_STARTS: WeekStart[] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

// --- the reference ------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The civil date of an instant in a zone, `YYYY-MM-DD`. */
function localDate(instant: number, zone: string): string {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "numeric", day: "numeric", calendar: "gregory", numberingSystem: "latn" });
    formatters.set(zone, f);
  }
  const part = (type: string) => Number(f.formatToParts(new Date(instant)).find((p) => p.type === type)!.value);
  return `${String(part("year")).padStart(4, "0")}-${String(part("month")).padStart(2, "0")}-${String(part("day")).padStart(2, "0")}`;
}
const dayNumber = (date: string) => Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY;
const dateOf = (n: number) => new Date(n * DAY).toISOString().slice(0, 10);

/** A period as an integer: its first day's number (1970-01-01 = 0, a Thursday). */
function periodIndex(instant: number, zone: string, period: "day" | "week", weekStart: WeekStart): number {
  const n = dayNumber(localDate(instant, zone));
  if (period === "day") return n;
  const mondayBased = (n + 3) % 7;
  return n - ((mondayBased - WEEK_STARTS.indexOf(weekStart) + 7) % 7);
}

/** The key of a period index: a date, an ISO week, or `<first day>~W`. */
function keyOf(index: number, period: "day" | "week", weekStart: WeekStart): string {
  if (period === "day") return dateOf(index);
  if (weekStart !== "monday") return `${dateOf(index)}~W`;
  const thursday = index + 3; // an ISO week belongs to the year of its Thursday
  const year = new Date(thursday * DAY).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1) / DAY) / 7) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}

interface Reference {
  results: CheckinResult[];
  changes: StreakChange[];
  state: StreakState;
  /** What a read shows as of `now`. */
  readAt(now: number, graceMinutes: number): { status: string; current: number; longest: number; freezes: number; keptThrough: string };
}

function reference(body: StreakBody, zone: string, instants: number[]): Reference {
  const { period, weekStart } = body;
  const step = period === "day" ? 1 : 7;
  const key = (i: number) => keyOf(i, period, weekStart);
  const indexes = instants.map((t) => periodIndex(t, zone, period, weekStart));

  // Which check-ins count: those past every earlier one. The rest are late or same_period.
  let high = Number.NEGATIVE_INFINITY;
  const firstInstant = new Map<number, number>();
  const order: Array<CheckinResult | "counts"> = indexes.map((p, i) => {
    if (p > high) {
      high = p;
      firstInstant.set(p, instants[i]!);
      return "counts";
    }
    return p === high ? "same_period" : "late";
  });

  // Walk every period from the first counted one to the last.
  const first = Math.min(...firstInstant.keys());
  let current = 0;
  let longest = 0;
  let freezes = body.freezes.initial;
  let startedAt = 0;
  const history: Array<{ period: string; kept: "checkin" | "freeze" }> = [];
  const changes: StreakChange[] = [];
  const outcome = new Map<number, CheckinResult>();
  const miss = (p: number, state: { current: number; freezes: number }, out: StreakChange[] | null, hist: typeof history | null) => {
    if (state.current === 0) return; // broken: final until the next check-in
    if (state.freezes > 0) {
      state.freezes -= 1;
      hist?.push({ period: key(p), kept: "freeze" });
      out?.push({ type: "loyalty.streak.freeze_used", data: { streak: "s", period: key(p), freezesLeft: state.freezes } });
    } else {
      out?.push({ type: "loyalty.streak.broken", data: { streak: "s", length: state.current } });
      state.current = 0;
    }
  };
  for (let p = first; p <= high; p += step) {
    if (firstInstant.has(p)) {
      const starts = current === 0;
      current = starts ? 1 : current + 1;
      longest = Math.max(longest, current);
      if (starts) {
        startedAt = firstInstant.get(p)!;
        changes.push({ type: "loyalty.streak.started", data: { streak: "s", current, longest } });
      }
      changes.push({ type: "loyalty.streak.extended", data: { streak: "s", current, longest } });
      history.push({ period: key(p), kept: "checkin" });
      outcome.set(p, starts ? "started" : "extended");
    } else {
      const s = { current, freezes };
      miss(p, s, changes, history);
      ({ current, freezes } = s);
    }
  }

  return {
    results: order.map((r, i) => (r === "counts" ? outcome.get(indexes[i]!)! : r)),
    changes,
    state: {
      current,
      longest,
      lastCheckinPeriod: key(high),
      keptThrough: key(high),
      freezes,
      startedAt: new Date(startedAt).toISOString(),
      zone,
      brokenLength: null,
      history: history.slice(-30),
    },
    readAt(now, graceMinutes) {
      // Periods that ended before now − grace are settled (on a copy): freezes or a break.
      const settleBefore = periodIndex(now - graceMinutes * MINUTE, zone, period, weekStart);
      const s = { current, freezes };
      let kept = high;
      for (let p = high + step; p < settleBefore && s.current > 0; p += step) {
        miss(p, s, null, null);
        if (s.current > 0) kept = p;
      }
      const nowIndex = periodIndex(now, zone, period, weekStart);
      const status = s.current === 0 ? "broken" : high >= nowIndex ? "active" : "at_risk";
      return { status, current: s.current, longest, freezes: s.freezes, keptThrough: key(kept) };
    },
  };
}

// --- generators ---------------------------------------------------------------------

const scenario = fc
  .record({
    zone: fc.constantFrom(...ZONES),
    period: fc.constantFrom("day" as const, "week" as const),
    weekStart: fc.constantFrom(...WEEK_STARTS),
    max: fc.integer({ min: 0, max: 2 }),
    initialShare: fc.integer({ min: 0, max: 2 }),
    anchor: fc.constantFrom(...ANCHORS),
    sorted: fc.boolean(),
    graceMinutes: fc.constantFrom(0, 60, 1440),
    periods: fc.constantFrom(4, 8, 14),
  })
  .chain((s) => {
    // Dense enough that runs grow and gaps of 1, 2 and 3 periods all happen.
    const span = s.periods * (s.period === "day" ? 1 : 7) * DAY;
    // Any instant, or near a quarter hour (local midnights at :00, :15, :30 and :45).
    const instant = fc.oneof(
      fc.integer({ min: 0, max: span }),
      fc.tuple(fc.integer({ min: 0, max: span / (15 * MINUTE) }), fc.integer({ min: -90_000, max: 90_000 })).map(([q, d]) => Math.max(0, q * 15 * MINUTE + d)),
    );
    return fc.record({
      s: fc.constant(s),
      offsets: fc.array(instant, { minLength: 1, maxLength: 30, size: "+1" }),
      readAfter: fc.integer({ min: 0, max: (s.period === "day" ? 4 : 21) * DAY }),
    });
  })
  .map(({ s, offsets, readAfter }) => {
    const body = streakBody({ period: s.period, weekStart: s.weekStart, freezes: { initial: Math.min(s.initialShare, s.max), max: s.max }, graceMinutes: s.graceMinutes });
    const instants = offsets.map((o) => s.anchor - 2 * DAY + o);
    if (s.sorted) instants.sort((a, b) => a - b);
    return { zone: s.zone, body, instants, readAfter };
  });

const describeCase = (c: { zone: string; body: StreakBody; instants: number[] }) =>
  `${c.zone} ${c.body.period}/${c.body.weekStart} freezes ${JSON.stringify(c.body.freezes)}: ${c.instants.map((t) => new Date(t).toISOString()).join(", ")}`;

describe("property: the streak equals a brute-force reference over local period keys", () => {
  it("the reference itself agrees with hand-computed keys (ISO week 53, Sunday weeks, offsets)", () => {
    const at = Date.parse("2027-01-03T20:00:00Z");
    expect([
      keyOf(periodIndex(at, "UTC", "week", "monday"), "week", "monday"),
      keyOf(periodIndex(at, "Pacific/Kiritimati", "week", "monday"), "week", "monday"),
      keyOf(periodIndex(at, "Pacific/Kiritimati", "week", "sunday"), "week", "sunday"),
      keyOf(periodIndex(Date.parse("2025-12-29T12:00:00Z"), "UTC", "week", "monday"), "week", "monday"),
      keyOf(periodIndex(Date.parse("2026-11-24T18:15:00Z"), "Asia/Kathmandu", "day", "monday"), "day", "monday"),
    ]).toEqual(["2026-W53", "2027-W01", "2027-01-03~W", "2026-W01", "2026-11-25"]);
  });

  it("checkin: results, emitted changes and the final state", () => {
    fc.assert(
      fc.property(scenario, (c) => {
        const expected = reference(c.body, c.zone, c.instants);
        const state = newStreakState(c.body);
        const results: CheckinResult[] = [];
        const changes: StreakChange[] = [];
        for (const t of c.instants) {
          const r = checkin("s", c.body, state, t, c.zone);
          results.push(r.result);
          changes.push(...r.changes);
        }
        expect({ case: describeCase(c), results, changes, state }).toEqual({ case: describeCase(c), results: expected.results, changes: expected.changes, state: expected.state });
      }),
      { numRuns: 600 },
    );
  });

  it("reads as of a later now: status, current, freezes and keptThrough settled as of now − grace", () => {
    fc.assert(
      fc.property(scenario, (c) => {
        const expected = reference(c.body, c.zone, c.instants);
        const state = newStreakState(c.body);
        for (const t of c.instants) checkin("s", c.body, state, t, c.zone);
        const now = Math.max(...c.instants) + c.readAfter;
        const read = streakStatusAt(c.body, state, now, c.zone);
        const got = { status: read.status, current: read.state.current, longest: read.state.longest, freezes: read.state.freezes, keptThrough: read.state.keptThrough };
        expect({ case: describeCase(c), now: new Date(now).toISOString(), got }).toEqual({ case: describeCase(c), now: new Date(now).toISOString(), got: expected.readAt(now, c.body.graceMinutes) });
        // The period shown contains now, in the user's zone.
        expect(read.bounds.start <= now && now < read.bounds.end).toBe(true);
      }),
      { numRuns: 250 },
    );
  });

  it("through the engine (streak.checkin effects on a user in the zone): the stored state equals the reference", () => {
    fc.assert(
      fc.property(scenario, (c) => {
        const expected = reference(c.body, c.zone, c.instants);
        const sim = new Sim(programmeOf([streak("s", { ...c.body }), checkinOn("c", "s")]), "u1", { timezone: c.zone });
        const reports = c.instants.map((t) => {
          const effect = sim.send("visit", {}, { at: new Date(t).toISOString(), now: Math.max(...c.instants) }).outcome.effects[0]!;
          return effect.status === "applied" ? "counts" : effect.reason;
        });
        expect(reports).toEqual(expected.results.map((r) => (r === "started" || r === "extended" ? "counts" : r)));
        expect(sim.state.streaks!.s).toEqual(expected.state);
      }),
      { numRuns: 60 },
    );
  });

  it("periodBounds contains every instant exactly: its key holds from start to end − 1 ms and not outside", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom("day" as const, "week" as const),
        fc.constantFrom(...WEEK_STARTS),
        fc.constantFrom(...ANCHORS),
        fc.integer({ min: 0, max: 14 * DAY }),
        (zone, period, weekStart, anchor, offset) => {
          const t = anchor - 2 * DAY + offset;
          const key = periodKey(t, zone, period, weekStart);
          const { start, end } = periodBounds(key, period, weekStart, zone);
          const keyAt = (x: number) => periodKey(x, zone, period, weekStart);
          const length = (end - start) / HOUR;
          const expectedKey = keyOf(periodIndex(t, zone, period, weekStart), period, weekStart);
          expect({ key, inside: start <= t && t < end, first: keyAt(start), last: keyAt(end - 1), before: keyAt(start - 1) !== key, after: keyAt(end) !== key }).toEqual({
            key: expectedKey,
            inside: true,
            first: key,
            last: key,
            before: true,
            after: true,
          });
          // Days are 23 to 25 hours (Lord Howe: 23.5 and 24.5), weeks 167 to 169.
          const base = period === "day" ? 24 : 168;
          expect(Math.abs(length - base)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
