import type { CampaignBody } from "../definitions/kinds/campaigns";
import type { LadderBody } from "../definitions/kinds/ladders";
import type { MetricBody } from "../definitions/kinds/metrics";
import type { ProductBody } from "../definitions/kinds/products";
import type { SegmentBody } from "../definitions/kinds/segments";
import type { StreakBody } from "../definitions/kinds/streaks";
import type { WebhookBody } from "../definitions/kinds/webhooks";
import type { Condition } from "../definitions/conditions";
import type { RedemptionRecord } from "./rewards";
import type { StreakState } from "./streaks";

// The engine's data: what it is given (a compiled programme, a user's state, an event,
// the time) and what it answers (the new state, the outcome, ledger entries, outbox
// messages). Plain JSON-serialisable data only: the Durable Object stores it as is.

export type AttributeValue = string | number | boolean | null | string[];

export interface MetricState {
  balance: number;
  /** Sum of positive changes, minus reversed credits (SPEC §4.1). */
  lifetime: number;
}

export interface CampaignState {
  /** Lifetime completions. */
  completions: number;
  /** The repeat period the counters below belong to (`all` without `repeat.every`). */
  period: string;
  periodCompletions: number;
  /** Step id → progress in the current round. */
  progress: Record<string, number>;
}

export interface UserState {
  userId: string;
  /** null until the first event: reading never creates a user (SPEC §7). */
  createdAt: string | null;
  lastSeenAt: string | null;
  timezone: string | null;
  /** When a profile write last changed the zone (SPEC §5.4: at most once per 24 h). */
  timezoneChangedAt?: string;
  locale: string | null;
  attributes: Record<string, AttributeValue>;
  metrics: Record<string, MetricState>;
  products: Record<string, number>;
  /** Static memberships (set by the Admin API or effects). */
  staticSegments: string[];
  /** Dynamic memberships (rules evaluated on this state). */
  dynamicSegments: string[];
  /** Ladder id → level id. */
  ladders: Record<string, string>;
  campaigns: Record<string, CampaignState>;
  /** Absent in states stored before streaks existed. */
  streaks?: Record<string, StreakState>;
  /** Product id → codes allocated to the user (code pools, SPEC §4.2). */
  codes?: Record<string, string[]>;
}

export function emptyUserState(userId: string): UserState {
  return {
    userId,
    createdAt: null,
    lastSeenAt: null,
    timezone: null,
    locale: null,
    attributes: {},
    metrics: {},
    products: {},
    staticSegments: [],
    dynamicSegments: [],
    ladders: {},
    campaigns: {},
    streaks: {},
  };
}

/** An event as the engine sees it: root (from a client) or derived (from the engine). */
export interface EngineEvent {
  id: string;
  type: string;
  /** RFC 3339 UTC with milliseconds. */
  occurredAt: string;
  data: Record<string, unknown>;
  depth: number;
}

export interface StepMatch {
  eventType: string;
  conditions: Condition | null;
}

export interface CompiledStep {
  campaignId: string;
  /** The campaign itself: at 5,000 campaigns the look-up by id was a cache miss per candidate. */
  campaign: CampaignBody;
  index: number;
  id: string;
  match: StepMatch;
}

/** A space's definitions, indexed for evaluation (SPEC §5.9). Built once per version. */
export interface Programme {
  version: number;
  spaceTimezone: string;
  /** Pushes go to the space's gateway (one signed POST) instead of Web Push (SPEC §8.2). */
  pushGateway: boolean;
  metrics: Map<string, MetricBody>;
  products: Map<string, ProductBody>;
  segments: Map<string, SegmentBody>;
  ladders: Map<string, LadderBody>;
  streaks: Map<string, StreakBody>;
  webhooks: Map<string, WebhookBody>;
  /** Non-archived campaigns (status decides whether they evaluate). */
  campaigns: Map<string, CampaignBody>;
  /** Event type → candidate steps, in evaluation order (priority desc, campaign id, step order). */
  stepsByEventType: Map<string, CompiledStep[]>;
  /** Metric id → ladders on it. */
  laddersByMetric: Map<string, string[]>;
  /** State key (e.g. `metrics.points`, `attributes.country`) → dynamic segments reading it. */
  segmentsByKey: Map<string, string[]>;
  /** Derived event type (or `*`) → enabled webhook endpoints subscribed to it. */
  webhooksByEventType: Map<string, string[]>;
}

export type EffectStatus = "applied" | "skipped" | "failed";

export interface EffectReport {
  campaign: string;
  step: string | null;
  type: string;
  status: EffectStatus;
  reason?: string;
  [field: string]: unknown;
}

export interface LedgerEntryDraft {
  metric: string;
  delta: number;
  requested?: number;
  balanceAfter: number;
  reason: string;
  source: {
    eventId?: string;
    derivedEventId?: string;
    campaign?: string;
    step?: string;
    redemption?: string;
    adjustmentBy?: string;
    reverses?: string;
  };
  occurredAt: string;
}

export type OutboxMessage =
  | {
      kind: "webhook";
      webhook: string;
      eventId: string;
      type: string;
      occurredAt: string;
      data: unknown;
      /** Tells two webhook.send effects of one event to one endpoint apart (its webhook-id). */
      seq?: number;
    }
  | { kind: "push"; eventId: string; title: string; body: string; url: string | null; data: unknown; gateway?: boolean };

export interface Outcome {
  steps: Array<{ campaign: string; step: string; progress: number; target: number; completed: boolean }>;
  campaignsCompleted: Array<{ campaign: string; completions: number }>;
  effects: EffectReport[];
  changes: Array<Record<string, unknown>>;
  derivedEvents: Array<{ id: string; type: string; depth: number }>;
  late: boolean;
  cascadeLimited: boolean;
  explain?: Array<Record<string, unknown>>;
}

/**
 * A grant or redemption of a stocked or coded product needs stock and codes reserved in D1
 * before the user's transaction (SPEC §4.2). The engine is pure: a planning run records
 * what it would take (`needs`) and the caller reserves it, then a second run applies with
 * the answers. Keys name the effect that needs it, stable across the two runs.
 */
export interface ReservationNeed {
  key: string;
  product: string;
  quantity: number;
}

export type ReservationAnswer = { id: string; codes: string[] } | { refused: "out_of_stock" | "out_of_codes" };

export interface EvaluationResult {
  state: UserState;
  /** The campaign states the run wrote (also in `state.campaigns`), keyed by campaign id. */
  campaignChanges: Record<string, CampaignState>;
  outcome: Outcome;
  ledger: LedgerEntryDraft[];
  outbox: OutboxMessage[];
  /** Every derived event produced (evaluated or cut by the depth limit). */
  derived: EngineEvent[];
  /** Reservations a planning run would need (empty once answered). */
  needs: ReservationNeed[];
  /** Keys of the reservations this result applied (the rest are to be released). */
  used: string[];
  /** Redemptions made (SPEC §7), for the caller to record. */
  redemptions: RedemptionRecord[];
}
