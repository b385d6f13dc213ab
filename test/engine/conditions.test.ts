import { describe, expect, it } from "vitest";
import type { Condition, Operator } from "../../src/definitions/conditions";
import { evaluateCondition, explainFailure, resolvePath, type ConditionScope } from "../../src/engine/conditions";
import { emptyUserState, type EngineEvent, type UserState } from "../../src/engine/types";
import { campaign, ladder, metric, product, programmeOf, segment } from "./builders";

// SPEC §5.3: every operator on every kind of value, no coercion, missing paths, nesting,
// every path family, own-property lookups only.

const programme = programmeOf([
  metric("points"),
  metric("xp", { kind: "counter", initial: 50 }),
  metric("temp", { kind: "gauge", initial: -5 }),
  product("badge", { type: "badge" }),
  product("ticket"),
  ladder("tiers", "points", { bronze: 0, silver: 100, gold: 500 }),
  ladder("ranks", "xp", { r0: 0, r1: 10 }),
  segment("vip"),
  segment("rich", { path: "user.metrics.points.balance", op: "gte", value: 100 }),
  campaign("welcome", [{ on: "x" }]),
]);

// Built with JSON.parse, as data arrives: `__proto__` is an own key here, not a prototype.
const data = JSON.parse(
  '{"amount":50,"price":"50","sku":"SCARF-RED","flag":true,"none":null,"empty":"","tags":["x","y",3],' +
    '"when":"2026-11-25T11:00:00+01:00","day":"2026-11-25","order":{"total":72.5,"lines":{"n":2}},"__proto__":{"polluted":1}}',
);

const state: UserState = {
  ...emptyUserState("u_42"),
  createdAt: "2026-01-15T08:00:00.000Z",
  timezone: "Europe/London",
  attributes: JSON.parse('{"country":"GB","age":30,"tags":["a","vip"],"beta":true,"nick":null}'),
  metrics: { points: { balance: 120, lifetime: 300 } },
  products: { ticket: 3 },
  staticSegments: ["vip"],
  dynamicSegments: ["rich"],
  ladders: { tiers: "silver" },
  campaigns: { welcome: { completions: 2, period: "all", periodCompletions: 2, progress: {} } },
};

const event = (occurredAt = "2026-11-25T10:00:00.000Z", type = "purchase"): EngineEvent => ({ id: "e1", type, occurredAt, data, depth: 0 });
const scope = (over: Partial<ConditionScope> = {}): ConditionScope => ({ programme, state, zone: "UTC", event: event(), ...over });
const leaf = (path: string, op: Operator, value?: unknown): Condition => ({ path, op, value });
const holds = (c: Condition, s: ConditionScope = scope()) => evaluateCondition(c, s);

type Row = [path: string, op: Operator, value: unknown, expected: boolean];

describe("operators on numbers: event.data.amount = 50", () => {
  it.each<Row>([
    ["event.data.amount", "eq", 50, true],
    ["event.data.amount", "eq", 50.0, true],
    ["event.data.amount", "eq", 49, false],
    ["event.data.amount", "eq", "50", false],
    ["event.data.amount", "ne", 49, true],
    ["event.data.amount", "ne", 50, false],
    ["event.data.amount", "ne", "50", true],
    ["event.data.amount", "gt", 49.99, true],
    ["event.data.amount", "gt", 50, false],
    ["event.data.amount", "gt", "49", false],
    ["event.data.amount", "gte", 50, true],
    ["event.data.amount", "gte", 50.01, false],
    ["event.data.amount", "gte", "50", false],
    ["event.data.amount", "lt", 51, true],
    ["event.data.amount", "lt", 50, false],
    ["event.data.amount", "lte", 50, true],
    ["event.data.amount", "lte", 49, false],
    ["event.data.amount", "lte", "100", false],
    ["event.data.amount", "between", [50, 60], true],
    ["event.data.amount", "between", [40, 50], true],
    ["event.data.amount", "between", [50, 50], true],
    ["event.data.amount", "between", [51, 60], false],
    ["event.data.amount", "between", ["0", "100"], false],
    ["event.data.amount", "in", [1, 50], true],
    ["event.data.amount", "in", ["50"], false],
    ["event.data.amount", "nin", [1, 2], true],
    ["event.data.amount", "nin", [50], false],
    ["event.data.amount", "nin", ["50"], true],
    ["event.data.amount", "contains", 5, false],
    ["event.data.amount", "contains", "5", false],
    ["event.data.amount", "startsWith", "5", false],
    ["event.data.amount", "exists", true, true],
    ["event.data.amount", "exists", false, false],
    ["event.data.order.total", "gt", 72, true],
    ["event.data.order.lines.n", "eq", 2, true],
  ])("%s %s %j → %s", (path, op, value, expected) => expect(holds(leaf(path, op, value))).toBe(expected));
});

