import { afterEach, describe, expect, it } from "vitest";
import type { DefinitionInput } from "../../src/engine/compile";
import { AT, derivedTypes, effectsOf, metric, oneStep, product, programmeOf, segment, Sim, webhook } from "./builders";

// SPEC §6 through applyEvent: every effect on a one-step campaign `c` (step `s`) on the
// event `go`, repeatable. After every test the ledger invariants of §5.7 are checked.

const BASE: DefinitionInput[] = [
  metric("points"),
  metric("capped", { max: 100 }),
  metric("credit", { min: -500 }),
  metric("xp", { kind: "counter" }),
  metric("level", { kind: "gauge", min: 0, max: 10 }),
  metric("temp", { kind: "gauge" }),
  metric("bonus", { initial: 100 }),
  product("badge", { type: "badge" }),
  product("ticket"),
  product("limited", { perUserLimit: 3 }),
  segment("vip"),
  webhook("hook", ["loyalty.segment.entered"]),
];

const sims: Sim[] = [];
afterEach(() => {
  for (const sim of sims.splice(0)) sim.assertLedger();
});

function simOf(effects: Array<Record<string, unknown>>, extra: DefinitionInput[] = []): Sim {
  const sim = new Sim(programmeOf([...BASE, oneStep("c", "go", effects, { repeat: { limit: null } }), ...extra]));
  sims.push(sim);
  return sim;
}

function seed(sim: Sim, metricId: string, amount: number): void {
  if (amount !== 0) expect(sim.admin({ op: "adjust", metric: metricId, amount, reason: "seed", keyId: null }).refused).toBeUndefined();
}

const add = (metricId: string, amount: unknown) => ({ type: "metric.add", metric: metricId, amount });
const src = { eventId: "e2", campaign: "c", step: "s" };

