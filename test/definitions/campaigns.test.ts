import { describe, expect, it } from "vitest";
import { contextOver as contextOverSpace, problemsIn } from "./fake-space";
import {
  campaignKind,
  campaignSchema,
  campaignStatusOf,
  canTransition,
  parseTimestamp,
  type CampaignBody,
  type CampaignStatus,
} from "../../src/definitions/kinds/campaigns";
import { DERIVED_EVENT_TYPES } from "../../src/definitions/derived-events";
import { isDerivedEventType, triggerFrozenFieldsChanged, triggerKind, triggerSchema, type TriggerBody } from "../../src/definitions/kinds/triggers";
import type { DefinitionInfo, DefinitionKind, StoredDefinition } from "../../src/definitions/types";
import { ValidationContext } from "../../src/definitions/validation-context";
import { ApiError, type FieldError } from "../../src/errors";
import { fieldErrorsOf } from "../../src/http/validation";

// Pure, table-driven tests of triggers (SPEC §4.6) and campaigns (§4.7): schemas with
// exact error paths, validate() over a fake space, the lifecycle and frozen fields.

const SPACE: DefinitionInfo[] = [
  { kind: "metrics", id: "pts", archived: false, metricKind: "currency" },
  { kind: "metrics", id: "points", archived: false, metricKind: "currency" },
  { kind: "metrics", id: "xp", archived: false, metricKind: "counter" },
  { kind: "products", id: "scarf", archived: false, type: "reward" },
  { kind: "products", id: "welcome-badge", archived: false, type: "badge" },
  { kind: "segments", id: "new-users", archived: false, type: "static" },
  { kind: "segments", id: "staff", archived: false, type: "static" },
  { kind: "segments", id: "rollers", archived: false, type: "dynamic" },
  { kind: "segments", id: "old-seg", archived: true, type: "static" },
  { kind: "triggers", id: "article-read", archived: false, eventType: "article_read" },
  { kind: "triggers", id: "big-purchase", archived: false, eventType: "purchase" },
  { kind: "triggers", id: "stale", archived: true, eventType: "x" },
  { kind: "ladders", id: "tiers", archived: false, levelIds: ["bronze", "silver", "gold"] },
  { kind: "streaks", id: "daily", archived: false },
  { kind: "campaigns", id: "welcome", archived: false, status: "active" },
  { kind: "webhooks", id: "crm", archived: false },
];

const contextOver = (infos: DefinitionInfo[] = SPACE, prefix = ""): ValidationContext => contextOverSpace(infos, prefix);

type Problems = { code: string; errors: FieldError[] } | null;

const problemsOf = (run: (ctx: ValidationContext) => void, ctx = contextOver()): Problems => problemsIn(run, ctx);

function parseCampaign(input: unknown): CampaignBody {
  const result = campaignSchema.safeParse(input);
  if (!result.success) throw new Error(`schema refused: ${JSON.stringify(fieldErrorsOf(result.error))}`);
  return result.data;
}

function parseTrigger(input: unknown): TriggerBody {
  const result = triggerSchema.safeParse(input);
  if (!result.success) throw new Error(`schema refused: ${JSON.stringify(fieldErrorsOf(result.error))}`);
  return result.data;
}

function stored<B extends Record<string, unknown>>(kind: DefinitionKind, body: B): StoredDefinition<B> {
  return { spaceId: "spc_1", kind, id: "c1", body, version: 3, createdAt: 0, updatedAt: 0, archivedAt: null };
}

/** Parses `input`, then validates it (against `previous`, parsed too, when given). */
function validateCampaign(input: unknown, previous?: unknown, ctx = contextOver()): Problems {
  const body = parseCampaign(input);
  const prev = previous === undefined ? undefined : stored("campaigns", parseCampaign(previous));
  return problemsOf((c) => campaignKind.validate(body, c, prev), ctx);
}

function validateTrigger(input: unknown, ctx = contextOver()): Problems {
  const body = parseTrigger(input);
  return problemsOf((c) => triggerKind.validate(body, c, undefined), ctx);
}

/** Field paths of a schema failure ([] when it passed). */
function schemaPaths(schema: typeof campaignSchema | typeof triggerSchema, input: unknown): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : fieldErrorsOf(result.error).map((e) => e.path);
}

const invalid = (path: string, message: string): Problems => ({ code: "invalid_definition", errors: [{ path, message }] });
const unknown = (path: string, message: string): Problems => ({ code: "unknown_reference", errors: [{ path, message }] });

/** A valid campaign: a step by trigger id, an inline step, step and completion effects. */
const BASE = {
  name: "Welcome",
  steps: [
    { id: "read-3", name: "Read 3 articles", trigger: "article-read", target: 3, effects: [{ type: "metric.add", metric: "pts", amount: 10 }] },
    { id: "first-purchase", name: "Buy something", trigger: { eventType: "purchase" }, effects: [{ type: "product.grant", product: "scarf" }] },
  ],
  effects: [{ type: "push.send", title: "Challenge complete!", body: "You earned {{completion.metric.pts}} points" }],
};

const withFields = (fields: Record<string, unknown>) => ({ ...BASE, ...fields });
const withStep = (i: number, fields: Record<string, unknown>) => ({
  ...BASE,
  steps: BASE.steps.map((s, j) => (j === i ? { ...s, ...fields } : s)),
});
const stepsOf = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, name: `Step ${i}`, trigger: "article-read" }));

// ------------------------------------------------------------------------------------
// Triggers
// ------------------------------------------------------------------------------------

