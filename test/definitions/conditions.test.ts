import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import {
  conditionReads,
  conditionSchema,
  parseInstant,
  validateCondition,
  type Condition,
  type ConditionScope,
} from "../../src/definitions/conditions";
import { fieldErrorsOf } from "../../src/http/validation";
import { fakeContext, outcomeOf, pathsOf } from "./fake-space";

// The conditions language (SPEC §5.3): structure (zod, 400) and semantics (422), pure.

const leaf = (path: string, op: string, value?: unknown): Condition =>
  (value === undefined ? { path, op } : { path, op, value }) as Condition;

function check(condition: Condition, scope: ConditionScope = "trigger", base = "rule") {
  const ctx = fakeContext();
  validateCondition(condition, ctx, base, scope);
  return { ctx, result: pathsOf(ctx) };
}

const T = "2026-11-25T10:00:00Z";
const many = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("validateCondition: conditions that hold up", () => {
  it.each<[string, string, unknown]>([
    ["event.type", "eq", "purchase"],
    ["event.type", "in", ["purchase", "refund"]],
    ["event.type", "startsWith", "loyalty."],
    ["event.type", "contains", "chase"],
    ["event.data.amount", "gte", 50],
    ["event.data.amount", "between", [1.5, 2]],
    ["event.data.amount", "between", [3, 3]],
    ["event.data.order.total", "lt", -1],
    ["event.data.a.b.c.d.e.f.g.h", "exists", true],
    ["event.data.when", "between", ["2026-01-01T00:00:00Z", "2026-12-31T23:59:59.999Z"]],
    ["event.data.when", "gt", "2026-11-25T11:00:00+01:00"],
    ["event.data.sku", "eq", "SCARF"],
    ["event.data.sku", "ne", null],
    ["event.data.flag", "eq", true],
    ["event.data.tags", "contains", 3],
    ["event.data.sku", "startsWith", "SC"],
    ["event.data.sku", "in", [null, 1, "x", false]],
    ["event.data.sku", "nin", many(1000)],
    ["event.data.sku-2_x", "exists", false],
    ["event.occurredAt", "gte", T],
    ["event.occurredAt", "lt", "2026-11-25T10:00:00.123-05:30"],
    ["event.occurredAt", "between", ["2026-11-25T10:00:00z", "2026-11-25t10:00:01Z"]],
    ["event.local.hour", "between", [9, 17]],
    ["event.local.hour", "in", [0, 23]],
    ["event.local.weekday", "eq", 7],
    ["event.local.weekday", "gte", 1],
    ["event.local.date", "eq", "2028-02-29"],
    ["event.local.date", "between", ["2026-12-01", "2026-12-31"]],
    ["event.local.date", "startsWith", "2026-12"],
    ["user.id", "startsWith", "u_"],
    ["user.id", "nin", ["u_1", "u_2"]],
    ["user.timezone", "eq", null],
    ["user.timezone", "in", ["Europe/London", null]],
    ["user.createdAt", "lt", T],
    ["user.attributes.country", "in", ["GB", "IE"]],
    ["user.attributes.tags", "contains", "vip"],
    ["user.attributes._x9", "gt", 3],
    ["user.metrics.points.balance", "gte", 100],
    ["user.metrics.points.lifetime", "between", [0, 10]],
    ["user.metrics.points.balance", "eq", -5],
    ["user.products.badge", "gte", 1],
    ["user.products.badge", "exists", true],
    ["user.ladders.tiers.level", "eq", "gold"],
    ["user.ladders.tiers.level", "nin", ["bronze", "silver"]],
    ["user.ladders.tiers.rank", "gte", 1],
    ["user.streaks.daily.current", "gte", 7],
    ["user.streaks.daily.longest", "lt", 30],
    ["user.segments", "contains", "vip"],
    ["user.segments", "in", ["vip", "fans"]],
    ["user.segments", "nin", ["fans"]],
    ["user.segments", "exists", true],
    ["user.campaigns.welcome.completions", "gte", 1],
  ])("%s %s %j", (path, op, value) => {
    expect(check(leaf(path, op, value)).result).toBe("ok");
  });

  it("accepts the SPEC's examples", () => {
    const segmentRule: Condition = {
      all: [
        { path: "user.metrics.points.lifetime", op: "gte", value: 10000 },
        { path: "user.attributes.country", op: "in", value: ["GB", "IE"] },
      ],
    };
    expect(check(segmentRule, "segment").result).toBe("ok");
    expect(check({ path: "event.data.amount", op: "gte", value: 50 }).result).toBe("ok");
  });
});

