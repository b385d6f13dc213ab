import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newApp } from "../../src/app";
import type { DefinitionKind } from "../../src/definitions/types";
import { BASE, ROOT_KEY, expectProblem, json, type TestSpace } from "../helpers/harness";
import { ADMIN, api, createDefinition, createSpace, listIds, programmeVersion, readDefinition } from "../helpers/definitions-api";

// Definition validation over HTTP (SPEC §4, §6, §8.1, §8.3, §10): references with their
// JSON paths, rules, shapes, in-use deletes, frozen fields, webhook secrets and URLs,
// per-space limits, and the definitions version. Every refused write must leave the
// space exactly as it was.

type Body = Record<string, unknown>;

/** The whole observable programme of a space: its version and export. */
async function programmeState(space: TestSpace): Promise<{ version: number; document: unknown }> {
  const res = await api(space, "GET", "/programme");
  expect(res.status).toBe(200);
  return { version: Number(res.headers.get("etag")!.slice(1, -1)), document: await json(res) };
}

/** Expects a problem whose errors name exactly these paths, in order; returns it. */
async function expectPaths(res: Response, status: number, code: string, paths: string[]): Promise<any> {
  const problem = await expectProblem(res, status, code);
  expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(paths);
  for (const error of problem.errors) expect(error.message).toEqual(expect.any(String));
  return problem;
}

/**
 * The space every rule test writes into: metrics of each kind (and an archived one),
 * static and dynamic segments, a trigger, a badge, a streak, a ladder, a webhook.
 */
async function programmeSpace(): Promise<TestSpace> {
  const space = await createSpace();
  const put = async (kind: DefinitionKind, id: string, body: Body) => {
    const res = await api(space, "PUT", `/${kind}/${id}`, body);
    expect(res.status, await res.clone().text()).toBe(201);
  };
  await put("metrics", "pts", { name: "Points", kind: "currency" });
  await put("metrics", "xp", { name: "XP", kind: "counter" });
  await put("metrics", "temp", { name: "Temperature", kind: "gauge" });
  await put("metrics", "old", { name: "Old", kind: "currency" });
  expect((await api(space, "DELETE", "/metrics/old")).status).toBe(204);
  await put("segments", "vip", { name: "VIP", type: "static" });
  await put("segments", "fans", { name: "Fans", type: "dynamic", rule: { path: "user.metrics.pts.balance", op: "gte", value: 100 } });
  await put("triggers", "buy", { name: "Purchase", eventType: "purchase" });
  await put("products", "badge1", { type: "badge", name: "Badge" });
  await put("streaks", "daily", { name: "Daily", period: "day" });
  await put("ladders", "tiers", { name: "Tiers", metric: "xp", levels: [{ id: "bronze", name: "Bronze", threshold: 0 }, { id: "gold", name: "Gold", threshold: 100 }] });
  return space;
}

const inline = { eventType: "purchase" };
function campaign(steps: Body[], extra: Body = {}): Body {
  return { name: "Campaign", steps: steps.map((s, i) => ({ id: `s${i + 1}`, name: `Step ${i + 1}`, trigger: inline, ...s })), ...extra };
}
const effectStep = (...effects: Body[]): Body => ({ effects });

/** POST of `body` as `kind` is refused with these paths, and nothing changes. */
async function refusedCreate(space: TestSpace, kind: DefinitionKind, body: Body, status: number, code: string, paths: string[]): Promise<any> {
  const before = await programmeState(space);
  const problem = await expectPaths(await api(space, "POST", `/${kind}`, { id: "refused", ...body }), status, code, paths);
  // PUT (create) answers the same, and stores nothing either.
  await expectPaths(await api(space, "PUT", `/${kind}/refused`, body), status, code, paths);
  await expectProblem(await api(space, "GET", `/${kind}/refused`), 404, "not_found");
  expect(await programmeState(space)).toEqual(before);
  return problem;
}

