import { describe, expect, it } from "vitest";
import type { DefinitionInput } from "../../src/engine/compile";
import { levelRank } from "../../src/engine/run";
import type { EvaluationResult, Programme } from "../../src/engine/types";
import { laddersView } from "../../src/engine/views";
import { ladderSchema } from "../../src/definitions/kinds/ladders";
import { ladder, metric, oneStep, programmeOf, Sim } from "./builders";

// SPEC §4.4 (ladders) and §5.6 (loyalty.ladder.level_changed), pure: promotion, several
// thresholds crossed in one root event reported once with the final level, no demotion
// on spend, optional demotion, and lazy re-levelling when the thresholds change.

const TIERS = { bronze: 0, silver: 1000, gold: 5000 };
const earn = oneStep("earn", "earn", [{ type: "metric.add", metric: "points", amount: { path: "event.data.n" } }], { repeat: { limit: null } });
const programme = (thresholds: Record<string, number> = TIERS, body: Record<string, unknown> = {}, extra: DefinitionInput[] = []): Programme =>
  programmeOf([metric("points"), ladder("tiers", "points", thresholds, body), earn, ...extra]);

const changed = (r: EvaluationResult) => r.derived.filter((d) => d.type === "loyalty.ladder.level_changed").map((d) => d.data);
const change = (from: string, to: string, direction: "up" | "down") => ({ ladder: "tiers", from, to, direction });
const spend = (sim: Sim, amount: number) => sim.admin({ op: "adjust", metric: "points", amount: -amount, reason: "spend", keyId: null });
const view = (p: Programme, sim: Sim) => {
  const v = laddersView(p, sim.state)[0]!;
  return { level: v.level.id, next: v.next?.id ?? null, value: v.value, progress: v.progress };
};

describe("levelRank: the highest level whose threshold ≤ the basis value", () => {
  const body = (extra: Record<string, unknown> = {}) =>
    ladderSchema.parse({ name: "t", metric: "points", levels: Object.entries(TIERS).map(([id, threshold]) => ({ id, name: id, threshold })), ...extra });
  it.each<[name: string, extra: Record<string, unknown>, held: { balance: number; lifetime: number }, heldRank: number, rank: number]>([
    ["0 → bronze", {}, { balance: 0, lifetime: 0 }, 0, 0],
    ["999 → bronze", {}, { balance: 999, lifetime: 999 }, 0, 0],
    ["exactly 1000 → silver", {}, { balance: 1000, lifetime: 1000 }, 0, 1],
    ["4999 → silver", {}, { balance: 4999, lifetime: 4999 }, 0, 1],
    ["5000 → gold", {}, { balance: 5000, lifetime: 5000 }, 0, 2],
    ["lifetime basis reads lifetime, not balance", {}, { balance: 0, lifetime: 5000 }, 0, 2],
    ["balance basis reads balance", { basis: "balance" }, { balance: 999, lifetime: 5000 }, 0, 0],
    ["balance basis, no demotion: the held level is kept", { basis: "balance" }, { balance: 0, lifetime: 5000 }, 2, 2],
    ["balance basis, demotion: the level follows the balance", { basis: "balance", demotion: true }, { balance: 1000, lifetime: 5000 }, 2, 1],
    ["a negative balance with demotion → the first level", { basis: "balance", demotion: true }, { balance: -50, lifetime: 5000 }, 2, 0],
  ])("%s", (_name, extra, held, heldRank, rank) => expect(levelRank(body(extra), held, heldRank)).toBe(rank));
});

describe("promotion and multi-level jumps: one level_changed per root event, with the final level", () => {
  it.each<[name: string, credits: number[], levels: string[], events: Array<ReturnType<typeof change>[]>]>([
    ["below the first threshold: nothing", [999], ["bronze"], [[]]],
    ["exactly at a threshold: promoted", [1000], ["silver"], [[change("bronze", "silver", "up")]]],
    ["one step at a time", [600, 600, 3800], ["bronze", "silver", "gold"], [[], [change("bronze", "silver", "up")], [change("silver", "gold", "up")]]],
    ["bronze → gold in one event: reported once with the final level", [6000], ["gold"], [[change("bronze", "gold", "up")]]],
    ["past the top: stays at the top, no further events", [6000, 100000], ["gold", "gold"], [[change("bronze", "gold", "up")], []]],
  ])("%s", (_name, credits, levels, events) => {
    const sim = new Sim(programme());
    const seen: string[] = [];
    const got: unknown[] = [];
    for (const n of credits) {
      got.push(changed(sim.send("earn", { n })));
      seen.push(sim.state.ladders.tiers!);
    }
    expect([seen, got]).toEqual([levels, events]);
    sim.assertLedger();
  });

  it("several effects (and a cascade) of one root event crossing two thresholds: one event, bronze → gold", () => {
    const p = programme(TIERS, {}, [
      oneStep("double", "double", [
        { type: "metric.add", metric: "points", amount: 3000 },
        { type: "metric.add", metric: "points", amount: 1000 },
      ]),
      oneStep("bonus", "loyalty.campaign.completed", [{ type: "metric.add", metric: "points", amount: 1000 }], {}, { path: "event.data.campaign", op: "eq", value: "double" }),
    ]);
    const sim = new Sim(p);
    const r = sim.send("double");
    expect([sim.state.metrics.points, sim.state.ladders.tiers]).toEqual([{ balance: 5000, lifetime: 5000 }, "gold"]);
    expect(changed(r)).toEqual([change("bronze", "gold", "up")]);
    expect(r.outcome.changes.filter((c) => c.type === "ladder")).toEqual([{ type: "ladder", ladder: "tiers", from: "bronze", to: "gold" }]);
  });
});

