import { parseInstant } from "../definitions/conditions";
import type { CampaignBody } from "../definitions/kinds/campaigns";
import { explainFailure, resolvePath } from "./conditions";
import { applyEffect } from "./effects";
import { Run } from "./run";
import { periodKey } from "./time";
import type { CampaignState, CompiledStep, EngineEvent, EvaluationResult, Programme, ReservationAnswer, UserState } from "./types";

// One root event against one user's state (SPEC §5.2 steps 3–5): candidate steps by event
// type in priority order, each counted if the campaign's status, window, audience, repeat
// and step order allow it and its conditions hold; completed steps and campaigns run
// their effects; derived events are evaluated breadth-first in the same run. Pure: the
// caller supplies the time and stores the result.

const LATE_GRACE_MS = 7 * 86_400_000;

export interface RootEvent {
  id: string;
  type: string;
  /** RFC 3339 UTC with milliseconds. */
  occurredAt: string;
  data: Record<string, unknown>;
  silent: boolean;
}

export interface EvaluateOptions {
  /** Processing time (unix ms). */
  now: number;
  explain?: boolean;
  /** A run the user did not cause (the alarm's settlement): no first/last sight. */
  system?: boolean;
  /** Answers to a planning run's reservation needs; absent = plan (SPEC §4.2). */
  reservations?: ReadonlyMap<string, ReservationAnswer>;
}

/**
 * Starts a root: clones the state, records first sight (loyalty.user.created, createdAt =
 * the earliest occurredAt seen) and last sight. The caller queues what to evaluate.
 */
export function startRun(programme: Programme, input: UserState, root: RootEvent, options: EvaluateOptions): Run {
  const state = workingCopy(input);
  const event: EngineEvent = { id: root.id, type: root.type, occurredAt: root.occurredAt, data: root.data, depth: 0 };
  const run = new Run(programme, state, event, options.now, root.silent, options.reservations);
  if (options.explain) run.outcome.explain = [];
  run.relevelAll();
  if (options.system) return run;
  state.lastSeenAt = new Date(options.now).toISOString();
  if (state.createdAt === null) {
    state.createdAt = root.occurredAt;
    run.emit("loyalty.user.created", { attributes: { ...state.attributes } }, 0);
    for (const segmentId of programme.segments.keys()) run.recomputeSegment(segmentId, { event });
  } else if (root.occurredAt < state.createdAt) {
    state.createdAt = root.occurredAt;
    run.stateChanged("createdAt", { event });
  }
  return run;
}

/**
 * The state a run may change, without copying what it will not: every collection is
 * copied one level deep (metrics and streaks whole: they are few and small), but the
 * campaign states — one per campaign the user ever touched, the bulk of a seasoned
 * user's state — are not copied at all: the run's map is an empty object layered over the
 * caller's (its prototype), so a lookup falls through to the caller's state and a write
 * (campaignStateFor copies the state first) lands in the layer. Copying 1,200 campaign
 * states cost more than evaluating the event (bench/README.md). The run only ever looks
 * campaigns up by id; finishRun takes the layer off again (settleCampaignLayer).
 * The caller's state is never changed (a failed or dry run leaves it as it was).
 */
function workingCopy(input: UserState): UserState {
  return {
    ...input,
    attributes: { ...input.attributes },
    metrics: Object.fromEntries(Object.entries(input.metrics).map(([id, m]) => [id, { ...m }])),
    products: { ...input.products },
    staticSegments: [...input.staticSegments],
    dynamicSegments: [...input.dynamicSegments],
    ladders: { ...input.ladders },
    campaigns: Object.create(input.campaigns) as Record<string, CampaignState>,
    ...(input.streaks ? { streaks: structuredClone(input.streaks) } : {}),
    ...(input.codes ? { codes: Object.fromEntries(Object.entries(input.codes).map(([id, list]) => [id, [...list]])) } : {}),
  };
}

/** Evaluates everything queued, breadth-first, then the ladder changes it caused. */
export function finishRun(run: Run): EvaluationResult {
  // At least one flush: a run may change levels without queueing anything (re-levelling).
  do {
    while (run.queue.length > 0) evaluateOne(run, run.queue.shift()!);
    run.flushLadderChanges();
  } while (run.queue.length > 0);
  const campaignChanges = settleCampaignLayer(run.state);
  return { state: run.state, campaignChanges, outcome: run.outcome, ledger: run.ledger, outbox: run.outbox, derived: run.derived, needs: run.needs, used: run.used, redemptions: run.redemptions };
}