describe("references resolve within the space: 422 unknown_reference at the JSON path", () => {
  it.each<[string, DefinitionKind, Body, string[]]>([
    ["a step effect's metric", "campaigns", campaign([effectStep({ type: "metric.add", metric: "nope", amount: 1 })]), ["steps[0].effects[0].metric"]],
    [
      "a product in the second step",
      "campaigns",
      campaign([{}, effectStep({ type: "metric.add", metric: "pts", amount: 1 }, { type: "product.grant", product: "nope" })]),
      ["steps[1].effects[1].product"],
    ],
    ["a completion effect's metric", "campaigns", campaign([{}], { effects: [{ type: "metric.add", metric: "pts", amount: 1 }, { type: "metric.add", metric: "nope", amount: 1 }] }), ["effects[1].metric"]],
    ["an archived metric", "campaigns", campaign([effectStep({ type: "metric.add", metric: "old", amount: 1 })]), ["steps[0].effects[0].metric"]],
    ["a metric of another kind's id (a segment named like it)", "campaigns", campaign([effectStep({ type: "metric.add", metric: "vip", amount: 1 })]), ["steps[0].effects[0].metric"]],
    ["a streak", "campaigns", campaign([effectStep({ type: "streak.checkin", streak: "nope" })]), ["steps[0].effects[0].streak"]],
    ["a segment", "campaigns", campaign([effectStep({ type: "segment.add", segment: "nope" })]), ["steps[0].effects[0].segment"]],
    ["a webhook", "campaigns", campaign([effectStep({ type: "webhook.send", webhook: "nope", payload: {} })]), ["steps[0].effects[0].webhook"]],
    ["a metric named in a template", "campaigns", campaign([effectStep({ type: "push.send", title: "Hi", body: "You got {{effects.metric.nope}}" })]), ["steps[0].effects[0].body"]],
    ["an audience include segment", "campaigns", campaign([{}], { audience: { include: ["nope"] } }), ["audience.include[0]"]],
    ["an audience exclude segment", "campaigns", campaign([{}], { audience: { include: ["vip"], exclude: ["fans", "nope"] } }), ["audience.exclude[1]"]],
    ["a step trigger by id", "campaigns", campaign([{ trigger: "buy" }, { trigger: "nope" }]), ["steps[1].trigger"]],
    [
      "a metric id in a condition path of an inline trigger",
      "campaigns",
      campaign([{ trigger: { eventType: "purchase", conditions: { path: "user.metrics.nope.balance", op: "gte", value: 1 } } }]),
      ["steps[0].trigger.conditions.path"],
    ],
    [
      "a streak id nested in an inline trigger's condition",
      "campaigns",
      campaign([{}, { trigger: { eventType: "purchase", conditions: { all: [{ path: "event.data.amount", op: "gte", value: 1 }, { not: { path: "user.streaks.nope.current", op: "gte", value: 3 } }] } } }]),
      ["steps[1].trigger.conditions.all[1].not.path"],
    ],
    [
      "a segment id as a condition value",
      "campaigns",
      campaign([{ trigger: { eventType: "purchase", conditions: { path: "user.segments", op: "contains", value: "nope" } } }]),
      ["steps[0].trigger.conditions.value"],
    ],
    ["several at once, in document order", "campaigns", campaign([{ trigger: "nope" }, effectStep({ type: "metric.add", metric: "nope", amount: 1 })], { audience: { include: ["nope"] } }), ["audience.include[0]", "steps[0].trigger", "steps[1].effects[0].metric"]],
    ["a product price's metric", "products", { type: "reward", name: "Scarf", price: { metric: "nope", amount: 5 } }, ["price.metric"]],
    ["a ladder's metric", "ladders", { name: "L", metric: "nope", levels: [{ id: "a", name: "A", threshold: 0 }] }, ["metric"]],
    ["a product id in a trigger's condition", "triggers", { name: "T", eventType: "purchase", conditions: { path: "user.products.nope", op: "gte", value: 1 } }, ["conditions.path"]],
    ["a ladder id in a segment rule", "segments", { name: "S", type: "dynamic", rule: { path: "user.ladders.nope.rank", op: "gte", value: 1 } }, ["rule.path"]],
  ])("%s", async (_label, kind, body, paths) => {
    const space = await programmeSpace();
    await refusedCreate(space, kind, body, 422, "unknown_reference", paths);
  });

  it("the same body is fine once the references exist", async () => {
    const space = await programmeSpace();
    const body = campaign([
      { trigger: "buy", ...effectStep({ type: "metric.add", metric: "pts", amount: 1 }, { type: "product.grant", product: "badge1" }) },
      { trigger: { eventType: "purchase", conditions: { path: "user.metrics.pts.balance", op: "gte", value: 1 } } },
    ], { audience: { include: ["vip"], exclude: ["fans"] } });
    await createDefinition(space, "campaigns", { id: "ok", ...body });
  });

  it("a definition of another space does not resolve", async () => {
    const space = await programmeSpace();
    const other = await createSpace();
    await createDefinition(other, "metrics", { id: "theirs", name: "Theirs", kind: "currency" });
    await refusedCreate(space, "products", { type: "reward", name: "Scarf", price: { metric: "theirs", amount: 5 } }, 422, "unknown_reference", ["price.metric"]);
  });

  it("a PATCH that introduces a bad reference is refused and changes nothing", async () => {
    const space = await programmeSpace();
    await createDefinition(space, "campaigns", { id: "c1", ...campaign([effectStep({ type: "metric.add", metric: "pts", amount: 1 })]) });
    const before = await programmeState(space);
    await expectPaths(
      await api(space, "PATCH", "/campaigns/c1", { audience: { exclude: ["nope"] } }),
      422,
      "unknown_reference",
      ["audience.exclude[0]"],
    );
    // A frozen field wins over the bad reference (409), and both are listed.
    const frozen = await expectPaths(
      await api(space, "PATCH", "/products/badge1", { type: "reward", price: { metric: "nope", amount: 1 } }),
      409,
      "frozen",
      ["price.metric", "type"],
    );
    expect(frozen.detail).toMatch(/^type: /);
    expect(await programmeState(space)).toEqual(before);
  });
});