describe("metric.add", () => {
  it.each<[name: string, metric: string, seeded: number, amount: unknown, data: Record<string, unknown>, report: Record<string, unknown>, balance: number]>([
    ["literal credit", "points", 0, 10, {}, { status: "applied", amount: 10, balance: 10 }, 10],
    ["credit clamped at max", "capped", 95, 10, {}, { status: "applied", amount: 5, requested: 10, balance: 100 }, 100],
    ["credit at max", "capped", 100, 10, {}, { status: "skipped", reason: "at_max", amount: 10, balance: 100 }, 100],
    ["debit within the floor", "points", 50, -30, {}, { status: "applied", amount: -30, balance: 20 }, 20],
    ["debit down to the floor", "points", 30, -30, {}, { status: "applied", amount: -30, balance: 0 }, 0],
    ["debit past the floor", "points", 20, -30, {}, { status: "failed", reason: "insufficient_balance", amount: -30, balance: 20 }, 20],
    ["currency floor 0 by default", "points", 0, -1, {}, { status: "failed", reason: "insufficient_balance", amount: -1, balance: 0 }, 0],
    ["negative min allows a debit below 0", "credit", 0, -300, {}, { status: "applied", amount: -300, balance: -300 }, -300],
    ["negative min still refuses past it", "credit", 0, -501, {}, { status: "failed", reason: "insufficient_balance", amount: -501, balance: 0 }, 0],
    ["gauge without min goes negative", "temp", 0, -5, {}, { status: "applied", amount: -5, balance: -5 }, -5],
    ["counter: negative computed amount", "xp", 10, { path: "event.data.n", min: -100 }, { n: -5 }, { status: "skipped", reason: "counter_only_grows", amount: -5 }, 10],
    ["computed: floor by default", "points", 0, { path: "event.data.n" }, { n: 72.9 }, { status: "applied", amount: 72, balance: 72 }, 72],
    ["computed: multiply", "points", 0, { path: "event.data.n", multiply: 10 }, { n: 7.25 }, { status: "applied", amount: 72, balance: 72 }, 72],
    ["computed: ceil", "points", 0, { path: "event.data.n", multiply: 10, round: "ceil" }, { n: 7.21 }, { status: "applied", amount: 73, balance: 73 }, 73],
    ["computed: nearest half up", "points", 0, { path: "event.data.n", round: "nearest" }, { n: 72.5 }, { status: "applied", amount: 73, balance: 73 }, 73],
    ["computed: nearest down", "points", 0, { path: "event.data.n", round: "nearest" }, { n: 72.49 }, { status: "applied", amount: 72, balance: 72 }, 72],
    ["1e-9 rounding: 0.1*3 × 10 ceil is 3", "points", 0, { path: "event.data.n", multiply: 10, round: "ceil" }, { n: 0.1 * 3 }, { status: "applied", amount: 3, balance: 3 }, 3],
    ["1e-9 rounding: 0.7*3 × 10 floor is 21", "points", 0, { path: "event.data.n", multiply: 10 }, { n: 0.7 * 3 }, { status: "applied", amount: 21, balance: 21 }, 21],
    ["1e-9 rounding: 1.005 × 100 nearest is 101", "points", 0, { path: "event.data.n", multiply: 100, round: "nearest" }, { n: 1.005 }, { status: "applied", amount: 101, balance: 101 }, 101],
    ["computed: max bound", "points", 0, { path: "event.data.n", max: 50 }, { n: 72 }, { status: "applied", amount: 50, balance: 50 }, 50],
    ["computed: min bound", "points", 0, { path: "event.data.n", min: 10 }, { n: 3 }, { status: "applied", amount: 10, balance: 10 }, 10],
    ["computed: negative field never debits (min 0)", "points", 40, { path: "event.data.n" }, { n: -20 }, { status: "skipped", reason: "zero_amount", amount: 0 }, 40],
    ["computed: negative field debits when min allows", "points", 50, { path: "event.data.n", min: -100 }, { n: -20.4 }, { status: "applied", amount: -21, balance: 29 }, 29],
    ["computed: nested path", "points", 0, { path: "event.data.order.total" }, { order: { total: 12 } }, { status: "applied", amount: 12, balance: 12 }, 12],
    ["computed: missing path", "points", 0, { path: "event.data.n" }, {}, { status: "skipped", reason: "no_amount" }, 0],
    ["computed: a numeric string", "points", 0, { path: "event.data.n" }, { n: "5" }, { status: "skipped", reason: "no_amount" }, 0],
    ["computed: null", "points", 0, { path: "event.data.n" }, { n: null }, { status: "skipped", reason: "no_amount" }, 0],
    ["computed: boolean", "points", 0, { path: "event.data.n" }, { n: true }, { status: "skipped", reason: "no_amount" }, 0],
    ["computed: object", "points", 0, { path: "event.data.n" }, { n: { v: 1 } }, { status: "skipped", reason: "no_amount" }, 0],
  ])("%s", (_name, metricId, seeded, amount, data, report, balance) => {
    const sim = simOf([add(metricId, amount)]);
    seed(sim, metricId, seeded);
    const before = sim.ledger.length;
    const r = sim.send("go", data, { id: "e2" });
    expect(effectsOf(r)).toEqual([{ type: "metric.add", metric: metricId, ...report }]);
    expect(sim.state.metrics[metricId]?.balance ?? 0).toBe(balance);
    const delta = balance - seeded;
    expect(sim.ledger.slice(before)).toEqual(
      delta === 0
        ? []
        : [{ metric: metricId, delta, ...(report.requested ? { requested: report.requested } : {}), balanceAfter: balance, reason: "effect", source: src, occurredAt: AT }],
    );
    expect(derivedTypes(r).filter((t) => t === "loyalty.metric.changed").length).toBe(delta === 0 ? 0 : 1);
  });

  it("loyalty.metric.changed carries the delta, balances and lifetimes", () => {
    const sim = simOf([add("points", -30)]);
    seed(sim, "points", 100);
    const r = sim.send("go", {}, { id: "e2" });
    const changed = r.derived.find((d) => d.type === "loyalty.metric.changed")!;
    expect(changed.data).toEqual({ metric: "points", delta: -30, balance: 70, previousBalance: 100, lifetime: 100, previousLifetime: 100, reason: "effect" });
    expect(sim.state.metrics.points).toEqual({ balance: 70, lifetime: 100 });
  });

  it("a metric's initial value is an opening entry on first touch, once", () => {
    const sim = simOf([add("bonus", 10), { type: "push.send", title: "t", body: "+{{effects.metric.bonus}}" }]);
    let r = sim.send("go");
    expect(r.ledger.map((e) => [e.delta, e.reason])).toEqual([
      [100, "initial"],
      [10, "effect"],
    ]);
    expect(r.ledger[0]!.balanceAfter).toBe(100);
    expect(effectsOf(r)[0]).toEqual({ type: "metric.add", metric: "bonus", status: "applied", amount: 10, balance: 110 });
    expect(r.outbox).toEqual([{ kind: "push", eventId: "e1", title: "t", body: "+10", url: null, data: null }]);
    r = sim.send("go");
    expect(r.ledger.map((e) => [e.delta, e.reason])).toEqual([[10, "effect"]]);
    expect(sim.state.metrics.bonus).toEqual({ balance: 120, lifetime: 120 });
  });
});

