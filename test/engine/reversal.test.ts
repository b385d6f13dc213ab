import { afterEach, describe, expect, it } from "vitest";
import { applyAdminOp, type AdminOp } from "../../src/engine/admin";
import type { DefinitionInput } from "../../src/engine/compile";
import { applyEvent, finishRun, startRun } from "../../src/engine/evaluate";
import type { ReversalInput, ReversalReport, ReversibleRedemption } from "../../src/engine/reversal";
import { emptyUserState, type EvaluationResult, type Outcome, type Programme, type ReservationAnswer, type UserState } from "../../src/engine/types";
import { expectedLifetime, type LedgerEntry } from "../helpers/invariants";
import { AT, campaign, iso, ladder, metric, oneStep, product, programmeOf, segment, streak, webhook } from "./builders";

// Event reversal (SPEC §7) through the pure engine: reverseEvent run by applyAdminOp's
// `reverse` op inside startRun/finishRun, the way the user's Durable Object runs it. A small
// book keeps what the object keeps (the ledger with `led_<seq>` ids, the activity entries,
// the redemption rows) and builds the ReversalInput from them as UserState.reversalInput
// does. After every test the ledger invariants of SPEC §5.7 hold: balance = sum of the
// ledger, every balanceAfter is the running sum, lifetime = expectedLifetime (positive
// non-refund entries minus reversed credits, in full).

/** `amount` from the event's data, negative allowed where the metric allows it. */
const fromData = (metricId: string) => ({ type: "metric.add", metric: metricId, amount: { path: "event.data.amount", min: -1_000_000 } });
const credit = (metricId: string, amount: number) => ({ type: "metric.add", metric: metricId, amount });
const unlimited = { repeat: { limit: null } };

const BASE: DefinitionInput[] = [
  metric("points"),
  metric("capped", { max: 100 }),
  metric("credit", { min: -500 }),
  metric("bonus", { initial: 100 }),
  metric("xp", { kind: "counter" }),
  metric("level", { kind: "gauge", min: 0, max: 1000 }),
  product("badge", { type: "badge" }),
  product("ticket"),
  product("voucher", { type: "reward", perUserLimit: null }),
  product("mug", { type: "reward", price: { metric: "points", amount: 30 }, perUserLimit: null }),
  // An event named after a metric adds `data.amount` to it.
  ...["points", "capped", "credit", "bonus", "xp"].map((m) => oneStep(`on-${m}`, m, [fromData(m)], unlimited)),
  oneStep("set-80", "set80", [{ type: "metric.set", metric: "level", value: 80 }], unlimited),
  oneStep("set-200", "set200", [{ type: "metric.set", metric: "level", value: 200 }], unlimited),
  oneStep("set-50", "set50", [{ type: "metric.set", metric: "level", value: 50 }], unlimited),
];

interface Kept {
  occurredAt: string;
  outcome: Outcome;
}

/** One user's object, as far as reversal needs it. */
class Book {
  state: UserState;
  readonly ledger: LedgerEntry[] = [];
  readonly activity = new Map<string, Kept>();
  readonly redemptions = new Map<string, ReversibleRedemption>();
  private n = 0;

  constructor(
    public programme: Programme,
    userId = "u1",
  ) {
    this.state = emptyUserState(userId);
  }

  private keep(result: EvaluationResult, id: string, occurredAt: string): EvaluationResult {
    this.state = result.state;
    for (const e of result.ledger) {
      const seq = this.ledger.length + 1;
      this.ledger.push({ ...e, id: `led_${seq}`, seq, at: occurredAt });
    }
    this.activity.set(id, { occurredAt, outcome: result.outcome });
    for (const r of result.redemptions) {
      this.redemptions.set(r.id, { id: r.id, product: r.product, quantity: r.quantity, price: r.price, codes: r.codes, status: "completed" });
    }
    return result;
  }

  send(type: string, data: Record<string, unknown> = {}, o: { id?: string; at?: string; now?: number; reservations?: ReadonlyMap<string, ReservationAnswer> } = {}): EvaluationResult {
    const at = o.at ?? AT;
    const id = o.id ?? `e${++this.n}`;
    const root = { id, type, occurredAt: at, data, silent: false };
    return this.keep(applyEvent(this.programme, this.state, root, { now: o.now ?? Date.parse(at), reservations: o.reservations }), id, at);
  }

  /** An admin operation; a refusal keeps nothing (and fails the test: none is expected here). */
  admin(op: AdminOp, o: { at?: string; now?: number; id?: string } = {}): { applied: Record<string, unknown>; result: EvaluationResult } {
    const at = o.at ?? AT;
    const id = o.id ?? `adm_${++this.n}`;
    const run = startRun(this.programme, this.state, { id, type: `admin.${op.op}`, occurredAt: at, data: {}, silent: false }, { now: o.now ?? Date.parse(at) });
    const applied = applyAdminOp(run, op);
    expect(applied.refused, JSON.stringify(applied)).toBeUndefined();
    return { applied: (applied as { result: Record<string, unknown> }).result, result: this.keep(finishRun(run), id, at) };
  }

  adjust(metricId: string, amount: number): void {
    this.admin({ op: "adjust", metric: metricId, amount, reason: "spend", keyId: null });
  }

