import { afterEach, describe, expect, it } from "vitest";
import type { DefinitionInput } from "../../src/engine/compile";
import { adoptCampaignChanges, applyEvent } from "../../src/engine/evaluate";
import { emptyUserState, type CampaignState, type EvaluationResult } from "../../src/engine/types";
import { AT, campaign, DAY, iso, metric, oneStep, programmeOf, segment, Sim, trigger, type StepSpec } from "./builders";

// SPEC §4.7 and §5.2: every campaign option through applyEvent.

const BASE: DefinitionInput[] = [
  metric("points"),
  metric("xp", { kind: "counter" }),
  segment("vip"),
  segment("staff"),
  segment("rich", { path: "user.metrics.points.balance", op: "gte", value: 100 }),
];
const credit = (metricId: string, amount: number) => ({ type: "metric.add", metric: metricId, amount });

const sims: Sim[] = [];
afterEach(() => {
  for (const sim of sims.splice(0)) sim.assertLedger();
});
function simOf(defs: DefinitionInput[], init: ConstructorParameters<typeof Sim>[2] = {}, zone = "UTC"): Sim {
  const sim = new Sim(programmeOf([...BASE, ...defs], zone), "u1", init);
  sims.push(sim);
  return sim;
}
const counted = (r: EvaluationResult, id = "c") => r.outcome.steps.some((s) => s.campaign === id);
const explained = (r: EvaluationResult, id = "c") => r.outcome.explain!.filter((e) => e.campaign === id);
const reasons = (r: EvaluationResult, id = "c") => explained(r, id).map((e) => e.reason);

describe("status", () => {
  it.each<[status: string, counts: boolean, explain: string[]]>([
    ["active", true, []],
    ["paused", false, ["not_active"]],
    ["draft", false, []],
    ["archived", false, []],
  ])("%s", (status, counts, explain) => {
    const sim = simOf([oneStep("c", "go", [credit("points", 5)], { status })]);
    const r = sim.send("go");
    expect([counted(r), reasons(r)]).toEqual([counts, explain]);
    expect(sim.state.metrics.points?.balance ?? 0).toBe(counts ? 5 : 0);
  });
});

describe("window: startsAt ≤ occurredAt < endsAt, processed before acceptLateUntil (default endsAt + 7 d)", () => {
  const S = "2026-11-20T00:00:00.000Z";
  const E = "2026-11-30T00:00:00.000Z";
  const ms = Date.parse;
  it.each<[name: string, window: Record<string, string>, occurredAt: string, now: number, counts: boolean]>([
    ["before startsAt", { startsAt: S }, iso(ms(S) - 1), ms(S), false],
    ["at startsAt", { startsAt: S }, S, ms(S), true],
    ["just before endsAt", { endsAt: E }, iso(ms(E) - 1), ms(E) - 1, true],
    ["at endsAt", { endsAt: E }, E, ms(E), false],
    ["processed 7 days after endsAt, less 1 ms", { endsAt: E }, iso(ms(E) - 1), ms(E) + 7 * DAY - 1, true],
    ["processed 7 days after endsAt", { endsAt: E }, iso(ms(E) - 1), ms(E) + 7 * DAY, false],
    ["acceptLateUntil replaces the default", { endsAt: E, acceptLateUntil: "2026-12-01T00:00:00Z" }, iso(ms(E) - 1), ms("2026-12-01T00:00:00Z"), false],
    ["acceptLateUntil can extend it", { endsAt: E, acceptLateUntil: "2026-12-31T00:00:00Z" }, iso(ms(E) - 1), ms("2026-12-30T00:00:00Z"), true],
    ["acceptLateUntil without endsAt is judged on now", { acceptLateUntil: "2026-11-26T00:00:00Z" }, S, ms("2026-11-26T00:00:00Z"), false],
    ["acceptLateUntil without endsAt, before it", { acceptLateUntil: "2026-11-26T00:00:00Z" }, S, ms("2026-11-25T23:59:59Z"), true],
    ["no window at all", {}, "2020-01-01T00:00:00.000Z", ms("2030-01-01T00:00:00Z"), true],
  ])("%s", (_name, window, occurredAt, now, counts) => {
    const r = simOf([oneStep("c", "go", [], window)]).send("go", {}, { at: occurredAt, now });
    expect([counted(r), reasons(r)]).toEqual([counts, counts ? [] : ["outside_window"]]);
  });
});