describe("metric.set (gauges)", () => {
  it.each<[name: string, metric: string, seeded: number, value: number, report: Record<string, unknown>, balance: number]>([
    ["from untouched", "level", 0, 7, { status: "applied", value: 7, balance: 7 }, 7],
    ["down", "level", 7, 3, { status: "applied", value: 3, balance: 3 }, 3],
    ["up to max", "level", 3, 10, { status: "applied", value: 10, balance: 10 }, 10],
    ["unchanged", "level", 4, 4, { status: "skipped", reason: "unchanged", balance: 4 }, 4],
    ["above max", "level", 4, 11, { status: "failed", reason: "out_of_range", value: 11 }, 4],
    ["below min", "level", 4, -1, { status: "failed", reason: "out_of_range", value: -1 }, 4],
    ["negative without min", "temp", 0, -50, { status: "applied", value: -50, balance: -50 }, -50],
  ])("%s", (_name, metricId, seeded, value, report, balance) => {
    const sim = simOf([{ type: "metric.set", metric: metricId, value }]);
    seed(sim, metricId, seeded);
    const r = sim.send("go", {}, { id: "e2" });
    expect(effectsOf(r)).toEqual([{ type: "metric.set", metric: metricId, ...report }]);
    expect(sim.state.metrics[metricId]?.balance ?? 0).toBe(balance);
    expect(r.ledger).toEqual(balance === seeded ? [] : [{ metric: metricId, delta: balance - seeded, balanceAfter: balance, reason: "set", source: src, occurredAt: AT }]);
  });

  it("lifetime sums the upward moves", () => {
    const setTo = (value: number) => oneStep(`to${value}`, `set${value}`, [{ type: "metric.set", metric: "level", value }], { repeat: { limit: null } });
    const sim = new Sim(programmeOf([...BASE, setTo(7), setTo(3), setTo(9)]));
    sims.push(sim);
    for (const value of [7, 3, 9]) sim.send(`set${value}`);
    expect(sim.ledger.map((e) => e.delta)).toEqual([7, -4, 6]);
    expect(sim.state.metrics.level).toEqual({ balance: 9, lifetime: 13 });
  });
});

