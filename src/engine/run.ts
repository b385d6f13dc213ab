import type { LadderBody } from "../definitions/kinds/ladders";
import { metricFloor } from "../definitions/kinds/metrics";
import { evaluateCondition, userSegments } from "./conditions";
import type { RedemptionRecord } from "./rewards";
import type {
  CampaignState,
  EngineEvent,
  LedgerEntryDraft,
  Outcome,
  OutboxMessage,
  Programme,
  ReservationAnswer,
  ReservationNeed,
  UserState,
} from "./types";

// The working state of one root event's evaluation: the user's state being changed, the
// outcome being written, the derived events queued, and the guards of SPEC §5.2 step 4.
// State changes that other definitions depend on (metrics → ladders, anything → dynamic
// segments) go through here, so every path that changes state keeps them in step.

export const MAX_DEPTH = 8;
export const MAX_DERIVED = 256;
export const MAX_EFFECTS = 512;
export const MAX_OUTBOUND = 50;
export const MAX_OUTBOUND_BYTES = 64 * 1024;

/** Who caused a change: for ledger sources and templates. */
export interface Origin {
  event: EngineEvent;
  campaign?: string;
  step?: string | null;
}

/**
 * A ladder's level for a metric state (SPEC §4.4): the highest level whose threshold ≤ the
 * basis value; without demotion, never below the level already held.
 */
export function levelRank(ladder: LadderBody, held: { balance: number; lifetime: number }, heldRank: number): number {
  const value = ladder.basis === "balance" ? held.balance : held.lifetime;
  let rank = 0;
  ladder.levels.forEach((level, i) => {
    if (level.threshold <= value) rank = i;
  });
  return ladder.demotion ? rank : Math.max(rank, heldRank);
}

export interface MetricChangeOptions {
  /** What was asked for, when a bound cut it (the ledger keeps both). */
  requested?: number;
  /** Source fields beyond the event, campaign and step. */
  source?: LedgerEntryDraft["source"];
  /**
   * How `lifetime` moves (default: by a credit, not by a debit). 0 for a refund (money given
   * back was not earned, SPEC §7); minus the credit for a reversed credit (SPEC §5.7).
   */
  lifetimeDelta?: number;
}

export class Run {
  readonly outcome: Outcome = {
    steps: [],
    campaignsCompleted: [],
    effects: [],
    changes: [],
    derivedEvents: [],
    late: false,
    cascadeLimited: false,
  };
  readonly ledger: LedgerEntryDraft[] = [];
  readonly outbox: OutboxMessage[] = [];
  readonly derived: EngineEvent[] = [];
  readonly queue: EngineEvent[] = [];
  /** (campaign, step) pairs counted in this root event: each counts at most once. */
  readonly counted = new Set<string>();
  effectCount = 0;
  /** Ladder changes of this root event: first `from`, latest `to` (one event per ladder). */
  private readonly ladderChanges = new Map<string, { from: string; to: string }>();
  /** Amounts credited per campaign and metric in this root event (templates). */
  readonly creditedBy = new Map<string, Map<string, number>>();
  /** Reservations asked for (planning) and the keys of those applied (SPEC §4.2). */
  readonly needs: ReservationNeed[] = [];
  readonly used: string[] = [];
  /** Redemptions made in this run, for the caller to record (SPEC §7). */
  readonly redemptions: RedemptionRecord[] = [];
  private readonly keyCounts = new Map<string, number>();

  constructor(
    readonly programme: Programme,
    readonly state: UserState,
    readonly root: EngineEvent,
    readonly now: number,
    readonly silent: boolean,
    /** Answers of the reservations made after a planning run; undefined = planning. */
    readonly reservations?: ReadonlyMap<string, ReservationAnswer>,
  ) {}

  /** Campaign states this run copied from the caller's state (see workingCopy). */
  private readonly ownCampaigns = new Set<string>();
  /** The caller's map under the run's layer (workingCopy makes `state.campaigns` a layer over it). */
  private callerCampaigns?: Record<string, CampaignState>;

  /**
   * A campaign's state as the run sees it. Read from the caller's map directly unless the
   * run has its own copy: looking it up through the layer's prototype cost a cache miss per
   * candidate with the benchmark user's 1,200 campaign states.
   */
  campaignState(campaignId: string): CampaignState | undefined {
    if (this.ownCampaigns.has(campaignId)) return this.state.campaigns[campaignId];
    this.callerCampaigns ??= Object.getPrototypeOf(this.state.campaigns) as Record<string, CampaignState>;
    return this.callerCampaigns[campaignId];
  }

  ownCampaignState(campaignId: string, shared: CampaignState): CampaignState {
    if (this.ownCampaigns.has(campaignId)) return shared;
    return this.writeCampaignState(campaignId, { ...shared, progress: { ...shared.progress } });
  }

