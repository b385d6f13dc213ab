import { afterEach, describe, expect, it } from "vitest";
import type { AdminOp } from "../../src/engine/admin";
import type { DefinitionInput } from "../../src/engine/compile";
import { AT, DAY, derivedTypes, iso, metric, oneStep, product, programmeOf, segment, Sim } from "./builders";

// SPEC §7 and §5.4 through startRun / applyAdminOp / finishRun, as the user's Durable
// Object runs them (a refusal keeps nothing).

const BASE: DefinitionInput[] = [
  metric("points"),
  metric("capped", { max: 100 }),
  metric("credit", { min: -500 }),
  metric("bonus", { initial: 100 }),
  product("badge", { type: "badge" }),
  product("ticket"),
  product("limited", { perUserLimit: 3 }),
  segment("gb", { path: "user.attributes.country", op: "eq", value: "GB" }),
  segment("london", { path: "user.timezone", op: "eq", value: "Europe/London" }),
];

const sims: Sim[] = [];
afterEach(() => {
  for (const sim of sims.splice(0)) sim.assertLedger();
});
function simOf(defs: DefinitionInput[] = []): Sim {
  const sim = new Sim(programmeOf([...BASE, ...defs]));
  sims.push(sim);
  return sim;
}
const adjust = (metricId: string, amount: number, keyId: string | null = "key_1", reason = "goodwill"): AdminOp => ({ op: "adjust", metric: metricId, amount, reason, keyId });
const ok = (sim: Sim, op: AdminOp, o: { at?: string; now?: number } = {}) => {
  const r = sim.admin(op, o);
  expect(r.refused).toBeUndefined();
  return r;
};

describe("adjust: never clamped, never partial", () => {
  it.each<[name: string, metric: string, seeded: number, amount: number, refused: string | null, balance: number]>([
    ["a credit", "points", 0, 50, null, 50],
    ["a debit", "points", 50, -20, null, 30],
    ["a debit down to 0", "points", 50, -50, null, 0],
    ["a debit past 0", "points", 50, -51, "insufficient_balance", 50],
    ["a debit on an untouched currency", "points", 0, -1, "insufficient_balance", 0],
    ["a debit within a negative min", "credit", 0, -500, null, -500],
    ["a debit past a negative min", "credit", 0, -501, "insufficient_balance", 0],
    ["a credit up to max", "capped", 95, 5, null, 100],
    ["a credit past max is refused, not clamped", "capped", 95, 10, "above_max", 95],
    ["a credit at max", "capped", 100, 1, "above_max", 100],
  ])("%s", (_name, metricId, seeded, amount, refused, balance) => {
    const sim = simOf();
    if (seeded) ok(sim, adjust(metricId, seeded));
    const before = sim.ledger.length;
    const r = sim.admin(adjust(metricId, amount), { now: Date.parse(AT) + 1 });
    if (refused) {
      expect(r.refused).toEqual({ refused, detail: expect.any(String), path: "amount" });
      expect(sim.ledger.length).toBe(before);
    } else {
      expect(r.applied).toEqual({ metric: metricId, amount, balance, lifetime: Math.max(seeded, 0) + Math.max(amount, 0) });
      expect(sim.ledger.slice(before)).toEqual([
        { metric: metricId, delta: amount, balanceAfter: balance, reason: "goodwill", source: { eventId: expect.stringMatching(/^op/), adjustmentBy: "key_1" }, occurredAt: AT },
      ]);
    }
    expect(sim.state.metrics[metricId]?.balance ?? 0).toBe(balance);
  });

  it("without a key id the source has no adjustmentBy; the metric changes as a derived event", () => {
    const sim = simOf();
    const r = ok(sim, adjust("points", 7, null, "import"), {});
    expect(r.result!.ledger.map((e) => e.source)).toEqual([{ eventId: "op1" }]);
    expect(r.result!.derived.map((d) => [d.type, d.data])).toEqual([
      ["loyalty.user.created", { attributes: {} }],
      ["loyalty.metric.changed", { metric: "points", delta: 7, balance: 7, previousBalance: 0, lifetime: 7, previousLifetime: 0, reason: "import" }],
    ]);
  });

  it("an untouched metric with initial opens with it first", () => {
    const sim = simOf();
    expect(ok(sim, adjust("bonus", -30)).result!.ledger.map((e) => [e.delta, e.reason])).toEqual([[100, "initial"], [-30, "goodwill"]]);
    expect(sim.state.metrics.bonus).toEqual({ balance: 70, lifetime: 100 });
  });

  it("an unknown metric is not found", () => {
    expect(simOf().admin(adjust("nope", 1)).refused).toEqual({ refused: "not_found", detail: "no metric 'nope'", path: "path.metric" });
  });
});