describe("audience: in an include segment (if any) and in no exclude segment, at processing time", () => {
  it.each<[include: string[], exclude: string[], member: string[], counts: boolean]>([
    [[], [], [], true],
    [["vip"], [], [], false],
    [["vip"], [], ["vip"], true],
    [["vip", "staff"], [], ["staff"], true],
    [[], ["staff"], ["staff"], false],
    [[], ["staff"], ["vip"], true],
    [["vip"], ["staff"], ["vip", "staff"], false],
    [["rich"], [], [], false],
  ])("include %j exclude %j, member of %j → %s", (include, exclude, member, counts) => {
    const r = simOf([oneStep("c", "go", [], { audience: { include, exclude } })], { staticSegments: member }).send("go");
    expect([counted(r), reasons(r)]).toEqual([counts, counts ? [] : ["not_in_audience"]]);
  });

  it("a dynamic segment entered earlier in the same event admits the user", () => {
    const sim = simOf([oneStep("giver", "go", [credit("points", 100)], { priority: 10 }), oneStep("c", "go", [], { audience: { include: ["rich"] } })]);
    const r = sim.send("go");
    expect(r.outcome.steps.map((s) => s.campaign)).toEqual(["giver", "c"]);
    expect(sim.state.dynamicSegments).toEqual(["rich"]);
  });
});

describe("priority: higher first, ties by id", () => {
  const rich = { path: "user.metrics.points.balance", op: "gte", value: 100 } as const;
  it.each<[giver: string, giverPriority: number, checker: string, checkerPriority: number, checkerCounts: boolean]>([
    ["giver", 10, "checker", 0, true],
    ["giver", -1, "checker", 0, false],
    ["a-giver", 0, "b-checker", 0, true],
    ["z-giver", 0, "b-checker", 0, false],
    ["z-giver", 1, "b-checker", 0, true],
  ])("%s (%s) and %s (%s)", (giver, gp, checker, cp, checkerCounts) => {
    const sim = simOf([oneStep(giver, "buy", [credit("points", 100)], { priority: gp }), oneStep(checker, "buy", [credit("xp", 1)], { priority: cp }, rich)]);
    const r = sim.send("buy");
    expect(counted(r, checker)).toBe(checkerCounts);
    if (!checkerCounts) expect(explained(r, checker)).toEqual([{ campaign: checker, step: "s", reason: "condition_false", path: rich.path, op: "gte", actual: 0 }]);
    expect(r.outcome.steps.map((s) => s.campaign)).toEqual(checkerCounts ? [giver, checker] : [giver]);
  });
});

describe("triggers", () => {
  it("a step may reference a trigger definition, with its conditions", () => {
    const sim = simOf([
      trigger("big", "purchase", { path: "event.data.amount", op: "gte", value: 50 }),
      campaign("c", [{ id: "s", name: "s", trigger: "big", effects: [credit("points", 1)] }], { repeat: { limit: null } }),
    ]);
    expect([49, 50, "50"].map((amount) => counted(sim.send("purchase", { amount })))).toEqual([false, true, false]);
    expect(explained(sim.send("purchase", { amount: 1 }))).toEqual([{ campaign: "c", step: "s", reason: "condition_false", path: "event.data.amount", op: "gte", actual: 1 }]);
  });
});

describe("order", () => {
  const three: StepSpec[] = [{ on: "x" }, { on: "x" }, { on: "x" }];
  it("sequential: one step per event; the event completing step 1 does not count for step 2", () => {
    const sim = simOf([campaign("c", three)]);
    const got = [1, 2, 3].map(() => sim.send("x")).map((r) => [r.outcome.steps.map((s) => s.step), reasons(r)]);
    expect(got).toEqual([
      [["s1"], ["not_next_step", "not_next_step"]],
      [["s2"], ["already_counted", "not_next_step"]],
      [["s3"], ["already_counted", "already_counted"]],
    ]);
    expect(sim.state.campaigns.c!.completions).toBe(1);
  });
  it("sequential: a later step's event before its turn is not counted", () => {
    const sim = simOf([campaign("c", [{ on: "a", target: 2 }, { on: "b" }])]);
    expect(reasons(sim.send("b"))).toEqual(["not_next_step"]);
    sim.send("a");
    expect(reasons(sim.send("b"))).toEqual(["not_next_step"]);
    sim.send("a");
    expect(sim.send("b").outcome.campaignsCompleted).toEqual([{ campaign: "c", completions: 1 }]);
  });
  it("any: one event advances every matching step", () => {
    const r = simOf([campaign("c", three, { order: "any" })]).send("x");
    expect(r.outcome.steps.map((s) => [s.step, s.completed])).toEqual([["s1", true], ["s2", true], ["s3", true]]);
    expect(r.outcome.campaignsCompleted).toEqual([{ campaign: "c", completions: 1 }]);
  });
  it("any: steps on different events complete in any order", () => {
    const sim = simOf([campaign("c", [{ on: "a" }, { on: "b" }], { order: "any" })]);
    expect(sim.send("b").outcome.steps).toEqual([{ campaign: "c", step: "s2", progress: 1, target: 1, completed: true }]);
    expect(sim.send("a").outcome.campaignsCompleted).toEqual([{ campaign: "c", completions: 1 }]);
  });
});