describe("triggers: kind", () => {
  it("is erased, prefixed trg_, and exposes its eventType", () => {
    expect(triggerKind.kind).toBe("triggers");
    expect(triggerKind.prefix).toBe("trg");
    expect(triggerKind.archivable).toBe(false);
    expect(triggerKind.name).toBe("Trigger");
    expect(triggerKind.info(parseTrigger({ name: "t", eventType: "purchase" }))).toEqual({ eventType: "purchase" });
  });

  it("applies defaults", () => {
    expect(parseTrigger({ name: " Purchase ", eventType: "purchase" })).toEqual({
      name: "Purchase",
      description: null,
      eventType: "purchase",
      conditions: null,
    });
  });

  it("keeps the SPEC §4.6 example as written", () => {
    const body = { name: "Purchase of 50 or more", eventType: "purchase", conditions: { path: "event.data.amount", op: "gte", value: 50 } };
    expect(parseTrigger(body)).toEqual({ ...body, description: null });
    expect(validateTrigger(body)).toBeNull();
  });
});

describe("triggers: schema errors at exact paths", () => {
  it.each<[string, unknown, string[]]>([
    ["empty body", {}, ["name", "eventType"]],
    ["blank name", { name: "  ", eventType: "x" }, ["name"]],
    ["name of 201", { name: "x".repeat(201), eventType: "x" }, ["name"]],
    ["description of 2001", { name: "n", eventType: "x", description: "x".repeat(2001) }, ["description"]],
    ["eventType empty", { name: "n", eventType: "" }, ["eventType"]],
    ["eventType with a space", { name: "n", eventType: "a b" }, ["eventType"]],
    ["eventType starting with a dot", { name: "n", eventType: ".x" }, ["eventType"]],
    ["eventType of 101", { name: "n", eventType: "x".repeat(101) }, ["eventType"]],
    ["eventType a number", { name: "n", eventType: 5 }, ["eventType"]],
    ["unknown field", { name: "n", eventType: "x", campaign: "c" }, ["campaign"]],
    ["id is not part of the body", { id: "t1", name: "n", eventType: "x" }, ["id"]],
    // Structural condition errors come from conditionSchema (conditions.ts).
    ["conditions a string", { name: "n", eventType: "x", conditions: "amount > 5" }, ["conditions"]],
    ["conditions leaf without op", { name: "n", eventType: "x", conditions: { path: "event.data.a" } }, ["conditions.op"]],
    ["conditions unknown operator", { name: "n", eventType: "x", conditions: { path: "event.data.a", op: "regex", value: "x" } }, ["conditions.op"]],
    ["conditions unknown key", { name: "n", eventType: "x", conditions: { path: "event.data.a", op: "eq", value: 1, weight: 2 } }, ["conditions.weight"]],
    ["conditions nested", { name: "n", eventType: "x", conditions: { all: [{ path: "event.data.a", op: "eq", value: 1 }, { op: "eq" }] } }, ["conditions.all[1].path"]],
  ])("%s", (_name, input, paths) => {
    expect(schemaPaths(triggerSchema, input)).toEqual(paths);
  });

  it.each<[string, string]>([
    ["purchase", "ordinary"],
    ["Order:paid.v2-x_y", "every allowed character"],
    ["9lives", "starting with a digit"],
    ["x".repeat(100), "100 characters"],
    ["loyalty.made.up", "loyalty.* passes the schema (validate decides)"],
  ])("eventType %s (%s) passes the schema", (eventType) => {
    expect(schemaPaths(triggerSchema, { name: "n", eventType })).toEqual([]);
  });
});

describe("triggers: validate", () => {
  it.each([...DERIVED_EVENT_TYPES])("the derived type %s can be matched", (eventType) => {
    expect(isDerivedEventType(eventType)).toBe(true);
    expect(validateTrigger({ name: "n", eventType })).toBeNull();
  });

  it.each<[string, Problems]>([
    ["purchase", null],
    ["loyalty_custom", null],
    ["Loyalty.step.completed", null],
    ["loyalty.made.up", invalid("eventType", "'loyalty.made.up' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)")],
    ["loyalty.step", invalid("eventType", "'loyalty.step' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)")],
    ["loyalty.", invalid("eventType", "'loyalty.' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)")],
    ["loyalty.segment.entered.x", invalid("eventType", "'loyalty.segment.entered.x' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)")],
  ])("eventType %s", (eventType, expected) => {
    expect(validateTrigger({ name: "n", eventType })).toEqual(expected);
  });

  // These run validateCondition (conditions.ts, another engineer's implementation).
  it.each<[string, unknown, Problems]>([
    ["event data comparison", { path: "event.data.amount", op: "gte", value: 50 }, null],
    ["user state and segments (allowed in triggers)", { all: [{ path: "user.metrics.pts.balance", op: "gt", value: 0 }, { path: "user.segments", op: "contains", value: "staff" }] }, null],
    ["ladder level", { path: "user.ladders.tiers.level", op: "eq", value: "gold" }, null],
    ["campaign completions", { path: "user.campaigns.welcome.completions", op: "gte", value: 1 }, null],
    ["unknown metric in a path", { path: "user.metrics.ghost.balance", op: "gt", value: 0 }, unknown("conditions.path", "no metric 'ghost' in this space")],
    [
      "unknown segment value, nested",
      { not: { any: [{ path: "event.type", op: "eq", value: "x" }, { path: "user.segments", op: "contains", value: "nope" }] } },
      unknown("conditions.not.any[1].value", "no segment 'nope' in this space"),
    ],
    ["unknown path", { path: "user.wallet", op: "exists", value: true }, invalid("conditions.path", "unknown path 'user.wallet'")],
    ["value out of range", { path: "event.local.hour", op: "gt", value: 25 }, invalid("conditions.value", "event.local.hour is an integer from 0 to 23")],
    ["unknown ladder level", { path: "user.ladders.tiers.level", op: "eq", value: "platinum" }, invalid("conditions.value", "the ladder 'tiers' has no level 'platinum' (levels: bronze, silver, gold)")],
  ])("conditions: %s", (_name, conditions, expected) => {
    expect(validateTrigger({ name: "n", eventType: "purchase", conditions })).toEqual(expected);
  });

  it("a reserved eventType and a bad condition are both reported", () => {
    expect(validateTrigger({ name: "n", eventType: "loyalty.nope", conditions: { path: "user.metrics.ghost.balance", op: "gt", value: 0 } })).toEqual({
      code: "unknown_reference",
      errors: [
        { path: "eventType", message: "'loyalty.nope' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)" },
        { path: "conditions.path", message: "no metric 'ghost' in this space" },
      ],
    });
  });
});