  cancel(redemptionId: string): void {
    const row = this.redemptions.get(redemptionId)!;
    this.admin({ op: "cancelRedemption", id: redemptionId, restock: false, redemption: { ...row, reservationKey: null }, cancelled: false });
    row.status = "cancelled";
  }

  /** What UserState.reversalInput reads: the event's own ledger entries, its activity entry, its redemptions. */
  input(eventId: string, keepActivity = true): ReversalInput {
    const entries = this.ledger
      .filter((e) => e.source.eventId === eventId && e.source.reverses === undefined)
      .map((e) => ({ id: e.id, metric: e.metric, delta: e.delta, reason: e.reason, ...(e.source.redemption !== undefined ? { redemption: e.source.redemption } : {}) }));
    const ids = [...new Set(entries.flatMap((e) => (e.redemption !== undefined ? [e.redemption] : [])))];
    const redemptions = ids.flatMap((id) => (this.redemptions.has(id) ? [{ ...this.redemptions.get(id)! }] : []));
    return { eventId, entries, activity: keepActivity ? (this.activity.get(eventId) ?? null) : null, redemptions };
  }

  reverse(eventId: string, o: { at?: string; now?: number; id?: string; keepActivity?: boolean; input?: ReversalInput } = {}): { report: ReversalReport; result: EvaluationResult; entries: LedgerEntry[] } {
    const before = this.ledger.length;
    const { applied, result } = this.admin({ op: "reverse", eventId, found: o.input ?? this.input(eventId, o.keepActivity ?? true) }, o);
    const report = applied as unknown as ReversalReport;
    for (const id of report.redemptionsCancelled) this.redemptions.get(id)!.status = "cancelled";
    return { report, result, entries: this.ledger.slice(before) };
  }

  metric(id: string): { balance: number; lifetime: number } | undefined {
    return this.state.metrics[id];
  }

  /** SPEC §5.7 with reversals: the balance is the ledger's sum, lifetime per expectedLifetime. */
  assertLedger(): void {
    const ids = new Set([...Object.keys(this.state.metrics), ...this.ledger.map((e) => e.metric)]);
    for (const id of ids) {
      const entries = this.ledger.filter((e) => e.metric === id);
      const held = this.state.metrics[id] ?? { balance: 0, lifetime: 0 };
      let running = 0;
      for (const e of entries) {
        running += e.delta;
        expect({ metric: id, entry: e.id, balanceAfter: e.balanceAfter }).toEqual({ metric: id, entry: e.id, balanceAfter: running });
      }
      expect({ metric: id, balance: held.balance, lifetime: held.lifetime }).toEqual({ metric: id, balance: running, lifetime: expectedLifetime(entries) });
    }
  }
}

const books: Book[] = [];
afterEach(() => {
  for (const book of books.splice(0)) book.assertLedger();
});
function bookOf(defs: DefinitionInput[] = [], zone = "UTC"): Book {
  const book = new Book(programmeOf([...BASE, ...defs], zone));
  books.push(book);
  return book;
}

const LATER = iso(Date.parse(AT) + 60_000);
const derivedOf = (r: EvaluationResult, prefix = "loyalty.") => r.derived.filter((d) => d.type.startsWith(prefix)).map((d): [string, unknown] => [d.type, d.data]);

// ---------------------------------------------------------------------------------------