describe("validateCondition: values that do not fit the operator", () => {
  it.each<[string, string, unknown, string[]]>([
    ["event.data.x", "eq", [1], ["rule.value"]],
    ["event.data.x", "eq", { a: 1 }, ["rule.value"]],
    ["event.data.x", "ne", undefined, ["rule.value"]],
    ["event.data.x", "exists", undefined, ["rule.value"]],
    ["event.data.x", "exists", "yes", ["rule.value"]],
    ["event.data.x", "exists", 1, ["rule.value"]],
    ["event.data.x", "gt", true, ["rule.value"]],
    ["event.data.x", "gte", null, ["rule.value"]],
    ["event.data.x", "lt", "abc", ["rule.value"]],
    ["event.data.x", "lte", "2026-11-25", ["rule.value"]],
    ["event.data.x", "gt", [1], ["rule.value"]],
    ["event.data.x", "between", [1], ["rule.value"]],
    ["event.data.x", "between", [1, 2, 3], ["rule.value"]],
    ["event.data.x", "between", 5, ["rule.value"]],
    ["event.data.x", "between", [2, 1], ["rule.value"]],
    ["event.data.x", "between", [1, T], ["rule.value"]],
    ["event.data.x", "between", [null, 1], ["rule.value"]],
    ["event.data.x", "between", ["2026-12-01T00:00:00Z", "2026-01-01T00:00:00Z"], ["rule.value"]],
    ["event.data.x", "between", ["2026-01-01T01:00:00+02:00", "2026-01-01T00:00:00Z"], []],
    ["event.data.x", "between", ["soon", T], ["rule.value[0]"]],
    ["event.data.x", "in", [], ["rule.value"]],
    ["event.data.x", "in", many(1001), ["rule.value"]],
    ["event.data.x", "in", "x", ["rule.value"]],
    ["event.data.x", "in", [1, [2], { a: 3 }], ["rule.value[1]", "rule.value[2]"]],
    ["event.data.x", "nin", null, ["rule.value"]],
    ["event.data.x", "contains", null, ["rule.value"]],
    ["event.data.x", "contains", ["a"], ["rule.value"]],
    ["event.data.x", "startsWith", "", ["rule.value"]],
    ["event.data.x", "startsWith", 1, ["rule.value"]],
  ])("%s %s %j → %j", (path, op, value, paths) => {
    expect(check(leaf(path, op, value)).result).toEqual(paths.length ? ["invalid_definition", paths] : "ok");
  });
});

