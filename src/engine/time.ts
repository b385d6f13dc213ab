// Local time in a user's zone, and the one function that maps an instant to a period key
// (SPEC §4.5): every repeat window, streak and local-time condition uses it, so DST and
// travel are handled in exactly one place. Intl is pure and correct in workerd.

export interface LocalParts {
  /** `YYYY-MM-DD` in the zone. */
  date: string;
  hour: number;
  /** 1 = Monday … 7 = Sunday. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      hourCycle: "h23",
      weekday: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/**
 * Answers by zone and UTC minute. A run or a view asks for the same instant over and over
 * (once per campaign with a repeat period), and every request asks for "now": one
 * formatToParts each was half a millisecond of a /me read with the benchmark's 500
 * campaigns (npm run profile -- --mode me), and "now" alone was still 0.1 ms. Every zone's
 * offset has been a whole number of minutes since 1972, so the local date, hour and
 * weekday cannot change within a UTC minute after that; earlier instants are not cached.
 */
const byMinute = new Map<string, Readonly<LocalParts>>();
const MAX_CACHED_MINUTES = 1024;
const WHOLE_MINUTE_OFFSETS_SINCE = Date.UTC(1973, 0, 1);

export function localParts(instantMs: number, zone: string): Readonly<LocalParts> {
  if (instantMs < WHOLE_MINUTE_OFFSETS_SINCE) return computeLocalParts(instantMs, zone);
  const key = `${Math.floor(instantMs / 60_000)} ${zone}`;
  let parts = byMinute.get(key);
  if (!parts) {
    if (byMinute.size >= MAX_CACHED_MINUTES) byMinute.clear();
    byMinute.set(key, (parts = computeLocalParts(instantMs, zone)));
  }
  return parts;
}

function computeLocalParts(instantMs: number, zone: string): Readonly<LocalParts> {
  const raw: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(new Date(instantMs))) raw[p.type] = p.value;
  return Object.freeze({
    date: `${raw.year}-${raw.month}-${raw.day}`,
    hour: Number(raw.hour) % 24,
    weekday: WEEKDAYS[raw.weekday!] ?? 1,
  });
}

export type Period = "day" | "week";
export type WeekStart = "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday";
const WEEK_START_DAY: Record<WeekStart, number> = {
  monday: 1,
  tuesday: 2,
  wednesday: 3,
  thursday: 4,
  friday: 5,
  saturday: 6,
  sunday: 7,
};

/** Civil-date arithmetic on `YYYY-MM-DD` (UTC midnight of that date, no zone involved). */
function addDays(date: string, days: number): string {
  const ms = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

/** ISO 8601 week key (`2026-W48`) of a civil date. */
function isoWeekKey(date: string, weekday: number): string {
  const thursday = addDays(date, 4 - weekday); // the ISO week's year is its Thursday's
  const year = Number(thursday.slice(0, 4));
  const dayOfYear = (Date.parse(`${thursday}T00:00:00Z`) - Date.UTC(year, 0, 1)) / 86_400_000;
  return `${year}-W${String(Math.floor(dayOfYear / 7) + 1).padStart(2, "0")}`;
}

/**
 * The period an instant falls in, in a zone: `2026-11-25` (day), `2026-W48` (week starting
 * Monday, ISO numbering) or `2026-11-22~W` (the first day of a week starting on another
 * day). Keys of one kind sort in time order as strings.
 */
export function periodKey(instantMs: number, zone: string, period: Period, weekStart: WeekStart = "monday"): string {
  const { date, weekday } = localParts(instantMs, zone);
  if (period === "day") return date;
  if (weekStart === "monday") return isoWeekKey(date, weekday);
  const offset = (weekday - WEEK_START_DAY[weekStart] + 7) % 7;
  return `${addDays(date, -offset)}~W`;
}
