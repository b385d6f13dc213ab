import type { StreakBody } from "../definitions/kinds/streaks";
import { localParts, periodKey, type Period, type WeekStart } from "./time";

// Streaks (SPEC §4.5), right by construction: one function maps an instant and a zone to
// a period key (time.ts); everything else is arithmetic on keys. Settlement — freezes
// consumed or the streak broken for each missed period — is one function used by
// check-ins, alarms and reads (reads without keeping the result). Pure.

export const HISTORY_LENGTH = 30;

export interface StreakHistoryEntry {
  period: string;
  kept: "checkin" | "freeze";
}

export interface StreakState {
  current: number;
  longest: number;
  lastCheckinPeriod: string | null;
  /** The last period covered by a check-in or a freeze. */
  keptThrough: string | null;
  freezes: number;
  startedAt: string | null;
  /** The zone the period in progress was computed in: a zone change applies from the next period. */
  zone: string | null;
  /** Length of the run when it broke (for the admin restore), null while live. */
  brokenLength: number | null;
  history: StreakHistoryEntry[];
}

export function newStreakState(streak: StreakBody): StreakState {
  return {
    current: 0,
    longest: 0,
    lastCheckinPeriod: null,
    keptThrough: null,
    freezes: streak.freezes.initial,
    startedAt: null,
    zone: null,
    brokenLength: null,
    history: [],
  };
}

/** The zone a streak uses for a user: fixed, or the user's, else the streak's, else the space's, else UTC. */
export function streakZone(streak: StreakBody, userZone: string | null, spaceZone: string | null): string {
  if (streak.timezoneMode === "fixed") return streak.timezone ?? spaceZone ?? "UTC";
  return userZone ?? streak.timezone ?? spaceZone ?? "UTC";
}

const DAY_MS = 86_400_000;

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The civil date a period key starts on. */
export function periodStartDate(key: string): string {
  if (key.endsWith("~W")) return key.slice(0, 10);
  const week = /^(\d{4})-W(\d{2})$/.exec(key);
  if (!week) return key;
  // ISO week 1 contains January 4th; its Monday starts the week-numbering year.
  const jan4 = Date.UTC(Number(week[1]), 0, 4);
  const jan4Weekday = ((new Date(jan4).getUTCDay() + 6) % 7) + 1;
  const monday = jan4 - (jan4Weekday - 1) * DAY_MS + (Number(week[2]) - 1) * 7 * DAY_MS;
  return new Date(monday).toISOString().slice(0, 10);
}

export function nextPeriod(key: string, period: Period, weekStart: WeekStart): string {
  const start = periodStartDate(key);
  if (period === "day") return addDays(start, 1);
  const next = addDays(start, 7);
  return weekStart === "monday" ? periodKey(Date.parse(`${next}T12:00:00Z`), "UTC", "week", "monday") : `${next}~W`;
}

/**
 * The first instant whose local date in `zone` is `date` (SPEC §4.5: on a DST day a
 * period starts at the first instant of that day; 23- and 25-hour days exist).
 */
export function startOfLocalDate(date: string, zone: string): number {
  const key = `${zone} ${date}`;
  const known = startsOfLocalDates.get(key);
  if (known !== undefined) return known;
  const start = searchStartOfLocalDate(date, zone);
  if (startsOfLocalDates.size >= STARTS_KEPT) startsOfLocalDates.clear();
  startsOfLocalDates.set(key, start);
  return start;
}

/**
 * Answers of startOfLocalDate by zone and date: each takes some forty formatToParts calls,
 * and every read of a user with a streak asked for the same few (npm run profile -- --mode
 * me). A date's start in a zone never changes while the isolate runs.
 */
const startsOfLocalDates = new Map<string, number>();
const STARTS_KEPT = 4096;