describe("rules: 422 invalid_definition at the JSON path", () => {
  it.each<[string, DefinitionKind, Body, string[]]>([
    ["metric.set on a currency", "campaigns", campaign([effectStep({ type: "metric.set", metric: "pts", value: 3 })]), ["steps[0].effects[0].metric"]],
    ["metric.set on a counter", "campaigns", campaign([{}], { effects: [{ type: "metric.set", metric: "xp", value: 3 }] }), ["effects[0].metric"]],
    ["segment.add on a dynamic segment", "campaigns", campaign([effectStep({ type: "segment.add", segment: "fans" })]), ["steps[0].effects[0].segment"]],
    ["segment.remove on a dynamic segment", "campaigns", campaign([effectStep({ type: "segment.remove", segment: "fans" })]), ["steps[0].effects[0].segment"]],
    ["a negative amount on a counter", "campaigns", campaign([effectStep({ type: "metric.add", metric: "xp", amount: -5 })]), ["steps[0].effects[0].amount"]],
    ["a badge granted twice", "campaigns", campaign([effectStep({ type: "product.grant", product: "badge1", quantity: 2 })]), ["steps[0].effects[0].quantity"]],
    ["an unclosed template", "campaigns", campaign([effectStep({ type: "push.send", title: "Hello {{user.id", body: "b" })]), ["steps[0].effects[0].title"]],
    ["an unknown template variable", "campaigns", campaign([effectStep({ type: "push.send", title: "t", body: "{{user.password}}" })]), ["steps[0].effects[0].body"]],
    ["a template in JSON data", "campaigns", campaign([effectStep({ type: "event.emit", eventType: "bonus", data: { nested: ["ok", "{{ }}"] } })]), ["steps[0].effects[0].data.nested[1]"]],
    ["an inline trigger on a reserved non-derived type", "campaigns", campaign([{ trigger: { eventType: "loyalty.nope" } }]), ["steps[0].trigger.eventType"]],
    ["endsAt before startsAt", "campaigns", campaign([{}], { startsAt: "2030-01-02T00:00:00Z", endsAt: "2030-01-01T00:00:00Z" }), ["endsAt"]],
    ["a product price in a counter", "products", { type: "reward", name: "Scarf", price: { metric: "xp", amount: 5 } }, ["price.metric"]],
    ["a product price in a gauge", "products", { type: "item", name: "Ticket", price: { metric: "temp", amount: 5 } }, ["price.metric"]],
    ["a badge with perUserLimit 2", "products", { type: "badge", name: "Badge", perUserLimit: 2 }, ["perUserLimit"]],
    ["a badge with a price", "products", { type: "badge", name: "Badge", price: { metric: "pts", amount: 1 } }, ["price"]],
    [
      "ladder thresholds not increasing",
      "ladders",
      { name: "L", metric: "xp", levels: [{ id: "a", name: "A", threshold: 0 }, { id: "b", name: "B", threshold: 100 }, { id: "c", name: "C", threshold: 100 }] },
      ["levels[2].threshold"],
    ],
    ["a ladder not starting at 0", "ladders", { name: "L", metric: "xp", levels: [{ id: "a", name: "A", threshold: 5 }] }, ["levels[0].threshold"]],
    ["a ladder with a repeated level id", "ladders", { name: "L", metric: "xp", levels: [{ id: "a", name: "A", threshold: 0 }, { id: "a", name: "A2", threshold: 1 }] }, ["levels[1].id"]],
    ["a trigger on a reserved non-derived type", "triggers", { name: "T", eventType: "loyalty.x" }, ["eventType"]],
    ["a segment rule reading event data", "segments", { name: "S", type: "dynamic", rule: { path: "event.data.amount", op: "gte", value: 1 } }, ["rule.path"]],
    ["a dynamic segment without a rule", "segments", { name: "S", type: "dynamic" }, ["rule"]],
    ["a metric whose initial is above max", "metrics", { name: "M", kind: "counter", initial: 10, max: 5 }, ["initial"]],
    ["a fixed-zone streak without a zone", "streaks", { name: "S", period: "day", timezoneMode: "fixed" }, ["timezone"]],
    ["a webhook listing an event twice", "webhooks", { url: "https://hooks.example.com/x", events: ["loyalty.user.created", "loyalty.user.created"] }, ["events[1]"]],
  ])("%s", async (_label, kind, body, paths) => {
    const space = await programmeSpace();
    await refusedCreate(space, kind, body, 422, "invalid_definition", paths);
  });

  it("unknown references win over rule errors, and every problem is listed", async () => {
    const space = await programmeSpace();
    const problem = await refusedCreate(
      space,
      "campaigns",
      campaign([effectStep({ type: "metric.set", metric: "pts", value: 1 }, { type: "metric.add", metric: "nope", amount: 1 })]),
      422,
      "unknown_reference",
      ["steps[0].effects[0].metric", "steps[0].effects[1].metric"],
    );
    // The detail names the first problem of the winning code.
    expect(problem.detail).toBe("steps[0].effects[1].metric: no metric 'nope' in this space");
  });

  it("event.emit of a loyalty.* type is a rule violation (422 invalid_definition at the eventType) and stores nothing", async () => {
    const space = await programmeSpace();
    await refusedCreate(
      space,
      "campaigns",
      campaign([effectStep({ type: "event.emit", eventType: "loyalty.x" })]),
      422,
      "invalid_definition",
      ["steps[0].effects[0].eventType"],
    );
  });
});