describe("grant and revoke", () => {
  it.each<[name: string, ops: AdminOp[], last: unknown, held: number | undefined]>([
    ["grant items", [{ op: "grant", product: "ticket", quantity: 3 }], { result: { product: "ticket", quantity: 3 } }, 3],
    ["items stack", [{ op: "grant", product: "ticket", quantity: 3 }, { op: "grant", product: "ticket", quantity: 2 }], { result: { product: "ticket", quantity: 5 } }, 5],
    ["a badge is one, whatever the quantity", [{ op: "grant", product: "badge", quantity: 5 }], { result: { product: "badge", quantity: 1 } }, 1],
    ["a second badge is refused", [{ op: "grant", product: "badge", quantity: 1 }, { op: "grant", product: "badge", quantity: 1 }], { refused: "per_user_limit" }, 1],
    ["perUserLimit", [{ op: "grant", product: "limited", quantity: 2 }, { op: "grant", product: "limited", quantity: 2 }], { refused: "per_user_limit" }, 2],
    ["an unknown product", [{ op: "grant", product: "nope", quantity: 1 }], { refused: "not_found" }, undefined],
    ["revoke part", [{ op: "grant", product: "ticket", quantity: 5 }, { op: "revoke", product: "ticket", quantity: 2 }], { result: { product: "ticket", quantity: 3 } }, 3],
    ["revoke all (no quantity)", [{ op: "grant", product: "ticket", quantity: 5 }, { op: "revoke", product: "ticket", quantity: null }], { result: { product: "ticket", quantity: 0 } }, undefined],
    ["revoke more than held", [{ op: "grant", product: "ticket", quantity: 2 }, { op: "revoke", product: "ticket", quantity: 9 }], { result: { product: "ticket", quantity: 0 } }, undefined],
    ["revoke what is not held", [{ op: "revoke", product: "ticket", quantity: 1 }], { refused: "not_found" }, undefined],
  ])("%s", (_name, ops, last, held) => {
    const sim = simOf();
    let r: ReturnType<Sim["admin"]> | undefined;
    for (const op of ops) r = sim.admin(op);
    expect(r!.refused ? { refused: r!.refused.refused } : { result: r!.applied }).toEqual(last);
    expect(sim.state.products[(ops.at(-1) as { product: string }).product]).toBe(held);
  });

  it("grants and revocations are derived events via admin", () => {
    const sim = simOf();
    const granted = ok(sim, { op: "grant", product: "ticket", quantity: 2 }).result!;
    const revoked = ok(sim, { op: "revoke", product: "ticket", quantity: 1 }).result!;
    expect([...granted.derived, ...revoked.derived].filter((d) => d.type.startsWith("loyalty.product")).map((d) => [d.type, d.data, d.depth])).toEqual([
      ["loyalty.product.granted", { product: "ticket", quantity: 2, via: "admin" }, 1],
      ["loyalty.product.revoked", { product: "ticket", quantity: 1, via: "admin" }, 1],
    ]);
  });
});