describe("target and measure", () => {
  it("target counts matching events", () => {
    const sim = simOf([campaign("c", [{ on: "x", target: 3 }])]);
    expect([1, 2, 3].map(() => sim.send("x").outcome.steps[0]!.progress)).toEqual([1, 2, 3]);
  });
  it("measure sums event.data.amount; overshoot is not carried into the next round", () => {
    const sim = simOf([campaign("c", [{ on: "spend", target: 200, measure: "event.data.amount", effects: [credit("points", 1)] }], { repeat: { limit: null } })]);
    const progress = [50, 100, 80, 30, 12.5].map((amount) => sim.send("spend", { amount }).outcome.steps[0]);
    expect(progress.map((s) => [s!.progress, s!.completed])).toEqual([[50, false], [150, false], [200, true], [30, false], [42.5, false]]);
  });
  it.each<[name: string, data: Record<string, unknown>, actual: unknown]>([
    ["a numeric string", { amount: "50" }, "50"],
    ["missing", {}, null],
    ["null", { amount: null }, null],
    ["zero", { amount: 0 }, 0],
    ["negative", { amount: -5 }, -5],
    ["an object", { amount: { v: 1 } }, { v: 1 }],
  ])("a measure that is %s is not counted", (_name, data, actual) => {
    const r = simOf([campaign("c", [{ on: "spend", target: 200, measure: "event.data.amount" }])]).send("spend", data);
    expect(r.outcome.steps).toEqual([]);
    expect(explained(r)).toEqual([{ campaign: "c", step: "s1", reason: "condition_false", path: "event.data.amount", op: "measure", actual }]);
  });
});

