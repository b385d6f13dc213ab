import { describe, expect, it } from "vitest";
import { localParts, periodKey, type WeekStart } from "../../src/engine/time";

// SPEC §4.5: one function maps an instant and a zone to a period key — days in the zone,
// ISO weeks when weeks start on Monday, `<first day>~W` otherwise; DST days are 23 or 25
// hours long and a period starts at the first instant whose local date is that day.

const ms = (iso: string) => Date.parse(iso);

describe("periodKey: days", () => {
  it.each<[zone: string, at: string, key: string]>([
    ["UTC", "2026-11-25T00:00:00.000Z", "2026-11-25"],
    ["UTC", "2026-11-25T23:59:59.999Z", "2026-11-25"],
    ["UTC", "2026-11-26T00:00:00.000Z", "2026-11-26"],
    // +5:45
    ["Asia/Kathmandu", "2026-11-24T18:14:59.999Z", "2026-11-24"],
    ["Asia/Kathmandu", "2026-11-24T18:15:00.000Z", "2026-11-25"],
    // +14
    ["Pacific/Kiritimati", "2026-11-24T09:59:59.999Z", "2026-11-24"],
    ["Pacific/Kiritimati", "2026-11-24T10:00:00.000Z", "2026-11-25"],
    ["Pacific/Kiritimati", "2026-12-31T10:00:00.000Z", "2027-01-01"],
    // -11
    ["Pacific/Pago_Pago", "2026-11-25T10:59:59.999Z", "2026-11-24"],
    ["Pacific/Pago_Pago", "2026-11-25T11:00:00.000Z", "2026-11-25"],
    ["Pacific/Pago_Pago", "2027-01-01T10:59:59.999Z", "2026-12-31"],
    // Europe/London, spring forward on 2026-03-29 at 01:00Z: a 23-hour day.
    ["Europe/London", "2026-03-28T23:59:59.999Z", "2026-03-28"],
    ["Europe/London", "2026-03-29T00:00:00.000Z", "2026-03-29"],
    ["Europe/London", "2026-03-29T01:00:00.000Z", "2026-03-29"],
    ["Europe/London", "2026-03-29T22:59:59.999Z", "2026-03-29"],
    ["Europe/London", "2026-03-29T23:00:00.000Z", "2026-03-30"],
    // Europe/London, fall back on 2026-10-25 at 01:00Z: a 25-hour day.
    ["Europe/London", "2026-10-24T22:59:59.999Z", "2026-10-24"],
    ["Europe/London", "2026-10-24T23:00:00.000Z", "2026-10-25"],
    ["Europe/London", "2026-10-25T23:59:59.999Z", "2026-10-25"],
    ["Europe/London", "2026-10-26T00:00:00.000Z", "2026-10-26"],
    // America/New_York: 2026-03-08 (23 h, 05:00Z → 04:00Z) and 2026-11-01 (25 h, 04:00Z → 05:00Z).
    ["America/New_York", "2026-03-08T04:59:59.999Z", "2026-03-07"],
    ["America/New_York", "2026-03-08T05:00:00.000Z", "2026-03-08"],
    ["America/New_York", "2026-03-09T03:59:59.999Z", "2026-03-08"],
    ["America/New_York", "2026-03-09T04:00:00.000Z", "2026-03-09"],
    ["America/New_York", "2026-11-01T03:59:59.999Z", "2026-10-31"],
    ["America/New_York", "2026-11-01T04:00:00.000Z", "2026-11-01"],
    ["America/New_York", "2026-11-02T04:59:59.999Z", "2026-11-01"],
    ["America/New_York", "2026-11-02T05:00:00.000Z", "2026-11-02"],
  ])("%s %s → %s", (zone, at, key) => expect(periodKey(ms(at), zone, "day")).toBe(key));

  it("the same instant is two days apart in +14 and -11", () => {
    const at = ms("2026-11-25T10:30:00Z");
    expect([periodKey(at, "Pacific/Kiritimati", "day"), periodKey(at, "UTC", "day"), periodKey(at, "Pacific/Pago_Pago", "day")]).toEqual([
      "2026-11-26",
      "2026-11-25",
      "2026-11-24",
    ]);
  });
});