describe("spending never demotes unless the ladder says so", () => {
  it.each<[name: string, body: Record<string, unknown>, levels: string[], events: Array<ReturnType<typeof change>[]>]>([
    ["basis lifetime (default), demotion false", {}, ["gold", "gold"], [[change("bronze", "gold", "up")], []]],
    ["basis lifetime, demotion true: lifetime does not drop on spend", { demotion: true }, ["gold", "gold"], [[change("bronze", "gold", "up")], []]],
    ["basis balance, demotion false: the level once reached is kept", { basis: "balance" }, ["gold", "gold"], [[change("bronze", "gold", "up")], []]],
    ["basis balance, demotion true: gold → bronze in one event, direction down", { basis: "balance", demotion: true }, ["gold", "bronze"], [[change("bronze", "gold", "up")], [change("gold", "bronze", "down")]]],
  ])("%s", (_name, body, levels, events) => {
    const sim = new Sim(programme(TIERS, body));
    const seen: string[] = [];
    const got: unknown[] = [];
    got.push(changed(sim.send("earn", { n: 6000 })));
    seen.push(sim.state.ladders.tiers!);
    const spent = spend(sim, 5500);
    expect(spent.refused).toBeUndefined();
    got.push(changed(spent.result!));
    seen.push(sim.state.ladders.tiers!);
    expect([seen, got]).toEqual([levels, events]);
    expect(sim.state.metrics.points).toEqual({ balance: 500, lifetime: 6000 });
    sim.assertLedger();
  });

  it("with demotion: a partial spend steps down one level, earning again steps back up", () => {
    const sim = new Sim(programme(TIERS, { basis: "balance", demotion: true }));
    const got = [changed(sim.send("earn", { n: 5000 })), changed(spend(sim, 1).result!), changed(spend(sim, 4000).result!), changed(sim.send("earn", { n: 4001 }))];
    expect(got).toEqual([[change("bronze", "gold", "up")], [change("gold", "silver", "down")], [change("silver", "bronze", "down")], [change("bronze", "gold", "up")]]);
    expect(sim.state.metrics.points).toEqual({ balance: 5000, lifetime: 9001 });
  });
});

describe("lazy re-levelling: a threshold change reaches a user on their next read or event", () => {
  // v1: the user reaches silver with 1500 lifetime points.
  const start = (body: Record<string, unknown> = {}) => {
    const sim = new Sim(programme(TIERS, body));
    sim.send("earn", { n: 1500 }, { at: "2026-11-25T10:00:00.000Z" });
    expect(sim.state.ladders.tiers).toBe("silver");
    return sim;
  };

  it.each<[name: string, body: Record<string, unknown>, thresholds: Record<string, number>, viewed: ReturnType<typeof view>, events: unknown[]]>([
    [
      "thresholds lowered: promoted to gold",
      {}, { bronze: 0, silver: 500, gold: 1200 },
      { level: "gold", next: null, value: 1500, progress: 1 },
      [change("silver", "gold", "up")],
    ],
    [
      "a level added below the value: promoted to it",
      {}, { bronze: 0, silver: 1000, gold: 1400, platinum: 5000 },
      { level: "gold", next: "platinum", value: 1500, progress: 0.1 / 3.6 },
      [change("silver", "gold", "up")],
    ],
    [
      "thresholds raised, no demotion: silver is kept",
      {}, { bronze: 0, silver: 2000, gold: 5000 },
      { level: "silver", next: "gold", value: 1500, progress: 0 },
      [],
    ],
    [
      "thresholds raised, balance basis with demotion: demoted to bronze",
      { basis: "balance", demotion: true }, { bronze: 0, silver: 2000, gold: 5000 },
      { level: "bronze", next: "silver", value: 1500, progress: 0.75 },
      [change("silver", "bronze", "down")],
    ],
  ])("%s", (_name, body, thresholds, viewed, events) => {
    const sim = start(body);
    const v2 = programme(thresholds, body);
    // The read shows the new level before any event; nothing is stored by reading.
    expect(view(v2, sim)).toEqual({ ...viewed, progress: expect.closeTo(viewed.progress, 12) });
    expect(sim.state.ladders.tiers).toBe("silver");
    // The next event (even one no campaign matches) re-levels and emits the change.
    const next = new Sim(v2, "u1", sim.state);
    const r = next.send("ping", {}, { at: "2026-11-26T10:00:00.000Z" });
    expect(changed(r)).toEqual(events);
    expect(next.state.ladders.tiers).toBe(viewed.level);
    expect(view(v2, next)).toEqual({ ...viewed, progress: expect.closeTo(viewed.progress, 12) });
  });

  it("a later credit in the same event as the re-levelling is still one event, from the stored level to the final one", () => {
    const sim = start();
    const next = new Sim(programme({ bronze: 0, silver: 500, gold: 1200, platinum: 3000 }), "u1", sim.state);
    const r = next.send("earn", { n: 2000 }, { at: "2026-11-26T10:00:00.000Z" });
    expect(changed(r)).toEqual([change("silver", "platinum", "up")]);
  });
});