describe("operators on strings (no coercion: price = \"50\")", () => {
  it.each<Row>([
    ["event.data.sku", "eq", "SCARF-RED", true],
    ["event.data.sku", "eq", "scarf-red", false],
    ["event.data.sku", "ne", "SCARF", true],
    ["event.data.sku", "gt", "A", false],
    ["event.data.sku", "lte", "Z", false],
    ["event.data.sku", "between", ["A", "Z"], false],
    ["event.data.sku", "in", ["X", "SCARF-RED"], true],
    ["event.data.sku", "nin", ["X", "SCARF-RED"], false],
    ["event.data.sku", "contains", "RF-R", true],
    ["event.data.sku", "contains", "BLUE", false],
    ["event.data.sku", "startsWith", "SCARF", true],
    ["event.data.sku", "startsWith", "RED", false],
    ["event.data.price", "eq", 50, false],
    ["event.data.price", "gte", 50, false],
    ["event.data.price", "lt", 100, false],
    ["event.data.price", "between", [0, 100], false],
    ["event.data.price", "in", [50], false],
    ["event.data.price", "contains", 5, false],
    ["event.data.price", "contains", "5", true],
    ["event.data.empty", "eq", "", true],
    ["event.data.empty", "exists", true, true],
    ["event.type", "eq", "purchase", true],
    ["event.type", "startsWith", "pur", true],
    ["event.type", "in", ["refund", "purchase"], true],
  ])("%s %s %j → %s", (path, op, value, expected) => expect(holds(leaf(path, op, value))).toBe(expected));
});

describe("instants compare as instants whatever the offset; local dates as dates", () => {
  it.each<Row>([
    ["event.occurredAt", "eq", "2026-11-25T10:00:00.000Z", true],
    ["event.occurredAt", "eq", "2026-11-25T10:00:00Z", true],
    ["event.occurredAt", "eq", "2026-11-25T11:00:00+01:00", true],
    ["event.occurredAt", "ne", "2026-11-25T05:00:00-05:00", false],
    ["event.occurredAt", "ne", "2026-11-25T10:00:00.001Z", true],
    ["event.occurredAt", "gt", "2026-11-25T10:30:00+01:00", true],
    ["event.occurredAt", "gt", "2026-11-25T11:00:00+01:00", false],
    ["event.occurredAt", "gte", "2026-11-25T11:00:00+01:00", true],
    ["event.occurredAt", "lt", "2026-11-25T05:00:00-05:00", false],
    ["event.occurredAt", "lt", "2026-11-25T15:45:00.001+05:45", true],
    ["event.occurredAt", "lte", "2026-11-25T05:00:00-05:00", true],
    ["event.occurredAt", "between", ["2026-11-25T11:00:00+01:00", "2026-11-25T12:00:00+01:00"], true],
    ["event.occurredAt", "between", ["2026-11-25T10:00:00.001Z", "2026-11-26T00:00:00Z"], false],
    ["event.occurredAt", "gt", "2026-11-24", false],
    ["event.occurredAt", "startsWith", "2026-11-25T10", true],
    ["event.data.when", "eq", "2026-11-25T10:00:00Z", true],
    ["event.data.when", "gte", "2026-11-25T10:00:00Z", true],
    ["event.data.when", "lt", "2026-11-25T10:00:00.001Z", true],
    ["event.data.when", "gt", "2026-11-25T10:00:00Z", false],
    ["event.data.day", "eq", "2026-11-25", true],
    ["event.data.day", "gt", "2026-11-24", true],
    ["event.data.day", "lte", "2026-11-25", true],
    ["event.data.day", "lt", "2026-11-25", false],
    ["event.data.day", "between", ["2026-11-01", "2026-11-30"], true],
    ["event.data.day", "between", ["2026-12-01", "2026-12-31"], false],
    ["event.data.day", "lt", "2026-11-26T00:00:00Z", false],
    ["event.data.day", "startsWith", "2026-11", true],
  ])("%s %s %j → %s", (path, op, value, expected) => expect(holds(leaf(path, op, value))).toBe(expected));
});