describe("repeat", () => {
  const day = (d: number, h = 10) => `2026-11-${String(d).padStart(2, "0")}T${String(h).padStart(2, "0")}:00:00.000Z`;
  it.each<[name: string, repeat: Record<string, unknown>, ats: string[], completions: number[], exhausted: boolean[]]>([
    ["default: once", {}, [day(25), day(25), day(26)], [1, 1, 1], [false, true, true]],
    ["limit null: unlimited", { limit: null }, [day(25), day(25), day(25), day(25), day(25)], [1, 2, 3, 4, 5], [false, false, false, false, false]],
    ["total caps a lifetime", { limit: null, total: 3 }, [day(25), day(25), day(25), day(25)], [1, 2, 3, 3], [false, false, false, true]],
    ["limit 2 per day", { limit: 2, every: "day" }, [day(25), day(25, 11), day(25, 23), day(26, 0), day(26, 1)], [1, 2, 2, 3, 4], [false, false, true, false, false]],
    ["limit 1 per day with a total", { limit: 1, every: "day", total: 2 }, [day(25), day(26), day(27)], [1, 2, 2], [false, false, true]],
    ["limit 1 per (ISO) week", { limit: 1, every: "week" }, [day(29), day(29, 23), day(30, 0)], [1, 1, 2], [false, true, false]],
  ])("%s", (_name, repeat, ats, completions, exhausted) => {
    const sim = simOf([oneStep("c", "go", [credit("points", 1)], { repeat })]);
    const got = ats.map((at) => {
      const r = sim.send("go", {}, { at });
      return [sim.state.campaigns.c!.completions, reasons(r).includes("repeat_exhausted")];
    });
    expect(got).toEqual(completions.map((n, i) => [n, exhausted[i]]));
    expect(sim.state.metrics.points!.balance).toBe(completions.at(-1));
  });

  // 18:00Z is 23:45 in Kathmandu (+5:45); 18:15Z is already the next local day. In
  // Kiritimati (+14) Monday 2026-11-23 (ISO week 48) starts at 2026-11-22T10:00Z.
  it.each<[name: string, every: string, userZone: string | null, spaceZone: string, first: string, second: string, secondCompletes: boolean]>([
    ["the user's zone decides the day", "day", "Asia/Kathmandu", "UTC", "2026-11-24T18:00:00.000Z", "2026-11-24T18:15:00.000Z", true],
    ["else the space's zone", "day", null, "Asia/Kathmandu", "2026-11-24T18:00:00.000Z", "2026-11-24T18:15:00.000Z", true],
    ["the user's zone wins over the space's", "day", "UTC", "Asia/Kathmandu", "2026-11-24T18:00:00.000Z", "2026-11-24T18:15:00.000Z", false],
    ["UTC without either", "day", null, "UTC", "2026-11-24T18:00:00.000Z", "2026-11-24T18:15:00.000Z", false],
    ["the user's zone decides the week", "week", "Pacific/Kiritimati", "UTC", "2026-11-22T09:59:59.999Z", "2026-11-22T10:00:00.000Z", true],
    ["the same instants are one UTC week", "week", null, "UTC", "2026-11-22T09:59:59.999Z", "2026-11-22T10:00:00.000Z", false],
    ["a London day is 23 hours on 2026-03-29", "day", "Europe/London", "UTC", "2026-03-29T00:00:00.000Z", "2026-03-29T23:00:00.000Z", true],
  ])("%s", (_name, every, userZone, spaceZone, first, second, secondCompletes) => {
    const sim = simOf([oneStep("c", "go", [], { repeat: { limit: 1, every } })], { timezone: userZone, createdAt: "2026-01-01T00:00:00.000Z" }, spaceZone);
    expect(sim.send("go", {}, { at: first }).outcome.campaignsCompleted.length).toBe(1);
    const r = sim.send("go", {}, { at: second });
    expect([r.outcome.campaignsCompleted.length, reasons(r)]).toEqual(secondCompletes ? [1, []] : [0, ["repeat_exhausted"]]);
  });

  it("progress resets at the period boundary; an event for an older period is late", () => {
    const sim = simOf([campaign("c", [{ on: "go", target: 3 }], { repeat: { limit: 1, every: "day" } })]);
    expect([day(25, 9), day(25, 23), day(26, 0)].map((at) => sim.send("go", {}, { at }).outcome.steps[0]!.progress)).toEqual([1, 2, 1]);
    expect(sim.state.campaigns.c).toEqual({ completions: 0, period: "2026-11-26", periodCompletions: 0, progress: { s1: 1 } });
    const late = sim.send("go", {}, { at: day(25, 12), now: Date.parse(day(26, 1)) });
    expect([late.outcome.late, late.outcome.steps, reasons(late)]).toEqual([true, [], ["late"]]);
    expect(sim.state.campaigns.c!.progress).toEqual({ s1: 1 });
    const onTime = sim.send("go", {}, { at: day(26, 2) });
    expect([onTime.outcome.late, onTime.outcome.steps[0]!.progress]).toEqual([false, 2]);
  });
});

describe("completion", () => {
  it("step effects, then completion effects; completion templates see the whole completion", () => {
    const sim = simOf([
      campaign("c", [{ on: "x", effects: [credit("points", 10)] }], {
        effects: [credit("points", 100), { type: "push.send", title: "Done", body: "{{completion.metric.points}} points" }],
      }),
    ]);
    const r = sim.send("x");
    expect(r.outcome.effects.map((e) => [e.step, e.type, e.status])).toEqual([
      ["s1", "metric.add", "applied"],
      [null, "metric.add", "applied"],
      [null, "push.send", "applied"],
    ]);
    expect(r.outbox).toEqual([{ kind: "push", eventId: "e1", title: "Done", body: "110 points", url: null, data: null }]);
    expect(r.outcome.derivedEvents.map((d) => d.type).filter((t) => /^loyalty\.(step|campaign)\./.test(t))).toEqual([
      "loyalty.step.completed",
      "loyalty.campaign.completed",
    ]);
  });
  it.each<[name: string, repeat: Record<string, unknown>, progress: Record<string, number>]>([
    ["another completion allowed: progress resets", { limit: null }, {}],
    ["no more completions: progress kept", { limit: 1 }, { s1: 2, s2: 1 }],
    ["total reached: progress kept", { limit: null, total: 1 }, { s1: 2, s2: 1 }],
  ])("%s", (_name, repeat, progress) => {
    const sim = simOf([campaign("c", [{ on: "x", target: 2 }, { on: "y" }], { repeat })]);
    sim.send("x");
    sim.send("x");
    expect(sim.send("y").outcome.campaignsCompleted).toEqual([{ campaign: "c", completions: 1 }]);
    expect(sim.state.campaigns.c!.progress).toEqual(progress);
  });
  it("the event that completes a round does not start the next one", () => {
    const sim = simOf([campaign("c", [{ on: "x" }, { on: "x" }], { order: "any", repeat: { limit: null } })]);
    const r = sim.send("x");
    expect([r.outcome.campaignsCompleted, sim.state.campaigns.c!.progress]).toEqual([[{ campaign: "c", completions: 1 }], {}]);
    expect(sim.send("x").outcome.campaignsCompleted).toEqual([{ campaign: "c", completions: 2 }]);
  });
});