describe("shapes: 400 invalid_request with paths", () => {
  const longName = "n".repeat(201);
  const step = { id: "s", name: "S", trigger: inline };
  it.each<[string, DefinitionKind, Body, string[]]>([
    ["an unknown field", "metrics", { name: "M", kind: "counter", colour: "red" }, ["colour"]],
    ["several unknown fields", "segments", { name: "S", type: "static", a: 1, b: 2 }, ["a", "b"]],
    ["an unknown field in an effect", "campaigns", campaign([effectStep({ type: "metric.add", metric: "pts", amount: 1, extra: true })]), ["steps[0].effects[0].extra"]],
    ["an unknown field in a level", "ladders", { name: "L", metric: "xp", levels: [{ id: "a", name: "A", threshold: 0, colour: "red" }] }, ["levels[0].colour"]],
    ["a missing required field", "metrics", { name: "M" }, ["kind"]],
    ["a name of the wrong type", "metrics", { name: 5, kind: "counter" }, ["name"]],
    ["a fractional metric value", "metrics", { name: "M", kind: "counter", initial: 1.5 }, ["initial"]],
    ["a string where a number belongs", "campaigns", campaign([{}], { priority: "high" }), ["priority"]],
    ["an unknown enum value", "streaks", { name: "S", period: "month" }, ["period"]],
    ["an unknown kind of metric", "metrics", { name: "M", kind: "points" }, ["kind"]],
    ["a step target of 0", "campaigns", campaign([{ target: 0 }]), ["steps[0].target"]],
    ["a malformed reference id", "products", { type: "reward", name: "P", price: { metric: "Not.An.Id", amount: 1 } }, ["price.metric"]],
    ["a name over 200 characters", "triggers", { name: longName, eventType: "purchase" }, ["name"]],
    ["a description over 2000 characters", "metrics", { name: "M", kind: "counter", description: "d".repeat(2001) }, ["description"]],
    ["a step name over 200 characters", "campaigns", campaign([{ name: longName }]), ["steps[0].name"]],
    ["more than 100 steps", "campaigns", { name: "C", steps: Array.from({ length: 101 }, (_, i) => ({ ...step, id: `s${i}` })) }, ["steps"]],
    ["more than 20 effects on a step", "campaigns", campaign([effectStep(...Array.from({ length: 21 }, () => ({ type: "metric.add", metric: "pts", amount: 1 })))]), ["steps[0].effects"]],
    ["more than 20 completion effects", "campaigns", campaign([{}], { effects: Array.from({ length: 21 }, () => ({ type: "metric.add", metric: "pts", amount: 1 })) }), ["effects"]],
    ["no steps", "campaigns", { name: "C", steps: [] }, ["steps"]],
    ["a repeated step id", "campaigns", { name: "C", steps: [step, step] }, ["steps[1].id"]],
    ["more than 100 levels", "ladders", { name: "L", metric: "xp", levels: Array.from({ length: 101 }, (_, i) => ({ id: `l${i}`, name: "L", threshold: i })) }, ["levels"]],
    ["a webhook without events", "webhooks", { url: "https://hooks.example.com/x", events: [] }, ["events"]],
    ["an imageUrl that is not https", "products", { type: "reward", name: "P", imageUrl: "http://cdn.example.com/a.png" }, ["imageUrl"]],
  ])("%s", async (_label, kind, body, paths) => {
    const space = await programmeSpace();
    await refusedCreate(space, kind, body, 400, "invalid_request", paths);
  });

  it("100 steps with 20 effects each are within the limits", async () => {
    const space = await programmeSpace();
    // (100 × 20 effects would not fit the 64 KiB body limit: the last step carries them.)
    const effects = Array.from({ length: 20 }, () => ({ type: "metric.add", metric: "pts", amount: 1 }));
    const steps = Array.from({ length: 100 }, (_, i) => ({ ...step, id: `s${i}`, ...(i === 99 ? { name: "n".repeat(200), effects } : {}) }));
    const created = await createDefinition(space, "campaigns", { id: "big", name: "n".repeat(200), steps, effects });
    expect(created.steps).toHaveLength(100);
    expect(created.steps[99].effects).toHaveLength(20);
    expect(created.effects).toHaveLength(20);
  });

  it("a shape error wins over bad references (nothing is resolved before the shape is right)", async () => {
    const space = await programmeSpace();
    await refusedCreate(space, "products", { type: "reward", name: "P", price: { metric: "nope", amount: 1 }, colour: "red" }, 400, "invalid_request", ["colour"]);
  });
});