describe("compensating entries, within the metric's bounds", () => {
  type Case = {
    name: string;
    metric: string;
    /** Run before the reversal; the event `target` is among them. */
    setup: (b: Book) => void;
    ledger: Array<{ delta: number; requested?: number; reverses: string }>;
    balance: number;
    lifetime: number;
  };
  const earn = (m: string, amount: number, id = "target") => (b: Book) => void b.send(m, { amount }, { id });
  const CASES: Case[] = [
    {
      name: "a credit the balance still holds is taken back whole",
      metric: "points",
      setup: (b) => (earn("points", 50)(b), b.adjust("points", 30)),
      ledger: [{ delta: -50, reverses: "led_1" }],
      balance: 30,
      lifetime: 30,
    },
    {
      name: "a credit partly spent: taken down to the floor (0), lifetime drops by the full credit",
      metric: "points",
      setup: (b) => (earn("points", 50)(b), b.adjust("points", -40)),
      ledger: [{ delta: -10, requested: -50, reverses: "led_1" }],
      balance: 0,
      lifetime: 0,
    },
    {
      name: "a credit spent entirely: delta 0, requested the credit, lifetime still drops",
      metric: "points",
      setup: (b) => (b.adjust("points", 20), earn("points", 50)(b), b.adjust("points", -70)),
      ledger: [{ delta: 0, requested: -50, reverses: "led_2" }],
      balance: 0,
      lifetime: 20,
    },
    {
      name: "a metric whose min allows debt takes the credit back whole",
      metric: "credit",
      setup: (b) => (earn("credit", 50)(b), b.adjust("credit", -40)),
      ledger: [{ delta: -50, reverses: "led_1" }],
      balance: -40,
      lifetime: 0,
    },
    {
      name: "... but never below its min",
      metric: "credit",
      setup: (b) => (earn("credit", 50)(b), b.adjust("credit", -530)),
      ledger: [{ delta: -20, requested: -50, reverses: "led_1" }],
      balance: -500,
      lifetime: 0,
    },
    {
      name: "a counter has no floor",
      metric: "xp",
      setup: (b) => (earn("xp", 50)(b), b.adjust("xp", -30)),
      ledger: [{ delta: -50, reverses: "led_1" }],
      balance: -30,
      lifetime: 0,
    },
    {
      name: "a debit is given back, not counted as earned",
      metric: "points",
      setup: (b) => (b.adjust("points", 100), earn("points", -30)(b)),
      ledger: [{ delta: 30, reverses: "led_2" }],
      balance: 100,
      lifetime: 100,
    },
    {
      name: "a debit is given back up to the metric's max",
      metric: "capped",
      setup: (b) => (b.adjust("capped", 100), earn("capped", -30)(b), b.adjust("capped", 20)),
      ledger: [{ delta: 10, requested: 30, reverses: "led_2" }],
      balance: 100,
      lifetime: 120,
    },
    {
      name: "a debit at max: delta 0, requested the debit",
      metric: "capped",
      setup: (b) => (b.adjust("capped", 100), earn("capped", -30)(b), b.adjust("capped", 30)),
      ledger: [{ delta: 0, requested: 30, reverses: "led_2" }],
      balance: 100,
      lifetime: 130,
    },
    {
      name: "the metric's `initial` opening entry is not reversed",
      metric: "bonus",
      setup: earn("bonus", 10),
      ledger: [{ delta: -10, reverses: "led_2" }],
      balance: 100,
      lifetime: 100,
    },
    {
      name: "a gauge `set` upwards is taken back (and its lifetime)",
      metric: "level",
      setup: (b) => (b.send("set80", {}, { id: "target" }), b.send("set200")),
      ledger: [{ delta: -80, reverses: "led_1" }],
      balance: 120,
      lifetime: 120,
    },
    {
      name: "a gauge `set` downwards is given back",
      metric: "level",
      setup: (b) => (b.send("set200"), b.send("set50", {}, { id: "target" })),
      ledger: [{ delta: 150, reverses: "led_2" }],
      balance: 200,
      lifetime: 200,
    },
  ];

  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const book = bookOf();
    c.setup(book);
    const before = book.ledger.length;
    const { report, result, entries } = book.reverse("target", { id: "adm_rev", at: LATER });
    // The one-step campaign the target completed (unlimited) is uncounted too.
    const completed = book.activity.get("target")!.outcome.campaignsCompleted.map((x) => x.campaign);
    expect(completed).toHaveLength(1);
    expect(report).toEqual({
      eventId: "target",
      ledger: c.ledger.map((l) => ({ metric: c.metric, ...l })),
      productsRevoked: [],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: completed[0], completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    // One compensating entry per reversed entry: reason `reversal`, the original's id, the op's id.
    expect(entries).toEqual(
      c.ledger.map((l, i) => ({
        id: `led_${before + i + 1}`,
        seq: before + i + 1,
        metric: c.metric,
        delta: l.delta,
        ...(l.requested !== undefined ? { requested: l.requested } : {}),
        balanceAfter: c.balance,
        reason: "reversal",
        source: { eventId: "adm_rev", reverses: l.reverses },
        occurredAt: LATER,
        at: LATER,
      })),
    );
    expect(book.metric(c.metric)).toEqual({ balance: c.balance, lifetime: c.lifetime });
    // Each compensation is a loyalty.metric.changed like any other change, then the event itself.
    const changed = derivedOf(result).filter(([type]) => type === "loyalty.metric.changed");
    expect(changed).toHaveLength(c.ledger.length);
    expect(changed[0]![1]).toMatchObject({ metric: c.metric, delta: c.ledger[0]!.delta, balance: c.balance, lifetime: c.lifetime, reason: "reversal" });
    expect(derivedOf(result).at(-1)).toEqual(["loyalty.event.reversed", { eventId: "target" }]);
  });

  it("every entry of the cascade is reversed (root, completion and derived-event effects), in ledger order", () => {
    const book = bookOf([
      // Priority decides the order: `buy` credits first, then a campaign on the metric change.
      campaign("buy", [{ id: "s", on: "purchase", effects: [fromData("points"), credit("xp", 5)] }], { ...unlimited, priority: 10, effects: [credit("points", 3)] }),
      oneStep("echo", "loyalty.metric.changed", [credit("xp", 1)], unlimited, { all: [{ path: "event.data.metric", op: "eq", value: "points" }, { path: "event.data.reason", op: "eq", value: "effect" }] }),
    ]);
    book.send("purchase", { amount: 40 }, { id: "p1" });
    // The echo's one step counts once per root event (the second points change is cut).
    expect(book.ledger.map((e) => [e.id, e.metric, e.delta, e.source.campaign, e.source.derivedEventId !== undefined])).toEqual([
      ["led_1", "points", 40, "buy", false],
      ["led_2", "xp", 5, "buy", false],
      ["led_3", "points", 3, "buy", false],
      ["led_4", "xp", 1, "echo", true],
    ]);
    const { report } = book.reverse("p1");
    expect(report.ledger).toEqual([
      { metric: "points", delta: -40, reverses: "led_1" },
      { metric: "xp", delta: -5, reverses: "led_2" },
      { metric: "points", delta: -3, reverses: "led_3" },
      { metric: "xp", delta: -1, reverses: "led_4" },
    ]);
    expect(report.completionsUncounted).toEqual([{ campaign: "buy", completions: 0 }, { campaign: "echo", completions: 0 }]);
    // The reversal's own metric changes have reason `reversal`: the echo campaign ignores them.
    expect(book.metric("points")).toEqual({ balance: 0, lifetime: 0 });
    expect(book.metric("xp")).toEqual({ balance: 0, lifetime: 0 });
  });

  it("zero-delta and `initial` entries in the input are skipped; entries of other events are not touched", () => {
    const book = bookOf();
    book.send("points", { amount: 7 }, { id: "other" });
    book.send("points", { amount: 5 }, { id: "target" });
    const input = book.input("target");
    input.entries.unshift({ id: "led_90", metric: "points", delta: 0, reason: "effect" }, { id: "led_91", metric: "points", delta: 100, reason: "initial" });
    const { report } = book.reverse("target", { input });
    expect(report.ledger).toEqual([{ metric: "points", delta: -5, reverses: "led_2" }]);
    expect(book.metric("points")).toEqual({ balance: 7, lifetime: 7 });
  });

  it("an entry of a metric no longer defined is skipped with unknown_metric; the others are reversed", () => {
    const book = bookOf([metric("old"), oneStep("both", "both", [credit("old", 10), credit("points", 5)])]);
    book.send("both", {}, { id: "target" });
    // The metric and its campaign are gone from the programme the reversal runs against.
    book.programme = programmeOf(BASE);
    const { report, entries } = book.reverse("target");
    expect(report).toMatchObject({ ledger: [{ metric: "points", delta: -5, reverses: "led_2" }], skipped: [{ reverses: "led_1", reason: "unknown_metric" }] });
    expect(entries.map((e) => e.metric)).toEqual(["points"]);
    expect(book.state.metrics.old).toEqual({ balance: 10, lifetime: 10 });
    expect(book.metric("points")).toEqual({ balance: 0, lifetime: 0 });
  });
});

