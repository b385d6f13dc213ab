import { expect } from "vitest";
import type { Condition } from "../../src/definitions/conditions";
import { campaignSchema } from "../../src/definitions/kinds/campaigns";
import { ladderSchema } from "../../src/definitions/kinds/ladders";
import { metricSchema } from "../../src/definitions/kinds/metrics";
import { productSchema } from "../../src/definitions/kinds/products";
import { segmentSchema } from "../../src/definitions/kinds/segments";
import { streakSchema } from "../../src/definitions/kinds/streaks";
import { triggerSchema } from "../../src/definitions/kinds/triggers";
import { webhookSchema } from "../../src/definitions/kinds/webhooks";
import { applyAdminOp, type AdminOp } from "../../src/engine/admin";
import { compileProgramme, type DefinitionInput } from "../../src/engine/compile";
import { applyEvent, finishRun, startRun } from "../../src/engine/evaluate";
import {
  emptyUserState,
  type EvaluationResult,
  type LedgerEntryDraft,
  type OutboxMessage,
  type Programme,
  type ReservationAnswer,
  type UserState,
} from "../../src/engine/types";

// Shared builders for the engine's table-driven tests: definition bodies parsed by the
// kinds' own schemas (so defaults apply exactly as on write), a programme from them, and
// a small driver that feeds events and admin operations to one user and keeps every
// ledger entry so the ledger invariants of SPEC §5.7 can be checked after each test.

type Body = Record<string, unknown>;
const def = (kind: DefinitionInput["kind"], id: string, body: unknown): DefinitionInput => ({ kind, id, body: body as Body });

export const metric = (id: string, body: Body = {}) => def("metrics", id, metricSchema.parse({ name: id, kind: "currency", ...body }));
export const product = (id: string, body: Body = {}) => def("products", id, productSchema.parse({ name: id, type: "item", ...body }));
export const segment = (id: string, rule?: Condition) =>
  def("segments", id, segmentSchema.parse(rule ? { name: id, type: "dynamic", rule } : { name: id, type: "static" }));
export const trigger = (id: string, eventType: string, conditions?: Condition) =>
  def("triggers", id, triggerSchema.parse({ name: id, eventType, ...(conditions ? { conditions } : {}) }));
export const webhook = (id: string, events: string[]) => def("webhooks", id, webhookSchema.parse({ url: "https://hooks.example.com/x", events }));
export const ladder = (id: string, metricId: string, thresholds: Record<string, number>, body: Body = {}) =>
  def(
    "ladders",
    id,
    ladderSchema.parse({
      name: id,
      metric: metricId,
      levels: Object.entries(thresholds).map(([levelId, threshold]) => ({ id: levelId, name: levelId, threshold })),
      ...body,
    }),
  );

/** A streak body parsed by the kind's schema (daily unless `period` says otherwise). */
export const streakBody = (body: Body = {}) => streakSchema.parse({ name: "streak", period: "day", ...body });
export const streak = (id: string, body: Body = {}) => def("streaks", id, streakSchema.parse({ name: id, period: "day", ...body }));

export interface StepSpec {
  id?: string;
  on: string;
  when?: Condition;
  target?: number;
  measure?: string;
  effects?: Body[];
}

/** A step: `{ on: "buy", when, target, measure, effects }` → the schema's step shape. */
export const step = (s: StepSpec, index = 0): Body => ({
  id: s.id ?? `s${index + 1}`,
  name: s.id ?? `s${index + 1}`,
  trigger: { eventType: s.on, ...(s.when ? { conditions: s.when } : {}) },
  ...(s.target !== undefined ? { target: s.target } : {}),
  ...(s.measure !== undefined ? { measure: s.measure } : {}),
  effects: s.effects ?? [],
});

/** An active campaign (unless `status` says otherwise) from step specs and body fields. */
export const campaign = (id: string, steps: Array<StepSpec | Body>, body: Body = {}) =>
  def(
    "campaigns",
    id,
    campaignSchema.parse({
      name: id,
      status: "active",
      steps: steps.map((s, i) => ("on" in s ? step(s as StepSpec, i) : s)),
      ...body,
    }),
  );

/** The smallest campaign: one step on `eventType` with these effects. */
export const oneStep = (id: string, eventType: string, effects: Body[], body: Body = {}, when?: Condition) =>
  campaign(id, [{ id: "s", on: eventType, effects, ...(when ? { when } : {}) }], body);