// ARCHITECTURE invariant 20: a run copies only the campaign states it writes.
describe("campaign states: copied on write, never changed in the caller's state", () => {
  const deepFreeze = <T>(value: T): T => {
    if (value && typeof value === "object") {
      for (const inner of Object.values(value)) deepFreeze(inner);
      Object.freeze(value);
    }
    return value;
  };
  const again = { repeat: { limit: null } };
  const held = (completions: number) => ({ completions, period: "all", periodCompletions: completions, progress: {} });

  it.each<[name: string, event: string, changed: string[]]>([
    ["a campaign the user never touched", "go-new", ["fresh"]],
    ["a campaign the user holds", "go-old", ["old"]],
    ["no campaign", "nothing", []],
  ])("%s: the result lists exactly what it wrote, and state.campaigns is the whole map", (_name, event, changed) => {
    const programme = programmeOf([...BASE, oneStep("fresh", "go-new", [credit("points", 1)], again), oneStep("old", "go-old", [credit("points", 1)], again)]);
    const input = deepFreeze({ ...emptyUserState("u1"), createdAt: AT, campaigns: { old: held(1), other: held(2) } });
    const before = JSON.stringify(input);
    const r = applyEvent(programme, input, { id: "e1", type: event, occurredAt: AT, data: {}, silent: false }, { now: Date.parse(AT) });
    expect(Object.keys(r.campaignChanges).sort()).toEqual(changed);
    expect(JSON.stringify(input)).toBe(before);
    expect(Object.keys(r.state.campaigns).sort()).toEqual([...new Set(["old", "other", ...changed])].sort());
    expect(r.state.campaigns.other).toEqual(held(2));
    for (const id of changed) expect(r.state.campaigns[id]!.completions).toBe(id === "old" ? 2 : 1);
    // What the Durable Object stores: JSON of the whole state has every campaign.
    expect(Object.keys(JSON.parse(JSON.stringify(r.state)).campaigns).sort()).toEqual(Object.keys(r.state.campaigns).sort());
  });

  it("adoptCampaignChanges writes the changes into the map the run started from (O(changes), for the Durable Object)", () => {
    const programme = programmeOf([...BASE, oneStep("fresh", "go", [credit("points", 1)], again)]);
    const base: Record<string, CampaignState> = { old: held(1) };
    const input = { ...emptyUserState("u1"), createdAt: AT, campaigns: base };
    const r = applyEvent(programme, input, { id: "e1", type: "go", occurredAt: AT, data: {}, silent: false }, { now: Date.parse(AT) });
    expect(Object.keys(base)).toEqual(["old"]);
    const adopted = adoptCampaignChanges(r);
    expect(adopted.campaigns).toBe(base);
    expect(Object.keys(base).sort()).toEqual(["fresh", "old"]);
    expect(Object.getOwnPropertyDescriptor(adopted, "campaigns")).toMatchObject({ value: base, writable: true, enumerable: true });
    // The next event starts from the adopted state and sees both.
    const next = applyEvent(programme, adopted, { id: "e2", type: "go", occurredAt: AT, data: {}, silent: false }, { now: Date.parse(AT) });
    expect(next.state.campaigns.fresh!.completions).toBe(2);
    expect(base.fresh).toMatchObject({ completions: 1 });
  });
});
