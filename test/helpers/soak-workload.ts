import type { CheckReport, Credentials, Expectations, Fetcher } from "./invariants";
import { ADMIN_PREFIX } from "./invariants";

// A seeded random workload for the soak (issue #10): a small programme and a mixed stream
// of operations across many users — events of several types (some matched by campaigns
// that award points, badges and stocked items), exact duplicates, ids re-used with another
// body, concurrent operations for one user, adjustments (some that must be refused),
// redemptions of stocked rewards (some refused for balance, stock or the per-user limit),
// redemptions made by events (a `product.redeem` effect), cancellations with and without
// restock, reversals of earlier events (SPEC §7; some twice at once, some of ids the user
// never had), and definition edits mid-run. Transport-
// agnostic like invariants.ts: test/hardening/soak.test.ts drives it in workerd,
// scripts/soak.ts against `npm start`. Free of `cloudflare:test` and of src/ imports.

// ---------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32): the same seed gives the same stream of operations.

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One key of `weights`, with probability proportional to its weight. */
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}

// ---------------------------------------------------------------------------------------
// The programme

export const SCARF_STOCK = 12;
export const PIN_STOCK = 15;
export const YACHT_STOCK = 1;
export const WEBHOOK_ID = "soak-hook";
export const WEBHOOK_EVENTS = [
  "loyalty.reward.redeemed",
  "loyalty.redemption.cancelled",
  "loyalty.campaign.completed",
  "loyalty.product.granted",
  "loyalty.ladder.level_changed",
  "loyalty.event.reversed",
];

const visitCampaign = (amount: number) => ({
  name: "Visit",
  status: "active",
  repeat: { limit: null },
  steps: [{ id: "v", name: "Visit", trigger: { eventType: "visit" }, effects: [{ type: "metric.add", metric: "points", amount }] }],
});

/** Definitions in creation order: [kind, id, body]. */
export function soakDefinitions(webhookUrl: string): Array<[string, string, Record<string, unknown>]> {
  return [
    ["metrics", "points", { name: "Points", kind: "currency" }],
    ["metrics", "xp", { name: "XP", kind: "counter" }],
    ["products", "welcome-badge", { name: "Welcome", type: "badge" }],
    ["products", "pin", { name: "Pin", type: "item", stock: PIN_STOCK, perUserLimit: 3 }],
    ["products", "ticket", { name: "Ticket", type: "item" }],
    ["products", "scarf", { name: "Scarf", type: "reward", price: { metric: "points", amount: 40 }, stock: SCARF_STOCK, perUserLimit: null }],
    ["products", "mug", { name: "Mug", type: "reward", price: { metric: "points", amount: 15 }, stock: null, perUserLimit: 2 }],
    ["products", "yacht", { name: "Yacht", type: "reward", price: { metric: "points", amount: 1_000_000 }, stock: YACHT_STOCK, perUserLimit: null }],
    [
      "ladders",
      "tiers",
      { name: "Tiers", metric: "xp", levels: [{ id: "bronze", name: "Bronze", threshold: 0 }, { id: "silver", name: "Silver", threshold: 50 }, { id: "gold", name: "Gold", threshold: 200 }] },
    ],
    ["webhooks", WEBHOOK_ID, { url: webhookUrl, events: WEBHOOK_EVENTS }],
    [
      "campaigns",
      "earn",
      {
        name: "Earn on purchases",
        status: "active",
        priority: 10,
        repeat: { limit: null },
        steps: [
          {
            id: "buy",
            name: "Buy",
            trigger: { eventType: "purchase" },
            effects: [
              { type: "metric.add", metric: "points", amount: { path: "event.data.amount", max: 100 } },
              { type: "metric.add", metric: "xp", amount: 5 },
            ],
          },
        ],
      },
    ],
    ["campaigns", "visit", visitCampaign(2)],
    [
      "campaigns",
      "welcome",
      {
        name: "Welcome",
        status: "active",
        steps: [{ id: "join", name: "Sign up", trigger: { eventType: "signup" }, effects: [{ type: "product.grant", product: "welcome-badge" }, { type: "metric.add", metric: "points", amount: 20 }] }],
      },
    ],
    [
      "campaigns",
      "big-spender",
      {
        name: "Big spender",
        status: "active",
        repeat: { limit: null },
        steps: [
          {
            id: "big",
            name: "Spend 80+",
            trigger: { eventType: "purchase", conditions: { path: "event.data.amount", op: "gte", value: 80 } },
            // The badge again (already held: skipped) and a stocked item.
            effects: [{ type: "product.grant", product: "welcome-badge" }, { type: "product.grant", product: "pin" }],
          },
        ],
      },
    ],
    [
      "campaigns",
      "shopper",
      {
        name: "Shopper",
        status: "active",
        order: "sequential",
        repeat: { limit: null, total: 2 },
        steps: [
          { id: "buy-3", name: "Buy three times", trigger: { eventType: "purchase" }, target: 3 },
          { id: "review", name: "Write a review", trigger: { eventType: "review" } },
        ],
        effects: [{ type: "metric.add", metric: "points", amount: 25 }, { type: "product.grant", product: "ticket" }],
      },
    ],
    [
      "campaigns",
      "happy-hour",
      { name: "Happy hour", status: "active", repeat: { limit: null }, steps: [{ id: "h", name: "Visit", trigger: { eventType: "visit" }, effects: [{ type: "metric.add", metric: "xp", amount: 3 }] }] },
    ],
    [
      "campaigns",
      "mug-order",
      {
        name: "Order a mug",
        status: "active",
        repeat: { limit: null },
        // A redemption made by an event: reversing the event cancels it (SPEC §7).
        steps: [{ id: "o", name: "Order", trigger: { eventType: "order" }, effects: [{ type: "product.redeem", product: "mug", quantity: 1 }] }],
      },
    ],
    [
      "campaigns",
      "redeem-bonus",
      {
        name: "Redeem bonus",
        status: "active",
        repeat: { limit: null },
        steps: [{ id: "r", name: "Redeem", trigger: { eventType: "loyalty.reward.redeemed" }, effects: [{ type: "metric.add", metric: "xp", amount: 10 }] }],
      },
    ],
  ];
}