describe("periodKey: ISO weeks (weeks starting on Monday)", () => {
  it.each<[zone: string, at: string, key: string]>([
    ["UTC", "2026-11-25T10:00:00.000Z", "2026-W48"],
    ["UTC", "2026-11-23T00:00:00.000Z", "2026-W48"],
    ["UTC", "2026-11-22T23:59:59.999Z", "2026-W47"],
    ["UTC", "2026-01-01T00:00:00.000Z", "2026-W01"],
    ["UTC", "2025-12-29T00:00:00.000Z", "2026-W01"],
    ["UTC", "2025-12-28T23:59:59.999Z", "2025-W52"],
    // 2026 starts on a Thursday: it has 53 ISO weeks, the last one running into 2027.
    ["UTC", "2026-12-28T00:00:00.000Z", "2026-W53"],
    ["UTC", "2026-12-31T12:00:00.000Z", "2026-W53"],
    ["UTC", "2027-01-01T00:00:00.000Z", "2026-W53"],
    ["UTC", "2027-01-03T23:59:59.999Z", "2026-W53"],
    ["UTC", "2027-01-04T00:00:00.000Z", "2027-W01"],
    // 2020 (leap, starting on a Wednesday) has 53 weeks too.
    ["UTC", "2020-12-31T12:00:00.000Z", "2020-W53"],
    ["UTC", "2021-01-03T12:00:00.000Z", "2020-W53"],
    ["UTC", "2021-01-04T00:00:00.000Z", "2021-W01"],
    // 2024-12-30 (a Monday) already belongs to 2025's first week.
    ["UTC", "2024-12-29T23:59:59.999Z", "2024-W52"],
    ["UTC", "2024-12-30T00:00:00.000Z", "2025-W01"],
    // Weeks change at local midnight on Monday.
    ["Pacific/Kiritimati", "2026-11-22T10:00:00.000Z", "2026-W48"],
    ["Pacific/Kiritimati", "2026-11-22T09:59:59.999Z", "2026-W47"],
    ["Pacific/Pago_Pago", "2026-11-23T10:59:59.999Z", "2026-W47"],
    ["Pacific/Pago_Pago", "2026-11-23T11:00:00.000Z", "2026-W48"],
    ["Asia/Kathmandu", "2026-11-22T18:15:00.000Z", "2026-W48"],
    ["Asia/Kathmandu", "2026-11-22T18:14:59.999Z", "2026-W47"],
    ["Pacific/Kiritimati", "2026-12-31T10:00:00.000Z", "2026-W53"],
    ["Pacific/Kiritimati", "2027-01-03T10:00:00.000Z", "2027-W01"],
    // DST: Sunday 2026-03-29 in London ends at 23:00Z.
    ["Europe/London", "2026-03-29T22:59:59.999Z", "2026-W13"],
    ["Europe/London", "2026-03-29T23:00:00.000Z", "2026-W14"],
    ["America/New_York", "2026-11-02T04:59:59.999Z", "2026-W44"],
    ["America/New_York", "2026-11-02T05:00:00.000Z", "2026-W45"],
  ])("%s %s → %s", (zone, at, key) => {
    expect(periodKey(ms(at), zone, "week")).toBe(key);
    expect(periodKey(ms(at), zone, "week", "monday")).toBe(key);
  });
});