describe("triggerFrozenFieldsChanged", () => {
  const c1 = { path: "event.data.amount", op: "gte", value: 50 } as const;
  const c2 = { path: "event.data.amount", op: "gte", value: 60 } as const;
  it.each<[string, Pick<TriggerBody, "eventType" | "conditions">, Pick<TriggerBody, "eventType" | "conditions">, string[]]>([
    ["nothing", { eventType: "a", conditions: null }, { eventType: "a", conditions: null }, []],
    ["same conditions", { eventType: "a", conditions: c1 }, { eventType: "a", conditions: { ...c1 } }, []],
    ["same conditions, keys in another order", { eventType: "a", conditions: c1 }, { eventType: "a", conditions: { value: 50, op: "gte", path: "event.data.amount" } }, []],
    ["eventType", { eventType: "a", conditions: null }, { eventType: "b", conditions: null }, ["eventType"]],
    ["conditions added", { eventType: "a", conditions: null }, { eventType: "a", conditions: c1 }, ["conditions"]],
    ["conditions removed", { eventType: "a", conditions: c1 }, { eventType: "a", conditions: null }, ["conditions"]],
    ["conditions changed", { eventType: "a", conditions: c1 }, { eventType: "a", conditions: c2 }, ["conditions"]],
    ["both", { eventType: "a", conditions: c1 }, { eventType: "b", conditions: c2 }, ["eventType", "conditions"]],
  ])("%s", (_name, previous, next, expected) => {
    expect(triggerFrozenFieldsChanged(previous, next)).toEqual(expected);
  });

  it("names and descriptions are not frozen", () => {
    const a = parseTrigger({ name: "A", eventType: "x", conditions: { path: "event.data.a", op: "exists", value: true } });
    const b = parseTrigger({ name: "B", description: "now described", eventType: "x", conditions: { path: "event.data.a", op: "exists", value: true } });
    expect(triggerFrozenFieldsChanged(a, b)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------
// Campaigns: schema
// ------------------------------------------------------------------------------------

describe("campaigns: kind", () => {
  it("is archived, prefixed cmp_, and exposes its status", () => {
    expect(campaignKind.kind).toBe("campaigns");
    expect(campaignKind.prefix).toBe("cmp");
    expect(campaignKind.archivable).toBe(true);
    expect(campaignKind.name).toBe("Campaign");
    const body = parseCampaign({ ...BASE, status: "paused" });
    expect(campaignKind.info(body)).toEqual({ status: "paused" });
    expect(campaignStatusOf(body)).toBe("paused");
  });

  it("applies every default", () => {
    expect(parseCampaign({ name: "C", steps: [{ id: "s", name: "S", trigger: "article-read" }] })).toEqual({
      name: "C",
      description: null,
      imageUrl: null,
      status: "draft",
      startsAt: null,
      endsAt: null,
      acceptLateUntil: null,
      priority: 0,
      audience: { include: [], exclude: [] },
      visibility: "visible",
      order: "sequential",
      steps: [{ id: "s", name: "S", trigger: "article-read", target: 1, measure: null, effects: [] }],
      effects: [],
      repeat: { limit: 1, every: null, total: null },
    });
  });

  it("fills nested defaults of partial objects", () => {
    const body = parseCampaign({
      ...BASE,
      audience: { include: ["staff"] },
      repeat: { every: "day" },
      steps: [{ id: "s", name: "S", trigger: { eventType: "x" } }],
    });
    expect(body.audience).toEqual({ include: ["staff"], exclude: [] });
    expect(body.repeat).toEqual({ limit: 1, every: "day", total: null });
    expect(body.steps[0]!.trigger).toEqual({ eventType: "x", conditions: null });
  });

  it("defaults are fresh objects (no shared state between parses)", () => {
    const a = parseCampaign({ name: "C", steps: [{ id: "s", name: "S", trigger: "t" }] });
    a.audience.include.push("mutated");
    a.effects.push({ type: "streak.checkin", streak: "daily" });
    const b = parseCampaign({ name: "C", steps: [{ id: "s", name: "S", trigger: "t" }] });
    expect(b.audience.include).toEqual([]);
    expect(b.effects).toEqual([]);
  });

  it("parses the SPEC §4.7 example, and it validates", () => {
    const example = {
      name: "Welcome challenge",
      description: "...",
      imageUrl: null,
      status: "draft",
      startsAt: null,
      endsAt: null,
      acceptLateUntil: null,
      priority: 0,
      audience: { include: ["new-users"], exclude: ["staff"] },
      visibility: "visible",
      order: "sequential",
      steps: [
        { id: "read-3", name: "Read 3 articles", trigger: "article-read", target: 3, effects: [{ type: "metric.add", metric: "points", amount: 10 }] },
        { id: "first-purchase", name: "Buy something", trigger: { eventType: "purchase" }, effects: [{ type: "product.grant", product: "welcome-badge" }] },
      ],
      effects: [{ type: "push.send", title: "Challenge complete!", body: "You earned {{completion.metric.points}} points" }],
      repeat: { limit: 1, every: null, total: null },
    };
    const body = parseCampaign(example);
    expect(body.steps[0]).toEqual({ ...example.steps[0], measure: null });
    expect(body.steps[1]).toEqual({
      ...example.steps[1],
      trigger: { eventType: "purchase", conditions: null },
      target: 1,
      measure: null,
      effects: [{ type: "product.grant", product: "welcome-badge", quantity: 1 }],
    });
    expect(validateCampaign(example)).toBeNull();
  });

  it("re-parsing a stored body changes nothing (timestamps included)", () => {
    const once = parseCampaign({ ...BASE, startsAt: "2026-11-25T11:00:00+01:00", endsAt: "2026-12-01T00:00:00.5Z" });
    expect(parseCampaign(once)).toEqual(once);
  });
});

describe("campaigns: timestamps", () => {
  it.each<[string, string]>([
    ["2026-11-25T10:00:00Z", "2026-11-25T10:00:00.000Z"],
    ["2026-11-25T10:00:00.000Z", "2026-11-25T10:00:00.000Z"],
    ["2026-11-25T10:00:00.5Z", "2026-11-25T10:00:00.500Z"],
    ["2026-11-25T10:00:00.12Z", "2026-11-25T10:00:00.120Z"],
    ["2026-11-25T10:00:00.123Z", "2026-11-25T10:00:00.123Z"],
    ["2026-11-25T11:00:00+01:00", "2026-11-25T10:00:00.000Z"],
    ["2026-11-25T10:00:00+00:00", "2026-11-25T10:00:00.000Z"],
    ["2026-11-25T10:00:00-00:00", "2026-11-25T10:00:00.000Z"],
    ["2026-11-25T11:30:00+01:30", "2026-11-25T10:00:00.000Z"],
    ["2026-11-24T21:00:00-13:00", "2026-11-25T10:00:00.000Z"],
    ["2026-11-25t10:00:00z", "2026-11-25T10:00:00.000Z"],
    ["2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
    ["2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000Z"],
    ["0050-06-01T00:00:00Z", "0050-06-01T00:00:00.000Z"],
    ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
  ])("%s is stored as %s", (input, output) => {
    expect(parseCampaign({ ...BASE, startsAt: input }).startsAt).toBe(output);
    expect(parseTimestamp(input)).toBe(Date.parse(output));
  });

  it.each<[string, unknown]>([
    ["a date only", "2026-11-25"],
    ["no seconds", "2026-11-25T10:00Z"],
    ["no offset", "2026-11-25T10:00:00"],
    ["4 fraction digits", "2026-11-25T10:00:00.1234Z"],
    ["an empty fraction", "2026-11-25T10:00:00.Z"],
    ["a space instead of T", "2026-11-25 10:00:00Z"],
    ["30 February", "2026-02-30T00:00:00Z"],
    ["29 February of a common year", "2025-02-29T00:00:00Z"],
    ["29 February 1900", "1900-02-29T00:00:00Z"],
    ["month 13", "2026-13-01T00:00:00Z"],
    ["month 0", "2026-00-01T00:00:00Z"],
    ["day 0", "2026-01-00T00:00:00Z"],
    ["31 April", "2026-04-31T00:00:00Z"],
    ["hour 24", "2026-11-25T24:00:00Z"],
    ["minute 60", "2026-11-25T10:60:00Z"],
    ["leap second", "2026-12-31T23:59:60Z"],
    ["offset +24:00", "2026-11-25T10:00:00+24:00"],
    ["offset without colon", "2026-11-25T10:00:00+0100"],
    ["offset minutes 60", "2026-11-25T10:00:00+01:60"],
    ["a 5-digit year", "12026-11-25T10:00:00Z"],
    ["before year 0 in UTC", "0000-01-01T00:00:00+01:00"],
    ["after year 9999 in UTC", "9999-12-31T23:00:00-02:00"],
    ["epoch milliseconds", 1764064800000],
    ["a sentence", "next tuesday"],
    ["trailing text", "2026-11-25T10:00:00Zextra"],
  ])("refuses %s", (_name, input) => {
    for (const field of ["startsAt", "endsAt", "acceptLateUntil"]) {
      expect(schemaPaths(campaignSchema, { ...BASE, [field]: input })).toEqual([field]);
    }
    if (typeof input === "string") expect(parseTimestamp(input)).toBeNull();
  });
});

describe("campaigns: schema errors at exact paths", () => {
  it.each<[string, unknown, string[]]>([
    ["empty body", {}, ["name", "steps"]],
    ["unknown field", withFields({ slug: "x" }), ["slug"]],
    ["id is not part of the body", withFields({ id: "c1" }), ["id"]],
    ["status unknown", withFields({ status: "done" }), ["status"]],
    ["status ended (a display state, not a status)", withFields({ status: "ended" }), ["status"]],
    ["imageUrl http", withFields({ imageUrl: "http://x.test/a.png" }), ["imageUrl"]],
    ["priority 1001", withFields({ priority: 1001 }), ["priority"]],
    ["priority -1001", withFields({ priority: -1001 }), ["priority"]],
    ["priority 1.5", withFields({ priority: 1.5 }), ["priority"]],
    ["visibility unknown", withFields({ visibility: "secret" }), ["visibility"]],
    ["order unknown", withFields({ order: "random" }), ["order"]],
    ["audience not an object", withFields({ audience: ["staff"] }), ["audience"]],
    ["audience unknown field", withFields({ audience: { include: [], only: [] } }), ["audience.only"]],
    ["audience bad id", withFields({ audience: { include: ["Staff"] } }), ["audience.include[0]"]],
    ["audience 21 includes", withFields({ audience: { include: Array.from({ length: 21 }, (_, i) => `s${i}`) } }), ["audience.include"]],
    ["audience 21 excludes", withFields({ audience: { exclude: Array.from({ length: 21 }, (_, i) => `s${i}`) } }), ["audience.exclude"]],
    ["audience duplicate", withFields({ audience: { exclude: ["staff", "vip", "staff"] } }), ["audience.exclude[2]"]],
    ["no steps", withFields({ steps: [] }), ["steps"]],
    ["101 steps", withFields({ steps: stepsOf(101) }), ["steps"]],
    ["steps not an array", withFields({ steps: { id: "s" } }), ["steps"]],
    ["step without id", withStep(0, { id: undefined }), ["steps[0].id"]],
    ["step id with a dot", withStep(1, { id: "a.b" }), ["steps[1].id"]],
    ["duplicate step ids", withStep(1, { id: "read-3" }), ["steps[1].id"]],
    ["step without name", withStep(0, { name: undefined }), ["steps[0].name"]],
    ["step without trigger", withStep(0, { trigger: undefined }), ["steps[0].trigger"]],
    ["step trigger a number", withStep(0, { trigger: 5 }), ["steps[0].trigger"]],
    ["step trigger a bad id", withStep(0, { trigger: "Article Read" }), ["steps[0].trigger"]],
    ["inline trigger without eventType", withStep(1, { trigger: { conditions: null } }), ["steps[1].trigger.eventType"]],
    ["inline trigger bad eventType", withStep(1, { trigger: { eventType: "a b" } }), ["steps[1].trigger.eventType"]],
    ["inline trigger unknown field", withStep(1, { trigger: { eventType: "x", name: "n" } }), ["steps[1].trigger.name"]],
    ["inline trigger malformed condition", withStep(1, { trigger: { eventType: "x", conditions: { path: "event.data.a" } } }), ["steps[1].trigger.conditions.op"]],
    ["target 0", withStep(0, { target: 0 }), ["steps[0].target"]],
    ["target 1,000,001", withStep(0, { target: 1_000_001 }), ["steps[0].target"]],
    ["target 2.5", withStep(0, { target: 2.5 }), ["steps[0].target"]],
    ["measure outside event.data", withStep(0, { measure: "user.metrics.pts.balance" }), ["steps[0].measure"]],
    ["measure event.data alone", withStep(0, { measure: "event.data" }), ["steps[0].measure"]],
    ["measure a number", withStep(0, { measure: 1 }), ["steps[0].measure"]],
    ["step effects 21", withStep(0, { effects: Array(21).fill({ type: "streak.checkin", streak: "daily" }) }), ["steps[0].effects"]],
    ["step effect malformed", withStep(1, { effects: [{ type: "streak.checkin" }, { type: "metric.add", metric: "pts", amount: 0 }] }), ["steps[1].effects[0].streak", "steps[1].effects[1].amount"]],
    ["step effect computed amount", withStep(0, { effects: [{ type: "metric.add", metric: "pts", amount: { path: "event.data.a", round: "up" } }] }), ["steps[0].effects[0].amount.round"]],
    ["step unknown field", withStep(0, { description: "x" }), ["steps[0].description"]],
    ["completion effects 21", withFields({ effects: Array(21).fill({ type: "streak.checkin", streak: "daily" }) }), ["effects"]],
    ["completion effect unknown type", withFields({ effects: [{ type: "email.send" }] }), ["effects[0].type"]],
    ["repeat not an object", withFields({ repeat: 1 }), ["repeat"]],
    ["repeat limit 0", withFields({ repeat: { limit: 0 } }), ["repeat.limit"]],
    ["repeat total 0", withFields({ repeat: { total: 0 } }), ["repeat.total"]],
    ["repeat every month", withFields({ repeat: { every: "month" } }), ["repeat.every"]],
    ["repeat unknown field", withFields({ repeat: { limit: 1, per: "user" } }), ["repeat.per"]],
    ["several errors at once", withFields({ priority: "high", steps: [{ id: "s", name: "S", trigger: "t", target: -1 }], repeat: { limit: 0 } }), ["priority", "steps[0].target", "repeat.limit"]],
  ])("%s", (_name, input, paths) => {
    expect(schemaPaths(campaignSchema, input)).toEqual(paths);
  });

  it.each<[string, unknown]>([
    ["100 steps", withFields({ steps: stepsOf(100) })],
    ["20 step effects", withStep(0, { effects: Array(20).fill({ type: "streak.checkin", streak: "daily" }) })],
    ["20 audience segments", withFields({ audience: { include: Array.from({ length: 20 }, (_, i) => `s${i}`) } })],
    ["priority bounds", withFields({ priority: -1000 })],
    ["target 1,000,000", withStep(0, { target: 1_000_000 })],
    ["measure", withStep(0, { measure: "event.data.order.amount" })],
    ["unlimited repeat", withFields({ repeat: { limit: null, every: "week", total: 10 } })],
    ["hidden, any order", withFields({ visibility: "hidden", order: "any" })],
  ])("accepts %s", (_name, input) => {
    expect(schemaPaths(campaignSchema, input)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------
// Campaigns: validate
// ------------------------------------------------------------------------------------

describe("campaigns: validate (window, references, effects)", () => {
  it.each<[string, unknown, Problems]>([
    ["the base campaign", BASE, null],
    ["a window", withFields({ startsAt: "2026-11-01T00:00:00Z", endsAt: "2026-12-01T00:00:00Z", acceptLateUntil: "2026-12-08T00:00:00Z" }), null],
    ["only startsAt", withFields({ startsAt: "2026-11-01T00:00:00Z" }), null],
    ["only endsAt", withFields({ endsAt: "2026-11-01T00:00:00Z" }), null],
    ["only acceptLateUntil", withFields({ acceptLateUntil: "2026-11-01T00:00:00Z" }), null],
    ["acceptLateUntil = endsAt", withFields({ endsAt: "2026-12-01T00:00:00Z", acceptLateUntil: "2026-12-01T01:00:00+01:00" }), null],
    ["offsets compared as instants", withFields({ startsAt: "2026-01-01T10:00:00+02:00", endsAt: "2026-01-01T09:00:00Z" }), null],
    ["endsAt = startsAt", withFields({ startsAt: "2026-11-01T00:00:00Z", endsAt: "2026-11-01T01:00:00+01:00" }), invalid("endsAt", "endsAt must be after startsAt")],
    ["endsAt before startsAt", withFields({ startsAt: "2026-11-02T00:00:00Z", endsAt: "2026-11-01T00:00:00Z" }), invalid("endsAt", "endsAt must be after startsAt")],
    ["endsAt 1 ms before startsAt", withFields({ startsAt: "2026-11-01T00:00:00.001Z", endsAt: "2026-11-01T00:00:00Z" }), invalid("endsAt", "endsAt must be after startsAt")],
    ["acceptLateUntil before endsAt", withFields({ endsAt: "2026-12-01T00:00:00Z", acceptLateUntil: "2026-11-30T23:59:59.999Z" }), invalid("acceptLateUntil", "acceptLateUntil must not be before endsAt")],
    ["acceptLateUntil before startsAt, no endsAt", withFields({ startsAt: "2026-12-01T00:00:00Z", acceptLateUntil: "2026-11-01T00:00:00Z" }), invalid("acceptLateUntil", "acceptLateUntil must be after startsAt")],
    [
      "a window upside down",
      withFields({ startsAt: "2026-12-01T00:00:00Z", endsAt: "2026-11-01T00:00:00Z", acceptLateUntil: "2026-10-01T00:00:00Z" }),
      {
        code: "invalid_definition",
        errors: [
          { path: "endsAt", message: "endsAt must be after startsAt" },
          { path: "acceptLateUntil", message: "acceptLateUntil must not be before endsAt" },
        ],
      },
    ],
    // audience
    ["audience of static and dynamic segments", withFields({ audience: { include: ["new-users", "rollers"], exclude: ["staff"] } }), null],
    ["audience unknown include", withFields({ audience: { include: ["new-users", "nope"] } }), unknown("audience.include[1]", "no segment 'nope' in this space")],
    ["audience archived exclude", withFields({ audience: { exclude: ["old-seg"] } }), unknown("audience.exclude[0]", "the segment 'old-seg' is archived")],
    ["audience names a trigger", withFields({ audience: { include: ["article-read"] } }), unknown("audience.include[0]", "no segment 'article-read' in this space")],
    // step triggers
    ["step trigger unknown (or erased)", withStep(0, { trigger: "deleted-trigger" }), unknown("steps[0].trigger", "no trigger 'deleted-trigger' in this space")],
    ["step trigger archived", withStep(0, { trigger: "stale" }), unknown("steps[0].trigger", "the trigger 'stale' is archived")],
    ["step trigger names a segment", withStep(0, { trigger: "staff" }), unknown("steps[0].trigger", "no trigger 'staff' in this space")],
    ["inline derived trigger", withStep(1, { trigger: { eventType: "loyalty.step.completed" } }), null],
    ["inline derived ladder trigger", withStep(1, { trigger: { eventType: "loyalty.ladder.level_changed", conditions: { path: "event.data.to", op: "eq", value: "gold" } } }), null],
    [
      "inline reserved trigger",
      withStep(1, { trigger: { eventType: "loyalty.purchase" } }),
      invalid("steps[1].trigger.eventType", "'loyalty.purchase' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)"),
    ],
    // step and completion effects
    ["step effect unknown metric", withStep(0, { effects: [{ type: "metric.add", metric: "ghost", amount: 1 }] }), unknown("steps[0].effects[0].metric", "no metric 'ghost' in this space")],
    [
      "second step effect unknown product",
      withStep(1, { effects: [{ type: "product.grant", product: "scarf" }, { type: "product.grant", product: "nope" }] }),
      unknown("steps[1].effects[1].product", "no product 'nope' in this space"),
    ],
    ["completion effect unknown streak", withFields({ effects: [{ type: "streak.checkin", streak: "weekly" }] }), unknown("effects[0].streak", "no streak 'weekly' in this space")],
    [
      "completion effect on a dynamic segment",
      withFields({ effects: [{ type: "segment.add", segment: "new-users" }, { type: "segment.add", segment: "rollers" }] }),
      invalid("effects[1].segment", "segment.add only applies to static segments ('rollers' is dynamic)"),
    ],
    [
      "step effect negative on a counter",
      withStep(0, { effects: [{ type: "metric.add", metric: "xp", amount: -5 }] }),
      invalid("steps[0].effects[0].amount", "the counter metric 'xp' only grows: negative amounts are refused"),
    ],
    [
      "completion effect metric.set on a currency",
      withFields({ effects: [{ type: "metric.set", metric: "pts", value: 0 }] }),
      invalid("effects[0].metric", "metric.set only applies to gauge metrics ('pts' is a currency metric)"),
    ],
  ])("%s", (_name, input, expected) => {
    expect(validateCampaign(input)).toEqual(expected);
  });

  // These depend on validateCondition (conditions.ts) and the template validator
  // (templates.ts), implemented by another engineer.
  it.each<[string, unknown, Problems]>([
    [
      "inline trigger condition with an unknown metric",
      withStep(1, { trigger: { eventType: "purchase", conditions: { all: [{ path: "event.data.amount", op: "gte", value: 50 }, { path: "user.metrics.ghost.lifetime", op: "gt", value: 0 }] } } }),
      unknown("steps[1].trigger.conditions.all[1].path", "no metric 'ghost' in this space"),
    ],
    [
      "inline trigger condition with a bad value",
      withStep(1, { trigger: { eventType: "purchase", conditions: { path: "event.local.weekday", op: "eq", value: 0 } } }),
      invalid("steps[1].trigger.conditions.value", "event.local.weekday is an integer from 1 to 7"),
    ],
    [
      "completion push with an unknown template variable",
      withFields({ effects: [{ type: "push.send", title: "Done", body: "{{user.password}}" }] }),
      invalid("effects[0].body", "unknown template variable 'user.password'"),
    ],
    [
      "step webhook with a template naming an unknown metric",
      withStep(0, { effects: [{ type: "webhook.send", webhook: "crm", payload: { earned: "{{effects.metric.nope}}" } }] }),
      unknown("steps[0].effects[0].payload.earned", "no metric 'nope' in this space"),
    ],
  ])("%s (needs conditions/templates)", (_name, input, expected) => {
    expect(validateCampaign(input)).toEqual(expected);
  });

  it("collects every problem in document order; unknown_reference wins over invalid_definition", () => {
    const input = {
      ...withFields({
        startsAt: "2026-12-01T00:00:00Z",
        endsAt: "2026-11-01T00:00:00Z",
        audience: { include: ["nope"], exclude: [] },
        effects: [{ type: "metric.set", metric: "pts", value: 1 }],
      }),
      steps: [
        { id: "a", name: "A", trigger: "missing", effects: [{ type: "segment.remove", segment: "rollers" }] },
        { id: "b", name: "B", trigger: { eventType: "loyalty.bogus" } },
      ],
    };
    expect(validateCampaign(input)).toEqual({
      code: "unknown_reference",
      errors: [
        { path: "endsAt", message: "endsAt must be after startsAt" },
        { path: "audience.include[0]", message: "no segment 'nope' in this space" },
        { path: "steps[0].trigger", message: "no trigger 'missing' in this space" },
        { path: "steps[0].effects[0].segment", message: "segment.remove only applies to static segments ('rollers' is dynamic)" },
        { path: "steps[1].trigger.eventType", message: "'loyalty.bogus' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)" },
        { path: "effects[0].metric", message: "metric.set only applies to gauge metrics ('pts' is a currency metric)" },
      ],
    });
  });

  it("records every reference with its path", () => {
    const body = parseCampaign({
      ...BASE,
      audience: { include: ["new-users"], exclude: ["staff"] },
      steps: [
        ...BASE.steps,
        { id: "third", name: "T", trigger: { eventType: "x", conditions: { path: "user.metrics.xp.balance", op: "gt", value: 1 } } },
      ],
    });
    const ctx = contextOver();
    campaignKind.validate(body, ctx, undefined);
    expect(ctx.ok).toBe(true);
    expect(ctx.references).toEqual([
      { kind: "segments", id: "new-users", path: "audience.include[0]" },
      { kind: "segments", id: "staff", path: "audience.exclude[0]" },
      { kind: "triggers", id: "article-read", path: "steps[0].trigger" },
      { kind: "metrics", id: "pts", path: "steps[0].effects[0].metric" },
      { kind: "products", id: "scarf", path: "steps[1].effects[0].product" },
      { kind: "metrics", id: "xp", path: "steps[2].trigger.conditions.path" },
      { kind: "metrics", id: "pts", path: "effects[0].body" },
    ]);
  });

  it("paths carry the programme document's prefix", () => {
    const ctx = contextOver(SPACE, "campaigns[3].");
    expect(validateCampaign(withStep(0, { trigger: "missing" }), undefined, ctx)).toEqual(unknown("campaigns[3].steps[0].trigger", "no trigger 'missing' in this space"));
  });
});

// ------------------------------------------------------------------------------------
// Campaigns: lifecycle and frozen fields
// ------------------------------------------------------------------------------------

const STATUSES: CampaignStatus[] = ["draft", "active", "paused", "archived"];
const ALLOWED = new Set(["draft>active", "draft>archived", "active>paused", "paused>active", "active>archived", "paused>archived"]);
const NEXT: Record<CampaignStatus, string> = {
  draft: " (from draft: active, archived)",
  active: " (from active: paused, archived)",
  paused: " (from paused: active, archived)",
  archived: " (archived is final)",
};

describe("campaigns: lifecycle", () => {
  const pairs = STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as [CampaignStatus, CampaignStatus]));

  it.each(pairs)("%s → %s", (from, to) => {
    const expected: Problems =
      from === to || ALLOWED.has(`${from}>${to}`)
        ? null
        : { code: "invalid_transition", errors: [{ path: "status", message: `a campaign cannot go from ${from} to ${to}${NEXT[from]}` }] };
    expect(validateCampaign({ ...BASE, status: to }, { ...BASE, status: from })).toEqual(expected);
    expect(canTransition(from, to)).toBe(expected === null);
  });

  it.each(STATUSES)("a campaign may be created as %s (a programme document re-applied elsewhere)", (status) => {
    expect(validateCampaign({ ...BASE, status })).toBeNull();
  });

  it("the default status of a write is draft: omitting it on an active campaign is a transition back to draft", () => {
    expect(validateCampaign(BASE, { ...BASE, status: "active" })).toEqual({
      code: "invalid_transition",
      errors: [{ path: "status", message: "a campaign cannot go from active to draft (from active: paused, archived)" }],
    });
  });
});

describe("campaigns: frozen once out of draft", () => {
  const FROZEN = "cannot change once the campaign left draft; clone the campaign instead";
  const frozen = (...paths: Array<[string, string]>): Problems => ({
    code: "campaign_frozen",
    errors: paths.map(([path, what]) => ({ path, message: `${what} ${FROZEN}` })),
  });
  const swapped = { ...BASE, steps: [BASE.steps[1], BASE.steps[0]] };

  const changes: Array<[string, unknown, Problems]> = [
    ["a step's target", withStep(0, { target: 4 }), frozen(["steps[0].target", "a step's target"])],
    ["a step's trigger id", withStep(0, { trigger: "big-purchase" }), frozen(["steps[0].trigger", "a step's trigger"])],
    ["a step's trigger made inline", withStep(0, { trigger: { eventType: "article_read" } }), frozen(["steps[0].trigger", "a step's trigger"])],
    ["an inline trigger's eventType", withStep(1, { trigger: { eventType: "order" } }), frozen(["steps[1].trigger", "a step's trigger"])],
    [
      "an inline trigger's conditions",
      withStep(1, { trigger: { eventType: "purchase", conditions: { path: "event.data.amount", op: "gt", value: 1 } } }),
      frozen(["steps[1].trigger", "a step's trigger"]),
    ],
    ["a step's id", withStep(0, { id: "read-three" }), frozen(["steps[0].id", "a step's id"])],
    ["a step's measure", withStep(1, { measure: "event.data.amount" }), frozen(["steps[1].measure", "a step's measure"])],
    ["a step added", { ...BASE, steps: [...BASE.steps, { id: "more", name: "More", trigger: "article-read" }] }, frozen(["steps", "the steps"])],
    ["a step removed", { ...BASE, steps: [BASE.steps[0]] }, frozen(["steps", "the steps"])],
    [
      "the steps' order",
      swapped,
      frozen(
        ["steps[0].id", "a step's id"],
        ["steps[0].trigger", "a step's trigger"],
        ["steps[0].target", "a step's target"],
        ["steps[1].id", "a step's id"],
        ["steps[1].trigger", "a step's trigger"],
        ["steps[1].target", "a step's target"],
      ),
    ],
    ["order", withFields({ order: "any" }), frozen(["order", "the order"])],
    ["repeat.limit", withFields({ repeat: { limit: null } }), frozen(["repeat", "repeat"])],
    ["repeat.every", withFields({ repeat: { every: "week" } }), frozen(["repeat", "repeat"])],
    ["repeat.total", withFields({ repeat: { total: 5 } }), frozen(["repeat", "repeat"])],
    ["order and repeat together", withFields({ order: "any", repeat: { limit: 2 } }), frozen(["order", "the order"], ["repeat", "repeat"])],
  ];

  const editable: Array<[string, unknown]> = [
    ["name", withFields({ name: "Renamed" })],
    ["description", withFields({ description: "New text" })],
    ["imageUrl", withFields({ imageUrl: "https://cdn.test/c.png" })],
    ["dates", withFields({ startsAt: "2026-11-01T00:00:00Z", endsAt: "2026-12-01T00:00:00Z", acceptLateUntil: "2026-12-02T00:00:00Z" })],
    ["priority", withFields({ priority: 50 })],
    ["audience", withFields({ audience: { include: ["new-users"], exclude: ["staff"] } })],
    ["visibility", withFields({ visibility: "hidden" })],
    ["completion effects", withFields({ effects: [{ type: "metric.add", metric: "points", amount: 100 }] })],
    ["no completion effects", withFields({ effects: [] })],
    ["a step's name", withStep(0, { name: "Read three articles" })],
    ["a step's effects", withStep(1, { effects: [{ type: "product.grant", product: "scarf", quantity: 2 }, { type: "metric.add", metric: "pts", amount: 5 }] })],
    ["defaults written out", withStep(1, { target: 1, measure: null, trigger: { eventType: "purchase", conditions: null } })],
    ["repeat written out", withFields({ repeat: { limit: 1, every: null, total: null }, order: "sequential" })],
  ];

  for (const status of ["active", "paused"] as const) {
    describe(`previous status ${status}`, () => {
      it.each(changes)(`%s is frozen`, (_name, input, expected) => {
        expect(validateCampaign({ ...(input as object), status }, { ...BASE, status })).toEqual(expected);
      });
      it.each(editable)(`%s stays editable`, (_name, input) => {
        expect(validateCampaign({ ...(input as object), status }, { ...BASE, status })).toBeNull();
      });
    });
  }

  it("an archived campaign keeps its steps frozen", () => {
    expect(validateCampaign({ ...withStep(0, { target: 9 }), status: "archived" }, { ...BASE, status: "archived" })).toEqual(
      frozen(["steps[0].target", "a step's target"]),
    );
  });

  it.each(changes)("in draft, %s is free", (_name, input) => {
    expect(validateCampaign(input, BASE)).toBeNull();
  });

  it.each(changes)("activating with %s is free (the previous version was a draft)", (_name, input) => {
    expect(validateCampaign({ ...(input as object), status: "active" }, BASE)).toBeNull();
  });

  it("pausing while changing steps: frozen", () => {
    expect(validateCampaign({ ...withStep(0, { target: 4 }), status: "paused" }, { ...BASE, status: "active" })).toEqual(
      frozen(["steps[0].target", "a step's target"]),
    );
  });

  it("a refused transition and frozen steps: campaign_frozen wins, both listed", () => {
    expect(validateCampaign({ ...withFields({ order: "any" }), status: "draft" }, { ...BASE, status: "active" })).toEqual({
      code: "campaign_frozen",
      errors: [
        { path: "status", message: "a campaign cannot go from active to draft (from active: paused, archived)" },
        { path: "order", message: `the order ${FROZEN}` },
      ],
    });
  });

  it("frozen checks compare stored (normalised) bodies, so an equivalent rewrite passes", () => {
    const previous = { ...withStep(1, { trigger: { eventType: "purchase", conditions: { path: "event.data.amount", op: "gte", value: 50 } } }), status: "active" };
    const rewritten = {
      ...withStep(1, { trigger: { conditions: { value: 50, op: "gte", path: "event.data.amount" }, eventType: "purchase" }, target: 1 }),
      status: "active",
    };
    expect(validateCampaign(rewritten, previous)).toBeNull();
  });
});