describe("earn, spend, refund cannot keep a level", () => {
  const tiers = { bronze: 0, silver: 100, gold: 500 };
  it.each<[demotion: boolean, level: string, changes: unknown[]]>([
    [true, "bronze", [["loyalty.ladder.level_changed", { ladder: "tiers", from: "silver", to: "bronze", direction: "down" }]]],
    [false, "silver", []],
  ])("demotion: %s → %s", (demotion, level, changes) => {
    const book = bookOf([ladder("tiers", "points", tiers, { demotion })]);
    book.send("points", { amount: 150 }, { id: "earn" });
    expect(book.state.ladders.tiers).toBe("silver");
    book.adjust("points", -150);
    expect(book.state.ladders.tiers).toBe("silver"); // spending never demotes (basis: lifetime)
    const { report, result } = book.reverse("earn");
    expect(report.ledger).toEqual([{ metric: "points", delta: 0, requested: -150, reverses: "led_1" }]);
    expect(book.metric("points")).toEqual({ balance: 0, lifetime: 0 });
    expect(book.state.ladders.tiers).toBe(level);
    expect(derivedOf(result).filter(([t]) => t === "loyalty.ladder.level_changed")).toEqual(changes);
    expect(result.outcome.changes.filter((c) => c.type === "ladder")).toEqual(
      demotion ? [{ type: "ladder", ladder: "tiers", from: "silver", to: "bronze" }] : [],
    );
    // Without demotion the level is kept, but the next one needs earning from 0 again.
    book.send("points", { amount: 450 });
    expect(book.state.ladders.tiers).toBe("silver");
    book.send("points", { amount: 50 });
    expect(book.state.ladders.tiers).toBe("gold");
  });

  it("a balance-based ladder with demotion follows the balance down", () => {
    const book = bookOf([ladder("spend", "points", tiers, { basis: "balance", demotion: true })]);
    book.send("points", { amount: 80 });
    book.send("points", { amount: 450 }, { id: "big" });
    expect(book.state.ladders.spend).toBe("gold");
    book.reverse("big");
    expect(book.state.ladders.spend).toBe("bronze");
    expect(book.metric("points")).toEqual({ balance: 80, lifetime: 80 });
  });
});