describe("periodKey: weeks starting on another day", () => {
  it.each<[zone: string, at: string, start: WeekStart, key: string]>([
    ["UTC", "2026-11-25T10:00:00.000Z", "sunday", "2026-11-22~W"],
    ["UTC", "2026-11-22T00:00:00.000Z", "sunday", "2026-11-22~W"],
    ["UTC", "2026-11-21T23:59:59.999Z", "sunday", "2026-11-15~W"],
    ["UTC", "2026-11-28T23:59:59.999Z", "sunday", "2026-11-22~W"],
    ["UTC", "2026-11-29T00:00:00.000Z", "sunday", "2026-11-29~W"],
    ["UTC", "2026-11-25T10:00:00.000Z", "saturday", "2026-11-21~W"],
    ["UTC", "2026-11-25T10:00:00.000Z", "wednesday", "2026-11-25~W"],
    ["UTC", "2026-11-24T10:00:00.000Z", "wednesday", "2026-11-18~W"],
    ["UTC", "2026-11-25T10:00:00.000Z", "thursday", "2026-11-19~W"],
    // Across the year boundary the key is the week's first day, whatever its year.
    ["UTC", "2027-01-01T00:00:00.000Z", "sunday", "2026-12-27~W"],
    ["UTC", "2027-01-03T00:00:00.000Z", "sunday", "2027-01-03~W"],
    ["UTC", "2021-01-02T00:00:00.000Z", "sunday", "2020-12-27~W"],
    // In the zone: Sunday begins at local midnight.
    ["Pacific/Kiritimati", "2026-11-21T10:00:00.000Z", "sunday", "2026-11-22~W"],
    ["Pacific/Pago_Pago", "2026-11-22T10:59:59.999Z", "sunday", "2026-11-15~W"],
    ["Pacific/Pago_Pago", "2026-11-22T11:00:00.000Z", "sunday", "2026-11-22~W"],
    ["Asia/Kathmandu", "2026-11-21T18:15:00.000Z", "sunday", "2026-11-22~W"],
    ["Europe/London", "2026-03-28T23:59:59.999Z", "sunday", "2026-03-22~W"],
    ["Europe/London", "2026-03-29T00:00:00.000Z", "sunday", "2026-03-29~W"],
    ["America/New_York", "2026-03-08T04:59:59.999Z", "sunday", "2026-03-01~W"],
    ["America/New_York", "2026-03-08T05:00:00.000Z", "sunday", "2026-03-08~W"],
  ])("%s %s (%s) → %s", (zone, at, start, key) => expect(periodKey(ms(at), zone, "week", start)).toBe(key));

  it("keys of one kind sort in time order as strings", () => {
    const instants = Array.from({ length: 60 }, (_, i) => ms("2026-12-01T00:00:00Z") + i * 86_400_000 * 1.5);
    for (const start of ["monday", "sunday"] as const) {
      const keys = instants.map((t) => periodKey(t, "Europe/London", "week", start));
      expect([...keys].sort()).toEqual(keys);
    }
    const days = instants.map((t) => periodKey(t, "Pacific/Kiritimati", "day"));
    expect([...days].sort()).toEqual(days);
  });
});

