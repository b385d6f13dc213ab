import { codeFields, revokeProduct } from "./rewards";
import type { Origin, Run } from "./run";
import { periodKey } from "./time";
import { moreCompletionsAllowed } from "./evaluate";
import type { Outcome } from "./types";

// Reversing an event (SPEC §7): a refund or a fraudulent purchase is taken back with
// everything its cascade did to the user's economy. Compensating ledger entries
// (`source.reverses`) take back credits, lifetime included, and give back debits; the
// products it granted are revoked and the redemptions it made cancelled; the campaign
// completions it caused are uncounted, so their limits are free again. Ladders follow the
// metric and demote only where `demotion: true`. What it leaves alone (streak check-ins,
// attributes, static segments, progress towards steps) is in docs/decisions.md.

/** One of the event's ledger entries, as the user's object stores it. */
export interface ReversibleEntry {
  id: string;
  metric: string;
  delta: number;
  reason: string;
  redemption?: string;
}

/** A redemption the event made, with its status (only `completed` ones are cancelled). */
export interface ReversibleRedemption {
  id: string;
  product: string;
  quantity: number;
  price: { metric: string; amount: number };
  codes: string[];
  status: string;
}

/** What the user's object knows of the event: filled in before the run. */
export interface ReversalInput {
  eventId: string;
  /** The ledger is kept forever, so this is complete at any age; oldest first. */
  entries: ReversibleEntry[];
  /** The activity entry while it is kept (30 days): it tells grants and completions. */
  activity: { occurredAt: string; outcome: Outcome } | null;
  redemptions: ReversibleRedemption[];
}

export interface ReversalReport {
  eventId: string;
  ledger: Array<{ metric: string; delta: number; requested?: number; reverses: string }>;
  productsRevoked: Array<{ product: string; quantity: number }>;
  redemptionsCancelled: string[];
  completionsUncounted: Array<{ campaign: string; completions: number }>;
  /** false once the activity entry aged out: only the ledger and redemptions were known. */
  outcomeKept: boolean;
  /** Entries of metrics no longer defined, left as they are. */
  skipped: Array<{ reverses: string; reason: "unknown_metric" }>;
}

export function reverseEvent(run: Run, input: ReversalInput): ReversalReport {
  const origin: Origin = { event: run.root };
  const report: ReversalReport = {
    eventId: input.eventId,
    ledger: [],
    productsRevoked: [],
    redemptionsCancelled: [],
    completionsUncounted: [],
    outcomeKept: input.activity !== null,
    skipped: [],
  };
  // A redemption cancelled since (SPEC §7's cancel) was refunded then: its debit stays.
  const refunded = new Set(input.redemptions.filter((r) => r.status !== "completed").map((r) => r.id));
  for (const entry of input.entries) {
    if (entry.delta === 0 || entry.reason === "initial") continue; // opening a metric is not something the event earned
    if (entry.redemption !== undefined && refunded.has(entry.redemption)) continue;
    compensate(run, entry, origin, report);
  }
  for (const redemption of input.redemptions) {
    if (redemption.status !== "completed") continue;
    revoke(run, redemption.product, redemption.quantity, redemption.codes, "redemption", origin, report);
    report.redemptionsCancelled.push(redemption.id);
    run.emit(
      "loyalty.redemption.cancelled",
      { redemption: redemption.id, product: redemption.product, quantity: redemption.quantity, price: redemption.price, ...codeFields(redemption.codes) },
      0,
    );
  }
  if (input.activity) {
    for (const effect of input.activity.outcome.effects) {
      if (effect.type !== "product.grant" || effect.status !== "applied") continue;
      revoke(run, String(effect.product), Number(effect.quantity ?? 1), (effect.codes as string[] | undefined) ?? [], "admin", origin, report);
    }
    uncountCompletions(run, input.activity, report);
  }
  run.emit("loyalty.event.reversed", { eventId: input.eventId }, 0);
  return report;
}

/**
 * The entry's opposite, within the metric's bounds: a balance spent since cannot be taken
 * below the floor (a metric whose `min` allows debt takes it all), and `requested` keeps
 * what was owed. A reversed credit leaves lifetime in full, whatever the balance allowed:
 * otherwise "earn, spend, refund" would keep a lifetime-based level.
 */
function compensate(run: Run, entry: ReversibleEntry, origin: Origin, report: ReversalReport): void {
  const metric = run.programme.metrics.get(entry.metric);
  if (!metric) {
    report.skipped.push({ reverses: entry.id, reason: "unknown_metric" });
    return;
  }
  const held = run.touchMetric(entry.metric, origin);
  const owed = -entry.delta;
  let delta = owed;
  if (owed < 0) {
    const floor = run.floorOf(entry.metric);
    if (floor !== null) delta = Math.min(0, Math.max(owed, floor - held.balance));
  } else if (metric.max !== null) {
    delta = Math.max(0, Math.min(owed, metric.max - held.balance));
  }
  const lifetimeDelta = owed < 0 ? owed : 0; // debits given back were never earned
  const source = { reverses: entry.id, ...(entry.redemption !== undefined ? { redemption: entry.redemption } : {}) };
  run.changeMetric(entry.metric, delta, "reversal", origin, { requested: owed, source, lifetimeDelta });
  report.ledger.push({ metric: entry.metric, delta, ...(delta !== owed ? { requested: owed } : {}), reverses: entry.id });
}

/** Takes back what the user still holds of a grant, and its codes. */
function revoke(run: Run, productId: string, quantity: number, codes: string[], via: string, origin: Origin, report: ReversalReport): void {
  const revoked = revokeProduct(run, productId, quantity, codes, origin, via);
  if (revoked > 0) report.productsRevoked.push({ product: productId, quantity: revoked });
}

/**
 * Each completion the event caused no longer counts toward the campaign's limits: the
 * lifetime count always, the period's count when the event's period is still current.
 */
function uncountCompletions(run: Run, activity: NonNullable<ReversalInput["activity"]>, report: ReversalReport): void {
  const counts = new Map<string, number>();
  for (const { campaign } of activity.outcome.campaignsCompleted) counts.set(campaign, (counts.get(campaign) ?? 0) + 1);
  for (const [campaignId, count] of counts) {
    const shared = run.state.campaigns[campaignId];
    if (!shared) continue;
    const cs = run.ownCampaignState(campaignId, shared);
    const campaign = run.programme.campaigns.get(campaignId);
    const every = campaign?.repeat.every;
    const period = every ? periodKey(Date.parse(activity.occurredAt), run.zone, every) : "all";
    const exhaustedBefore = campaign !== undefined && !moreCompletionsAllowed(campaign, cs);
    const uncounted = Math.min(count, cs.completions);
    cs.completions -= uncounted;
    if (period === cs.period) cs.periodCompletions = Math.max(0, cs.periodCompletions - count);
    // A campaign out of completions keeps its last round on display, every step full. If
    // the uncounting lets it complete again, that round starts over: left full, the next
    // event would complete the campaign without any of its steps being earned. (A round
    // that still counts, e.g. today's when yesterday's completion is uncounted, stays.)
    if (exhaustedBefore && moreCompletionsAllowed(campaign, cs) && campaign.steps.every((step) => (cs.progress[step.id] ?? 0) >= step.target)) {
      cs.progress = {};
    }
    if (uncounted > 0) {
      report.completionsUncounted.push({ campaign: campaignId, completions: cs.completions });
      run.stateChanged(`campaigns.${campaignId}`, { event: run.root });
    }
  }
}