function searchStartOfLocalDate(date: string, zone: string): number {
  // Search from 14 hours before UTC midnight (the largest offset) for the first instant
  // whose local date is `date`: coarse steps of an hour, then a binary search.
  let lo = Date.parse(`${date}T00:00:00Z`) - 14 * 3_600_000;
  while (localParts(lo, zone).date < date) lo += 3_600_000;
  let low = lo - 3_600_000;
  let high = lo;
  while (high - low > 1000) {
    const mid = Math.floor((low + high) / 2);
    if (localParts(mid, zone).date < date) low = mid;
    else high = mid;
  }
  // Zone offsets are whole minutes: round up to the minute.
  return Math.ceil(high / 60_000) * 60_000;
}

export function periodBounds(key: string, period: Period, weekStart: WeekStart, zone: string): { start: number; end: number } {
  const start = startOfLocalDate(periodStartDate(key), zone);
  const end = startOfLocalDate(periodStartDate(nextPeriod(key, period, weekStart)), zone);
  return { start, end };
}

export interface StreakChange {
  type: "loyalty.streak.freeze_used" | "loyalty.streak.broken" | "loyalty.streak.started" | "loyalty.streak.extended" | "loyalty.streak.restored";
  data: Record<string, unknown>;
}

function remember(state: StreakState, entry: StreakHistoryEntry): void {
  state.history = [...state.history, entry].slice(-HISTORY_LENGTH);
}

/**
 * Settles the periods after `keptThrough` that ended before `periodOfT` (the key of the
 * period containing the settlement moment): each consumes a freeze, or the streak breaks
 * (current 0, longest kept) and the break is final. Mutates `state`; returns the events.
 */
export function settle(streakId: string, streak: StreakBody, state: StreakState, periodOfT: string): StreakChange[] {
  const changes: StreakChange[] = [];
  if (state.current === 0 || state.keptThrough === null) return changes;
  let missed = nextPeriod(state.keptThrough, streak.period, streak.weekStart);
  while (missed < periodOfT) {
    if (state.freezes > 0) {
      state.freezes -= 1;
      state.keptThrough = missed;
      remember(state, { period: missed, kept: "freeze" });
      changes.push({ type: "loyalty.streak.freeze_used", data: { streak: streakId, period: missed, freezesLeft: state.freezes } });
      missed = nextPeriod(missed, streak.period, streak.weekStart);
      continue;
    }
    state.brokenLength = state.current;
    changes.push({ type: "loyalty.streak.broken", data: { streak: streakId, length: state.current } });
    state.current = 0;
    break;
  }
  return changes;
}

/** The period an instant belongs to for this streak (a zone change applies from the next period). */
export function periodOf(streak: StreakBody, state: StreakState, instant: number, zone: string): { key: string; zone: string } {
  if (state.zone && state.zone !== zone && state.lastCheckinPeriod) {
    const inProgress = periodBounds(state.lastCheckinPeriod, streak.period, streak.weekStart, state.zone);
    if (instant < inProgress.end) return { key: periodKey(instant, state.zone, streak.period, streak.weekStart), zone: state.zone };
  }
  return { key: periodKey(instant, zone, streak.period, streak.weekStart), zone };
}

export type CheckinResult = "extended" | "started" | "same_period" | "late";

/** A check-in at `instant` (SPEC §4.5 check-in rules). Mutates `state`. */
export function checkin(
  streakId: string,
  streak: StreakBody,
  state: StreakState,
  instant: number,
  zone: string,
): { result: CheckinResult; changes: StreakChange[] } {
  const { key, zone: used } = periodOf(streak, state, instant, zone);
  if (state.lastCheckinPeriod === key) return { result: "same_period", changes: [] };
  if ((state.lastCheckinPeriod !== null && key < state.lastCheckinPeriod) || (state.keptThrough !== null && key <= state.keptThrough)) {
    return { result: "late", changes: [] };
  }
  // A break stored by the alarm (or the admin restore's settlement) settled the period
  // after `keptThrough`: a check-in for it that arrives afterwards is late (the break is final).
  if (state.current === 0 && state.brokenLength !== null && state.keptThrough !== null && key <= nextPeriod(state.keptThrough, streak.period, streak.weekStart)) {
    return { result: "late", changes: [] };
  }
  const changes = settle(streakId, streak, state, key);
  state.zone = used;
  state.lastCheckinPeriod = key;
  remember(state, { period: key, kept: "checkin" });
  if (state.current > 0) {
    state.current += 1;
    state.keptThrough = key;
    state.longest = Math.max(state.longest, state.current);
    changes.push({ type: "loyalty.streak.extended", data: { streak: streakId, current: state.current, longest: state.longest } });
    return { result: "extended", changes };
  }
  state.current = 1;
  state.keptThrough = key;
  state.brokenLength = null;
  state.startedAt = new Date(instant).toISOString();
  state.longest = Math.max(state.longest, 1);
  changes.push({ type: "loyalty.streak.started", data: { streak: streakId, current: 1, longest: state.longest } });
  changes.push({ type: "loyalty.streak.extended", data: { streak: streakId, current: 1, longest: state.longest } });
  return { result: "started", changes };
}

