import { parseInstant } from "../definitions/conditions";
import type { CampaignBody } from "../definitions/kinds/campaigns";
import { userSegments } from "./conditions";
import { levelRank } from "./run";
import { streakStatusAt, streakZone } from "./streaks";
import { periodKey } from "./time";
import type { Programme, UserState } from "./types";

// What a user sees of their own state (SPEC §9) and what an operator sees of it (§7):
// computed from the state and the programme, as of `now`. Pure.

const ENDED_VISIBLE_MS = 30 * 86_400_000;

export function metricsView(programme: Programme, state: UserState) {
  return [...programme.metrics.entries()].map(([id, metric]) => {
    const held = state.metrics[id] ?? { balance: metric.initial, lifetime: Math.max(metric.initial, 0) };
    return { metric: id, name: metric.name, kind: metric.kind, balance: held.balance, lifetime: held.lifetime };
  });
}

export function laddersView(programme: Programme, state: UserState) {
  return [...programme.ladders.entries()].map(([id, ladder]) => {
    const held = state.metrics[ladder.metric];
    const metric = programme.metrics.get(ladder.metric);
    const value = held ? (ladder.basis === "balance" ? held.balance : held.lifetime) : (metric?.initial ?? 0);
    // Computed as of the current thresholds (a change reaches users lazily, SPEC §4.4).
    const heldRank = Math.max(0, ladder.levels.findIndex((l) => l.id === state.ladders[id]));
    const rank = held ? levelRank(ladder, held, heldRank) : heldRank;
    const level = ladder.levels[rank]!;
    const next = ladder.levels[rank + 1];
    const progress = next ? Math.min(1, Math.max(0, (value - level.threshold) / (next.threshold - level.threshold))) : 1;
    const brief = (l: { id: string; name: string; threshold: number }) => ({ id: l.id, name: l.name, threshold: l.threshold });
    return { ladder: id, name: ladder.name, level: brief(level), next: next ? brief(next) : null, value, progress };
  });
}

export function rewardsView(programme: Programme, state: UserState) {
  return Object.entries(state.products)
    .filter(([, quantity]) => quantity > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, quantity]) => {
      const product = programme.products.get(id);
      return { product: id, type: product?.type ?? "item", name: product?.name ?? id, quantity, codes: state.codes?.[id] ?? [] };
    });
}

export function segmentsView(programme: Programme, state: UserState) {
  return userSegments(state)
    .filter((id) => programme.segments.has(id))
    .sort()
    .map((id) => ({ segment: id, name: programme.segments.get(id)!.name }));
}

function campaignStatus(campaign: CampaignBody, now: number): string | undefined {
  if (campaign.status === "paused") return "paused";
  if (campaign.status !== "active") return undefined;
  const ends = campaign.endsAt ? parseInstant(campaign.endsAt)! : undefined;
  if (ends !== undefined && now >= ends) return now - ends <= ENDED_VISIBLE_MS ? "ended" : undefined;
  const starts = campaign.startsAt ? parseInstant(campaign.startsAt)! : undefined;
  if (starts !== undefined && now < starts) return "upcoming";
  return "active";
}

/**
 * Campaigns the user may see: visible, active/paused/recently ended, in the audience
 * now. `remaining` = completions still allowed in the current period (null: unlimited).
 */
export function campaignsView(programme: Programme, state: UserState, now: number, options: { includeHidden?: boolean } = {}) {
  const segments = userSegments(state);
  const zone = state.timezone ?? programme.spaceTimezone ?? "UTC";
  const out = [];
  for (const [id, campaign] of programme.campaigns) {
    const status = campaignStatus(campaign, now);
    if (!status) continue;
    if (campaign.visibility === "hidden" && !options.includeHidden) continue;
    const { include, exclude } = campaign.audience;
    if (include.length > 0 && !include.some((s) => segments.includes(s))) continue;
    if (exclude.some((s) => segments.includes(s))) continue;
    const held = state.campaigns[id];
    const period = campaign.repeat.every ? periodKey(now, zone, campaign.repeat.every) : "all";
    const current = held && held.period === period;
    const periodCompletions = current ? held.periodCompletions : 0;
    const completions = held?.completions ?? 0;
    const { limit, total } = campaign.repeat;
    const left = [limit === null ? null : limit - periodCompletions, total === null ? null : total - completions].filter((n): n is number => n !== null);
    out.push({
      campaign: id,
      name: campaign.name,
      description: campaign.description,
      imageUrl: campaign.imageUrl,
      status,
      startsAt: campaign.startsAt,
      endsAt: campaign.endsAt,
      steps: campaign.steps.map((step) => {
        const progress = current ? (held.progress[step.id] ?? 0) : 0;
        return { step: step.id, name: step.name, progress, target: step.target, completed: progress >= step.target };
      }),
      completions,
      remaining: left.length === 0 ? null : Math.max(0, Math.min(...left)),
    });
  }
  return out.sort((a, b) => (a.campaign < b.campaign ? -1 : a.campaign > b.campaign ? 1 : 0));
}