describe("product.grant / product.revoke", () => {
  const grant = (p: string, quantity?: number) => ({ type: "product.grant", product: p, ...(quantity ? { quantity } : {}) });
  const revoke = (p: string, quantity?: number) => ({ type: "product.revoke", product: p, ...(quantity ? { quantity } : {}) });
  it.each<[name: string, effect: Record<string, unknown>, times: number, reports: Array<Record<string, unknown>>, held: number | undefined]>([
    ["a badge is granted once", grant("badge"), 2, [{ status: "applied", quantity: 1 }, { status: "skipped", reason: "already_held" }], 1],
    ["items stack", grant("ticket", 3), 2, [{ status: "applied", quantity: 3 }, { status: "applied", quantity: 3 }], 6],
    ["perUserLimit refuses a grant past it, whole", grant("limited", 2), 2, [{ status: "applied", quantity: 2 }, { status: "skipped", reason: "per_user_limit", quantity: 2 }], 2],
    ["revoking what is not held", revoke("ticket", 2), 1, [{ status: "skipped", reason: "not_held" }], undefined],
  ])("%s", (_name, effect, times, reports, held) => {
    const sim = simOf([effect]);
    const got = Array.from({ length: times }, () => effectsOf(sim.send("go"))[0]);
    expect(got).toEqual(reports.map((r) => ({ type: effect.type, product: effect.product, ...r })));
    expect(sim.state.products[effect.product as string]).toBe(held);
  });

  it.each<[name: string, holding: number, quantity: number, removed: number, left: number | undefined]>([
    ["partial", 5, 2, 2, 3],
    ["all of it", 3, 3, 3, undefined],
    ["more than held removes what is held", 3, 10, 3, undefined],
  ])("revoke: %s", (_name, holding, quantity, removed, left) => {
    const sim = simOf([revoke("ticket", quantity)]);
    expect(sim.admin({ op: "grant", product: "ticket", quantity: holding }).refused).toBeUndefined();
    const r = sim.send("go");
    expect(effectsOf(r)).toEqual([{ type: "product.revoke", status: "applied", product: "ticket", quantity: removed }]);
    expect(sim.state.products.ticket).toBe(left);
    expect(r.derived.find((d) => d.type === "loyalty.product.revoked")!.data).toEqual({ product: "ticket", quantity: removed, via: "effect" });
  });

  it("a grant emits loyalty.product.granted via effect", () => {
    const r = simOf([grant("ticket", 2)]).send("go");
    expect(r.derived.filter((d) => d.type === "loyalty.product.granted").map((d) => d.data)).toEqual([{ product: "ticket", quantity: 2, via: "effect" }]);
  });
});

describe("attribute.set", () => {
  const set = (key: string, value: unknown) => ({ type: "attribute.set", key, value });
  it.each<[name: string, value: unknown, data: Record<string, unknown>, stored: unknown]>([
    ["a string", "gold", {}, "gold"],
    ["a template", "{{event.data.city}}", { city: "Paris" }, "Paris"],
    ["a mixed template", "{{user.id}}/{{campaign.name}}/{{step.id}}/{{event.type}}", {}, "u1/c/s/go"],
    ["a number rendered into text", "n={{event.data.n}}", { n: 5 }, "n=5"],
    ["a missing variable renders empty", "[{{event.data.nope}}]", {}, "[]"],
    ["a number", 42, {}, 42],
    ["a boolean", false, {}, false],
    ["null", null, {}, null],
    ["an array of templates", ["{{event.data.city}}", "x"], { city: "Oslo" }, ["Oslo", "x"]],
  ])("%s", (_name, value, data, stored) => {
    const sim = simOf([set("k", value)]);
    const r = sim.send("go", data);
    expect(effectsOf(r)).toEqual([{ type: "attribute.set", status: "applied", key: "k" }]);
    expect(sim.state.attributes).toEqual({ k: stored });
    expect(r.derived.find((d) => d.type === "loyalty.user.updated")!.data).toEqual({ attributes: { k: stored }, changed: ["k"] });
    const again = sim.send("go", data);
    expect(effectsOf(again)).toEqual([{ type: "attribute.set", status: "skipped", reason: "unchanged", key: "k" }]);
    expect(derivedTypes(again)).not.toContain("loyalty.user.updated");
  });

  it("each loyalty.user.updated carries the attributes as they were when it was emitted", () => {
    const r = simOf([set("a", "1"), set("b", "2")]).send("go");
    expect(r.derived.filter((d) => d.type === "loyalty.user.updated").map((d) => d.data)).toEqual([
      { attributes: { a: "1" }, changed: ["a"] },
      { attributes: { a: "1", b: "2" }, changed: ["b"] },
    ]);
  });
});

describe("segment.add / segment.remove (static)", () => {
  it.each<[name: string, type: string, member: boolean, report: Record<string, unknown>, emitted: string | null, after: string[]]>([
    ["add", "segment.add", false, { status: "applied" }, "loyalty.segment.entered", ["vip"]],
    ["add when already a member", "segment.add", true, { status: "skipped", reason: "already_member" }, null, ["vip"]],
    ["remove", "segment.remove", true, { status: "applied" }, "loyalty.segment.left", []],
    ["remove when not a member", "segment.remove", false, { status: "skipped", reason: "not_member" }, null, []],
  ])("%s", (_name, type, member, report, emitted, after) => {
    const sim = simOf([{ type, segment: "vip" }]);
    if (member) sim.state.staticSegments = ["vip"];
    const r = sim.send("go");
    expect(effectsOf(r)).toEqual([{ type, segment: "vip", ...report }]);
    expect(sim.state.staticSegments).toEqual(after);
    const events = r.derived.filter((d) => d.type.startsWith("loyalty.segment."));
    expect(events.map((d) => [d.type, d.data])).toEqual(emitted ? [[emitted, { segment: "vip" }]] : []);
    expect(r.outcome.changes).toEqual(emitted ? [{ type: "segment", segment: "vip", member: !member }] : []);
  });
});

