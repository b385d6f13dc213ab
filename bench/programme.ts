// The benchmark's programme (issue 9): fixed here and documented in bench/README.md, so the
// numbers are comparable across runs and cannot be tuned to the code. A programme of N
// active campaigns spreads them over N / 10 event types (so ~10 campaigns match each
// event), each with one step whose trigger has a condition on the event's data, and
// effects that credit points and XP; every 25th campaign grants a badge and every 10th
// has a 3-step sequence. Around them: 20 dynamic segments on balances and attributes, a
// ladder on XP, a daily streak checked in by `visit`, and a reward.

export const CAMPAIGNS_PER_EVENT_TYPE = 10;

export type ProgrammeDocument = Record<string, Array<Record<string, unknown>>>;

export function eventTypesOf(campaigns: number, perType = CAMPAIGNS_PER_EVENT_TYPE): string[] {
  return Array.from({ length: Math.max(1, Math.ceil(campaigns / perType)) }, (_, i) => `action_${i}`);
}

/** `perType` campaigns match each event type (10 for the engine and HTTP runs). */
export function generateProgramme(campaigns: number, perType = CAMPAIGNS_PER_EVENT_TYPE): ProgrammeDocument {
  const types = eventTypesOf(campaigns, perType);
  const badges = Array.from({ length: Math.ceil(campaigns / 25) }, (_, i) => ({ id: `badge-${i}`, type: "badge", name: `Badge ${i}` }));
  const segments = Array.from({ length: 20 }, (_, i) => ({
    id: `seg-${i}`,
    name: `Segment ${i}`,
    type: "dynamic",
    rule:
      i % 2 === 0
        ? { path: "user.metrics.points.balance", op: "gte", value: (i + 1) * 100 }
        : { all: [{ path: "user.metrics.xp.lifetime", op: "gte", value: i * 50 }, { path: "user.attributes.country", op: "in", value: ["GB", "IE", "FR"] }] },
  }));
  const campaignDefs = Array.from({ length: campaigns }, (_, i) => {
    const on = types[i % types.length]!;
    const effects: Array<Record<string, unknown>> = [
      { type: "metric.add", metric: "points", amount: { path: "event.data.amount", multiply: 1, round: "floor", min: 0, max: 1000 } },
      { type: "metric.add", metric: "xp", amount: 5 },
    ];
    if (i % 25 === 0) effects.push({ type: "product.grant", product: `badge-${i / 25}` });
    const step = (n: number) => ({
      id: `s${n}`,
      name: `Step ${n}`,
      trigger: { eventType: on, conditions: { all: [{ path: "event.data.amount", op: "gte", value: (i % 7) + n }, { path: "event.data.channel", op: "in", value: ["app", "web"] }] } },
      effects: n === 0 ? effects : [],
    });
    return {
      id: `cmp-${i}`,
      name: `Campaign ${i}`,
      status: "active",
      priority: i % 5,
      repeat: { limit: null },
      ...(i % 10 === 0 ? { order: "sequential", steps: [step(0), step(1), step(2)] } : { steps: [step(0)] }),
    };
  });
  campaignDefs.push({
    id: "daily-visit",
    name: "Daily visit",
    status: "active",
    priority: 0,
    repeat: { limit: null },
    steps: [{ id: "v", name: "Visit", trigger: { eventType: "visit", conditions: null }, effects: [{ type: "streak.checkin", streak: "daily" }] }],
  } as never);
  return {
    metrics: [
      { id: "points", name: "Points", kind: "currency" },
      { id: "xp", name: "XP", kind: "counter" },
    ],
    products: [...badges, { id: "scarf", type: "reward", name: "Scarf", price: { metric: "points", amount: 500 } }],
    segments,
    ladders: [
      {
        id: "tiers",
        name: "Tiers",
        metric: "xp",
        levels: [
          { id: "bronze", name: "Bronze", threshold: 0 },
          { id: "silver", name: "Silver", threshold: 1000 },
          { id: "gold", name: "Gold", threshold: 5000 },
        ],
      },
    ],
    streaks: [{ id: "daily", name: "Daily", period: "day", freezes: { initial: 1, max: 3 } }],
    campaigns: campaignDefs,
  };
}

/** One event as the load sends it: a random action with data the conditions read. */
export function eventBody(types: string[], n: number, userId: string): Record<string, unknown> {
  return { id: `bench-${userId}-${n}`, userId, type: types[n % types.length], data: { amount: (n % 20) + 1, channel: n % 3 === 0 ? "web" : "app" } };
}