/** A campaign that checks in to `streakId` on every `eventType` event (no repeat limit). */
export const checkinOn = (id: string, streakId: string, eventType = "visit") =>
  oneStep(id, eventType, [{ type: "streak.checkin", streak: streakId }], { repeat: { limit: null } });

export const programmeOf = (definitions: DefinitionInput[], spaceTimezone = "UTC"): Programme =>
  compileProgramme(definitions, { version: 1, spaceTimezone });

export const AT = "2026-11-25T10:00:00.000Z";
export const iso = (ms: number) => new Date(ms).toISOString();
export const DAY = 86_400_000;

export interface SendOptions {
  id?: string;
  at?: string;
  now?: number;
  silent?: boolean;
  explain?: boolean;
  /** Answers to a planning run's reservation needs (absent: the run plans). */
  reservations?: ReadonlyMap<string, ReservationAnswer>;
}

/**
 * One user driven through the pure engine: each event starts from the state the last
 * one left; every ledger entry and outbox message is kept.
 */
export class Sim {
  state: UserState;
  readonly ledger: LedgerEntryDraft[] = [];
  readonly outbox: OutboxMessage[] = [];
  private n = 0;

  constructor(
    readonly programme: Programme,
    userId = "u1",
    initial: Partial<UserState> = {},
  ) {
    this.state = { ...emptyUserState(userId), ...initial };
  }

  private keep(r: EvaluationResult): EvaluationResult {
    this.state = r.state;
    this.ledger.push(...r.ledger);
    this.outbox.push(...r.outbox);
    return r;
  }

  send(type: string, data: Record<string, unknown> = {}, o: SendOptions = {}): EvaluationResult {
    const at = o.at ?? AT;
    const root = { id: o.id ?? `e${++this.n}`, type, occurredAt: at, data, silent: o.silent ?? false };
    return this.keep(applyEvent(this.programme, this.state, root, { now: o.now ?? Date.parse(at), explain: o.explain ?? true, reservations: o.reservations }));
  }

  /** An admin operation the way the user's Durable Object runs it: refused → nothing kept. */
  admin(op: AdminOp, o: { at?: string; now?: number; id?: string; reservations?: ReadonlyMap<string, ReservationAnswer> } = {}) {
    const at = o.at ?? AT;
    const run = startRun(this.programme, this.state, { id: o.id ?? `op${++this.n}`, type: `admin.${op.op}`, occurredAt: at, data: {}, silent: false }, { now: o.now ?? Date.parse(at), explain: true, reservations: o.reservations });
    const applied = applyAdminOp(run, op);
    if (applied.refused) return { refused: applied, result: undefined };
    return { refused: undefined, applied: applied.result, result: this.keep(finishRun(run)) };
  }

  balance(metricId: string) {
    return this.state.metrics[metricId];
  }

  /** SPEC §5.7: balance = sum of the ledger; lifetime = sum of positive entries (refunds excepted). */
  assertLedger(): void {
    const metrics = new Set([...Object.keys(this.state.metrics), ...this.ledger.map((e) => e.metric)]);
    for (const id of metrics) {
      const entries = this.ledger.filter((e) => e.metric === id);
      const held = this.state.metrics[id] ?? { balance: 0, lifetime: 0 };
      expect({ metric: id, balance: entries.reduce((s, e) => s + e.delta, 0) }).toEqual({ metric: id, balance: held.balance });
      // A refund gives back what was spent: positive, but not earned (SPEC §7).
      const earned = entries.filter((e) => e.reason !== "refund").reduce((s, e) => s + Math.max(0, e.delta), 0);
      expect({ metric: id, lifetime: earned }).toEqual({ metric: id, lifetime: held.lifetime });
      let running = 0;
      for (const e of entries) {
        running += e.delta;
        expect(e.balanceAfter).toBe(running);
      }
    }
  }
}

/** Effect reports without the campaign/step columns: `{ type, status, reason?, … }`. */
export const effectsOf = (r: EvaluationResult) => r.outcome.effects.map(({ campaign: _c, step: _s, ...rest }) => rest);
export const derivedTypes = (r: EvaluationResult) => r.outcome.derivedEvents.map((d) => d.type);