describe("booleans, null and arrays", () => {
  it.each<Row>([
    ["event.data.flag", "eq", true, true],
    ["event.data.flag", "eq", "true", false],
    ["event.data.flag", "eq", 1, false],
    ["event.data.flag", "ne", false, true],
    ["event.data.flag", "in", [true], true],
    ["event.data.flag", "nin", [true], false],
    ["event.data.flag", "gt", 0, false],
    ["event.data.flag", "contains", true, false],
    ["event.data.none", "eq", null, true],
    ["event.data.none", "ne", null, false],
    ["event.data.none", "eq", 0, false],
    ["event.data.none", "eq", false, false],
    ["event.data.none", "lt", 1, false],
    ["event.data.none", "gte", 0, false],
    ["event.data.none", "in", [null], true],
    ["event.data.none", "nin", [null], false],
    ["event.data.none", "exists", true, true],
    ["event.data.tags", "contains", "x", true],
    ["event.data.tags", "contains", 3, true],
    ["event.data.tags", "contains", "3", false],
    ["event.data.tags", "contains", "z", false],
    ["event.data.tags", "in", ["q", "y"], true],
    ["event.data.tags", "in", ["q"], false],
    ["event.data.tags", "nin", ["q"], true],
    ["event.data.tags", "nin", ["q", "x"], false],
    ["event.data.tags", "eq", "x", false],
    ["event.data.tags", "startsWith", "x", false],
    ["event.data.tags", "exists", true, true],
  ])("%s %s %j → %s", (path, op, value, expected) => expect(holds(leaf(path, op, value))).toBe(expected));
});

describe("a missing path is false for every operator but exists:false", () => {
  const ops: Array<[Operator, unknown]> = [
    ["eq", 1], ["eq", null], ["ne", 1], ["ne", null], ["gt", 0], ["gte", 0], ["lt", 0], ["lte", 0], ["between", [0, 1]],
    ["in", [null]], ["nin", [1]], ["contains", "a"], ["startsWith", "a"], ["exists", true],
  ];
  const missing = [
    "event.data.nope",
    "event.data.order.nope",
    "event.data.amount.deeper",
    "event.data.toString",
    "event.data.hasOwnProperty",
    "event.data.constructor",
    "event.data.__proto__",
    "event.data.polluted",
    "event.data.order.valueOf",
    "user.attributes.nope",
    "user.attributes.toString",
    "user.attributes.constructor",
    "user.metrics.unknown.balance",
    "user.ladders.unknown.level",
    "not.a.path",
  ];
  it.each(missing.flatMap((path) => ops.map(([op, value]) => [path, op, value] as const)))("%s %s %j → false", (path, op, value) => {
    expect(holds(leaf(path, op, value))).toBe(false);
    expect(explainFailure(leaf(path, op, value), scope())).toEqual({ path, op, actual: null });
  });
  it.each(missing)("%s exists:false → true", (path) => {
    expect(holds(leaf(path, "exists", false))).toBe(true);
    expect(resolvePath(path, scope())).toEqual({ found: false });
  });
  it("event.* paths are missing without an event (segment rules)", () => {
    for (const path of ["event.type", "event.occurredAt", "event.local.hour", "event.local.date", "event.data.amount"]) {
      expect(resolvePath(path, scope({ event: undefined }))).toEqual({ found: false });
    }
  });
  it("the data's own __proto__ key never reaches Object.prototype", () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(data, "__proto__")).toBe(true);
  });
});