describe("validateCondition: values that do not fit the path", () => {
  it.each<[string, string, unknown, string[]]>([
    ["event.occurredAt", "gte", "2026-02-30T00:00:00Z", ["rule.value"]],
    ["event.occurredAt", "gte", "2026-11-25", ["rule.value"]],
    ["event.occurredAt", "gte", "2026-11-25T10:00:00.1234Z", ["rule.value"]],
    ["event.occurredAt", "gte", "2026-11-25T24:00:00Z", ["rule.value"]],
    ["event.occurredAt", "gte", "2026-11-25T10:00:00+24:00", ["rule.value"]],
    ["event.occurredAt", "gte", "2026-11-25 10:00:00Z", ["rule.value"]],
    ["event.occurredAt", "gte", 1764064800000, ["rule.value"]],
    ["event.occurredAt", "eq", "tomorrow", ["rule.value"]],
    ["event.occurredAt", "startsWith", "2026", ["rule.op"]],
    ["event.local.hour", "eq", 24, ["rule.value"]],
    ["event.local.hour", "gte", -1, ["rule.value"]],
    ["event.local.hour", "eq", 1.5, ["rule.value"]],
    ["event.local.hour", "eq", "9", ["rule.value"]],
    ["event.local.hour", "between", [9, 24], ["rule.value[1]"]],
    ["event.local.weekday", "eq", 0, ["rule.value"]],
    ["event.local.weekday", "in", [1, 8, 7], ["rule.value[1]"]],
    ["event.local.weekday", "contains", 1, ["rule.op"]],
    ["event.local.date", "eq", "2026-13-01", ["rule.value"]],
    ["event.local.date", "eq", "2027-02-29", ["rule.value"]],
    ["event.local.date", "gt", 5, ["rule.value"]],
    ["event.local.date", "lt", T, ["rule.value"]],
    ["event.local.date", "between", ["2026-12-31", "2026-12-01"], ["rule.value"]],
    ["event.type", "gt", "a", ["rule.op"]],
    ["event.type", "eq", 5, ["rule.value"]],
    ["event.type", "eq", null, ["rule.value"]],
    ["user.id", "between", [1, 2], ["rule.op"]],
    ["user.timezone", "contains", 5, ["rule.value"]],
    ["user.createdAt", "eq", "yesterday", ["rule.value"]],
    ["user.createdAt", "in", [T, "later"], ["rule.value[1]"]],
    ["user.metrics.points.balance", "startsWith", "1", ["rule.op"]],
    ["user.metrics.points.balance", "contains", 1, ["rule.op"]],
    ["user.metrics.points.balance", "eq", "100", ["rule.value"]],
    ["user.metrics.points.balance", "eq", null, ["rule.value"]],
    ["user.metrics.points.lifetime", "gte", T, ["rule.value"]],
    ["user.products.badge", "eq", true, ["rule.value"]],
    ["user.ladders.tiers.level", "eq", "platinum", ["rule.value"]],
    ["user.ladders.tiers.level", "in", ["gold", "platinum", "iron"], ["rule.value[1]", "rule.value[2]"]],
    ["user.ladders.tiers.level", "eq", 1, ["rule.value"]],
    ["user.ladders.tiers.level", "gt", "silver", ["rule.op"]],
    ["user.ladders.tiers.level", "startsWith", "g", ["rule.op"]],
    ["user.ladders.tiers.rank", "eq", "gold", ["rule.value"]],
    ["user.streaks.daily.current", "contains", 1, ["rule.op"]],
    ["user.campaigns.welcome.completions", "gte", "1", ["rule.value"]],
    ["user.segments", "eq", "vip", ["rule.op"]],
    ["user.segments", "startsWith", "v", ["rule.op"]],
    ["user.segments", "contains", 5, ["rule.value"]],
    ["user.segments", "in", ["vip", null], ["rule.value[1]"]],
  ])("%s %s %j → %j", (path, op, value, paths) => {
    expect(check(leaf(path, op, value)).result).toEqual(["invalid_definition", paths]);
  });

  it("names the ladder's levels when a level is unknown", () => {
    const { ctx } = check(leaf("user.ladders.tiers.level", "eq", "platinum"));
    const outcome = outcomeOf(ctx);
    expect(outcome).not.toBe("ok");
    expect(outcome !== "ok" && outcome.errors[0]!.message).toBe("the ladder 'tiers' has no level 'platinum' (levels: bronze, silver, gold)");
  });
});

describe("validateCondition: paths", () => {
  it.each([
    "event",
    "event.data",
    "event.id",
    "event.foo",
    "event.local",
    "event.local.minute",
    "event.data.a b",
    "event.data.a..b",
    "event.data.a.",
    "event.data.a.b.c.d.e.f.g.h.i",
    `event.data.${"k".repeat(65)}`,
    "event.data.__proto__",
    "event.data.constructor.name",
    "user",
    "user.name",
    "user.attributes",
    "user.attributes.1x",
    "user.attributes.a-b",
    "user.attributes.a.b",
    "user.attributes.constructor",
    "user.metrics",
    "user.metrics.points",
    "user.metrics.points.total",
    "user.metrics.points.balance.x",
    "user.products.badge.quantity",
    "user.ladders.tiers",
    "user.streaks.daily.freezes",
    "user.campaigns.welcome",
    "user.segments.vip",
    "user.Segments",
    "account.id",
    " user.id",
  ])("unknown path %j", (path) => {
    expect(check(leaf(path, "exists", true)).result).toEqual(["invalid_definition", ["rule.path"]]);
  });

  it.each<[string, string]>([
    ["user.metrics.pts.balance", "no metric 'pts' in this space"],
    ["user.metrics.old.lifetime", "the metric 'old' is archived"],
    ["user.metrics.Points.balance", "no metric 'Points' in this space"],
    ["user.products.nope", "no product 'nope' in this space"],
    ["user.ladders.nope.rank", "no ladder 'nope' in this space"],
    ["user.streaks.weekly.current", "no streak 'weekly' in this space"],
    ["user.campaigns.gone.completions", "no campaign 'gone' in this space"],
  ])("%s → unknown_reference", (path, message) => {
    const outcome = outcomeOf(check(leaf(path, "exists", true)).ctx);
    expect(outcome).toEqual({ code: "unknown_reference", errors: [{ path: "rule.path", message }] });
  });

  it("checks level ids only when the ladder exists", () => {
    expect(check(leaf("user.ladders.nope.level", "eq", "anything")).result).toEqual(["unknown_reference", ["rule.path"]]);
  });

  it("references segments named by values, each at its own path", () => {
    const { ctx, result } = check(leaf("user.segments", "in", ["vip", "ghost", "fans"]));
    expect(result).toEqual(["unknown_reference", ["rule.value[1]"]]);
    expect(ctx.references).toEqual([
      { kind: "segments", id: "vip", path: "rule.value[0]" },
      { kind: "segments", id: "ghost", path: "rule.value[1]" },
      { kind: "segments", id: "fans", path: "rule.value[2]" },
    ]);
    expect(check(leaf("user.segments", "contains", "nobody")).result).toEqual(["unknown_reference", ["rule.value"]]);
  });

  it("records every id named in a path as a reference", () => {
    const { ctx } = check({
      any: [
        leaf("user.metrics.points.balance", "gt", 0),
        leaf("user.products.badge", "gte", 1),
        { not: leaf("user.ladders.tiers.rank", "eq", 0) },
        leaf("user.streaks.daily.current", "gte", 3),
        leaf("user.campaigns.welcome.completions", "eq", 0),
      ],
    });
    expect(ctx.ok).toBe(true);
    expect(ctx.references).toEqual([
      { kind: "metrics", id: "points", path: "rule.any[0].path" },
      { kind: "products", id: "badge", path: "rule.any[1].path" },
      { kind: "ladders", id: "tiers", path: "rule.any[2].not.path" },
      { kind: "streaks", id: "daily", path: "rule.any[3].path" },
      { kind: "campaigns", id: "welcome", path: "rule.any[4].path" },
    ]);
  });
});

