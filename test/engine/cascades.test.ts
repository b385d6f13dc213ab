import { afterEach, describe, expect, it } from "vitest";
import type { DefinitionInput } from "../../src/engine/compile";
import type { EvaluationResult } from "../../src/engine/types";
import { AT, campaign, derivedTypes, ladder, metric, oneStep, product, programmeOf, segment, Sim } from "./builders";

// SPEC §5.2 step 4–5, §5.6, §4.4, §4.3: derived events, their ids and depths, the
// cascade guards, ladders and dynamic segments recomputed inside one root event.

const BASE: DefinitionInput[] = [metric("points"), metric("xp", { kind: "counter" }), product("badge", { type: "badge" }), product("ticket")];
const credit = (metricId: string, amount: number) => ({ type: "metric.add", metric: metricId, amount });
const emit = (eventType: string) => ({ type: "event.emit", eventType });
const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));

const sims: Sim[] = [];
afterEach(() => {
  for (const sim of sims.splice(0)) sim.assertLedger();
});
function simOf(defs: DefinitionInput[]): Sim {
  const sim = new Sim(programmeOf([...BASE, ...defs]), "u1", { createdAt: "2026-01-01T00:00:00.000Z" });
  sims.push(sim);
  return sim;
}
const ids = (r: EvaluationResult) => r.outcome.derivedEvents.map((d) => [d.id, d.type, d.depth]);

describe("derived events: ids {root}#{n} breadth-first, depth = parent + 1", () => {
  it("a two-level cascade", () => {
    const sim = simOf([oneStep("p", "x", [emit("y")]), oneStep("q", "y", [emit("z")])]);
    expect(ids(sim.send("x", {}, { id: "x1" }))).toEqual([
      ["x1#1", "y", 1],
      ["x1#2", "loyalty.step.completed", 1],
      ["x1#3", "loyalty.campaign.completed", 1],
      ["x1#4", "z", 2],
      ["x1#5", "loyalty.step.completed", 2],
      ["x1#6", "loyalty.campaign.completed", 2],
    ]);
  });

  it("loyalty.user.created comes first for a new user, once, with createdAt = the earliest occurredAt", () => {
    const sim = new Sim(programmeOf([...BASE, segment("old", { path: "user.createdAt", op: "lt", value: "2026-01-01T00:00:00Z" })]));
    sims.push(sim);
    let r = sim.send("hello", {}, { id: "h1", at: "2026-11-25T10:00:00.000Z" });
    expect(ids(r)).toEqual([["h1#1", "loyalty.user.created", 1]]);
    expect(r.derived[0]!.data).toEqual({ attributes: {} });
    expect([sim.state.createdAt, sim.state.lastSeenAt]).toEqual(["2026-11-25T10:00:00.000Z", "2026-11-25T10:00:00.000Z"]);
    r = sim.send("hello", {}, { id: "h2", at: "2025-06-01T00:00:00.000Z", now: Date.parse(AT) + 1000 });
    expect(ids(r)).toEqual([["h2#1", "loyalty.segment.entered", 1]]);
    expect([sim.state.createdAt, sim.state.lastSeenAt, sim.state.dynamicSegments]).toEqual(["2025-06-01T00:00:00.000Z", "2026-11-25T10:00:01.000Z", ["old"]]);
    r = sim.send("hello", {}, { id: "h3", at: "2026-11-26T00:00:00.000Z" });
    expect([ids(r), sim.state.createdAt]).toEqual([[], "2025-06-01T00:00:00.000Z"]);
  });
});

describe("campaigns triggered by derived events", () => {
  const defs = [
    ladder("tiers", "xp", { bronze: 0, silver: 100, gold: 500, platinum: 1000 }),
    oneStep("earn", "earn", [{ type: "metric.add", metric: "xp", amount: { path: "event.data.xp" } }], { repeat: { limit: null } }),
    oneStep("gold-bonus", "loyalty.ladder.level_changed", [{ type: "product.grant", product: "badge" }], {}, { path: "event.data.to", op: "eq", value: "gold" }),
    oneStep("meta", "loyalty.campaign.completed", [credit("points", 5)], { repeat: { limit: null } }, { path: "event.data.campaign", op: "eq", value: "earn" }),
  ];
  it.each<[name: string, xp: number, to: string | null, badge: boolean]>([
    ["several thresholds crossed: one level_changed with the final level", 600, "gold", true],
    ["one threshold", 150, "silver", false],
    ["no threshold", 50, null, false],
    ["past the top", 5000, "platinum", false],
  ])("%s", (_name, xp, to, badge) => {
    const sim = simOf(defs);
    const r = sim.send("earn", { xp });
    const changed = r.derived.filter((d) => d.type === "loyalty.ladder.level_changed");
    expect(changed.map((d) => d.data)).toEqual(to ? [{ ladder: "tiers", from: "bronze", to, direction: "up" }] : []);
    expect(r.outcome.changes.filter((c) => c.type === "ladder")).toEqual(to ? [{ type: "ladder", ladder: "tiers", from: "bronze", to }] : []);
    expect(changed.map((d) => d.depth)).toEqual(to ? [1] : []);
    expect(sim.state.products.badge).toBe(badge ? 1 : undefined);
    if (to && !badge) expect(r.outcome.explain).toContainEqual({ campaign: "gold-bonus", step: "s", reason: "condition_false", path: "event.data.to", op: "eq", actual: to });
    expect(sim.state.metrics.points).toEqual({ balance: 5, lifetime: 5 });
  });
});