export const INITIAL_STOCK: Record<string, number> = { scarf: SCARF_STOCK, pin: PIN_STOCK, yacht: YACHT_STOCK };

// ---------------------------------------------------------------------------------------
// Operations

export interface SoakEvent {
  id: string;
  userId: string;
  type: string;
  data: Record<string, unknown>;
}

export type Op =
  | { kind: "event"; event: SoakEvent }
  /** The exact same body again (possibly while the first is in flight). */
  | { kind: "duplicate"; event: SoakEvent }
  /** An id this user already had acknowledged, sent with another body: 409 event_id_reused. */
  | { kind: "conflict"; userId: string; pick: number }
  | { kind: "adjust"; userId: string; amount: number; overdraw: boolean }
  | { kind: "redeem"; userId: string; product: string; quantity: number }
  /** One of this user's acknowledged redemptions (`pick` chooses), cancelled. */
  | { kind: "cancel"; userId: string; pick: number; restock: boolean }
  /**
   * One of this user's acknowledged events (`pick` chooses; of type `prefer` when they have
   * one) reversed; `twice`: two identical reversals at once; `unknown`: an id the user never
   * had (404); `drain`: the points balance is first adjusted down to `keep` (at most), so the
   * reversal of a credit meets the floor (SPEC §7: taken down to it, lifetime in full).
   */
  | { kind: "reverse"; userId: string; pick: number; twice: boolean; unknown: boolean; prefer: string | null; drain: boolean; keep: number }
  | { kind: "edit"; edit: "visit-amount"; amount: number }
  | { kind: "edit"; edit: "pause" | "resume"; campaign: string };

export interface Step {
  ops: Op[];
  /** Sent together with Promise.all (all for one user). */
  concurrent: boolean;
  label: string;
}

const EVENT_TYPES = { purchase: 28, visit: 20, signup: 6, review: 10, page_view: 4, order: 3 };

/** A deterministic stream of steps for `users` users. */
export class Workload {
  readonly rng: Rng;
  readonly users: string[];
  private serial = 0;
  private steps = 0;
  private readonly recent: SoakEvent[] = [];
  private readonly paused = new Set<string>();
  private readonly sharedUsed = new Map<string, Set<string>>();

  constructor(
    seed: number,
    userCount: number,
    prefix = "soak",
  ) {
    this.rng = new Rng(seed);
    this.users = Array.from({ length: userCount }, (_, i) => `${prefix}-u${String(i).padStart(3, "0")}`);
  }