describe("event.emit", () => {
  it("emits a custom event evaluated by another campaign in the same run; a sole {{x}} keeps its type", () => {
    const emit = {
      type: "event.emit",
      eventType: "bonus",
      data: { n: "{{event.data.n}}", label: "n={{event.data.n}}", flag: "{{event.data.flag}}", nested: { ids: ["{{user.id}}"] }, gone: "{{event.data.nope}}", fixed: 1 },
    };
    const receiver = oneStep("r", "bonus", [add("points", 7)], {}, { all: [{ path: "event.data.n", op: "eq", value: 5 }, { path: "event.data.flag", op: "eq", value: true }] });
    const sim = simOf([emit], [receiver]);
    const r = sim.send("go", { n: 5, flag: true }, { id: "e1" });
    const bonus = r.derived.find((d) => d.type === "bonus")!;
    expect(bonus).toEqual({ id: bonus.id, type: "bonus", occurredAt: AT, depth: 1, data: { n: 5, label: "n=5", flag: true, nested: { ids: ["u1"] }, gone: null, fixed: 1 } });
    expect(r.outcome.steps).toEqual([
      { campaign: "c", step: "s", progress: 1, target: 1, completed: true },
      { campaign: "r", step: "s", progress: 1, target: 1, completed: true },
    ]);
    expect(effectsOf(r)).toEqual([
      { type: "event.emit", status: "applied", eventType: "bonus" },
      { type: "metric.add", status: "applied", metric: "points", amount: 7, balance: 7 },
    ]);
    expect(r.ledger[0]!.source).toEqual({ eventId: "e1", derivedEventId: bonus.id, campaign: "r", step: "s" });
  });
});

describe("webhook.send and push.send", () => {
  const hook = { type: "webhook.send", webhook: "hook", payload: { user: "{{user.id}}", amount: "{{event.data.amount}}", text: "spent {{event.data.amount}}", list: ["{{event.data.amount}}"] } };
  const push = { type: "push.send", title: "Hi {{user.attributes.name}}", body: "You earned {{effects.metric.points}} in {{campaign.name}}", url: "https://x.example/{{user.id}}", data: { n: "{{event.data.amount}}" } };
  it("webhook.send queues the rendered payload", () => {
    const r = simOf([hook]).send("go", { amount: 72.5 }, { id: "e1" });
    expect(effectsOf(r)).toEqual([{ type: "webhook.send", status: "applied", webhook: "hook" }]);
    expect(r.outbox).toEqual([{ kind: "webhook", webhook: "hook", eventId: "e1", type: "webhook.send", occurredAt: AT, data: { user: "u1", amount: 72.5, text: "spent 72.5", list: [72.5] } }]);
  });
  it("push.send queues the rendered push, after the effects before it", () => {
    const sim = simOf([add("points", 10), push]);
    sim.state.attributes = { name: "Ada" };
    const r = sim.send("go", { amount: 3 }, { id: "e1" });
    expect(effectsOf(r)[1]).toEqual({ type: "push.send", status: "applied" });
    expect(r.outbox).toEqual([{ kind: "push", eventId: "e1", title: "Hi Ada", body: "You earned 10 in c", url: "https://x.example/u1", data: { n: 3 } }]);
  });
  it("silent events send nothing: both effects are skipped `silent`, derived webhooks too", () => {
    const r = simOf([hook, push, { type: "segment.add", segment: "vip" }]).send("go", { amount: 1 }, { silent: true });
    expect(effectsOf(r)).toEqual([
      { type: "webhook.send", status: "skipped", reason: "silent", webhook: "hook" },
      { type: "push.send", status: "skipped", reason: "silent" },
      { type: "segment.add", status: "applied", segment: "vip" },
    ]);
    expect(r.outbox).toEqual([]);
  });
  it("a subscribed webhook receives the derived events it listens to", () => {
    const r = simOf([{ type: "segment.add", segment: "vip" }]).send("go", {}, { id: "e1" });
    const entered = r.derived.find((d) => d.type === "loyalty.segment.entered")!;
    expect(r.outbox).toEqual([{ kind: "webhook", webhook: "hook", eventId: entered.id, type: "loyalty.segment.entered", occurredAt: AT, data: { segment: "vip" } }]);
  });
});