describe("user paths", () => {
  const fresh: UserState = emptyUserState("new");
  it.each<[string, UserState, unknown]>([
    ["user.id", state, "u_42"],
    ["user.timezone", state, "Europe/London"],
    ["user.timezone", fresh, null],
    ["user.createdAt", state, "2026-01-15T08:00:00.000Z"],
    ["user.attributes.country", state, "GB"],
    ["user.attributes.age", state, 30],
    ["user.attributes.tags", state, ["a", "vip"]],
    ["user.attributes.nick", state, null],
    ["user.metrics.points.balance", state, 120],
    ["user.metrics.points.lifetime", state, 300],
    ["user.metrics.points.balance", fresh, 0],
    ["user.metrics.xp.balance", state, 50],
    ["user.metrics.xp.lifetime", state, 50],
    ["user.metrics.temp.balance", fresh, -5],
    ["user.metrics.temp.lifetime", fresh, 0],
    ["user.products.ticket", state, 3],
    ["user.products.badge", state, 0],
    ["user.ladders.tiers.level", state, "silver"],
    ["user.ladders.tiers.rank", state, 1],
    ["user.ladders.tiers.level", fresh, "bronze"],
    ["user.ladders.ranks.rank", fresh, 0],
    ["user.segments", state, ["vip", "rich"]],
    ["user.segments", fresh, []],
    ["user.campaigns.welcome.completions", state, 2],
    ["user.campaigns.welcome.completions", fresh, 0],
  ])("%s resolves to %j", (path, s, value) => expect(resolvePath(path, scope({ state: s }))).toEqual({ found: true, value }));

  it("user.createdAt of a user never seen is missing", () => expect(resolvePath("user.createdAt", scope({ state: fresh }))).toEqual({ found: false }));

  it.each<Row>([
    ["user.id", "startsWith", "u_", true],
    ["user.timezone", "eq", "Europe/London", true],
    ["user.createdAt", "lt", "2026-01-15T09:00:00.001+01:00", true],
    ["user.createdAt", "eq", "2026-01-15T09:00:00+01:00", true],
    ["user.attributes.country", "in", ["GB", "IE"], true],
    ["user.attributes.age", "between", [18, 65], true],
    ["user.attributes.age", "eq", "30", false],
    ["user.attributes.tags", "contains", "vip", true],
    ["user.attributes.beta", "eq", true, true],
    ["user.attributes.nick", "eq", null, true],
    ["user.metrics.points.balance", "gte", 120, true],
    ["user.metrics.points.lifetime", "gt", 300, false],
    ["user.metrics.xp.balance", "eq", 50, true],
    ["user.products.ticket", "gte", 3, true],
    ["user.products.badge", "eq", 0, true],
    ["user.ladders.tiers.level", "in", ["silver", "gold"], true],
    ["user.ladders.tiers.rank", "gte", 2, false],
    ["user.segments", "contains", "vip", true],
    ["user.segments", "contains", "rich", true],
    ["user.segments", "contains", "gold", false],
    ["user.segments", "in", ["gold", "rich"], true],
    ["user.segments", "nin", ["vip"], false],
    ["user.segments", "nin", ["gold"], true],
    ["user.campaigns.welcome.completions", "gte", 2, true],
  ])("%s %s %j → %s", (path, op, value, expected) => expect(holds(leaf(path, op, value))).toBe(expected));
});