describe("localParts", () => {
  it.each<[zone: string, at: string, parts: { date: string; hour: number; weekday: number }]>([
    ["UTC", "2026-11-25T00:00:00.000Z", { date: "2026-11-25", hour: 0, weekday: 3 }],
    ["UTC", "2026-11-29T23:59:59.999Z", { date: "2026-11-29", hour: 23, weekday: 7 }],
    ["UTC", "2026-11-30T00:00:00.000Z", { date: "2026-11-30", hour: 0, weekday: 1 }],
    ["Asia/Kathmandu", "2026-11-25T10:00:00.000Z", { date: "2026-11-25", hour: 15, weekday: 3 }],
    ["Pacific/Kiritimati", "2026-11-25T10:30:00.000Z", { date: "2026-11-26", hour: 0, weekday: 4 }],
    ["Pacific/Pago_Pago", "2026-11-25T10:30:00.000Z", { date: "2026-11-24", hour: 23, weekday: 2 }],
    ["Europe/London", "2026-03-29T00:59:59.999Z", { date: "2026-03-29", hour: 0, weekday: 7 }],
    ["Europe/London", "2026-03-29T01:00:00.000Z", { date: "2026-03-29", hour: 2, weekday: 7 }],
    ["Europe/London", "2026-10-25T00:30:00.000Z", { date: "2026-10-25", hour: 1, weekday: 7 }],
    ["Europe/London", "2026-10-25T01:30:00.000Z", { date: "2026-10-25", hour: 1, weekday: 7 }],
    ["Europe/London", "2026-07-01T23:30:00.000Z", { date: "2026-07-02", hour: 0, weekday: 4 }],
    ["America/New_York", "2026-03-08T06:59:59.999Z", { date: "2026-03-08", hour: 1, weekday: 7 }],
    ["America/New_York", "2026-03-08T07:00:00.000Z", { date: "2026-03-08", hour: 3, weekday: 7 }],
    ["America/New_York", "2026-11-01T05:30:00.000Z", { date: "2026-11-01", hour: 1, weekday: 7 }],
    ["America/New_York", "2026-11-01T06:30:00.000Z", { date: "2026-11-01", hour: 1, weekday: 7 }],
    ["America/New_York", "2027-01-01T04:59:59.999Z", { date: "2026-12-31", hour: 23, weekday: 4 }],
    ["America/New_York", "2027-01-01T05:00:00.000Z", { date: "2027-01-01", hour: 0, weekday: 5 }],
  ])("%s %s", (zone, at, parts) => expect(localParts(ms(at), zone)).toEqual(parts));

  // localParts remembers answers by zone and UTC minute; this checks that assumption
  // against Intl itself, minute by minute and second by second, where offsets are odd or
  // move by 30 minutes, and before 1973 (Monrovia's −0:44:30), where it must not hold.
  const intlParts = (instant: number, zone: string) => {
    const raw = Object.fromEntries(
      new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", hourCycle: "h23", weekday: "short" })
        .formatToParts(new Date(instant))
        .map((p) => [p.type, p.value]),
    );
    return { date: `${raw.year}-${raw.month}-${raw.day}`, hour: Number(raw.hour) % 24, weekday: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(raw.weekday!) + 1 };
  };

  it.each<[zone: string, change: string]>([
    ["Australia/Lord_Howe", "2026-04-04T15:00:00Z"], // +11 → +10:30
    ["Australia/Lord_Howe", "2026-10-03T15:30:00Z"], // +10:30 → +11
    ["Pacific/Chatham", "2026-04-04T14:00:00Z"], // +13:45 → +12:45
    ["America/St_Johns", "2026-03-08T05:30:00Z"], // −3:30 → −2:30
    ["Asia/Kathmandu", "2026-11-24T18:15:00Z"], // +5:45, a date change
    ["Europe/London", "2026-10-25T01:00:00Z"],
  ])("answers as Intl does for every second around %s's change at %s", (zone, change) => {
    const at = ms(change);
    for (let minute = at - 3 * 60_000; minute <= at + 3 * 60_000; minute += 60_000) {
      for (const second of [59, 0, 1, 29, 30, 31, 58]) {
        const instant = minute + second * 1000 + 999;
        expect(localParts(instant, zone), `${zone} ${new Date(instant).toISOString()}`).toEqual(intlParts(instant, zone));
      }
    }
  });

  it("before 1973 an offset with seconds changes the hour within a UTC minute, and is answered exactly", () => {
    // Africa/Monrovia was UTC−0:44:30 until 1972: 12:44:29Z is 11:59:59 there, 12:44:31Z is 12:00:01.
    for (const at of ["1970-06-01T12:44:31Z", "1970-06-01T12:44:29Z", "1970-06-01T12:44:31Z"]) {
      expect(localParts(ms(at), "Africa/Monrovia")).toEqual(intlParts(ms(at), "Africa/Monrovia"));
    }
    expect(intlParts(ms("1970-06-01T12:44:29Z"), "Africa/Monrovia").hour).toBe(11);
    expect(intlParts(ms("1970-06-01T12:44:31Z"), "Africa/Monrovia").hour).toBe(12);
  });

  it("every hour of a whole London year maps to a valid hour and weekday, all 24 hours occurring", () => {
    const start = ms("2026-01-01T00:00:00Z");
    const seen = new Set<number>();
    for (let h = 0; h < 365 * 24; h++) {
      const p = localParts(start + h * 3_600_000, "Europe/London");
      expect(p.hour >= 0 && p.hour <= 23 && p.weekday >= 1 && p.weekday <= 7).toBe(true);
      seen.add(p.hour);
    }
    expect(seen.size).toBe(24);
  });
});