describe("DELETE of a referenced definition: 409 in_use with referrers", () => {
  async function referencedMetric(): Promise<TestSpace> {
    const space = await programmeSpace();
    await createDefinition(space, "metrics", { id: "coins", name: "Coins", kind: "currency" });
    await createDefinition(space, "campaigns", {
      id: "c1",
      ...campaign([{}, effectStep({ type: "push.send", title: "t", body: "b" }, { type: "metric.add", metric: "coins", amount: 5 })]),
    });
    await createDefinition(space, "products", { id: "p1", type: "reward", name: "Scarf", price: { metric: "coins", amount: 10 } });
    return space;
  }

  it("names every referrer as {kind, id, path}; nothing changes", async () => {
    const space = await referencedMetric();
    const before = await programmeState(space);
    const problem = await expectProblem(await api(space, "DELETE", "/metrics/coins"), 409, "in_use");
    expect(problem.referrers).toEqual([
      { kind: "campaigns", id: "c1", path: "steps[1].effects[1].metric" },
      { kind: "products", id: "p1", path: "price.metric" },
    ]);
    expect(problem.detail).toContain("campaigns/c1");
    expect(problem.detail).toContain("products/p1");
    expect(await programmeState(space)).toEqual(before);
    expect((await readDefinition(space, "metrics", "coins")).body.archivedAt).toBeNull();
  });

  it("once the referrers drop the reference, DELETE succeeds", async () => {
    const space = await referencedMetric();
    const res = await api(space, "PATCH", "/campaigns/c1", {
      steps: [
        { id: "s1", name: "Step 1", trigger: inline },
        { id: "s2", name: "Step 2", trigger: inline, effects: [{ type: "push.send", title: "t", body: "b" }] },
      ],
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const still = await expectProblem(await api(space, "DELETE", "/metrics/coins"), 409, "in_use");
    expect(still.referrers).toEqual([{ kind: "products", id: "p1", path: "price.metric" }]);

    expect((await api(space, "PATCH", "/products/p1", { price: null })).status).toBe(200);
    expect((await api(space, "DELETE", "/metrics/coins")).status).toBe(204);
    expect(await listIds(space, "metrics")).not.toContain("coins");
  });

  it("an archived referrer no longer blocks", async () => {
    const space = await referencedMetric();
    expect((await api(space, "DELETE", "/campaigns/c1")).status).toBe(204);
    const still = await expectProblem(await api(space, "DELETE", "/metrics/coins"), 409, "in_use");
    expect(still.referrers).toEqual([{ kind: "products", id: "p1", path: "price.metric" }]);
    expect((await api(space, "DELETE", "/products/p1")).status).toBe(204);
    expect((await api(space, "DELETE", "/metrics/coins")).status).toBe(204);
  });

  it("every kind of reference blocks: trigger by id, segment in an audience or condition, ladder metric, webhook, streak", async () => {
    const space = await programmeSpace();
    await createDefinition(space, "webhooks", { id: "hook", url: "https://hooks.example.com/x", events: ["*"] });
    await createDefinition(space, "campaigns", {
      id: "c2",
      ...campaign(
        [
          { trigger: "buy", ...effectStep({ type: "webhook.send", webhook: "hook", payload: { user: "{{user.id}}" } }, { type: "streak.checkin", streak: "daily" }) },
          { trigger: { eventType: "purchase", conditions: { path: "user.segments", op: "contains", value: "vip" } } },
        ],
        { audience: { include: ["fans"] } },
      ),
    });
    const cases: Array<[DefinitionKind, string, Array<{ kind: string; id: string; path: string }>]> = [
      ["triggers", "buy", [{ kind: "campaigns", id: "c2", path: "steps[0].trigger" }]],
      ["webhooks", "hook", [{ kind: "campaigns", id: "c2", path: "steps[0].effects[0].webhook" }]],
      ["streaks", "daily", [{ kind: "campaigns", id: "c2", path: "steps[0].effects[1].streak" }]],
      ["segments", "vip", [{ kind: "campaigns", id: "c2", path: "steps[1].trigger.conditions.value" }]],
      ["segments", "fans", [{ kind: "campaigns", id: "c2", path: "audience.include[0]" }]],
      ["metrics", "xp", [{ kind: "ladders", id: "tiers", path: "metric" }]],
      ["metrics", "pts", [{ kind: "segments", id: "fans", path: "rule.path" }]],
    ];
    const before = await programmeState(space);
    for (const [kind, id, referrers] of cases) {
      const problem = await expectProblem(await api(space, "DELETE", `/${kind}/${id}`), 409, "in_use");
      expect(problem.referrers, `${kind}/${id}`).toEqual(referrers);
    }
    expect(await programmeState(space)).toEqual(before);
  });
});

describe("frozen fields: 409 frozen", () => {
  it.each<[string, DefinitionKind, Body, Body, string[]]>([
    ["a metric's kind", "metrics", { name: "M", kind: "currency" }, { kind: "gauge" }, ["kind"]],
    ["a ladder's metric", "ladders", { name: "L", metric: "xp", levels: [{ id: "a", name: "A", threshold: 0 }] }, { metric: "pts" }, ["metric"]],
    ["a ladder's basis", "ladders", { name: "L", metric: "xp", levels: [{ id: "a", name: "A", threshold: 0 }] }, { basis: "balance" }, ["basis"]],
    ["a streak's period", "streaks", { name: "S", period: "day" }, { period: "week" }, ["period"]],
    ["a streak's weekStart", "streaks", { name: "S", period: "week" }, { weekStart: "sunday" }, ["weekStart"]],
    ["a streak's timezoneMode", "streaks", { name: "S", period: "day" }, { timezoneMode: "fixed", timezone: "Europe/London" }, ["timezoneMode"]],
    ["a product's type", "products", { type: "reward", name: "P" }, { type: "item" }, ["type"]],
    ["a segment's type", "segments", { name: "S", type: "static" }, { type: "dynamic", rule: { path: "user.metrics.pts.balance", op: "gte", value: 1 } }, ["type"]],
  ])("%s (PATCH and PUT); other fields stay editable", async (_label, kind, body, change, paths) => {
    const space = await programmeSpace();
    const created = await createDefinition(space, kind, { id: "f", ...body });
    const before = await programmeState(space);
    await expectPaths(await api(space, "PATCH", `/${kind}/f`, change), 409, "frozen", paths);
    await expectPaths(await api(space, "PUT", `/${kind}/f`, { ...body, ...change }), 409, "frozen", paths);
    expect(await programmeState(space)).toEqual(before);
    const renamed = await api(space, "PATCH", `/${kind}/f`, { name: "Renamed" });
    expect(renamed.status, await renamed.clone().text()).toBe(200);
    expect(await json(renamed)).toMatchObject({ ...created, name: "Renamed", version: 2, updatedAt: expect.any(String) });
  });

  it("a trigger's eventType and conditions change freely while only draft campaigns use it, and are frozen once one is not", async () => {
    const space = await programmeSpace();
    await createDefinition(space, "triggers", { id: "t1", name: "T", eventType: "purchase" });
    await createDefinition(space, "campaigns", { id: "draft1", ...campaign([{ trigger: "t1" }]) });
    await createDefinition(space, "campaigns", { id: "live", ...campaign([{ trigger: "t1" }]) });

    expect((await api(space, "PATCH", "/triggers/t1", { eventType: "order" })).status).toBe(200);
    expect((await api(space, "PATCH", "/triggers/t1", { conditions: { path: "event.data.amount", op: "gte", value: 5 } })).status).toBe(200);

    expect((await api(space, "PATCH", "/campaigns/live", { status: "active" })).status).toBe(200);
    const before = await programmeState(space);
    await expectPaths(await api(space, "PATCH", "/triggers/t1", { eventType: "purchase" }), 409, "frozen", ["eventType"]);
    await expectPaths(await api(space, "PATCH", "/triggers/t1", { conditions: null }), 409, "frozen", ["conditions"]);
    await expectPaths(
      await api(space, "PUT", "/triggers/t1", { name: "T", eventType: "purchase", conditions: { path: "event.data.amount", op: "gte", value: 6 } }),
      409,
      "frozen",
      ["eventType", "conditions"],
    );
    expect(await programmeState(space)).toEqual(before);
    // Its name is not frozen.
    expect((await api(space, "PATCH", "/triggers/t1", { name: "Renamed" })).status).toBe(200);

    // Paused is not draft: still frozen. Archived referrers no longer count.
    expect((await api(space, "PATCH", "/campaigns/live", { status: "paused" })).status).toBe(200);
    await expectPaths(await api(space, "PATCH", "/triggers/t1", { eventType: "purchase" }), 409, "frozen", ["eventType"]);
    expect((await api(space, "DELETE", "/campaigns/live")).status).toBe(204);
    const changed = await api(space, "PATCH", "/triggers/t1", { eventType: "purchase" });
    expect(changed.status, await changed.clone().text()).toBe(200);
    expect((await json(changed)).eventType).toBe("purchase");
  });
});

describe("webhooks: the signing secret and the URL policy", () => {
  async function storedSecret(space: TestSpace, id: string): Promise<string | null | undefined> {
    const row = await env.DB.prepare("SELECT secret FROM definitions WHERE space_id = ? AND kind = 'webhooks' AND id = ?")
      .bind(space.id, id)
      .first<{ secret: string | null }>();
    return row?.secret;
  }

  it("the secret is answered on create only, never read back, and stored sealed", async () => {
    const space = await createSpace();
    const created = await createDefinition(space, "webhooks", { id: "h1", url: "https://hooks.example.com/a", events: ["*"] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const put = await api(space, "PUT", "/webhooks/h2", { url: "https://hooks.example.com/b", events: ["loyalty.user.created"] });
    expect(put.status).toBe(201);
    const second = await json(put);
    expect(second.secret).toMatch(/^whsec_/);
    expect(second.secret).not.toBe(created.secret);

    const texts = [
      await (await api(space, "GET", "/webhooks/h1")).text(),
      await (await api(space, "GET", "/webhooks?include=archived")).text(),
      await (await api(space, "GET", "/programme")).text(),
      await (await api(space, "PATCH", "/webhooks/h1", { enabled: false })).text(),
      await (await api(space, "PUT", "/webhooks/h2", { url: "https://hooks.example.com/c", events: ["*"] })).text(),
    ];
    for (const text of texts) {
      expect(text).not.toContain("whsec_");
      expect(text).not.toContain('"secret"');
    }
    const exported = await json(await api(space, "GET", "/programme"));
    expect(exported.webhooks).toEqual([
      { id: "h1", url: "https://hooks.example.com/a", events: ["*"], enabled: false, description: null },
      { id: "h2", url: "https://hooks.example.com/c", events: ["*"], enabled: true, description: null },
    ]);

    for (const [id, secret] of [["h1", created.secret], ["h2", second.secret]] as const) {
      const sealed = await storedSecret(space, id);
      expect(sealed).toMatch(/^v1\./);
      expect(sealed).not.toContain(secret);
      expect(sealed).not.toContain(secret.slice("whsec_".length));
    }
    // A replace keeps the stored secret; erasing the webhook drops it.
    const sealedBefore = await storedSecret(space, "h1");
    expect((await api(space, "PUT", "/webhooks/h1", { url: "https://hooks.example.com/z", events: ["*"] })).status).toBe(200);
    expect(await storedSecret(space, "h1")).toBe(sealedBefore);
    expect((await api(space, "DELETE", "/webhooks/h1")).status).toBe(204);
    expect(await storedSecret(space, "h1")).toBeNull();
  });

  it.each([
    ["plain http", "http://hooks.example.com/x"],
    ["a loopback literal", "https://127.0.0.1/"],
    ["a private literal", "https://10.0.0.8/hook"],
    ["the metadata address", "https://169.254.169.254/latest"],
    ["IPv6 loopback", "https://[::1]/"],
    ["localhost", "https://localhost/hook"],
    ["an .internal host", "https://api.internal/hook"],
  ])("%s is 422 invalid_definition at url (ALLOW_PRIVATE_WEBHOOK_TARGETS=false)", async (_label, url) => {
    const space = await createSpace();
    await createDefinition(space, "webhooks", { id: "ok", url: "https://hooks.example.com/x", events: ["*"] });
    const before = await programmeState(space);
    await expectPaths(await api(space, "POST", "/webhooks", { id: "bad", url, events: ["*"] }), 422, "invalid_definition", ["url"]);
    await expectPaths(await api(space, "PATCH", "/webhooks/ok", { url }), 422, "invalid_definition", ["url"]);
    expect(await programmeState(space)).toEqual(before);
    await expectProblem(await api(space, "GET", "/webhooks/bad"), 404, "not_found");
  });
});

describe("per-space limits (SPEC §10)", () => {
  it("with MAX_ACTIVE_CAMPAIGNS=2 the third activation is 409 limit_reached and nothing is stored", async () => {
    const app = newApp();
    const bindings = { ...env, MAX_ACTIVE_CAMPAIGNS: "2" };
    const send = async (slug: string, method: string, path: string, body?: unknown) =>
      app.fetch(
        new Request(`${BASE}${ADMIN}${path}`, {
          method,
          headers: { Authorization: `Bearer ${ROOT_KEY}`, "X-Loyalty-Space": slug, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        bindings,
        createExecutionContext(),
      );
    const space = await createSpace();
    for (const id of ["c1", "c2", "c3"]) {
      expect((await send(space.slug, "POST", "/campaigns", { id, ...campaign([{}]) })).status).toBe(201);
    }
    expect((await send(space.slug, "PATCH", "/campaigns/c1", { status: "active" })).status).toBe(200);
    expect((await send(space.slug, "PATCH", "/campaigns/c2", { status: "active" })).status).toBe(200);
    const before = await programmeState(space);

    const limited = await expectPaths(await send(space.slug, "PATCH", "/campaigns/c3", { status: "active" }), 409, "limit_reached", ["status"]);
    expect(limited.detail).toBe("at most 2 campaigns may be active in a space");
    await expectPaths(await send(space.slug, "POST", "/campaigns", { id: "c4", ...campaign([{}], { status: "active" }) }), 409, "limit_reached", ["status"]);
    await expectPaths(await send(space.slug, "PUT", "/campaigns/c5", campaign([{}], { status: "active" })), 409, "limit_reached", ["status"]);
    expect(await programmeState(space)).toEqual(before);
    expect((await readDefinition(space, "campaigns", "c3")).body).toMatchObject({ status: "draft", version: 1 });
    await expectProblem(await api(space, "GET", "/campaigns/c4"), 404, "not_found");
    await expectProblem(await api(space, "GET", "/campaigns/c5"), 404, "not_found");

    // Editing an active campaign is not another activation; a paused one frees a place.
    expect((await send(space.slug, "PATCH", "/campaigns/c1", { name: "Renamed" })).status).toBe(200);
    expect((await send(space.slug, "PATCH", "/campaigns/c2", { status: "paused" })).status).toBe(200);
    expect((await send(space.slug, "PATCH", "/campaigns/c3", { status: "active" })).status).toBe(200);
    // The deployment default (1,000) applies to the ordinary Worker.
    expect((await api(space, "PATCH", "/campaigns/c2", { status: "active" })).status).toBe(200);
  });
});

describe("definitions version (SPEC §5.9)", () => {
  it("moves by one per actual change, and not on no-ops or refused writes", async () => {
    const space = await programmeSpace();
    const start = await programmeVersion(space);
    const steps = async (expected: number) => expect(await programmeVersion(space)).toBe(start + expected);

    await createDefinition(space, "campaigns", { id: "c1", ...campaign([effectStep({ type: "metric.add", metric: "pts", amount: 1 })]) });
    await steps(1);
    const current = (await readDefinition(space, "campaigns", "c1")).body;
    const { id: _id, version: _v, createdAt: _c, updatedAt: _u, archivedAt: _a, ...body } = current;
    expect((await api(space, "PUT", "/campaigns/c1", body)).status).toBe(200);
    expect((await api(space, "PATCH", "/campaigns/c1", { priority: 0 })).status).toBe(200);
    expect((await api(space, "PATCH", "/campaigns/c1", { startsAt: null })).status).toBe(200);
    await steps(1);
    expect((await api(space, "PATCH", "/campaigns/c1", { status: "active" })).status).toBe(200);
    await steps(2);
    await expectProblem(await api(space, "PATCH", "/campaigns/c1", { steps: [] }), 400, "invalid_request");
    await expectProblem(await api(space, "PATCH", "/campaigns/c1", { audience: { include: ["nope"] } }), 422, "unknown_reference");
    await expectProblem(await api(space, "PATCH", "/campaigns/c1", { order: "any" }), 409, "campaign_frozen");
    await expectProblem(await api(space, "DELETE", "/metrics/pts"), 409, "in_use");
    await expectProblem(await api(space, "PATCH", "/campaigns/c1", { name: "x" }, { "If-Match": '"1"' }), 412, "precondition_failed");
    await steps(2);
    expect((await api(space, "PATCH", "/campaigns/c1", { status: "paused" })).status).toBe(200);
    await steps(3);
    expect((await api(space, "DELETE", "/campaigns/c1")).status).toBe(204);
    await steps(4);
    expect((await api(space, "DELETE", "/campaigns/c1")).status).toBe(204);
    await steps(4);
  });
});