describe("redemptions the event made", () => {
  const redeemOn = campaign("shop", [{ id: "s", on: "order", effects: [{ type: "product.redeem", product: "mug", quantity: 1 }, credit("xp", 4)] }], unlimited);

  it("a completed redemption is cancelled: its debit given back, the product revoked, redemption.cancelled emitted", () => {
    const book = bookOf([redeemOn]);
    book.adjust("points", 100);
    book.send("order", {}, { id: "o1" });
    expect(book.redemptions.get("rdm:o1:1")).toEqual({ id: "rdm:o1:1", product: "mug", quantity: 1, price: { metric: "points", amount: 30 }, codes: [], status: "completed" });
    expect(book.state.products.mug).toBe(1);
    const { report, result, entries } = book.reverse("o1", { id: "adm_r" });
    expect(report).toEqual({
      eventId: "o1",
      ledger: [
        { metric: "points", delta: 30, reverses: "led_2" },
        { metric: "xp", delta: -4, reverses: "led_3" },
      ],
      productsRevoked: [{ product: "mug", quantity: 1 }],
      redemptionsCancelled: ["rdm:o1:1"],
      completionsUncounted: [{ campaign: "shop", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    expect(entries[0]).toMatchObject({ delta: 30, reason: "reversal", source: { eventId: "adm_r", reverses: "led_2", redemption: "rdm:o1:1" } });
    expect(entries[1]!.source).toEqual({ eventId: "adm_r", reverses: "led_3" });
    expect(book.state.products.mug).toBeUndefined();
    // The debit given back is not earned: lifetime stays at the 100 adjusted.
    expect(book.metric("points")).toEqual({ balance: 100, lifetime: 100 });
    expect(derivedOf(result).filter(([t]) => t !== "loyalty.metric.changed")).toEqual([
      ["loyalty.product.revoked", { product: "mug", quantity: 1, via: "redemption" }],
      ["loyalty.redemption.cancelled", { redemption: "rdm:o1:1", product: "mug", quantity: 1, price: { metric: "points", amount: 30 } }],
      ["loyalty.event.reversed", { eventId: "o1" }],
    ]);
  });

  it("a redemption cancelled earlier is not refunded again, nor revoked again", () => {
    const book = bookOf([redeemOn]);
    book.adjust("points", 100);
    book.send("order", {}, { id: "o1" });
    book.cancel("rdm:o1:1");
    expect(book.metric("points")).toEqual({ balance: 100, lifetime: 100 });
    const { report, result } = book.reverse("o1");
    expect(report).toEqual({
      eventId: "o1",
      ledger: [{ metric: "xp", delta: -4, reverses: "led_3" }],
      productsRevoked: [],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: "shop", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    expect(book.metric("points")).toEqual({ balance: 100, lifetime: 100 });
    expect(derivedOf(result).map(([t]) => t)).toEqual(["loyalty.metric.changed", "loyalty.event.reversed"]);
  });

  it("a redemption with a code: the code is withdrawn and named in redemption.cancelled", () => {
    const book = bookOf([redeemOn]);
    book.adjust("points", 100);
    book.send("order", {}, { id: "o1", reservations: new Map([["o1|shop|s|mug|0", { id: "rsv_1", codes: ["M-1"] }]]) });
    expect(book.state.codes).toEqual({ mug: ["M-1"] });
    expect(book.redemptions.get("rdm:o1:1")!.codes).toEqual(["M-1"]);
    const { report, result } = book.reverse("o1");
    expect(report.redemptionsCancelled).toEqual(["rdm:o1:1"]);
    expect(book.state.codes).toEqual({});
    expect(book.state.products).toEqual({});
    expect(derivedOf(result).filter(([t]) => t === "loyalty.redemption.cancelled")).toEqual([
      ["loyalty.redemption.cancelled", { redemption: "rdm:o1:1", product: "mug", quantity: 1, price: { metric: "points", amount: 30 }, code: "M-1", codes: ["M-1"] }],
    ]);
  });

  it("a redeemed product the user no longer holds revokes nothing, the debit is still given back", () => {
    const book = bookOf([redeemOn]);
    book.adjust("points", 100);
    book.send("order", {}, { id: "o1" });
    book.admin({ op: "revoke", product: "mug", quantity: null });
    const { report } = book.reverse("o1");
    expect(report.productsRevoked).toEqual([]);
    expect(report.redemptionsCancelled).toEqual(["rdm:o1:1"]);
    expect(book.metric("points")).toEqual({ balance: 100, lifetime: 100 });
  });
});

describe("grants the event made", () => {
  it("items: what the user still holds of the grant, up to its quantity", () => {
    const book = bookOf([oneStep("give", "give", [{ type: "product.grant", product: "ticket", quantity: 3 }], unlimited)]);
    book.send("give", {}, { id: "g1" });
    book.send("give", {}, { id: "g2" });
    expect(book.state.products.ticket).toBe(6);
    expect(book.reverse("g1").report.productsRevoked).toEqual([{ product: "ticket", quantity: 3 }]);
    expect(book.state.products.ticket).toBe(3);
    book.admin({ op: "revoke", product: "ticket", quantity: 2 });
    const { report, result } = book.reverse("g2");
    expect(report.productsRevoked).toEqual([{ product: "ticket", quantity: 1 }]);
    expect(book.state.products.ticket).toBeUndefined();
    expect(derivedOf(result)).toEqual([
      ["loyalty.product.revoked", { product: "ticket", quantity: 1, via: "admin" }],
      ["loyalty.event.reversed", { eventId: "g2" }],
    ]);
  });

  it("a badge is revoked; a grant that was skipped (already held) revokes nothing", () => {
    const book = bookOf([oneStep("badge-on", "join", [{ type: "product.grant", product: "badge" }], unlimited)]);
    book.send("join", {}, { id: "j1" });
    const second = book.send("join", {}, { id: "j2" });
    expect(second.outcome.effects).toMatchObject([{ type: "product.grant", status: "skipped", reason: "already_held" }]);
    expect(book.reverse("j2").report.productsRevoked).toEqual([]);
    expect(book.state.products.badge).toBe(1);
    expect(book.reverse("j1").report.productsRevoked).toEqual([{ product: "badge", quantity: 1 }]);
    expect(book.state.products).toEqual({});
  });

  it("a coded reward: the event's code is withdrawn, the user's other codes stay", () => {
    const book = bookOf([oneStep("win", "win", [{ type: "product.grant", product: "voucher", quantity: 1 }], unlimited)]);
    const answer = (id: string, code: string) => new Map<string, ReservationAnswer>([[`${id}|win|s|voucher|0`, { id: `rsv_${id}`, codes: [code] }]]);
    book.send("win", {}, { id: "w1", reservations: answer("w1", "V-1") });
    book.send("win", {}, { id: "w2", reservations: answer("w2", "V-2") });
    expect(book.state.codes).toEqual({ voucher: ["V-1", "V-2"] });
    const { report, result } = book.reverse("w1");
    expect(report.productsRevoked).toEqual([{ product: "voucher", quantity: 1 }]);
    expect(book.state.products.voucher).toBe(1);
    expect(book.state.codes).toEqual({ voucher: ["V-2"] });
    expect(derivedOf(result)).toEqual([
      ["loyalty.product.revoked", { product: "voucher", quantity: 1, via: "admin" }],
      ["loyalty.event.reversed", { eventId: "w1" }],
    ]);
    book.reverse("w2");
    expect(book.state.codes).toEqual({});
    expect(book.state.products).toEqual({});
  });

  it("without the activity entry (aged out) grants are not known: only the ledger and redemptions are reversed", () => {
    const book = bookOf([
      campaign("shop", [{ id: "s", on: "order", effects: [{ type: "product.redeem", product: "mug", quantity: 1 }, { type: "product.grant", product: "ticket", quantity: 2 }, credit("xp", 4)] }]),
    ]);
    book.adjust("points", 100);
    book.send("order", {}, { id: "o1" });
    expect(book.state.campaigns.shop!.completions).toBe(1);
    const { report } = book.reverse("o1", { keepActivity: false });
    expect(report).toEqual({
      eventId: "o1",
      ledger: [
        { metric: "points", delta: 30, reverses: "led_2" },
        { metric: "xp", delta: -4, reverses: "led_3" },
      ],
      productsRevoked: [{ product: "mug", quantity: 1 }],
      redemptionsCancelled: ["rdm:o1:1"],
      completionsUncounted: [],
      outcomeKept: false,
      skipped: [],
    });
    // The tickets and the completion stay: nothing says the event caused them any more.
    expect(book.state.products).toEqual({ ticket: 2 });
    expect(book.state.campaigns.shop).toMatchObject({ completions: 1, periodCompletions: 1 });
  });
});

describe("campaign completions", () => {
  it("a repeat.limit 1 campaign is uncounted, its full round reset, and can be completed again with its effects", () => {
    const book = bookOf([
      campaign("welcome", [
        { id: "a", on: "join", effects: [credit("points", 10)] },
        { id: "b", on: "profile", effects: [{ type: "product.grant", product: "badge" }] },
      ], { order: "any", effects: [credit("xp", 50)] }),
    ]);
    book.send("join", {}, { id: "j1" });
    book.send("profile", {}, { id: "p1" });
    expect(book.state.campaigns.welcome).toEqual({ completions: 1, period: "all", periodCompletions: 1, progress: { a: 1, b: 1 } });
    expect(book.send("join", {}, { id: "j2" }).outcome.steps).toEqual([]); // exhausted

    const { report } = book.reverse("p1");
    expect(report).toEqual({
      eventId: "p1",
      ledger: [{ metric: "xp", delta: -50, reverses: "led_2" }],
      productsRevoked: [{ product: "badge", quantity: 1 }],
      redemptionsCancelled: [],
      completionsUncounted: [{ campaign: "welcome", completions: 0 }],
      outcomeKept: true,
      skipped: [],
    });
    // The whole round starts over (step a's progress came from j1, which is not reversed).
    expect(book.state.campaigns.welcome).toEqual({ completions: 0, period: "all", periodCompletions: 0, progress: {} });
    book.send("join", {}, { id: "j3" });
    const again = book.send("profile", {}, { id: "p2" });
    expect(again.outcome.campaignsCompleted).toEqual([{ campaign: "welcome", completions: 1 }]);
    expect(book.state.products.badge).toBe(1);
    expect(book.metric("points")).toEqual({ balance: 20, lifetime: 20 });
    expect(book.metric("xp")).toEqual({ balance: 50, lifetime: 50 });
  });

  it("an unlimited campaign: the completion is uncounted, the round in progress is kept", () => {
    const book = bookOf([campaign("two", [{ id: "a", on: "a" }, { id: "b", on: "b" }], { order: "any", ...unlimited, effects: [credit("points", 5)] })]);
    book.send("a", {}, { id: "a1" });
    book.send("b", {}, { id: "b1" });
    book.send("a", {}, { id: "a2" });
    expect(book.state.campaigns.two).toEqual({ completions: 1, period: "all", periodCompletions: 1, progress: { a: 1 } });
    expect(book.reverse("b1").report.completionsUncounted).toEqual([{ campaign: "two", completions: 0 }]);
    expect(book.state.campaigns.two).toEqual({ completions: 0, period: "all", periodCompletions: 0, progress: { a: 1 } });
  });

  it("repeat.total: a campaign out of completions can be completed once more", () => {
    const book = bookOf([oneStep("twice", "go", [credit("points", 1)], { repeat: { limit: null, total: 2 } })]);
    book.send("go", {}, { id: "g1" });
    book.send("go", {}, { id: "g2" });
    expect(book.state.campaigns.twice).toEqual({ completions: 2, period: "all", periodCompletions: 2, progress: { s: 1 } });
    expect(book.send("go", {}, { id: "g3" }).outcome.campaignsCompleted).toEqual([]);
    expect(book.reverse("g1").report.completionsUncounted).toEqual([{ campaign: "twice", completions: 1 }]);
    expect(book.state.campaigns.twice).toEqual({ completions: 1, period: "all", periodCompletions: 1, progress: {} });
    expect(book.send("go", {}, { id: "g4" }).outcome.campaignsCompleted).toEqual([{ campaign: "twice", completions: 2 }]);
  });

  it("an event that completed nothing uncounts nothing, even for a campaign it progressed", () => {
    const book = bookOf([campaign("three", [{ id: "s", on: "go", target: 3, effects: [credit("points", 9)] }])]);
    book.send("go", {}, { id: "g1" });
    const { report } = book.reverse("g1");
    expect(report.completionsUncounted).toEqual([]);
    expect(book.state.campaigns.three).toEqual({ completions: 0, period: "all", periodCompletions: 0, progress: { s: 1 } });
  });

  describe("with repeat.every: day", () => {
    const daily = () => oneStep("daily", "visit", [credit("points", 5)], { repeat: { limit: 1, every: "day" } });
    const D1 = "2026-11-25T09:00:00.000Z";
    const D2 = "2026-11-26T09:00:00.000Z";

    it("the event's period is current: its count is freed, the campaign completes again that day", () => {
      const book = bookOf([daily()]);
      book.send("visit", {}, { id: "v1", at: D1 });
      const { report } = book.reverse("v1", { at: iso(Date.parse(D1) + 3_600_000) });
      expect(report.completionsUncounted).toEqual([{ campaign: "daily", completions: 0 }]);
      expect(book.state.campaigns.daily).toEqual({ completions: 0, period: "2026-11-25", periodCompletions: 0, progress: {} });
      const again = book.send("visit", {}, { id: "v2", at: iso(Date.parse(D1) + 2 * 3_600_000) });
      expect(again.outcome.campaignsCompleted).toEqual([{ campaign: "daily", completions: 1 }]);
    });

    it("the event's period is past: only the lifetime count drops; today's completion still counts", () => {
      const book = bookOf([daily()]);
      book.send("visit", {}, { id: "v1", at: D1 });
      book.send("visit", {}, { id: "v2", at: D2 });
      expect(book.state.campaigns.daily).toEqual({ completions: 2, period: "2026-11-26", periodCompletions: 1, progress: { s: 1 } });
      const { report } = book.reverse("v1", { at: iso(Date.parse(D2) + 3_600_000) });
      expect(report.completionsUncounted).toEqual([{ campaign: "daily", completions: 1 }]);
      expect(book.state.campaigns.daily).toMatchObject({ completions: 1, period: "2026-11-26", periodCompletions: 1 });
      // Today's limit is still used up.
      expect(book.send("visit", {}, { id: "v3", at: iso(Date.parse(D2) + 2 * 3_600_000) }).outcome.campaignsCompleted).toEqual([]);
      expect(book.metric("points")).toEqual({ balance: 5, lifetime: 5 });
    });

    it("the event's period is past: today's round, which still counts, keeps its progress", () => {
      const book = bookOf([daily()]);
      book.send("visit", {}, { id: "v1", at: D1 });
      book.send("visit", {}, { id: "v2", at: D2 });
      book.reverse("v1", { at: iso(Date.parse(D2) + 3_600_000) });
      // Nothing of today's round was uncounted: it stays complete, as the user saw it.
      expect(book.state.campaigns.daily).toEqual({ completions: 1, period: "2026-11-26", periodCompletions: 1, progress: { s: 1 } });
    });
  });

  it("a dynamic segment reading the campaign's completions is left when the completion is uncounted", () => {
    const book = bookOf([
      oneStep("welcome", "join", [credit("points", 1)]),
      segment("welcomed", { path: "user.campaigns.welcome.completions", op: "gte", value: 1 }),
    ]);
    book.send("join", {}, { id: "j1" });
    expect(book.state.dynamicSegments).toEqual(["welcomed"]);
    const { result } = book.reverse("j1");
    expect(book.state.dynamicSegments).toEqual([]);
    expect(derivedOf(result).filter(([t]) => t.startsWith("loyalty.segment."))).toEqual([["loyalty.segment.left", { segment: "welcomed" }]]);
  });
});

describe("loyalty.event.reversed", () => {
  it("is a derived event of the reversal: campaigns match it, webhooks subscribed to it get it", () => {
    const book = bookOf([
      oneStep("penalty", "loyalty.event.reversed", [{ type: "attribute.set", key: "lastReversed", value: "{{event.data.eventId}}" }], unlimited),
      webhook("hook", ["loyalty.event.reversed"]),
    ]);
    book.send("points", { amount: 5 }, { id: "e1" });
    const { result } = book.reverse("e1", { id: "adm_x", at: LATER });
    expect(result.derived.find((d) => d.type === "loyalty.event.reversed")).toEqual({
      id: "adm_x#2",
      type: "loyalty.event.reversed",
      occurredAt: LATER,
      data: { eventId: "e1" },
      depth: 1,
    });
    expect(book.state.attributes).toEqual({ lastReversed: "e1" });
    expect(result.outbox).toEqual([{ kind: "webhook", webhook: "hook", eventId: "adm_x#2", type: "loyalty.event.reversed", occurredAt: LATER, data: { eventId: "e1" } }]);
  });

  it("is emitted even when the event changed nothing that can be reversed", () => {
    const book = bookOf();
    book.send("page_view", {}, { id: "pv" });
    const { report, result } = book.reverse("pv");
    expect(report).toEqual({ eventId: "pv", ledger: [], productsRevoked: [], redemptionsCancelled: [], completionsUncounted: [], outcomeKept: true, skipped: [] });
    expect(derivedOf(result)).toEqual([["loyalty.event.reversed", { eventId: "pv" }]]);
    expect(result.ledger).toEqual([]);
  });
});

describe("left alone (docs/decisions.md)", () => {
  it("streak check-ins, attributes, static segments and the progress of an unfinished round", () => {
    const book = bookOf([
      segment("tagged"),
      streak("daily"),
      oneStep("visit", "visit", [
        { type: "streak.checkin", streak: "daily" },
        { type: "attribute.set", key: "seen", value: true },
        { type: "segment.add", segment: "tagged" },
        credit("points", 2),
      ], unlimited),
      campaign("long", [{ id: "s", on: "visit", target: 5 }]),
    ]);
    book.send("visit", {}, { id: "v1" });
    const before = structuredClone({ streak: book.state.streaks!.daily, attributes: book.state.attributes, segments: book.state.staticSegments, long: book.state.campaigns.long });
    const { report } = book.reverse("v1");
    expect(report.ledger).toEqual([{ metric: "points", delta: -2, reverses: "led_1" }]);
    expect({ streak: book.state.streaks!.daily, attributes: book.state.attributes, segments: book.state.staticSegments, long: book.state.campaigns.long }).toEqual(before);
    expect(before.streak).toMatchObject({ current: 1 });
    expect(before.long).toMatchObject({ progress: { s: 1 } });
  });

  it("an event the user never had is refused not_found and changes nothing", () => {
    const book = bookOf();
    const run = startRun(book.programme, book.state, { id: "adm_1", type: "admin.reverse", occurredAt: AT, data: {}, silent: false }, { now: Date.parse(AT) });
    expect(applyAdminOp(run, { op: "reverse", eventId: "nope" })).toEqual({ refused: "not_found", detail: "the user has no event 'nope'", path: "path.eventId" });
  });
});

describe("many events, some reversed: the invariants hold", () => {
  it("a mixed history over every metric, reversed in another order", () => {
    const book = bookOf([
      ladder("tiers", "xp", { bronze: 0, silver: 20, gold: 60 }, { demotion: true }),
      campaign("shop", [{ id: "s", on: "order", effects: [{ type: "product.redeem", product: "mug", quantity: 1 }] }], unlimited),
    ]);
    book.adjust("points", 200);
    const ids: string[] = [];
    const plan: Array<[string, number]> = [["points", 40], ["xp", 30], ["credit", 25], ["capped", 60], ["points", -20], ["order", 0], ["xp", 45], ["capped", -10], ["bonus", 5], ["order", 0]];
    plan.forEach(([type, amount], i) => {
      const id = `m${i}`;
      ids.push(id);
      book.send(type, { amount }, { id });
      if (i % 3 === 2) book.adjust("credit", -30);
    });
    for (const id of [ids[5]!, ids[0]!, ids[6]!, ids[3]!, ids[9]!, ids[2]!]) book.reverse(id, { at: LATER });
    // Reversed redemptions are cancelled; the other stays completed.
    expect([...book.redemptions.values()].map((r) => [r.id, r.status])).toEqual([
      ["rdm:m5:1", "cancelled"],
      ["rdm:m9:1", "cancelled"],
    ]);
    expect(book.state.products).toEqual({});
    expect(book.metric("xp")).toEqual({ balance: 30, lifetime: 30 });
    expect(book.state.ladders.tiers).toBe("silver");
    expect(book.metric("points")).toEqual({ balance: 180, lifetime: 200 });
    expect(book.metric("credit")).toEqual({ balance: -90, lifetime: 0 });
    // (assertLedger runs after the test.)
  });
});