describe("event.local.* in the user's zone (DST days included)", () => {
  it.each<[zone: string, at: string, date: string, hour: number, weekday: number]>([
    ["UTC", "2026-11-25T10:00:00.000Z", "2026-11-25", 10, 3],
    ["Asia/Kathmandu", "2026-11-25T10:00:00.000Z", "2026-11-25", 15, 3],
    ["Asia/Kathmandu", "2026-11-24T18:15:00.000Z", "2026-11-25", 0, 3],
    ["Pacific/Pago_Pago", "2026-11-25T10:00:00.000Z", "2026-11-24", 23, 2],
    ["Europe/London", "2026-03-29T00:30:00.000Z", "2026-03-29", 0, 7],
    ["Europe/London", "2026-03-29T01:30:00.000Z", "2026-03-29", 2, 7],
    ["Europe/London", "2026-03-29T22:59:59.999Z", "2026-03-29", 23, 7],
    ["Europe/London", "2026-03-29T23:00:00.000Z", "2026-03-30", 0, 1],
    ["Europe/London", "2026-10-25T00:30:00.000Z", "2026-10-25", 1, 7],
    ["Europe/London", "2026-10-25T01:30:00.000Z", "2026-10-25", 1, 7],
    ["Europe/London", "2026-10-25T23:59:00.000Z", "2026-10-25", 23, 7],
    ["America/New_York", "2026-03-08T04:59:00.000Z", "2026-03-07", 23, 6],
    ["America/New_York", "2026-03-08T06:59:00.000Z", "2026-03-08", 1, 7],
    ["America/New_York", "2026-03-08T07:00:00.000Z", "2026-03-08", 3, 7],
    ["America/New_York", "2026-03-09T03:59:00.000Z", "2026-03-08", 23, 7],
    ["America/New_York", "2026-11-01T05:30:00.000Z", "2026-11-01", 1, 7],
    ["America/New_York", "2026-11-01T06:30:00.000Z", "2026-11-01", 1, 7],
    ["America/New_York", "2026-11-02T04:59:00.000Z", "2026-11-01", 23, 7],
    ["America/New_York", "2026-11-02T05:00:00.000Z", "2026-11-02", 0, 1],
  ])("%s %s → %s %sh weekday %s", (zone, at, date, hour, weekday) => {
    const s = scope({ zone, event: event(at) });
    expect([resolvePath("event.local.date", s), resolvePath("event.local.hour", s), resolvePath("event.local.weekday", s)]).toEqual([
      { found: true, value: date },
      { found: true, value: hour },
      { found: true, value: weekday },
    ]);
    expect(holds({ all: [leaf("event.local.date", "eq", date), leaf("event.local.hour", "eq", hour), leaf("event.local.weekday", "eq", weekday)] }, s)).toBe(true);
    expect(holds(leaf("event.local.date", "startsWith", date.slice(0, 7)), s)).toBe(true);
    expect(holds(leaf("event.local.hour", "between", [hour, 23]), s)).toBe(true);
    expect(holds(leaf("event.local.hour", "gt", hour), s)).toBe(false);
  });
});

describe("all / any / not", () => {
  const T1 = leaf("event.data.amount", "eq", 50);
  const T2 = leaf("event.type", "eq", "purchase");
  const F1 = leaf("event.data.amount", "gt", 50);
  const F2 = leaf("event.data.sku", "eq", "X");
  const notFailure = { path: "(not)", op: "not", actual: true };
  it.each<[string, Condition, ReturnType<typeof explainFailure>]>([
    ["all of trues", { all: [T1, T2] }, undefined],
    ["all with a false", { all: [T1, F1, F2] }, { path: "event.data.amount", op: "gt", actual: 50 }],
    ["any with a true", { any: [F1, T2] }, undefined],
    ["any of falses (first failure)", { any: [F2, F1] }, { path: "event.data.sku", op: "eq", actual: "SCARF-RED" }],
    ["not of a true", { not: T1 }, notFailure],
    ["not of a false", { not: F1 }, undefined],
    ["not not", { not: { not: T1 } }, undefined],
    ["all[any[F,T], not F]", { all: [{ any: [F1, T1] }, { not: F2 }] }, undefined],
    ["any[all[T,F], not T]", { any: [{ all: [T1, F2] }, { not: T2 }] }, { path: "event.data.sku", op: "eq", actual: "SCARF-RED" }],
    ["all[T, not any[F, T]]", { all: [T1, { not: { any: [F1, T2] } }] }, notFailure],
    ["8 levels deep", { all: [{ any: [{ not: { all: [{ any: [{ not: { all: [F1] } }] }] } }] }] }, notFailure],
    ["8 levels deep, holding", { all: [{ any: [{ not: { all: [{ any: [{ not: { all: [T1] } }] }] } }] }] }, undefined],
    ["missing under not holds", { not: leaf("event.data.nope", "eq", 1) }, undefined],
    ["missing under any", { any: [leaf("event.data.nope", "ne", 1)] }, { path: "event.data.nope", op: "ne", actual: null }],
  ])("%s", (_name, condition, failure) => {
    expect(explainFailure(condition, scope())).toEqual(failure);
    expect(evaluateCondition(condition, scope())).toBe(failure === undefined);
  });
});