/** `/me/streaks` (SPEC §9): computed as of now, never written. */
export function streaksView(programme: Programme, state: UserState, now: number) {
  return [...programme.streaks.entries()].map(([id, streak]) => {
    const zone = streakZone(streak, state.timezone, programme.spaceTimezone);
    // `timezone` is the zone of the period in progress (a zone change applies from the next one).
    const { state: settled, status, bounds, zone: periodZone } = streakStatusAt(streak, state.streaks?.[id], now, zone);
    return {
      streak: id,
      name: streak.name,
      period: streak.period,
      status,
      current: settled.current,
      longest: settled.longest,
      freezes: settled.freezes,
      timezone: periodZone,
      periodStart: new Date(bounds.start).toISOString(),
      periodEnd: new Date(bounds.end).toISOString(),
      lastCheckinPeriod: settled.lastCheckinPeriod,
      keptThrough: settled.keptThrough,
      history: [...settled.history].reverse(),
    };
  });
}

/** The profile summary of GET /me (SPEC §9). */
export function profileView(programme: Programme, state: UserState, publicAttributes: string[], now: number) {
  const attributes: Record<string, unknown> = {};
  for (const key of publicAttributes) if (Object.hasOwn(state.attributes, key)) attributes[key] = state.attributes[key];
  return {
    userId: state.userId,
    attributes,
    timezone: state.timezone,
    metrics: metricsView(programme, state).map(({ metric, balance }) => ({ metric, balance })),
    ladders: laddersView(programme, state).map(({ ladder, level }) => ({ ladder, level: level.id })),
    streaks: streaksView(programme, state, now).map(({ streak, status, current, longest }) => ({ streak, status, current, longest })),
    badges: rewardsView(programme, state).filter((r) => r.type === "badge").length,
    segments: segmentsView(programme, state).map((s) => s.segment),
  };
}

/** GET /admin/users/{userId} (SPEC §9 last bullet): every piece in one document. */
export function userDocument(programme: Programme, state: UserState, now: number) {
  return {
    userId: state.userId,
    attributes: state.attributes,
    timezone: state.timezone,
    locale: state.locale,
    metrics: metricsView(programme, state),
    ladders: laddersView(programme, state),
    streaks: streaksView(programme, state, now),
    rewards: rewardsView(programme, state),
    segments: segmentsView(programme, state),
    campaigns: campaignsView(programme, state, now, { includeHidden: true }),
    createdAt: state.createdAt,
    lastSeenAt: state.lastSeenAt,
  };
}

/** Stock as the catalogue shows it (SPEC §4.2): exact counts stay with the redemption. */
export type StockState = "available" | "low" | "out";

export function stockState(stock: { remaining: number | null; configured: number | null } | undefined): StockState {
  if (!stock || stock.remaining === null) return "available";
  if (stock.remaining <= 0) return "out";
  // Low: the last tenth of the stock last set (at least the last unit).
  return stock.remaining <= Math.max(1, Math.ceil((stock.configured ?? stock.remaining) / 10)) ? "low" : "available";
}

/**
 * GET /me/catalog (SPEC §9): rewards with a price, what they cost, their stock state, and
 * whether this user can take one now (balance, their per-user limit, stock).
 */
export function catalogView(programme: Programme, state: UserState, stock: ReadonlyMap<string, { remaining: number | null; configured: number | null }>) {
  return [...programme.products.entries()]
    .filter(([, p]) => p.type === "reward" && p.price !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, p]) => {
      const price = p.price!;
      const balance = state.metrics[price.metric]?.balance ?? programme.metrics.get(price.metric)?.initial ?? 0;
      const held = state.products[id] ?? 0;
      const availability = stockState(stock.get(id));
      const affordable = balance >= price.amount;
      const withinLimit = p.perUserLimit === null || held < p.perUserLimit;
      return {
        product: id,
        name: p.name,
        description: p.description,
        imageUrl: p.imageUrl,
        price,
        stock: availability,
        affordable,
        held,
        perUserLimit: p.perUserLimit,
        redeemable: affordable && withinLimit && availability !== "out",
      };
    });
}