  /**
   * Puts a campaign state into the run's layer (see workingCopy in evaluate.ts). Defined,
   * not assigned: an assignment would be refused if the caller's map were frozen.
   */
  writeCampaignState(campaignId: string, own: CampaignState): CampaignState {
    Object.defineProperty(this.state.campaigns, campaignId, { value: own, writable: true, enumerable: true, configurable: true });
    this.ownCampaigns.add(campaignId);
    return own;
  }

  /** Whether taking this product needs a D1 reservation: stock, or a reward's code pool. */
  needsReservation(productId: string): boolean {
    const product = this.programme.products.get(productId);
    return product !== undefined && (product.stock !== null || product.type === "reward");
  }

  /**
   * The reservation for the next take of `product` by `origin` (numbered per origin and
   * product, so the planning run and the applying run name it alike). In a planning run the
   * need is recorded and the take is assumed to succeed, so the whole cascade is planned;
   * otherwise the answer decides. `undefined` answer = not reserved (the cascade changed).
   */
  reservationFor(origin: Origin, productId: string, quantity: number): { key: string; answer: ReservationAnswer | undefined } {
    const base = `${origin.event.id}|${origin.campaign ?? ""}|${origin.step ?? ""}|${productId}`;
    const n = this.keyCounts.get(base) ?? 0;
    this.keyCounts.set(base, n + 1);
    const key = `${base}|${n}`;
    if (!this.reservations) {
      this.needs.push({ key, product: productId, quantity });
      return { key, answer: { id: "", codes: [] } };
    }
    const answer = this.reservations.get(key);
    // A take the planning run did not foresee: ask for it too (the caller runs again).
    if (!answer) this.needs.push({ key, product: productId, quantity });
    return { key, answer };
  }

  get zone(): string {
    return this.state.timezone ?? this.programme.spaceTimezone ?? "UTC";
  }

  limit(reason: string): void {
    this.outcome.cascadeLimited = true;
    this.outcome.changes.push({ type: "cascade_limit", reason });
  }

  /** Queues a derived event (SPEC §5.6): numbered breadth-first, evaluated if shallow enough. */
  emit(type: string, data: Record<string, unknown>, parentDepth: number): void {
    if (this.derived.length >= MAX_DERIVED) return this.limit("derived_events");
    const event: EngineEvent = {
      id: `${this.root.id}#${this.derived.length + 1}`,
      type,
      occurredAt: this.root.occurredAt,
      data,
      depth: parentDepth + 1,
    };
    this.derived.push(event);
    this.outcome.derivedEvents.push({ id: event.id, type, depth: event.depth });
    if (event.depth <= MAX_DEPTH) this.queue.push(event);
    else this.limit("depth");
    if (!type.startsWith("loyalty.")) return;
    const subscribers = new Set([...(this.programme.webhooksByEventType.get(type) ?? []), ...(this.programme.webhooksByEventType.get("*") ?? [])]);
    for (const webhook of [...subscribers].sort()) {
      this.send({ kind: "webhook", webhook, eventId: event.id, type, occurredAt: event.occurredAt, data });
    }
  }

  /** Outbound work (webhooks, pushes); none for silent events, ≤ 50 per root event. */
  send(message: OutboxMessage): "sent" | "silent" | "limited" | "too_large" {
    if (this.silent) return "silent";
    if (this.outbox.length >= MAX_OUTBOUND) {
      this.limit("outbound_messages");
      return "limited";
    }
    // A body over 64 KiB (SPEC §8.1) could never be delivered, and a message over the
    // Queue's 128 KB would block the user's outbox on every retry.
    if (new TextEncoder().encode(JSON.stringify(message)).byteLength > MAX_OUTBOUND_BYTES) return "too_large";
    this.outbox.push(message);
    return "sent";
  }

  /** The metric's state, opened with its `initial` value the first time it is touched. */
  touchMetric(metricId: string, origin: Origin): { balance: number; lifetime: number } {
    const existing = this.state.metrics[metricId];
    if (existing) return existing;
    const metric = this.programme.metrics.get(metricId)!;
    const opened = { balance: 0, lifetime: 0 };
    this.state.metrics[metricId] = opened;
    if (metric.initial !== 0) this.changeMetric(metricId, metric.initial, "initial", origin);
    return opened;
  }