  private newEvent(userId: string): SoakEvent {
    const type = this.rng.weighted(EVENT_TYPES);
    const data: Record<string, unknown> = type === "purchase" ? { amount: this.rng.int(1, 120) } : type === "page_view" ? { path: `/p/${this.rng.int(1, 50)}` } : {};
    // Event ids are unique per user, not per space (SPEC §5.1): some ids are shared by
    // several users on purpose (`order-7` of two users are two events).
    const shared = `order-${this.rng.int(1, 40)}`;
    const used = this.sharedUsed.get(userId) ?? new Set<string>();
    const id = this.rng.chance(0.15) && !used.has(shared) ? shared : `e${++this.serial}`;
    if (id === shared) this.sharedUsed.set(userId, used.add(shared));
    const event = { id, userId, type, data };
    this.recent.push(event);
    if (this.recent.length > 200) this.recent.shift();
    return event;
  }

  private adjust(userId: string): Op {
    const r = this.rng.next();
    if (r < 0.2) return { kind: "adjust", userId, amount: -1_000_000_000, overdraw: true };
    if (r < 0.6) return { kind: "adjust", userId, amount: -this.rng.int(1, 80), overdraw: false };
    return { kind: "adjust", userId, amount: this.rng.int(1, 60), overdraw: false };
  }

  private redeem(userId: string): Op {
    const product = this.rng.weighted({ scarf: 6, mug: 3, yacht: 1 });
    return { kind: "redeem", userId, product, quantity: product === "scarf" && this.rng.chance(0.2) ? 2 : 1 };
  }

  /** Every 50 steps at least one of each rarer kind, so a short run still covers them all. */
  private scheduled(n: number): "edit" | "doubleCancel" | "conflict" | "doubleReverse" | null {
    const at = n % 50;
    return at === 10 || at === 35 ? "edit" : at === 30 ? "doubleCancel" : at === 20 ? "conflict" : at === 45 ? "doubleReverse" : null;
  }

  private reverse(userId: string, twice: boolean): Op {
    const r = this.rng.next();
    return {
      kind: "reverse",
      userId,
      pick: this.rng.next(),
      twice,
      unknown: !twice && r < 0.1,
      // Events that made a redemption are rare: ask for one half of the time.
      prefer: this.rng.chance(0.5) ? "order" : null,
      drain: !twice && r >= 0.1 && r < 0.4,
      keep: this.rng.int(0, 5),
    };
  }