/** The layers' bases, for adoptCampaignChanges: what each result's campaigns were laid over. */
const campaignBases = new WeakMap<UserState, Record<string, CampaignState>>();

/**
 * Replaces the run's layered campaign map with a plain property: the states the run wrote
 * (returned, for a caller that stores campaign states one by one) and, for everyone else,
 * `state.campaigns` as the full map, built on first read. Most callers never read it (the
 * Durable Object adopts the changes instead), so a run costs what it changed, not what the
 * user holds.
 */
function settleCampaignLayer(state: UserState): Record<string, CampaignState> {
  const layer = state.campaigns;
  const base = Object.getPrototypeOf(layer) as Record<string, CampaignState>;
  const changes: Record<string, CampaignState> = {};
  for (const id of Object.keys(layer)) changes[id] = layer[id]!;
  let full: Record<string, CampaignState> | undefined;
  Object.defineProperty(state, "campaigns", {
    enumerable: true,
    configurable: true,
    get: () => (full ??= { ...base, ...changes }),
    set: (value: Record<string, CampaignState>) => Object.defineProperty(state, "campaigns", { value, writable: true, enumerable: true, configurable: true }),
  });
  campaignBases.set(state, base);
  return changes;
}

/**
 * The result's state with its campaign changes written into the map the run started from,
 * in place: O(changes), for a caller that keeps one state in memory and has just stored
 * the result (the Durable Object). The run's input state must not be used afterwards.
 */
export function adoptCampaignChanges(result: EvaluationResult): UserState {
  const base = campaignBases.get(result.state);
  if (base === undefined) return result.state;
  Object.assign(base, result.campaignChanges);
  result.state.campaigns = base;
  campaignBases.delete(result.state);
  return result.state;
}

export function applyEvent(programme: Programme, input: UserState, root: RootEvent, options: EvaluateOptions): EvaluationResult {
  const run = startRun(programme, input, root, options);
  run.queue.push(run.root);
  return finishRun(run);
}

function explain(run: Run, step: CompiledStep, reason: string, extra: Record<string, unknown> = {}): void {
  run.outcome.explain?.push({ campaign: step.campaignId, step: step.id, reason, ...extra });
}

function evaluateOne(run: Run, event: EngineEvent): void {
  const candidates = run.programme.stepsByEventType.get(event.type) ?? [];
  for (let i = 0; i < candidates.length; ) {
    const campaignId = candidates[i]!.campaignId;
    const group: CompiledStep[] = [];
    while (i < candidates.length && candidates[i]!.campaignId === campaignId) group.push(candidates[i++]!);
    evaluateCampaign(run, event, campaignId, group);
  }
}

/** Why the campaign cannot count this event at all (undefined: it may). */
function campaignGate(run: Run, campaign: CampaignBody, event: EngineEvent): string | undefined {
  if (campaign.status !== "active") return "not_active";
  const at = Date.parse(event.occurredAt);
  if (campaign.startsAt && at < parseInstant(campaign.startsAt)!) return "outside_window";
  if (campaign.endsAt && at >= parseInstant(campaign.endsAt)!) return "outside_window";
  const lateUntil = campaign.acceptLateUntil
    ? parseInstant(campaign.acceptLateUntil)!
    : campaign.endsAt
      ? parseInstant(campaign.endsAt)! + LATE_GRACE_MS
      : Number.POSITIVE_INFINITY;
  if (run.now >= lateUntil) return "outside_window";
  const { include, exclude } = campaign.audience;
  if (include.length > 0 && !include.some((s) => run.inSegment(s))) return "not_in_audience";
  if (exclude.some((s) => run.inSegment(s))) return "not_in_audience";
  return undefined;
}

/** Whether the campaign's repeat rules let it complete again (SPEC §4.7). */
export function moreCompletionsAllowed(campaign: CampaignBody, cs: CampaignState): boolean {
  const { limit, total } = campaign.repeat;
  return (limit === null || cs.periodCompletions < limit) && (total === null || cs.completions < total);
}