/** The settlement moment of alarms and reads: now minus the grace window. */
export function settlementPeriod(streak: StreakBody, state: StreakState, now: number, zone: string): string {
  return periodOf(streak, state, now - streak.graceMinutes * 60_000, zone).key;
}

export type StreakStatus = "none" | "active" | "at_risk" | "broken";

/** What a read shows as of `now`: settled on a copy, never written. */
export function streakStatusAt(streak: StreakBody, stored: StreakState | undefined, now: number, zone: string) {
  const state: StreakState = stored ? structuredClone(stored) : newStreakState(streak);
  settle("", streak, state, settlementPeriod(streak, state, now, zone));
  const { key, zone: used } = periodOf(streak, state, now, zone);
  // Active when the period of now is checked in — or already behind the last check-in
  // (a zone change westward can put now in a local period before it; a check-in is late there).
  const status: StreakStatus =
    state.lastCheckinPeriod === null ? "none" : state.current === 0 ? "broken" : state.lastCheckinPeriod >= key ? "active" : "at_risk";
  // The bounds of the period of now in the zone it was computed in (the old zone only
  // while the period of the last check-in is in progress).
  const bounds = periodBounds(key, streak.period, streak.weekStart, used);
  return { state, status, period: key, bounds, zone: used };
}

/**
 * When the alarm must settle this streak next: the end of the period after `keptThrough`
 * plus grace (a live streak not checked in by then needs a freeze or breaks). Only live
 * streaks get a timer (SPEC §4.5): kept through the current or previous period as of the
 * settlement moment (now − grace), so a streak whose previous period is still inside its
 * grace window keeps its timer when another event recomputes it.
 */
/**
 * How late an alarm may run and still count as the live settlement: timers carry up to a
 * minute of jitter after the grace window, and alarms can be late. A streak whose due
 * period ended within this slack keeps its timer (which then fires at once).
 */
export const SETTLEMENT_SLACK_MS = 10 * 60_000;

export function nextSettlement(streak: StreakBody, state: StreakState, now: number, zone: string): number | null {
  if (state.current === 0 || state.keptThrough === null) return null;
  const due = nextPeriod(state.keptThrough, streak.period, streak.weekStart);
  const live = due >= settlementPeriod(streak, state, now - SETTLEMENT_SLACK_MS, zone);
  if (!live) return null; // backfilled history: settled lazily by later check-ins and reads
  return periodBounds(due, streak.period, streak.weekStart, zone).end + streak.graceMinutes * 60_000;
}

/** Restore (SPEC §4.5): the length at the break, kept through the period before now's. */
export function restore(streakId: string, streak: StreakBody, state: StreakState, now: number, zone: string): StreakChange[] | null {
  if (state.current > 0 || state.brokenLength === null) return null;
  const { key } = periodOf(streak, state, now, zone);
  // The period before `key`: step back from its start date.
  const startDate = periodStartDate(key);
  const back = new Date(Date.parse(`${startDate}T12:00:00Z`) - (streak.period === "day" ? 1 : 7) * DAY_MS);
  state.keptThrough = periodKey(back.getTime(), "UTC", streak.period, streak.weekStart);
  state.current = state.brokenLength;
  state.longest = Math.max(state.longest, state.current);
  state.brokenLength = null;
  return [{ type: "loyalty.streak.restored", data: { streak: streakId, length: state.current } }];
}