describe("ladders: demotion and basis", () => {
  const levels = { bronze: 0, silver: 100, gold: 500 };
  it.each<[name: string, body: Record<string, unknown>, steps: number[], levelsSeen: string[], changes: Array<[string, string, string]>]>([
    ["lifetime basis: spending never demotes", { demotion: true }, [200, -150], ["silver", "silver"], [["bronze", "silver", "up"]]],
    ["balance basis, demotion false: the level is kept", { basis: "balance" }, [200, -150], ["silver", "silver"], [["bronze", "silver", "up"]]],
    ["balance basis, demotion true: demoted", { basis: "balance", demotion: true }, [200, -150], ["silver", "bronze"], [["bronze", "silver", "up"], ["silver", "bronze", "down"]]],
    ["balance basis, demotion true, from gold to silver", { basis: "balance", demotion: true }, [600, -300], ["gold", "silver"], [["bronze", "gold", "up"], ["gold", "silver", "down"]]],
  ])("%s", (_name, body, amounts, levelsSeen, changes) => {
    const sim = simOf([ladder("tiers", "points", levels, body), oneStep("move", "move", [{ type: "metric.add", metric: "points", amount: { path: "event.data.n", min: -1000 } }], { repeat: { limit: null } })]);
    const seen: string[] = [];
    const got: unknown[] = [];
    for (const n of amounts) {
      const r = sim.send("move", { n });
      seen.push(sim.state.ladders.tiers!);
      got.push(...r.derived.filter((d) => d.type === "loyalty.ladder.level_changed").map((d) => d.data));
    }
    expect(seen).toEqual(levelsSeen);
    expect(got).toEqual(changes.map(([from, to, direction]) => ({ ladder: "tiers", from, to, direction })));
  });

  it("up and back down within one root event emits nothing", () => {
    const sim = simOf([ladder("tiers", "points", levels, { basis: "balance", demotion: true }), oneStep("c", "x", [credit("points", 600), credit("points", -600)])]);
    const r = sim.send("x");
    expect([sim.state.ladders.tiers, derivedTypes(r).filter((t) => t.startsWith("loyalty.ladder"))]).toEqual(["bronze", []]);
  });
});

describe("dynamic segments", () => {
  const rich = segment("rich", { path: "user.metrics.points.balance", op: "gte", value: 100 });
  it("are re-evaluated after a change they read, with entered/left events", () => {
    const sim = simOf([rich, oneStep("c", "move", [{ type: "metric.add", metric: "points", amount: { path: "event.data.n", min: -1000 } }], { repeat: { limit: null } })]);
    const got = [99, 1, 50, -60, 5].map((n) => {
      const r = sim.send("move", { n });
      return [sim.state.dynamicSegments, r.derived.filter((d) => d.type.startsWith("loyalty.segment.")).map((d) => [d.type, d.data])];
    });
    expect(got).toEqual([
      [[], []],
      [["rich"], [["loyalty.segment.entered", { segment: "rich" }]]],
      [["rich"], []],
      [[], [["loyalty.segment.left", { segment: "rich" }]]],
      [[], []],
    ]);
  });
  it("are evaluated when the user is created", () => {
    const sim = new Sim(programmeOf([...BASE, segment("newbie", { path: "user.metrics.points.balance", op: "lt", value: 50 }), rich]));
    sims.push(sim);
    const r = sim.send("hello", {}, { id: "h1" });
    expect(ids(r)).toEqual([["h1#1", "loyalty.user.created", 1], ["h1#2", "loyalty.segment.entered", 1]]);
    expect([sim.state.dynamicSegments, ids(sim.send("hello", {}, { id: "h2" }))]).toEqual([["newbie"], []]);
  });
  it("a segment on an attribute follows attribute.set", () => {
    const fr = segment("fr", { path: "user.attributes.country", op: "eq", value: "FR" });
    const sim = simOf([fr, oneStep("c", "move", [{ type: "attribute.set", key: "country", value: "{{event.data.c}}" }], { repeat: { limit: null } })]);
    expect(["FR", "DE"].map((c) => derivedTypes(sim.send("move", { c })).filter((t) => t.startsWith("loyalty.segment")))).toEqual([["loyalty.segment.entered"], ["loyalty.segment.left"]]);
  });
});