describe("profile", () => {
  const profile = (o: Omit<Extract<AdminOp, { op: "profile" }>, "op">): AdminOp => ({ op: "profile", ...o });
  it.each<[name: string, merge: boolean, patch: Record<string, unknown>, attributes: Record<string, unknown>, changed: string[]]>([
    ["PUT replaces", false, { b: 3, c: 4 }, { b: 3, c: 4 }, ["a", "b", "c"]],
    ["PATCH merges, null deletes", true, { b: null, c: "x" }, { a: 1, c: "x" }, ["b", "c"]],
    ["PATCH with the same values changes nothing", true, { a: 1 }, { a: 1, b: 2 }, []],
    ["PUT with the same values changes nothing", false, { b: 2, a: 1 }, { a: 1, b: 2 }, []],
    ["arrays replace", true, { a: ["x", "y"] }, { a: ["x", "y"], b: 2 }, ["a"]],
  ])("%s", (_name, merge, patch, attributes, changed) => {
    const sim = simOf();
    ok(sim, profile({ attributes: { a: 1, b: 2 } }));
    const r = ok(sim, profile({ attributes: patch as never, merge })).result!;
    expect(sim.state.attributes).toEqual(attributes);
    expect(r.derived.filter((d) => d.type === "loyalty.user.updated").map((d) => d.data)).toEqual(changed.length ? [{ attributes, changed }] : []);
  });

  it.each<[name: string, attributes: Record<string, unknown>, refused: boolean]>([
    ["50 keys", Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])), false],
    ["51 keys", Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])), true],
    // {"big":"…"} is the value's length + 10 bytes of JSON.
    ["exactly 8 KiB", { big: "x".repeat(8192 - 10) }, false],
    ["one byte over 8 KiB", { big: "x".repeat(8192 - 9) }, true],
    ["multi-byte characters count as bytes", { big: "é".repeat(4092) }, true],
  ])("attribute limits: %s", (_name, attributes, refused) => {
    const r = simOf().admin(profile({ attributes: attributes as never }));
    expect(r.refused ? [r.refused.refused, r.refused.path] : "ok").toEqual(refused ? ["invalid_request", "attributes"] : "ok");
  });

  it("the time zone changes at most once per 24 h; the same zone is no change", () => {
    const sim = simOf();
    const t0 = Date.parse(AT);
    ok(sim, profile({ timezone: "Europe/London", locale: "en-GB" }), { now: t0 });
    expect([sim.state.timezone, sim.state.locale, sim.state.timezoneChangedAt]).toEqual(["Europe/London", "en-GB", AT]);
    expect(sim.admin(profile({ timezone: "Asia/Tokyo" }), { now: t0 + DAY - 1 }).refused).toEqual({ refused: "frozen", detail: expect.any(String), path: "timezone" });
    ok(sim, profile({ timezone: "Europe/London", attributes: { a: 1 } }), { now: t0 + 1000 });
    ok(sim, profile({ timezone: "Asia/Tokyo" }), { now: t0 + DAY });
    expect([sim.state.timezone, sim.state.timezoneChangedAt]).toEqual(["Asia/Tokyo", iso(t0 + DAY)]);
    ok(sim, profile({ timezone: null }), { now: t0 + 2 * DAY });
    expect(sim.state.timezone).toBeNull();
  });

  it("dynamic segments follow attribute and time zone changes", () => {
    const sim = simOf();
    const seg = (r: ReturnType<typeof ok>) => r.result!.derived.filter((d) => d.type.startsWith("loyalty.segment")).map((d) => [d.type, d.data]);
    expect(seg(ok(sim, profile({ attributes: { country: "GB" }, timezone: "Europe/London" })))).toEqual([
      ["loyalty.segment.entered", { segment: "london" }],
      ["loyalty.segment.entered", { segment: "gb" }],
    ]);
    expect(seg(ok(sim, profile({ attributes: { country: "FR" }, merge: true })))).toEqual([["loyalty.segment.left", { segment: "gb" }]]);
    expect(sim.state.dynamicSegments).toEqual(["london"]);
  });

  it("a profile write creates the user once, createdAt at the write", () => {
    const sim = simOf();
    const r = ok(sim, profile({ attributes: { a: 1 } }), { at: "2026-11-20T08:00:00.000Z" }).result!;
    expect(derivedTypes(r)).toEqual(["loyalty.user.created", "loyalty.user.updated"]);
    expect(r.derived[0]!.data).toEqual({ attributes: {} });
    expect(sim.state.createdAt).toBe("2026-11-20T08:00:00.000Z");
    expect(derivedTypes(ok(sim, profile({ attributes: { a: 2 } })).result!)).toEqual(["loyalty.user.updated"]);
  });
});

describe("campaigns react to what admin operations cause", () => {
  it.each<[name: string, trigger: string, when: Record<string, unknown>, op: AdminOp, fires: boolean]>([
    ["metric changed by a goodwill adjustment", "loyalty.metric.changed", { path: "event.data.reason", op: "eq", value: "goodwill" }, adjust("points", 10), true],
    ["metric changed for another reason", "loyalty.metric.changed", { path: "event.data.reason", op: "eq", value: "goodwill" }, adjust("points", 10, null, "import"), false],
    ["product granted via admin", "loyalty.product.granted", { path: "event.data.via", op: "eq", value: "admin" }, { op: "grant", product: "ticket", quantity: 1 }, true],
    ["user updated", "loyalty.user.updated", { path: "event.data.changed", op: "contains", value: "vip" }, { op: "profile", attributes: { vip: true } }, true],
    ["segment entered", "loyalty.segment.entered", { path: "event.data.segment", op: "eq", value: "gb" }, { op: "profile", attributes: { country: "GB" } }, true],
  ])("%s", (_name, trigger, when, op, fires) => {
    const sim = simOf([oneStep("react", trigger, [{ type: "product.grant", product: "badge" }, { type: "metric.add", metric: "capped", amount: 5 }], {}, when as never)]);
    const r = ok(sim, op).result!;
    expect(r.outcome.steps).toEqual(fires ? [{ campaign: "react", step: "s", progress: 1, target: 1, completed: true }] : []);
    expect([sim.state.products.badge, sim.state.metrics.capped?.balance]).toEqual(fires ? [1, 5] : [undefined, undefined]);
    if (fires) expect(r.ledger.at(-1)!.source).toEqual({ eventId: "op1", derivedEventId: expect.stringMatching(/^op1#\d+$/), campaign: "react", step: "s" });
  });
});