describe("product.redeem and grants backed by reservations (SPEC §4.2, §6)", () => {
  const reward = (id: string, body: Record<string, unknown> = {}) => product(id, { type: "reward", price: { metric: "points", amount: 40 }, ...body });
  const redeemSim = (effects: Array<Record<string, unknown>>) => simOf(effects, [reward("scarf"), reward("shirt", { stock: 5 }), product("free-reward", { type: "reward" })]);

  it("a planning run lists the takes that need a reservation (stock or a reward) and assumes they succeed", () => {
    const sim = redeemSim([
      { type: "product.grant", product: "ticket" },
      { type: "product.grant", product: "free-reward" },
      { type: "product.grant", product: "free-reward" },
    ]);
    const r = sim.send("go", {}, { id: "e1" });
    expect(r.needs).toEqual([
      { key: "e1|c|s|free-reward|0", product: "free-reward", quantity: 1 },
      { key: "e1|c|s|free-reward|1", product: "free-reward", quantity: 1 },
    ]);
    expect(effectsOf(r).map((e) => e.status)).toEqual(["applied", "applied", "applied"]);
    expect(r.used).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string, string | undefined]>([
    ["reserved with a code", { id: "rsv_1", codes: ["CODE-1"] }, "applied", undefined],
    ["out of stock", { refused: "out_of_stock" }, "skipped", "out_of_stock"],
    ["out of codes", { refused: "out_of_codes" }, "skipped", "out_of_codes"],
  ])("a grant whose reservation is %s", (_name, answer, status, reason) => {
    const sim = redeemSim([{ type: "product.grant", product: "free-reward" }, add("points", 5)]);
    const r = sim.send("go", {}, { id: "e1", reservations: new Map([["e1|c|s|free-reward|0", answer as never]]) });
    expect(effectsOf(r)[0]).toMatchObject({ type: "product.grant", status, ...(reason ? { reason } : {}) });
    expect(effectsOf(r)[1]!.status).toBe("applied");
    if (status === "applied") {
      expect(sim.state.products["free-reward"]).toBe(1);
      expect(sim.state.codes).toEqual({ "free-reward": ["CODE-1"] });
      expect(r.used).toEqual(["e1|c|s|free-reward|0"]);
      expect(r.derived.find((d) => d.type === "loyalty.product.granted")!.data).toEqual({ product: "free-reward", quantity: 1, code: "CODE-1", codes: ["CODE-1"], via: "effect" });
    } else {
      expect(sim.state.products["free-reward"]).toBeUndefined();
      expect(r.used).toEqual([]);
    }
  });

  it("a take the planning run did not foresee fails as not_reserved and is asked for", () => {
    const sim = redeemSim([{ type: "product.grant", product: "free-reward" }]);
    const r = sim.send("go", {}, { id: "e1", reservations: new Map() });
    expect(effectsOf(r)[0]).toMatchObject({ status: "failed", reason: "not_reserved" });
    expect(r.needs).toEqual([{ key: "e1|c|s|free-reward|0", product: "free-reward", quantity: 1 }]);
  });

  it("product.redeem spends the price and grants, in that order of events, with the redemption recorded", () => {
    const sim = redeemSim([{ type: "product.redeem", product: "scarf", quantity: 2 }]);
    seed(sim, "points", 100);
    const r = sim.send("go", {}, { id: "e1", reservations: new Map([["e1|c|s|scarf|0", { id: "rsv_9", codes: [] }]]) });
    expect(effectsOf(r)[0]).toEqual({ type: "product.redeem", status: "applied", product: "scarf", quantity: 2, redemption: "rdm:e1:1", price: { metric: "points", amount: 80 } });
    expect(sim.state.metrics.points).toEqual({ balance: 20, lifetime: 100 });
    expect(sim.state.products.scarf).toBe(2);
    expect(r.ledger.at(-1)).toMatchObject({ metric: "points", delta: -80, reason: "redemption", source: { eventId: "e1", campaign: "c", step: "s", redemption: "rdm:e1:1" } });
    const rewardEvents = ["loyalty.product.granted", "loyalty.metric.changed", "loyalty.reward.redeemed"];
    expect(derivedTypes(r).filter((t) => rewardEvents.includes(t))).toEqual(rewardEvents);
    expect(r.redemptions).toEqual([{ id: "rdm:e1:1", product: "scarf", quantity: 2, price: { metric: "points", amount: 80 }, codes: [], reservationKey: "e1|c|s|scarf|0" }]);
  });

  it.each<[string, string, number, string]>([
    ["a balance short of the price", "scarf", 39, "insufficient_balance"],
    ["a product without a price", "ticket", 1000, "not_redeemable"],
    ["a badge", "badge", 1000, "not_redeemable"],
    ["an unknown product", "nope", 1000, "unknown_product"],
  ])("product.redeem with %s changes nothing and reserves nothing", (_name, productId, balance, reason) => {
    const sim = redeemSim([{ type: "product.redeem", product: productId }]);
    seed(sim, "points", balance);
    const r = sim.send("go", {}, { id: "e1" });
    expect(effectsOf(r)[0]).toMatchObject({ reason });
    expect(r.needs).toEqual([]);
    expect(sim.state.metrics.points!.balance).toBe(balance);
    expect(sim.state.products[productId]).toBeUndefined();
  });

  it("a redemption refused by stock leaves the balance untouched (all or nothing)", () => {
    const sim = redeemSim([{ type: "product.redeem", product: "shirt" }]);
    seed(sim, "points", 100);
    const r = sim.send("go", {}, { id: "e1", reservations: new Map([["e1|c|s|shirt|0", { refused: "out_of_stock" as const }]]) });
    expect(effectsOf(r)[0]).toMatchObject({ status: "skipped", reason: "out_of_stock" });
    expect(sim.state.metrics.points).toEqual({ balance: 100, lifetime: 100 });
    expect(r.redemptions).toEqual([]);
  });

  it("cancelling a redemption refunds without earning (lifetime unchanged), revokes and withdraws its codes", () => {
    const sim = redeemSim([]);
    seed(sim, "points", 100);
    const redeemed = sim.admin({ op: "redeem", product: "scarf", quantity: 1, redemption: "rdm_1" }, { id: "op1", reservations: new Map([["op1|||scarf|0", { id: "rsv_1", codes: ["K1"] }]]) });
    expect(redeemed.applied).toEqual({ id: "rdm_1", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, code: "K1", codes: ["K1"], balance: 60 });
    const record = { id: "rdm_1", product: "scarf", quantity: 1, price: { metric: "points", amount: 40 }, codes: ["K1"], reservationKey: null };
    const cancelled = sim.admin({ op: "cancelRedemption", id: "rdm_1", restock: false, redemption: record });
    expect(cancelled.applied).toEqual({ id: "rdm_1", status: "cancelled", refunded: { metric: "points", amount: 40 }, revoked: 1, restocked: false });
    expect(sim.state.metrics.points).toEqual({ balance: 100, lifetime: 100 });
    expect(sim.state.products.scarf).toBeUndefined();
    expect(sim.state.codes).toEqual({});
    expect(derivedTypes(cancelled.result!)).toEqual(["loyalty.metric.changed", "loyalty.product.revoked", "loyalty.redemption.cancelled"]);
    expect(sim.admin({ op: "cancelRedemption", id: "rdm_2", restock: false }).refused).toMatchObject({ refused: "not_found" });
    expect(sim.admin({ op: "cancelRedemption", id: "rdm_1", restock: false, redemption: record, cancelled: true }).refused).toMatchObject({ refused: "invalid_transition" });
  });
});