describe("validateCondition: segment scope", () => {
  it.each<[string, string, unknown]>([
    ["event.type", "eq", "purchase"],
    ["event.data.amount", "gte", 5],
    ["event.occurredAt", "gte", T],
    ["event.local.hour", "eq", 9],
    ["event.local.date", "eq", "2026-11-25"],
    ["user.segments", "contains", "vip"],
    ["user.segments", "in", ["ghost"]],
  ])("refuses %s", (path, op, value) => {
    const { ctx, result } = check(leaf(path, op, value), "segment");
    expect(result).toEqual(["invalid_definition", ["rule.path"]]);
    expect(ctx.references).toEqual([]);
  });

  it("allows user state", () => {
    expect(check(leaf("user.ladders.tiers.level", "eq", "gold"), "segment").result).toBe("ok");
    expect(check(leaf("user.attributes.country", "eq", "GB"), "segment").result).toBe("ok");
  });
});

describe("validateCondition: depth and size", () => {
  const nest = (depth: number): Condition => {
    let node: Condition = leaf("event.type", "eq", "x");
    for (let d = 1; d < depth; d++) node = d % 2 ? { not: node } : { all: [node] };
    return node;
  };
  it("allows 8 levels, refuses 9 at the first node too deep", () => {
    expect(check(nest(8)).result).toBe("ok");
    expect(check(nest(9)).result).toEqual(["invalid_definition", ["rule.all[0].not.all[0].not.all[0].not.all[0].not"]]);
    expect(check(nest(20)).result).toEqual(["invalid_definition", ["rule.not.all[0].not.all[0].not.all[0].not.all[0]"]]);
  });

  it("allows 64 nodes, refuses 65", () => {
    const leaves = (n: number) => many(n).map((i) => leaf("event.data.n", "eq", i));
    expect(check({ all: leaves(63) }).result).toBe("ok");
    expect(check({ all: leaves(64) }).result).toEqual(["invalid_definition", ["rule"]]);
    // 1 + (1 + 31) + (1 + 30) = 64; then one `not` more = 65.
    expect(check({ any: [{ all: leaves(31) }, { all: leaves(30) }] }).result).toBe("ok");
    expect(check({ any: [{ all: leaves(31) }, { not: { all: leaves(30) } }] }).result).toEqual(["invalid_definition", ["rule"]]);
  });

  it("reports every problem in document order, under any base path", () => {
    const condition: Condition = {
      all: [
        leaf("event.data.x", "gt", "soon"),
        { any: [leaf("user.nope", "eq", 1), { not: leaf("user.metrics.ghost.balance", "startsWith", "1") }] },
      ],
    };
    expect(check(condition, "trigger", "steps[0].trigger.conditions").result).toEqual([
      "unknown_reference",
      [
        "steps[0].trigger.conditions.all[0].value",
        "steps[0].trigger.conditions.all[1].any[0].path",
        "steps[0].trigger.conditions.all[1].any[1].not.path",
        "steps[0].trigger.conditions.all[1].any[1].not.op",
      ],
    ]);
    expect(check(condition, "trigger", "").result).toEqual([
      "unknown_reference",
      ["all[0].value", "all[1].any[0].path", "all[1].any[1].not.path", "all[1].any[1].not.op"],
    ]);
  });
});