  /**
   * Applies a delta already checked against the metric's bounds, writes its ledger entry,
   * emits loyalty.metric.changed and recomputes what depends on the metric.
   */
  changeMetric(metricId: string, delta: number, reason: string, origin: Origin, options: MetricChangeOptions = {}): void {
    const held = this.state.metrics[metricId]!;
    const previousBalance = held.balance;
    const previousLifetime = held.lifetime;
    held.balance += delta;
    held.lifetime += options.lifetimeDelta ?? (delta > 0 ? delta : 0);
    const { requested } = options;
    this.ledger.push({
      metric: metricId,
      delta,
      ...(requested !== undefined && requested !== delta ? { requested } : {}),
      balanceAfter: held.balance,
      reason,
      source: {
        eventId: this.root.id,
        ...(origin.event.id !== this.root.id ? { derivedEventId: origin.event.id } : {}),
        ...(origin.campaign ? { campaign: origin.campaign } : {}),
        ...(origin.step ? { step: origin.step } : {}),
        ...options.source,
      },
      occurredAt: this.root.occurredAt,
    });
    // The opening `initial` entry is not something the campaign's effects added (templates).
    if (origin.campaign && delta > 0 && reason !== "initial") {
      const byMetric = this.creditedBy.get(origin.campaign) ?? new Map<string, number>();
      byMetric.set(metricId, (byMetric.get(metricId) ?? 0) + delta);
      this.creditedBy.set(origin.campaign, byMetric);
    }
    this.emit(
      "loyalty.metric.changed",
      { metric: metricId, delta, balance: held.balance, previousBalance, lifetime: held.lifetime, previousLifetime, reason },
      origin.event.depth,
    );
    this.recomputeLadders(metricId);
    this.stateChanged(`metrics.${metricId}`, origin);
  }

  /** The lowest balance a debit may reach (null: unbounded). */
  floorOf(metricId: string): number | null {
    return metricFloor(this.programme.metrics.get(metricId)!);
  }

  private recomputeLadders(metricId: string): void {
    for (const ladderId of this.programme.laddersByMetric.get(metricId) ?? []) this.relevel(ladderId);
  }

  /**
   * Re-levels every ladder whose metric the user holds: at the start of each run, so a
   * change of thresholds reaches a user lazily with their next event (SPEC §4.4).
   */
  relevelAll(): void {
    for (const [ladderId, ladder] of this.programme.ladders) if (this.state.metrics[ladder.metric]) this.relevel(ladderId);
  }

  private relevel(ladderId: string): void {
    const ladder = this.programme.ladders.get(ladderId)!;
    const held = this.state.metrics[ladder.metric];
    if (!held) return;
    const heldId = this.state.ladders[ladderId];
    const heldIndex = ladder.levels.findIndex((l) => l.id === heldId);
    // A held level that a ladder change removed cannot be kept: the level is recomputed
    // from the value, and the change is reported from the id the user held.
    const from = heldIndex >= 0 ? ladder.levels[heldIndex]!.id : (heldId ?? ladder.levels[0]!.id);
    const to = ladder.levels[levelRank(ladder, held, Math.max(0, heldIndex))]!.id;
    this.state.ladders[ladderId] = to;
    if (from === to) return;
    const change = this.ladderChanges.get(ladderId);
    this.ladderChanges.set(ladderId, { from: change?.from ?? from, to });
  }

  /**
   * Emits one loyalty.ladder.level_changed per ladder whose final level differs from its
   * level before the root event (SPEC §4.4); called when the queue drains.
   */
  flushLadderChanges(): void {
    for (const [ladderId, { from, to }] of this.ladderChanges) {
      if (from === to) continue;
      const levels = this.programme.ladders.get(ladderId)!.levels.map((l) => l.id);
      // A level removed from the ladder ranks below every level that remains.
      const direction = levels.indexOf(to) > levels.indexOf(from) ? "up" : "down";
      this.outcome.changes.push({ type: "ladder", ladder: ladderId, from, to });
      this.emit("loyalty.ladder.level_changed", { ladder: ladderId, from, to, direction }, 0);
      this.stateChanged(`ladders.${ladderId}`, { event: this.root });
    }
    this.ladderChanges.clear();
  }

  /** Re-evaluates the dynamic segments that read `key` (SPEC §4.3) and emits entries/exits. */
  stateChanged(key: string, origin: Origin): void {
    for (const segmentId of this.programme.segmentsByKey.get(key) ?? []) this.recomputeSegment(segmentId, origin);
  }

  recomputeSegment(segmentId: string, origin: Origin): void {
    const segment = this.programme.segments.get(segmentId);
    if (!segment?.rule) return;
    const member = evaluateCondition(segment.rule, { programme: this.programme, state: this.state, zone: this.zone, now: this.now });
    const was = this.state.dynamicSegments.includes(segmentId);
    if (member === was) return;
    this.state.dynamicSegments = member
      ? [...this.state.dynamicSegments, segmentId].sort()
      : this.state.dynamicSegments.filter((s) => s !== segmentId);
    this.segmentMembershipChanged(segmentId, member, origin);
  }

  /** Emits entered/left when the user's overall membership (static or dynamic) changes. */
  segmentMembershipChanged(segmentId: string, member: boolean, origin: Origin): void {
    this.outcome.changes.push({ type: "segment", segment: segmentId, member });
    this.emit(member ? "loyalty.segment.entered" : "loyalty.segment.left", { segment: segmentId }, origin.event.depth);
  }

  inSegment(segmentId: string): boolean {
    return userSegments(this.state).includes(segmentId);
  }
}