describe("the once-per-root guard and the cascade limits", () => {
  it("a (campaign, step) counts at most once per root event", () => {
    const sim = simOf([oneStep("c", "x", [credit("points", 1), credit("points", 2)]), campaign("tally", [{ on: "loyalty.metric.changed", target: 5 }])]);
    const r = sim.send("x");
    expect(r.outcome.steps.filter((s) => s.campaign === "tally")).toEqual([{ campaign: "tally", step: "s1", progress: 1, target: 5, completed: false }]);
    expect(r.outcome.explain!.filter((e) => e.campaign === "tally")).toEqual([{ campaign: "tally", step: "s1", reason: "already_counted" }]);
    // Hitting a guard sets cascadeLimited (SPEC §5.2 step 4), even when nothing loops.
    expect([r.outcome.cascadeLimited, r.outcome.changes]).toEqual([true, [{ type: "cascade_limit", reason: "step_counted" }]]);
  });

  it("two campaigns emitting each other's events stop, flagged, without throwing", () => {
    const sim = simOf([oneStep("ping", "ping", [emit("pong")], { repeat: { limit: null } }), oneStep("pong", "pong", [emit("ping")], { repeat: { limit: null } })]);
    const r = sim.send("ping", {}, { id: "p" });
    expect(r.outcome.steps.map((s) => s.campaign)).toEqual(["ping", "pong"]);
    expect(r.outcome.cascadeLimited).toBe(true);
    expect(r.outcome.changes).toEqual([{ type: "cascade_limit", reason: "step_counted" }]);
    expect(r.outcome.explain).toContainEqual({ campaign: "ping", step: "s", reason: "already_counted" });
    expect(r.outcome.derivedEvents.filter((d) => !d.type.startsWith("loyalty.")).map((d) => [d.id, d.type, d.depth])).toEqual([
      ["p#1", "pong", 1],
      ["p#4", "ping", 2],
    ]);
    expect(sim.state.campaigns).toMatchObject({ ping: { completions: 1 }, pong: { completions: 1 } });
  });

  it("a chain deeper than 8 is cut: depth-9 events are recorded, not evaluated", () => {
    const chain = many(10, (i) => oneStep(`c${i}`, `t${i}`, [emit(`t${i + 1}`)]));
    const r = simOf(chain).send("t0", {}, { id: "t" });
    expect(r.outcome.steps.map((s) => s.campaign)).toEqual(many(9, (i) => `c${i}`));
    expect(r.outcome.cascadeLimited).toBe(true);
    // c8 (depth 8) emits t9, step.completed and campaign.completed at depth 9: three cuts.
    const deepest = r.outcome.derivedEvents.filter((d) => d.depth === 9).map((d) => d.type);
    expect(deepest).toEqual(["t9", "loyalty.step.completed", "loyalty.campaign.completed"]);
    expect(r.outcome.changes).toEqual(deepest.map(() => ({ type: "cascade_limit", reason: "depth" })));
    expect(Math.max(...r.outcome.derivedEvents.map((d) => d.depth))).toBe(9);
  });

  it.each<[name: string, campaigns: number, effect: Record<string, unknown>, reason: string]>([
    ["≤ 256 derived events", 14, { type: "product.grant", product: "ticket" }, "derived_events"],
    ["≤ 512 effects", 26, { type: "product.revoke", product: "badge" }, "effects"],
    ["≤ 50 outbound messages", 3, { type: "push.send", title: "t", body: "b" }, "outbound_messages"],
  ])("%s", (_name, n, effect, reason) => {
    const defs = many(n, (i) => oneStep(`c${String(i).padStart(2, "0")}`, "go", many(20, () => effect)));
    let r: EvaluationResult | undefined;
    expect(() => (r = simOf(defs).send("go"))).not.toThrow();
    expect(r!.outcome.cascadeLimited).toBe(true);
    expect(r!.outcome.changes).toContainEqual({ type: "cascade_limit", reason });
    if (reason === "derived_events") expect(r!.derived.length).toBe(256);
    if (reason === "effects") {
      expect(r!.outcome.effects.filter((e) => e.reason !== "cascade_limit").length).toBe(512);
      expect(r!.outcome.effects.filter((e) => e.reason === "cascade_limit").length).toBe(n * 20 - 512);
    }
    if (reason === "outbound_messages") {
      expect(r!.outbox.length).toBe(50);
      expect(r!.outcome.effects.filter((e) => e.reason === "cascade_limit").length).toBe(10);
    }
  });
});