  next(): Step {
    const userId = this.rng.pick(this.users);
    const picked = this.rng.weighted({ event: 42, duplicate: 8, conflict: 3, concurrent: 10, adjust: 11, redeem: 11, cancel: 6, doubleCancel: 1, edit: 1.5, reverse: 4 });
    const kind = this.scheduled(++this.steps) ?? picked;
    switch (kind) {
      case "event":
        return { ops: [{ kind: "event", event: this.newEvent(userId) }], concurrent: false, label: "event" };
      case "duplicate": {
        const event = this.recent.length > 0 ? this.rng.pick(this.recent) : this.newEvent(userId);
        return { ops: [{ kind: "duplicate", event }], concurrent: false, label: "duplicate" };
      }
      case "conflict":
        return { ops: [{ kind: "conflict", userId, pick: this.rng.next() }], concurrent: false, label: "conflict" };
      case "concurrent": {
        // One user, several things at once: new events, an exact duplicate of one of them,
        // and an adjustment or a redemption.
        const events = Array.from({ length: this.rng.int(2, 4) }, () => this.newEvent(userId));
        const ops: Op[] = events.map((event) => ({ kind: "event", event }));
        ops.push({ kind: "duplicate", event: this.rng.pick(events) });
        if (this.rng.chance(0.5)) ops.push(this.adjust(userId));
        if (this.rng.chance(0.5)) ops.push(this.redeem(userId));
        // Sometimes a reversal of an earlier event races with the new ones.
        if (this.rng.chance(0.2)) ops.push(this.reverse(userId, false));
        return { ops, concurrent: true, label: "concurrent" };
      }
      case "adjust":
        return { ops: [this.adjust(userId)], concurrent: false, label: "adjust" };
      case "redeem":
        return { ops: [this.redeem(userId)], concurrent: false, label: "redeem" };
      case "cancel":
        return { ops: [{ kind: "cancel", userId, pick: this.rng.next(), restock: this.rng.chance(0.7) }], concurrent: false, label: "cancel" };
      case "reverse":
        return { ops: [this.reverse(userId, false)], concurrent: false, label: "reverse" };
      case "doubleReverse":
        // The same event reversed twice at once: one reversal, two identical answers.
        return { ops: [this.reverse(userId, true)], concurrent: false, label: "double-reverse" };
      case "doubleCancel": {
        // The same redemption cancelled twice at once: exactly one may win.
        const pick = this.rng.next();
        return {
          ops: [
            { kind: "cancel", userId, pick, restock: true },
            { kind: "cancel", userId, pick, restock: true },
          ],
          concurrent: true,
          label: "double-cancel",
        };
      }
      case "edit": {
        if (this.rng.chance(0.5)) return { ops: [{ kind: "edit", edit: "visit-amount", amount: this.rng.int(1, 9) }], concurrent: false, label: "edit" };
        const campaign = this.rng.pick(["happy-hour", "big-spender"]);
        const edit = this.paused.has(campaign) ? "resume" : "pause";
        if (edit === "pause") this.paused.add(campaign);
        else this.paused.delete(campaign);
        return { ops: [{ kind: "edit", edit, campaign }], concurrent: false, label: "edit" };
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// The client and the runner

export interface Reply {
  status: number;
  body: any;
  text: string;
}

export interface TransportStats {
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: Array<{ method: string; path: string; status: number; text: string }>;
  rateLimited: number;
  networkErrors: Array<{ method: string; path: string; error: string }>;
  /** Dev-proxy restarts retried (see isDevProxyRestart): not answers of the Worker. */
  proxyRetries: number;
}

/**
 * The dev server's proxy (wrangler dev's ProxyWorker) answers this 503 itself, without
 * reaching the Worker, when its connection to the Worker fails mid-request; it asks for the
 * request to be sent again. Every answer of the Worker carries X-Request-Id; this one does not.
 */
export function isDevProxyRestart(response: Response, text: string): boolean {
  return response.status === 503 && !response.headers.has("x-request-id") && text.startsWith("Your worker restarted mid-request");
}

/**
 * Admin API calls for one space; 429 is waited out and counted, 5xx recorded. A dev-proxy
 * restart (above) is retried — safe because every retried POST is idempotent: events by
 * their id, other POSTs by the Idempotency-Key the caller passes — and counted apart.
 */
export class AdminClient {
  readonly stats: TransportStats = { requests: 0, byStatus: {}, serverErrors: [], rateLimited: 0, networkErrors: [], proxyRetries: 0 };

  constructor(
    readonly fetcher: Fetcher,
    readonly credentials: Credentials,
  ) {}

  async call(method: string, path: string, body?: unknown, options: { idempotencyKey?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.credentials.key}`, "x-loyalty-space": this.credentials.space };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
    const retryable = method !== "POST" || path === "/events" || options.idempotencyKey !== undefined;
    let retryingProxy = false;
    for (let attempt = 0; ; attempt++) {
      this.stats.requests++;
      let response: Response;
      try {
        response = await this.fetcher(`${ADMIN_PREFIX}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (error) {
        this.stats.networkErrors.push({ method, path, error: String(error) });
        return { status: 0, body: undefined, text: String(error) };
      }
      const text = await response.text();
      if (retryable && attempt < 10 && isDevProxyRestart(response, text)) {
        this.stats.proxyRetries++;
        retryingProxy = true;
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        continue;
      }
      this.stats.byStatus[response.status] = (this.stats.byStatus[response.status] ?? 0) + 1;
      if (response.status === 429 && attempt < 30) {
        this.stats.rateLimited++;
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        continue;
      }
      let parsed: any = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      // The first attempt may still hold its Idempotency-Key inside the Worker.
      if (retryingProxy && response.status === 409 && parsed?.code === "idempotency_in_progress" && attempt < 10) {
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        continue;
      }
      if (response.status >= 500) this.stats.serverErrors.push({ method, path, status: response.status, text: text.slice(0, 500) });
      return { status: response.status, body: parsed, text };
    }
  }
}

/** Creates the programme in the space (PUT each definition, expecting 201). */
export async function installProgramme(client: AdminClient, webhookUrl: string): Promise<{ webhookSecret: string | null }> {
  let webhookSecret: string | null = null;
  for (const [kind, id, body] of soakDefinitions(webhookUrl)) {
    const a = await client.call("PUT", `/${kind}/${id}`, body);
    if (a.status !== 201) throw new Error(`PUT /${kind}/${id}: ${a.status} ${a.text}`);
    if (kind === "webhooks") webhookSecret = a.body?.secret ?? null;
  }
  return { webhookSecret };
}

export interface Finding {
  kind: string;
  detail: string;
  userId?: string;
}

export interface RunStats {
  steps: number;
  operations: number;
  byKind: Record<string, number>;
  /** `${kind} ${status}[ ${code}]` → count. */
  outcomes: Record<string, number>;
  skipped: Record<string, number>;
  findings: Finding[];
  wallMs: number;
}

interface KnownRedemption {
  userId: string;
  id: string;
  product: string;
  quantity: number;
  price: { metric: string; amount: number };
  cancelled: boolean;
  cancels: number;
}

/**
 * Runs steps from a Workload with `concurrency` steps in flight, checks each answer against
 * what the contract allows, and keeps what was acknowledged for the checker.
 */
export class Runner {
  readonly stats: RunStats = { steps: 0, operations: 0, byKind: {}, outcomes: {}, skipped: {}, findings: [], wallMs: 0 };
  /** Per user and event id: how many sends were answered 201 (applied) / 200 (duplicate) / refused. */
  private readonly events = new Map<string, { userId: string; id: string; applied: number; duplicates: number; refused: number; unknown: number }>();
  private readonly acknowledgedByUser = new Map<string, string[]>();
  /** JSON [userId, eventId] → the type of an acknowledged event. */
  private readonly acknowledgedTypes = new Map<string, string>();
  private readonly redemptions: KnownRedemption[] = [];
  private readonly adjustments = new Map<string, Map<string, { count: number; sum: number }>>();
  private readonly restocked: Record<string, number> = {};
  /** Per user: event id → the body its first reversal was answered (a repeat must answer the same). */
  private readonly reversals = new Map<string, Map<string, string>>();
  private unknownSerial = 0;

  private keySerial = 0;

  constructor(readonly client: AdminClient) {}

  /** Idempotency-Key for an Admin API POST: what makes a retry after a lost answer safe. */
  private newKey(): string {
    return `soak-${Date.now().toString(36)}-${++this.keySerial}`;
  }

  private finding(kind: string, detail: string, userId?: string) {
    this.stats.findings.push({ kind, detail, ...(userId ? { userId } : {}) });
  }

  private outcome(kind: string, a: Reply) {
    const key = `${kind} ${a.status}${a.status >= 400 && a.body?.code ? ` ${a.body.code}` : ""}`;
    this.stats.outcomes[key] = (this.stats.outcomes[key] ?? 0) + 1;
  }

  private expect(kind: string, a: Reply, allowed: Array<number | string>, userId?: string) {
    const code = `${a.status}${a.status >= 400 && a.body?.code ? ` ${a.body.code}` : ""}`;
    if (!allowed.includes(a.status) && !allowed.includes(code)) {
      this.finding("unexpected_response", `${kind}: ${a.status} ${a.text.slice(0, 300)} (allowed: ${allowed.join(", ")})`, userId);
    }
  }

  async run(workload: Workload, options: { maxSteps: number; deadline: number; concurrency: number }): Promise<RunStats> {
    const started = Date.now();
    let issued = 0;
    const worker = async () => {
      while (issued < options.maxSteps && Date.now() < options.deadline) {
        issued++;
        await this.runStep(workload.next());
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    this.stats.wallMs = Date.now() - started;
    this.finish();
    return this.stats;
  }

  async runStep(step: Step): Promise<void> {
    this.stats.steps++;
    if (step.concurrent) this.stats.byKind[step.label] = (this.stats.byKind[step.label] ?? 0) + 1;
    // Choices that depend on what was acknowledged are made before anything is sent.
    const resolved = step.ops.map((op) => this.resolve(op));
    if (step.concurrent) await Promise.all(resolved.map((r) => r()));
    else for (const r of resolved) await r();
  }

  private count(kind: string) {
    this.stats.operations++;
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
  }

  private skip(kind: string) {
    this.stats.skipped[kind] = (this.stats.skipped[kind] ?? 0) + 1;
  }

  private resolve(op: Op): () => Promise<void> {
    switch (op.kind) {
      case "event":
      case "duplicate":
        return () => this.sendEvent(op.kind, op.event);
      case "conflict": {
        const mine = this.acknowledgedByUser.get(op.userId) ?? [];
        if (mine.length === 0) return async () => this.skip("conflict");
        const id = mine[Math.floor(op.pick * mine.length)]!;
        return () => this.sendConflict(op.userId, id);
      }
      case "adjust":
        return () => this.adjust(op);
      case "redeem":
        return () => this.redeem(op);
      case "cancel": {
        const open = this.redemptions.filter((r) => r.userId === op.userId && !r.cancelled);
        if (open.length === 0) return async () => this.skip("cancel");
        const target = open[Math.floor(op.pick * open.length)]!;
        return () => this.cancel(target, op.restock);
      }
      case "reverse": {
        if (op.unknown) return () => this.reverse(op, `never-${++this.unknownSerial}`);
        const mine = this.acknowledgedByUser.get(op.userId) ?? [];
        const preferred = op.prefer === null ? [] : mine.filter((id) => this.acknowledgedTypes.get(JSON.stringify([op.userId, id])) === op.prefer);
        const from = preferred.length > 0 ? preferred : mine;
        if (from.length === 0) return async () => this.skip(op.twice ? "double-reverse" : "reverse");
        const id = from[Math.floor(op.pick * from.length)]!;
        return () => this.reverse(op, id);
      }
      case "edit":
        return () => this.edit(op);
    }
  }

  private eventBody(event: SoakEvent) {
    return { id: event.id, userId: event.userId, type: event.type, data: event.data };
  }

  private async sendEvent(kind: "event" | "duplicate", event: SoakEvent): Promise<void> {
    this.count(kind);
    const body = this.eventBody(event);
    const key = JSON.stringify([event.userId, event.id]);
    const record = this.events.get(key) ?? { userId: event.userId, id: event.id, applied: 0, duplicates: 0, refused: 0, unknown: 0 };
    this.events.set(key, record);
    const a = await this.client.call("POST", "/events", body);
    this.outcome(kind, a);
    this.expect(kind, a, [200, 201], event.userId);
    if (a.status === 201) {
      if (a.body?.duplicate !== false) this.finding("bad_answer", `${event.id}: 201 with duplicate=${a.body?.duplicate}`, event.userId);
      record.applied++;
      this.acknowledgedByUser.set(event.userId, [...(this.acknowledgedByUser.get(event.userId) ?? []), event.id]);
      this.acknowledgedTypes.set(key, event.type);
    } else if (a.status === 200) {
      if (a.body?.duplicate !== true) this.finding("bad_answer", `${event.id}: 200 with duplicate=${a.body?.duplicate}`, event.userId);
      record.duplicates++;
    } else if (a.status >= 400 && a.status < 500) {
      record.refused++;
    } else {
      record.unknown++; // 5xx or no answer: applied or not, nobody was told
    }
  }

  private async sendConflict(userId: string, id: string): Promise<void> {
    this.count("conflict");
    const a = await this.client.call("POST", "/events", { id, userId, type: "purchase", data: { amount: 999, conflict: true } });
    this.outcome("conflict", a);
    this.expect("conflict", a, ["409 event_id_reused"], userId);
  }

  private async adjust(op: Extract<Op, { kind: "adjust" }>): Promise<void> {
    const kind = op.overdraw ? "adjust-overdraw" : op.amount < 0 ? "adjust-debit" : "adjust-credit";
    this.count(kind);
    const a = await this.client.call("POST", `/users/${encodeURIComponent(op.userId)}/metrics/points/adjust`, { amount: op.amount, reason: "soak" }, { idempotencyKey: this.newKey() });
    this.outcome(kind, a);
    if (op.overdraw) this.expect(kind, a, ["409 insufficient_balance"], op.userId);
    else if (op.amount < 0) this.expect(kind, a, [201, "409 insufficient_balance"], op.userId);
    else this.expect(kind, a, [201], op.userId);
    if (a.status === 201) {
      if (typeof a.body?.balance !== "number" || a.body.balance < 0) this.finding("bad_answer", `adjust answered balance ${a.body?.balance}`, op.userId);
      const byMetric = this.adjustments.get(op.userId) ?? new Map<string, { count: number; sum: number }>();
      const held = byMetric.get("points") ?? { count: 0, sum: 0 };
      byMetric.set("points", { count: held.count + 1, sum: held.sum + op.amount });
      this.adjustments.set(op.userId, byMetric);
    }
  }

  private async redeem(op: Extract<Op, { kind: "redeem" }>): Promise<void> {
    this.count("redeem");
    const a = await this.client.call("POST", `/users/${encodeURIComponent(op.userId)}/redemptions`, { product: op.product, quantity: op.quantity }, { idempotencyKey: this.newKey() });
    this.outcome(`redeem ${op.product}`, a);
    if (op.product === "yacht") this.expect("redeem yacht", a, ["409 insufficient_balance"], op.userId);
    else this.expect(`redeem ${op.product}`, a, [201, "409 insufficient_balance", "409 out_of_stock", "409 per_user_limit"], op.userId);
    if (a.status === 201) {
      const r = a.body;
      if (typeof r?.balance !== "number" || r.balance < 0) this.finding("bad_answer", `redemption answered balance ${r?.balance}`, op.userId);
      this.redemptions.push({ userId: op.userId, id: r.id, product: r.product, quantity: r.quantity, price: r.price, cancelled: false, cancels: 0 });
    }
  }

  private async cancel(target: KnownRedemption, restock: boolean): Promise<void> {
    this.count(restock ? "cancel-restock" : "cancel");
    const a = await this.client.call("POST", `/users/${encodeURIComponent(target.userId)}/redemptions/${encodeURIComponent(target.id)}/cancel`, { restock }, { idempotencyKey: this.newKey() });
    this.outcome("cancel", a);
    this.expect("cancel", a, [200, "409 invalid_transition"], target.userId);
    if (a.status === 200) {
      target.cancels++;
      target.cancelled = true;
      if (target.cancels > 1) this.finding("cancelled_twice", `${target.id} was cancelled ${target.cancels} times (200 each)`, target.userId);
      if (restock) this.restocked[target.product] = (this.restocked[target.product] ?? 0) + target.quantity;
    }
  }

  /**
   * POST …/events/{id}/reverse (SPEC §7): 200 for an event the user had — the same body every
   * time, concurrent twins included — and 404 not_found for an id they never had.
   */
  private async reverse(op: Extract<Op, { kind: "reverse" }>, eventId: string): Promise<void> {
    const { userId, twice, unknown } = op;
    if (op.drain) await this.drain(userId, op.keep);
    const kind = unknown ? "reverse-unknown" : twice ? "double-reverse" : op.drain ? "reverse-drained" : "reverse";
    this.count(kind);
    const path = `/users/${encodeURIComponent(userId)}/events/${encodeURIComponent(eventId)}/reverse`;
    const answers = await Promise.all(Array.from({ length: twice ? 2 : 1 }, () => this.client.call("POST", path, undefined, { idempotencyKey: this.newKey() })));
    for (const a of answers) {
      this.outcome(kind, a);
      this.expect(kind, a, unknown ? ["404 not_found"] : [200], userId);
    }
    const ok = answers.filter((a) => a.status === 200);
    if (ok.length === 0) return;
    const byUser = this.reversals.get(userId) ?? new Map<string, string>();
    this.reversals.set(userId, byUser);
    const first = byUser.get(eventId) ?? JSON.stringify(ok[0]!.body);
    byUser.set(eventId, first);
    for (const a of ok) {
      if (a.body?.eventId !== eventId) this.finding("bad_answer", `reversal of ${eventId} answered for ${a.body?.eventId}`, userId);
      if (JSON.stringify(a.body) !== first) this.finding("reversal_not_idempotent", `${eventId}: answered ${a.text.slice(0, 200)}, before ${first.slice(0, 200)}`, userId);
    }
  }

  /** Adjusts the points balance down to `keep` (other steps for the user may race it: 409 is allowed). */
  private async drain(userId: string, keep: number): Promise<void> {
    const doc = await this.client.call("GET", `/users/${encodeURIComponent(userId)}`);
    this.expect("drain-read", doc, [200], userId);
    const balance = (doc.body?.metrics as Array<{ metric: string; balance: number }> | undefined)?.find((m) => m.metric === "points")?.balance ?? 0;
    if (balance <= keep) return;
    const amount = keep - balance;
    this.count("drain");
    const a = await this.client.call("POST", `/users/${encodeURIComponent(userId)}/metrics/points/adjust`, { amount, reason: "soak drain" }, { idempotencyKey: this.newKey() });
    this.outcome("drain", a);
    this.expect("drain", a, [201, "409 insufficient_balance"], userId);
    if (a.status === 201) {
      const byMetric = this.adjustments.get(userId) ?? new Map<string, { count: number; sum: number }>();
      const held = byMetric.get("points") ?? { count: 0, sum: 0 };
      byMetric.set("points", { count: held.count + 1, sum: held.sum + amount });
      this.adjustments.set(userId, byMetric);
    }
  }

  private async edit(op: Extract<Op, { kind: "edit" }>): Promise<void> {
    this.count(`edit-${op.edit}`);
    let a: Reply;
    if (op.edit === "visit-amount") {
      a = await this.client.call("PUT", "/campaigns/visit", visitCampaign(op.amount));
    } else {
      a = await this.client.call("PATCH", `/campaigns/${op.campaign}`, { status: op.edit === "pause" ? "paused" : "active" });
    }
    this.outcome(`edit-${op.edit}`, a);
    this.expect(`edit-${op.edit}`, a, [200]);
  }

  /** Per event id, exactly one send was applied (never two 201s, never none when any was answered). */
  private finish(): void {
    for (const { id, ...r } of this.events.values()) {
      if (r.applied > 1) this.finding("event_acknowledged_twice", `${id} was answered 201 ${r.applied} times`, r.userId);
      if (r.applied === 0 && r.duplicates > 0) this.finding("duplicate_without_original", `${id}: ${r.duplicates} duplicate answers, no 201`, r.userId);
    }
  }

  /** What was acknowledged, in the checker's terms. */
  expectations(): Expectations {
    const appliedEvents = new Map<string, Set<string>>();
    const refusedEvents = new Map<string, Set<string>>();
    for (const { id, ...r } of this.events.values()) {
      const into = r.applied + r.duplicates > 0 ? appliedEvents : r.refused > 0 && r.unknown === 0 ? refusedEvents : null;
      if (into) into.set(r.userId, (into.get(r.userId) ?? new Set()).add(id));
    }
    return {
      appliedEvents,
      refusedEvents,
      adjustments: this.adjustments,
      redemptions: this.redemptions.map(({ cancels: _c, ...r }) => r),
      restocked: { ...Object.fromEntries(Object.keys(INITIAL_STOCK).map((p) => [p, 0])), ...this.restocked },
      initialStock: INITIAL_STOCK,
      allUsers: true,
      reversals: new Map([...this.reversals].map(([userId, events]) => [userId, new Set(events.keys())])),
    };
  }
}

/** The one-line summary both drivers print. */
export function soakReport(input: {
  seed: number;
  users: number;
  run: RunStats;
  transport: TransportStats;
  check: CheckReport;
  settleMs?: number;
  checkMs?: number;
}) {
  const { users: usersChecked, ...counts } = input.check.counts;
  const byInvariant: Record<string, number> = {};
  for (const v of input.check.violations) byInvariant[v.invariant] = (byInvariant[v.invariant] ?? 0) + 1;
  return {
    seed: input.seed,
    users: input.users,
    steps: input.run.steps,
    operations: input.run.operations,
    operationsByKind: input.run.byKind,
    skipped: input.run.skipped,
    outcomes: input.run.outcomes,
    requests: input.transport.requests,
    serverErrors: input.transport.serverErrors.length + (input.check.reads?.serverErrors ?? 0),
    rateLimited: input.transport.rateLimited,
    devProxyRetries: input.transport.proxyRetries,
    networkErrors: input.transport.networkErrors.length,
    findings: input.run.findings.length,
    usersChecked,
    ...counts,
    violations: input.check.violations.length,
    violationsByInvariant: byInvariant,
    runMs: input.run.wallMs,
    settleMs: input.settleMs,
    checkMs: input.checkMs,
  };
}