describe("conditionSchema (structure: zod, 400)", () => {
  const parsePaths = (input: unknown) => {
    const r = conditionSchema.safeParse(input);
    return r.success ? "ok" : fieldErrorsOf(r.error).map((e) => e.path);
  };
  const ok = leaf("event.type", "eq", "x");
  it.each<[string, unknown, "ok" | string[]]>([
    ["a leaf", ok, "ok"],
    ["a leaf without value", { path: "x", op: "exists" }, "ok"],
    ["nested forms", { all: [ok, { any: [ok, { not: ok }] }] }, "ok"],
    ["all and path together", { all: [ok], path: "x", op: "eq", value: 1 }, ["path", "op", "value"]],
    ["not and any together", { not: ok, any: [ok] }, ["not"]],
    ["op on a group", { all: [ok], op: "eq" }, ["op"]],
    ["an unknown key", { foo: 1 }, ["foo", ""]],
    ["an unknown key on a leaf", { any: [{ ...ok, extra: true }] }, ["any[0].extra"]],
    ["a leaf without op", { path: "event.type" }, ["op"]],
    ["a leaf without path", { op: "eq", value: 1 }, ["path"]],
    ["an unknown operator", { path: "x", op: "regex", value: "." }, ["op"]],
    ["an empty group", { all: [] }, ["all"]],
    ["too many children", { any: many(65).map(() => ok) }, ["any"]],
    ["a non-string path", { not: { all: [{ path: 1, op: "eq" }] } }, ["not.all[0].path"]],
    ["an empty path", { path: "", op: "exists", value: true }, ["path"]],
    ["a long path", { path: "x".repeat(257), op: "exists", value: true }, ["path"]],
    ["an empty object", {}, [""]],
    ["a string", "x", [""]],
    ["null", null, [""]],
    ["an array", [ok], [""]],
  ])("%s", (_name, input, expected) => {
    expect(parsePaths(input)).toEqual(expected);
  });

  it("keeps the condition as written", () => {
    const condition = { all: [ok, { not: { path: "event.data.n", op: "in", value: [1, null] } }] };
    expect(conditionSchema.parse(condition)).toEqual(condition);
  });

  it("appears in the OpenAPI document as one recursive component", () => {
    const app = new OpenAPIHono();
    const body = { content: { "application/json": { schema: z.object({ rule: conditionSchema }) } } };
    app.openapi(createRoute({ method: "post", path: "/x", request: { body }, responses: { 204: { description: "ok" } } }), (c) => c.body(null, 204));
    const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
    const schema = doc.components?.schemas?.Condition as { properties: Record<string, unknown> };
    expect(schema.properties.not).toEqual({ $ref: "#/components/schemas/Condition" });
  });
});

describe("helpers", () => {
  it("conditionReads lists distinct paths in first-seen order", () => {
    const condition: Condition = {
      any: [
        leaf("user.metrics.points.lifetime", "gte", 1),
        { not: leaf("event.data.amount", "gt", 5) },
        { all: [leaf("user.metrics.points.lifetime", "lt", 9), leaf("user.segments", "contains", "vip")] },
      ],
    };
    expect(conditionReads(condition)).toEqual(["user.metrics.points.lifetime", "event.data.amount", "user.segments"]);
    expect(conditionReads(leaf("user.id", "exists", true))).toEqual(["user.id"]);
  });

  it.each<[string, number | undefined]>([
    ["2026-11-25T10:00:00Z", Date.UTC(2026, 10, 25, 10)],
    ["2026-11-25T11:00:00+01:00", Date.UTC(2026, 10, 25, 10)],
    ["2026-11-25T04:30:00.5-05:30", Date.UTC(2026, 10, 25, 10, 0, 0, 500)],
    ["2024-02-29T00:00:00.000Z", Date.UTC(2024, 1, 29)],
    ["0099-01-01T00:00:00Z", -59042995200000],
    ["2026-11-25T10:00:60Z", undefined],
    ["2026-11-25T10:00Z", undefined],
    ["2026-11-25", undefined],
    ["2026-11-25T10:00:00", undefined],
  ])("parseInstant(%j)", (text, ms) => {
    expect(parseInstant(text)).toBe(ms);
  });
});