/** The campaign's counters for the event's repeat period (SPEC §4.7); undefined when late. */
function campaignStateFor(run: Run, campaignId: string, campaign: CampaignBody, event: EngineEvent): CampaignState | undefined {
  const period = campaign.repeat.every ? periodKey(Date.parse(event.occurredAt), run.zone, campaign.repeat.every) : "all";
  const shared = run.campaignState(campaignId);
  if (!shared) return run.writeCampaignState(campaignId, { completions: 0, period, periodCompletions: 0, progress: {} });
  // Copy on first write in this run: the caller's state shares the object until now.
  const cs = run.ownCampaignState(campaignId, shared);
  if (period < cs.period) return undefined;
  if (period > cs.period) {
    cs.period = period;
    cs.periodCompletions = 0;
    cs.progress = {};
  }
  return cs;
}

function evaluateCampaign(run: Run, event: EngineEvent, campaignId: string, group: CompiledStep[]): void {
  const campaign = group[0]!.campaign;
  const gate = campaignGate(run, campaign, event);
  if (gate) return group.forEach((step) => explain(run, step, gate));
  const cs = campaignStateFor(run, campaignId, campaign, event);
  if (!cs) {
    if (event.depth === 0) run.outcome.late = true;
    return group.forEach((step) => explain(run, step, "late"));
  }
  if (!moreCompletionsAllowed(campaign, cs)) return group.forEach((step) => explain(run, step, "repeat_exhausted"));

  // Every step is judged on the progress as it was before this event (SPEC §4.7).
  const before = { ...cs.progress };
  const complete = (index: number) => (before[campaign.steps[index]!.id] ?? 0) >= campaign.steps[index]!.target;
  const next = campaign.steps.findIndex((_, index) => !complete(index));
  let advanced = false;
  const scope = { programme: run.programme, state: run.state, zone: run.zone, event };

  for (const compiled of group) {
    const step = campaign.steps[compiled.index]!;
    const key = `${campaignId}/${step.id}`;
    if (complete(compiled.index)) {
      explain(run, compiled, "already_counted");
      continue;
    }
    if (campaign.order === "sequential" && (compiled.index !== next || advanced)) {
      explain(run, compiled, "not_next_step");
      continue;
    }
    const failure = compiled.match.conditions ? explainFailure(compiled.match.conditions, scope) : undefined;
    if (failure) {
      explain(run, compiled, "condition_false", { ...failure });
      continue;
    }
    let amount = 1;
    if (step.measure) {
      const measured = resolvePath(step.measure, scope);
      if (!measured.found || typeof measured.value !== "number" || !Number.isFinite(measured.value) || measured.value <= 0) {
        explain(run, compiled, "condition_false", { path: step.measure, op: "measure", actual: measured.found ? measured.value : null });
        continue;
      }
      amount = measured.value;
    }
    if (run.counted.has(key)) {
      // It would count again in this root event: the once-per-root guard cuts a loop (SPEC §5.2 step 4).
      run.limit("step_counted");
      explain(run, compiled, "already_counted");
      continue;
    }
    run.counted.add(key);
    advanced = true;
    // Overshoot is not carried over (SPEC §4.7).
    const progress = Math.min(step.target, (before[step.id] ?? 0) + amount);
    cs.progress[step.id] = progress;
    const completed = progress >= step.target;
    run.outcome.steps.push({ campaign: campaignId, step: step.id, progress, target: step.target, completed });
    if (!completed) continue;
    const origin = { event, campaign: campaignId, step: step.id };
    for (const effect of step.effects) applyEffect(run, effect, origin);
    run.emit("loyalty.step.completed", { campaign: campaignId, step: step.id }, event.depth);
  }

  if (campaign.steps.every((s) => (cs.progress[s.id] ?? 0) >= s.target)) {
    cs.completions += 1;
    cs.periodCompletions += 1;
    run.outcome.campaignsCompleted.push({ campaign: campaignId, completions: cs.completions });
    const origin = { event, campaign: campaignId, step: null };
    for (const effect of campaign.effects) applyEffect(run, effect, origin);
    run.emit("loyalty.campaign.completed", { campaign: campaignId, completions: cs.completions }, event.depth);
    // The next round starts empty if another completion is allowed; the event that
    // completed this round does not count toward it.
    if (moreCompletionsAllowed(campaign, cs)) cs.progress = {};
    run.stateChanged(`campaigns.${campaignId}`, origin);
  }
}
