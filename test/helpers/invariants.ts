// Invariant checker for a space (issue #10): reads users' state through the Admin API and
// says what breaks the contract (SPEC §4.2, §5.1, §5.7, §7, §8.1; ARCHITECTURE.md
// invariants 9, 10, 19), event reversals (SPEC §7) included. Transport-agnostic: it takes
// a fetch-like function, so the Workers test pool (callDirect) and a Node script against
// `npm start` share it. Keep this module free of `cloudflare:test` and of src/ imports:
// tsconfig.node.json checks it too.
//
// Two halves:
//   readSnapshot(fetcher, credentials, userIds)  → Snapshot   (Admin API reads only)
//   checkSnapshot(snapshot, expectations)         → CheckReport (pure, except SHA-256)
// and checkSpace() doing both. The check* functions below are exported one by one so a
// unit test can feed them hand-made broken data (test/hardening/invariants.test.ts).

// ---------------------------------------------------------------------------------------
// Transport

/** `fetch` minus the origin: `path` starts with `/api/loyalty/`. */
export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>;

export interface Credentials {
  /** Bearer key (root or an admin-scoped key of the space). */
  key: string;
  /** Space slug, sent as `X-Loyalty-Space`. */
  space: string;
  /** The space's immutable id (webhook-ids are derived from it); read with the root key when absent. */
  spaceId?: string;
}

export const ADMIN_PREFIX = "/api/loyalty/admin";

/** Counts what the transport answered: a 5xx on a read is a finding of its own. */
export interface ReadStats {
  requests: number;
  serverErrors: number;
}

export class AdminReader {
  readonly stats: ReadStats = { requests: 0, serverErrors: 0 };
  readonly failures: Violation[] = [];

  constructor(
    private readonly fetcher: Fetcher,
    private readonly credentials: Credentials,
  ) {}

  /** GET a JSON document; `null` for 404; records anything else as a violation. */
  async get<T = any>(path: string, allow404 = false): Promise<T | null> {
    for (let attempt = 0; ; attempt++) {
      this.stats.requests++;
      const response = await this.fetcher(`${ADMIN_PREFIX}${path}`, {
        headers: { authorization: `Bearer ${this.credentials.key}`, "x-loyalty-space": this.credentials.space },
      });
      const text = await response.text();
      if (response.status === 429 && attempt < 20) {
        await sleep(250 * (attempt + 1));
        continue;
      }
      if (response.status >= 500) this.stats.serverErrors++;
      if (response.status === 200) return JSON.parse(text) as T;
      if (response.status === 404 && allow404) return null;
      this.failures.push({ invariant: "read_failed", detail: `GET ${path}: ${response.status} ${text.slice(0, 300)}` });
      return null;
    }
  }

  /** Every item of a paginated list (`{ data, nextCursor }`), following cursors. */
  async all<T = any>(path: string, limit = 100): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10_000; page++) {
      const sep = path.includes("?") ? "&" : "?";
      const body: { data: T[]; nextCursor: string | null } | null = await this.get(
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      if (!body) return out;
      out.push(...body.data);
      cursor = body.nextCursor;
      if (cursor === null) return out;
    }
    this.failures.push({ invariant: "read_failed", detail: `${path}: too many pages` });
    return out;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------
// What is read

export interface MetricDef {
  id: string;
  kind: "currency" | "counter" | "gauge";
  min: number | null;
  max: number | null;
  initial: number;
}

export interface ProductDef {
  id: string;
  type: "badge" | "reward" | "item";
  perUserLimit: number | null;
  /** What remains (D1's counter); null = unlimited. */
  stock: number | null;
  redeemed: number;
  price: { metric: string; amount: number } | null;
}

export interface WebhookDef {
  id: string;
  events: string[];
  enabled: boolean;
}

export interface CampaignDef {
  id: string;
  repeat: { limit: number | null; every: string | null; total: number | null };
}

export interface LedgerEntry {
  id: string;
  seq: number;
  metric: string;
  delta: number;
  requested?: number;
  balanceAfter: number;
  reason: string;
  source: { eventId?: string; derivedEventId?: string; campaign?: string; step?: string; redemption?: string; adjustmentBy?: string; reverses?: string };
  occurredAt: string;
  at: string;
}

export interface EffectReport {
  type: string;
  status: "applied" | "skipped" | "failed";
  campaign?: string | null;
  step?: string | null;
  metric?: string;
  product?: string;
  amount?: number;
  quantity?: number;
  reason?: string;
}

export interface ActivityEntry {
  seq: number;
  eventId: string;
  type: string;
  occurredAt: string;
  at: string;
  outcome: {
    effects: EffectReport[];
    campaignsCompleted: Array<{ campaign: string; completions: number }>;
    derivedEvents: Array<{ id: string; type: string; depth: number }>;
    changes?: Array<Record<string, unknown>>;
    cascadeLimited: boolean;
  };
}

export interface Redemption {
  id: string;
  product: string;
  quantity: number;
  price: { metric: string; amount: number };
  codes?: string[];
  status: "completed" | "cancelled";
}

export interface UserDoc {
  userId: string;
  metrics: Array<{ metric: string; balance: number; lifetime: number }>;
  rewards: Array<{ product: string; type: string; quantity: number }>;
  campaigns: Array<{ campaign: string; completions: number }>;
}

export interface UserSnapshot {
  userId: string;
  /** null: the user was never seen (404). */
  doc: UserDoc | null;
  /** Newest first or in any order: the checks sort by seq. */
  ledger: Record<string, LedgerEntry[]>;
  activity: ActivityEntry[];
  /** Every redemption id the ledger (or the expectations) name; null = 404. */
  redemptions: Record<string, Redemption | null>;
}

export interface Delivery {
  id: string;
  kind: string;
  endpoint: string | null;
  userId: string;
  eventType: string;
  status: "pending" | "delivered" | "failed" | "skipped";
  attempts: number;
}

export interface Snapshot {
  spaceId: string;
  metrics: MetricDef[];
  products: ProductDef[];
  webhooks: WebhookDef[];
  campaigns: CampaignDef[];
  users: UserSnapshot[];
  /** Delivery log rows by webhook id (only rows of the users read). */
  deliveries: Record<string, Delivery[]>;
}

// ---------------------------------------------------------------------------------------
// What the driver knows (all optional): acknowledged operations and the setup

export interface Expectations {
  /** Per user: event ids the API acknowledged (201, or 200 duplicate). Each must be in the activity exactly once. */
  appliedEvents?: Map<string, Set<string>>;
  /** Per user: event ids every send of which was refused (4xx): none may be in the activity. */
  refusedEvents?: Map<string, Set<string>>;
  /** Per user and metric: adjustments answered 201 (count and sum of amounts). */
  adjustments?: Map<string, Map<string, { count: number; sum: number }>>;
  /** Redemptions answered 201 (and whether a cancellation was answered 200). */
  redemptions?: Array<{ userId: string; id: string; product: string; quantity: number; price: { metric: string; amount: number }; cancelled: boolean }>;
  /** Quantity put back by cancellations with `restock: true` that were answered 200, per product. */
  restocked?: Record<string, number>;
  /** The stock each stocked product was created with (not edited since). */
  initialStock?: Record<string, number>;
  /** The users read are every user that touched the products (exact stock accounting). */
  allUsers?: boolean;
  /** webhook-ids a receiver saw: every delivered row must be among them. */
  received?: Set<string>;
  /** Pending deliveries are acceptable (the queue may not have drained yet). */
  allowPending?: boolean;
  /** Root event ids sent with `silent: true` (they send no webhooks). */
  silentEvents?: Set<string>;
  /** Per user: event ids whose reversal (SPEC §7) was answered 200. */
  reversals?: Map<string, Set<string>>;
}

export interface Violation {
  invariant: string;
  detail: string;
  userId?: string;
}

export interface CheckCounts {
  users: number;
  usersSeen: number;
  ledgerEntries: number;
  activityEntries: number;
  redemptions: number;
  products: number;
  deliveriesExpected: number;
  deliveriesLogged: number;
  /** Checks that could not be decided (e.g. admin grants: the activity does not say which product). */
  skippedChecks: number;
}

export interface CheckReport {
  violations: Violation[];
  counts: CheckCounts;
  reads?: ReadStats;
}

// ---------------------------------------------------------------------------------------
// Reading

export async function readSnapshot(fetcher: Fetcher, credentials: Credentials, userIds: string[], options: { concurrency?: number; redemptionIds?: Map<string, string[]> } = {}): Promise<{ snapshot: Snapshot; reader: AdminReader }> {
  const reader = new AdminReader(fetcher, credentials);
  let spaceId = credentials.spaceId;
  if (!spaceId) {
    const space = await reader.get<{ id: string }>(`/spaces/${encodeURIComponent(credentials.space)}`);
    spaceId = space?.id ?? "";
  }
  const [metrics, products, webhooks, campaigns] = await Promise.all([
    reader.all<MetricDef>("/metrics"),
    reader.all<ProductDef>("/products"),
    reader.all<WebhookDef>("/webhooks"),
    reader.all<CampaignDef>("/campaigns"),
  ]);

  const users: UserSnapshot[] = [];
  const queue = [...userIds];
  const worker = async () => {
    for (let userId = queue.shift(); userId !== undefined; userId = queue.shift()) {
      users.push(await readUser(reader, userId, metrics, options.redemptionIds?.get(userId) ?? []));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  users.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));

  const wanted = new Set(userIds);
  const deliveries: Record<string, Delivery[]> = {};
  for (const webhook of webhooks) {
    const rows = await reader.all<Delivery>(`/webhooks/${encodeURIComponent(webhook.id)}/deliveries`);
    deliveries[webhook.id] = rows.filter((row) => wanted.has(row.userId));
  }
  return { snapshot: { spaceId, metrics, products, webhooks, campaigns, users, deliveries }, reader };
}

async function readUser(reader: AdminReader, userId: string, metrics: MetricDef[], knownRedemptions: string[]): Promise<UserSnapshot> {
  const u = `/users/${encodeURIComponent(userId)}`;
  const doc = await reader.get<UserDoc>(u, true);
  const ledger: Record<string, LedgerEntry[]> = {};
  const activity = doc ? await reader.all<ActivityEntry>(`${u}/activity`) : [];
  for (const metric of metrics) ledger[metric.id] = doc ? await reader.all<LedgerEntry>(`${u}/metrics/${encodeURIComponent(metric.id)}/transactions`) : [];
  const ids = new Set(knownRedemptions);
  for (const entries of Object.values(ledger)) for (const e of entries) if (e.source?.redemption) ids.add(e.source.redemption);
  const redemptions: Record<string, Redemption | null> = {};
  for (const id of [...ids].sort()) redemptions[id] = await reader.get<Redemption>(`${u}/redemptions/${encodeURIComponent(id)}`, true);
  return { userId, doc, ledger, activity, redemptions };
}

// ---------------------------------------------------------------------------------------
// Checks (pure)

const bySeq = <T extends { seq: number }>(list: T[]): T[] => [...list].sort((a, b) => a.seq - b.seq);

/** SPEC §4.1/§5.7/§7: a positive change counts toward lifetime unless it is a refund; a reversal of a credit takes it back. */
export function isRefund(entry: LedgerEntry): boolean {
  return entry.reason === "refund" && entry.source?.redemption !== undefined && entry.source.adjustmentBy === undefined;
}

export function expectedLifetime(entries: LedgerEntry[]): number {
  let lifetime = 0;
  for (const e of entries) {
    if (e.source?.reverses !== undefined) {
      // A reversed credit is no longer earned, in full: `requested` when the floor cut the debit.
      const owed = e.requested ?? e.delta;
      if (owed < 0) lifetime += owed;
    } else if (e.delta > 0 && !isRefund(e)) {
      lifetime += e.delta;
    }
  }
  return lifetime;
}

/** A compensating entry of an event reversal (SPEC §7): it names the entry it takes back. */
export function isReversal(entry: LedgerEntry): boolean {
  return entry.source?.reverses !== undefined;
}

/**
 * A redemption's price given back: the refund of a cancellation, or the reversal of the
 * redemption's debit when the event that made it was reversed (SPEC §7).
 */
export function isRedemptionRefund(entry: LedgerEntry): boolean {
  if (isRefund(entry)) return true;
  return entry.reason === "reversal" && isReversal(entry) && entry.source.redemption !== undefined && (entry.requested ?? entry.delta) > 0;
}

/** The events a user's reversals took back, and whether every `admin.reverse` of the activity is accounted for. */
export interface ReversedEvents {
  events: Set<string>;
  /** How many `admin.reverse` entries the activity holds (one per event reversed, however often asked). */
  ops: number;
  complete: boolean;
}

/**
 * The events reversed for a user (SPEC §7): those the driver was answered 200 for, and those
 * the ledger names (a reversal's entries name the entries they take back, and those their
 * event). A reversal that wrote no entry is only known to the driver: without it, `complete`
 * is false and the checks that need to know are skipped.
 */
export function reversedEvents(user: UserSnapshot, known?: Set<string>): ReversedEvents {
  const ledger = Object.values(user.ledger).flat();
  const byId = new Map(ledger.map((e) => [e.id, e]));
  const events = new Set(known ?? []);
  for (const e of ledger) {
    if (!isReversal(e)) continue;
    const root = byId.get(e.source.reverses!)?.source?.eventId;
    if (root !== undefined) events.add(root);
  }
  const ops = user.activity.filter((a) => a.type === "admin.reverse").length;
  return { events, ops, complete: events.size >= ops };
}

/** The lowest balance a metric may have (SPEC §4.1: currencies without `min` stop at 0). */
export function floorOf(metric: MetricDef): number | null {
  if (metric.min !== null && metric.min !== undefined) return metric.min;
  return metric.kind === "currency" ? 0 : null;
}

/** Balance = sum of the ledger; the running balance matches every entry; lifetime; bounds (invariant 10). */
export function checkLedger(user: UserSnapshot, metrics: MetricDef[]): Violation[] {
  const out: Violation[] = [];
  const v = (invariant: string, detail: string) => out.push({ invariant, detail, userId: user.userId });
  const seqs = new Map<number, string>();
  for (const metric of metrics) {
    const entries = bySeq(user.ledger[metric.id] ?? []);
    const floor = floorOf(metric);
    const byId = new Map(entries.map((e) => [e.id, e]));
    const reversedBy = new Map<string, string[]>();
    let running = 0;
    for (const e of entries) {
      if (isReversal(e)) {
        // SPEC §7: the original's opposite (`requested` when a bound cut it), never beyond it, once.
        const target = byId.get(e.source.reverses!);
        const owed = e.requested ?? e.delta;
        reversedBy.set(e.source.reverses!, [...(reversedBy.get(e.source.reverses!) ?? []), e.id]);
        if (!target || isReversal(target) || target.seq > e.seq) v("reversal_target", `${metric.id} ${e.id} reverses ${e.source.reverses}, which is no earlier entry of ${metric.id} that a reversal may take back`);
        else if (owed !== -target.delta) v("reversal_amount", `${metric.id} ${e.id} owes ${owed} for ${target.id} (${target.delta})`);
        if (e.reason !== "reversal" || Math.sign(e.delta) === -Math.sign(owed) || Math.abs(e.delta) > Math.abs(owed)) {
          v("reversal_amount", `${metric.id} ${e.id} (${e.reason}): delta ${e.delta}, requested ${owed}`);
        }
      }
      if (e.metric !== metric.id) v("ledger_wrong_metric", `${e.id} is listed under ${metric.id} but names ${e.metric}`);
      const other = seqs.get(e.seq);
      if (other !== undefined) v("ledger_seq_reused", `seq ${e.seq} appears in ${other} and ${metric.id}`);
      seqs.set(e.seq, metric.id);
      // A reversal the floor (or max) cut to nothing still records what was owed (`requested`), for lifetime.
      const zeroAllowed = isReversal(e) && e.requested !== undefined && e.requested !== 0;
      if (!Number.isSafeInteger(e.delta) || (e.delta === 0 && !zeroAllowed)) v("ledger_bad_delta", `${metric.id} ${e.id}: delta ${e.delta}`);
      running += e.delta;
      if (e.balanceAfter !== running) v("ledger_running_balance", `${metric.id} ${e.id} (seq ${e.seq}): balanceAfter ${e.balanceAfter}, sum so far ${running}`);
      if (floor !== null && running < floor) v("balance_below_floor", `${metric.id} went to ${running} at ${e.id} (floor ${floor})`);
      if (metric.max !== null && metric.max !== undefined && running > metric.max) v("balance_above_max", `${metric.id} went to ${running} at ${e.id} (max ${metric.max})`);
      if (metric.kind === "counter" && e.delta < 0 && e.source?.adjustmentBy === undefined && e.source?.reverses === undefined) {
        v("counter_decreased", `${metric.id} ${e.id}: ${e.delta} by ${e.reason}`);
      }
    }
    for (const [target, by] of reversedBy) if (by.length > 1) v("reversed_twice", `${metric.id} ${target} is reversed by ${by.join(", ")}`);
    if (!user.doc) {
      if (entries.length > 0) v("ledger_without_user", `${entries.length} ${metric.id} entries for a user the API says was never seen`);
      continue;
    }
    const held = user.doc.metrics.find((m) => m.metric === metric.id);
    if (!held) {
      if (entries.length > 0) v("metric_missing", `${metric.id} has ${entries.length} ledger entries but is not in the user document`);
      continue;
    }
    // A metric the user never touched shows its `initial` and has no ledger.
    const sum = entries.length === 0 ? metric.initial : running;
    if (held.balance !== sum) v("balance_ne_ledger", `${metric.id}: balance ${held.balance}, ledger sums to ${sum} over ${entries.length} entries`);
    const lifetime = entries.length === 0 ? Math.max(metric.initial, 0) : expectedLifetime(entries);
    if (held.lifetime !== lifetime) v("lifetime_ne_ledger", `${metric.id}: lifetime ${held.lifetime}, positive non-refund entries give ${lifetime}`);
    if (floor !== null && held.balance < floor) v("balance_below_floor", `${metric.id}: balance ${held.balance} < ${floor}`);
  }
  return out;
}

/** Product grants an activity entry applied through effects, per product. */
function effectGrants(entry: ActivityEntry): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entry.outcome.effects ?? []) {
    if (e.type === "product.grant" && e.status === "applied" && e.product) out.set(e.product, (out.get(e.product) ?? 0) + (e.quantity ?? 1));
  }
  return out;
}

/** Activity types whose product changes the outcome does not attribute to a product. */
const UNATTRIBUTED_PRODUCT_OPS = new Set(["admin.grant", "admin.revoke"]);

/**
 * Inventory: quantities ≥ 0 and integral, a badge at most once, the per-user limit; and the
 * quantity held = effect grants of events not reversed + completed redemptions (when
 * everything that changed the product is attributable from the activity). A reversal takes
 * back what its event granted (SPEC §7); with no other revocation, what the user holds then
 * always covers it. Redemptions made by `product.redeem` effects are among the redemptions.
 */
export function checkInventory(user: UserSnapshot, products: ProductDef[], reversed: ReversedEvents = reversedEvents(user)): { violations: Violation[]; skipped: number } {
  const out: Violation[] = [];
  let skipped = 0;
  if (!user.doc) return { violations: out, skipped };
  const v = (invariant: string, detail: string) => out.push({ invariant, detail, userId: user.userId });
  const defs = new Map(products.map((p) => [p.id, p]));
  const heldOf = new Map<string, number>();
  for (const r of user.doc.rewards) {
    if (heldOf.has(r.product)) v("product_listed_twice", `${r.product} appears twice in the user's rewards`);
    heldOf.set(r.product, (heldOf.get(r.product) ?? 0) + r.quantity);
    if (!Number.isSafeInteger(r.quantity) || r.quantity < 0) v("negative_quantity", `${r.product}: quantity ${r.quantity}`);
    const def = defs.get(r.product);
    if (!def) continue;
    if (def.type === "badge" && r.quantity > 1) v("badge_held_twice", `${r.product}: quantity ${r.quantity}`);
    if (def.perUserLimit !== null && r.quantity > def.perUserLimit) v("per_user_limit_exceeded", `${r.product}: ${r.quantity} > ${def.perUserLimit}`);
  }

  // Expected holdings from the record of what happened.
  const unattributed = user.activity.some(
    (a) => UNATTRIBUTED_PRODUCT_OPS.has(a.type) || (a.outcome.effects ?? []).some((e) => e.type === "product.revoke"),
  );
  if (unattributed || !reversed.complete) return { violations: out, skipped: skipped + 1 };
  const expected = new Map<string, number>();
  const add = (product: string, q: number) => expected.set(product, (expected.get(product) ?? 0) + q);
  for (const a of user.activity) if (!reversed.events.has(a.eventId)) for (const [product, q] of effectGrants(a)) add(product, q);
  for (const r of Object.values(user.redemptions)) if (r && r.status === "completed") add(r.product, r.quantity);
  for (const id of new Set([...expected.keys(), ...heldOf.keys()])) {
    if (!defs.has(id)) {
      skipped++;
      continue;
    }
    const want = expected.get(id) ?? 0;
    const have = heldOf.get(id) ?? 0;
    if (want !== have) v("holdings_ne_history", `${id}: holds ${have}, effect grants (of events not reversed) and completed redemptions give ${want}`);
  }
  return { violations: out, skipped };
}

/**
 * Exactly once per event id (invariant 9); the ledger agrees with the recorded outcomes;
 * admin operations wrote exactly their one entry; campaign completions count 1, 2, 3… and
 * respect `repeat.total`.
 */
export function checkActivity(user: UserSnapshot, campaigns: CampaignDef[], reversed: ReversedEvents = reversedEvents(user)): Violation[] {
  const out: Violation[] = [];
  const v = (invariant: string, detail: string) => out.push({ invariant, detail, userId: user.userId });
  const ids = new Map<string, number>();
  for (const a of user.activity) ids.set(a.eventId, (ids.get(a.eventId) ?? 0) + 1);
  for (const [id, n] of ids) if (n > 1) v("event_applied_twice", `${id} is in the activity ${n} times`);

  const ledger = Object.values(user.ledger).flat();
  const byRoot = new Map<string, LedgerEntry[]>();
  for (const e of ledger) {
    const root = e.source?.eventId;
    if (root === undefined) {
      v("ledger_without_source", `${e.metric} ${e.id} names no event`);
      continue;
    }
    if (!ids.has(root)) v("ledger_orphan", `${e.metric} ${e.id} (${e.reason}, ${e.delta}) names ${root}, which is not in the activity`);
    byRoot.set(root, [...(byRoot.get(root) ?? []), e]);
  }

  for (const a of user.activity) {
    const entries = byRoot.get(a.eventId) ?? [];
    // metric.add effects as reported = ledger entries written by effects.
    const reported = new Map<string, number>();
    for (const e of a.outcome.effects ?? []) {
      if (e.type === "metric.add" && e.status === "applied" && e.metric) reported.set(e.metric, (reported.get(e.metric) ?? 0) + (e.amount ?? 0));
    }
    const written = new Map<string, number>();
    for (const e of entries) if (e.reason === "effect" && e.source.adjustmentBy === undefined) written.set(e.metric, (written.get(e.metric) ?? 0) + e.delta);
    for (const metric of new Set([...reported.keys(), ...written.keys()])) {
      if ((reported.get(metric) ?? 0) !== (written.get(metric) ?? 0)) {
        v("ledger_ne_outcome", `${a.eventId} (${a.type}): outcome reports ${metric} ${reported.get(metric) ?? 0}, ledger has ${written.get(metric) ?? 0}`);
      }
    }
    const count = (pred: (e: LedgerEntry) => boolean) => entries.filter(pred).length;
    if (a.type === "admin.adjust" && count((e) => e.source.adjustmentBy !== undefined) !== 1) {
      v("adjustment_entries", `${a.eventId}: ${count((e) => e.source.adjustmentBy !== undefined)} adjustment entries (want 1)`);
    }
    if (a.type === "admin.redeem" && count((e) => e.reason === "redemption" && e.source.redemption !== undefined) !== 1) {
      v("redemption_entries", `${a.eventId}: ${count((e) => e.reason === "redemption")} redemption debits (want 1)`);
    }
    if (a.type === "admin.cancelRedemption" && count(isRefund) !== 1) v("refund_entries", `${a.eventId}: ${count(isRefund)} refunds (want 1)`);
    if (a.type !== "admin.adjust" && count((e) => e.source.adjustmentBy !== undefined) > 0) v("adjustment_entries", `${a.eventId} (${a.type}) wrote an adjustment entry`);
  }

  // Completions: the nth completion of a campaign says n. A reversal uncounts the
  // completions its event caused (SPEC §7), so after one the count may repeat: then each
  // says at most its rank, and what counts is the completions of events not reversed.
  if (!reversed.complete) return out; // a reversal nobody can attribute: the counts are unknown
  const completions = new Map<string, number[]>();
  const uncounted = new Map<string, number>();
  for (const a of bySeq(user.activity)) {
    for (const c of a.outcome.campaignsCompleted ?? []) {
      completions.set(c.campaign, [...(completions.get(c.campaign) ?? []), c.completions]);
      if (reversed.events.has(a.eventId)) uncounted.set(c.campaign, (uncounted.get(c.campaign) ?? 0) + 1);
    }
  }
  const defs = new Map(campaigns.map((c) => [c.id, c]));
  for (const [campaign, seen] of completions) {
    const gone = uncounted.get(campaign) ?? 0;
    const broken = gone === 0 ? seen.findIndex((n, i) => n !== i + 1) : seen.findIndex((n, i) => !Number.isSafeInteger(n) || n < 1 || n > i + 1);
    if (broken >= 0) v("completions_sequence", `${campaign}: completions reported ${seen.join(",")}${gone > 0 ? ` (${gone} uncounted by reversals)` : ""}`);
    const total = defs.get(campaign)?.repeat?.total;
    if (total !== null && total !== undefined && seen.length - gone > total) v("completions_over_total", `${campaign}: ${seen.length - gone} completions counted, total ${total}`);
  }
  for (const held of user.doc?.campaigns ?? []) {
    const n = (completions.get(held.campaign)?.length ?? 0) - (uncounted.get(held.campaign) ?? 0);
    if (held.completions !== n) v("completions_ne_activity", `${held.campaign}: the user shows ${held.completions} completions, the activity (less reversed events) ${n}`);
  }
  return out;
}

/**
 * Redemptions (SPEC §7): one debit of the price each, a refund iff cancelled (by the cancel
 * route, or by reversing the event that made it: exactly one of the two), never a debit
 * without the record.
 */
export function checkRedemptions(user: UserSnapshot): Violation[] {
  const out: Violation[] = [];
  const v = (invariant: string, detail: string) => out.push({ invariant, detail, userId: user.userId });
  const ledger = Object.values(user.ledger).flat();
  const debits = new Map<string, LedgerEntry[]>();
  const refunds = new Map<string, LedgerEntry[]>();
  for (const e of ledger) {
    const id = e.source?.redemption;
    if (id === undefined) continue;
    const into = isRedemptionRefund(e) ? refunds : e.reason === "redemption" ? debits : null;
    if (!into) continue;
    into.set(id, [...(into.get(id) ?? []), e]);
  }
  for (const [id, r] of Object.entries(user.redemptions)) {
    const d = debits.get(id) ?? [];
    const f = refunds.get(id) ?? [];
    if (!r) {
      v("redemption_missing", `${id}: ${d.length} debits in the ledger but no redemption record`);
      continue;
    }
    if (d.length !== 1) v("redemption_debits", `${id}: ${d.length} debits (want 1)`);
    for (const e of d) {
      if (e.metric !== r.price.metric || -e.delta !== r.price.amount) v("redemption_price", `${id}: debit ${e.metric} ${e.delta}, price ${r.price.metric} ${r.price.amount}`);
    }
    const wantRefunds = r.status === "cancelled" ? 1 : 0;
    if (f.length !== wantRefunds) v("redemption_refunds", `${id} (${r.status}): ${f.length} refunds (want ${wantRefunds})`);
    for (const e of f) {
      // A reversal gives the price back up to the metric's max: `requested` keeps the price.
      const amount = isRefund(e) ? e.delta : (e.requested ?? e.delta);
      if (e.metric !== r.price.metric || amount !== r.price.amount) v("refund_amount", `${id}: refund ${e.metric} ${e.delta}${e.requested !== undefined ? ` of ${e.requested}` : ""}, price ${r.price.metric} ${r.price.amount}`);
    }
  }
  for (const id of refunds.keys()) if (!debits.has(id)) v("refund_without_debit", `${id}: refunded but never debited`);
  return out;
}

/**
 * Stock (SPEC §4.2, invariant 19): never below zero; remaining + redeemed = the stock it
 * was created with; redeemed = takes (redemptions of any status + effect grants) − restocks.
 */
export function checkStock(snapshot: Snapshot, expectations: Expectations = {}): { violations: Violation[]; skipped: number } {
  const out: Violation[] = [];
  let skipped = 0;
  const v = (invariant: string, detail: string) => out.push({ invariant, detail });
  for (const p of snapshot.products) {
    if (p.stock !== null && (!Number.isSafeInteger(p.stock) || p.stock < 0)) v("stock_negative", `${p.id}: stock ${p.stock}`);
    if (!Number.isSafeInteger(p.redeemed) || p.redeemed < 0) v("redeemed_negative", `${p.id}: redeemed ${p.redeemed}`);
    const initial = expectations.initialStock?.[p.id];
    if (initial !== undefined && p.stock !== null && p.stock + p.redeemed !== initial) {
      v("stock_plus_redeemed", `${p.id}: stock ${p.stock} + redeemed ${p.redeemed} = ${p.stock + p.redeemed}, created with ${initial}`);
    }
    const reserved = p.stock !== null || p.type === "reward";
    let effectTakes = 0;
    let redeemedTakes = 0;
    let completed = 0;
    let unattributed = false;
    for (const user of snapshot.users) {
      for (const a of user.activity) {
        effectTakes += effectGrants(a).get(p.id) ?? 0;
        if (a.type === "admin.grant") unattributed = true;
      }
      for (const r of Object.values(user.redemptions)) {
        if (r?.product !== p.id) continue;
        redeemedTakes += r.quantity;
        if (r.status === "completed") completed += r.quantity;
      }
    }
    const takes = effectTakes + redeemedTakes;
    // Only a cancellation with restock gives a take back.
    const kept = effectTakes + completed;
    if (!reserved) {
      if (p.redeemed !== 0) v("redeemed_without_stock", `${p.id}: redeemed ${p.redeemed} but takes of it are not reserved`);
      continue;
    }
    if (unattributed || !expectations.allUsers) {
      // Only bounds: other users (or admin grants) may have taken some.
      if (!unattributed && p.redeemed < kept) v("redeemed_below_kept", `${p.id}: redeemed ${p.redeemed} < ${kept} taken and kept by the users read`);
      skipped++;
      continue;
    }
    const restocked = expectations.restocked?.[p.id];
    if (restocked !== undefined) {
      if (p.redeemed !== takes - restocked) v("redeemed_ne_takes", `${p.id}: redeemed ${p.redeemed}, takes ${takes} − restocked ${restocked} = ${takes - restocked}`);
    } else if (p.redeemed < kept || p.redeemed > takes) {
      v("redeemed_out_of_bounds", `${p.id}: redeemed ${p.redeemed} not within [${kept}, ${takes}]`);
    }
  }
  return { violations: out, skipped };
}

/**
 * `webhook-id` of a subscribed derived event (src/outbound/delivery-log.ts deliveryIdOf):
 * SHA-256 of [space, user, event, endpoint, type, seq]. The user is part of it since event
 * ids are unique per user only; before that change it was [space, event, endpoint, type,
 * seq] (`legacy`). The checker accepts either, so it reads logs written by both.
 */
export async function webhookIdOf(spaceId: string, userId: string | null, eventId: string, webhook: string, type: string, seq = 0): Promise<string> {
  const parts = userId === null ? [spaceId, eventId, webhook, type, seq] : [spaceId, userId, eventId, webhook, type, seq];
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(parts))));
  return `msg_${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, 32)}`;
}

export interface ExpectedDelivery {
  /** The webhook-id as derived now; `ids` also holds the legacy derivation. */
  id: string;
  ids: string[];
  webhook: string;
  userId: string;
  eventId: string;
  type: string;
  /** The root hit the outbound guard: this one may legitimately be missing. */
  optional: boolean;
}

/** What the activity says was sent (SPEC §5.2 step 6, §8.1): each subscribed `loyalty.*` derived event, per endpoint. */
export async function expectedDeliveries(snapshot: Snapshot, expectations: Expectations = {}): Promise<ExpectedDelivery[]> {
  const out: ExpectedDelivery[] = [];
  const subscribers = (type: string) => snapshot.webhooks.filter((w) => w.enabled && (w.events.includes(type) || w.events.includes("*"))).map((w) => w.id);
  for (const user of snapshot.users) {
    for (const a of user.activity) {
      if (expectations.silentEvents?.has(a.eventId)) continue;
      const limited = (a.outcome.changes ?? []).some((c) => c.type === "cascade_limit" && c.reason === "outbound_messages");
      for (const d of a.outcome.derivedEvents ?? []) {
        if (!d.type.startsWith("loyalty.")) continue;
        for (const webhook of subscribers(d.type)) {
          const ids = [await webhookIdOf(snapshot.spaceId, user.userId, d.id, webhook, d.type), await webhookIdOf(snapshot.spaceId, null, d.id, webhook, d.type)];
          out.push({ id: ids[0]!, ids, webhook, userId: user.userId, eventId: d.id, type: d.type, optional: limited });
        }
      }
    }
  }
  return out;
}

/** Every outbox message is in the delivery log, delivered; nothing in the log that no commit sent; the receiver saw each. */
export function checkDeliveries(expected: ExpectedDelivery[], logged: Record<string, Delivery[]>, expectations: Expectations = {}): Violation[] {
  const out: Violation[] = [];
  const rows = new Map<string, Delivery>();
  for (const [webhook, list] of Object.entries(logged)) {
    for (const row of list) {
      if (rows.has(row.id)) out.push({ invariant: "delivery_logged_twice", detail: `${row.id} (${webhook})`, userId: row.userId });
      rows.set(row.id, row);
    }
  }
  const wanted = new Set(expected.flatMap((e) => e.ids));
  for (const e of expected) {
    const row = e.ids.map((id) => rows.get(id)).find((r) => r !== undefined);
    if (!row) {
      if (!e.optional) out.push({ invariant: "delivery_missing", detail: `${e.type} ${e.eventId} → ${e.webhook} (${e.id}) is not in the delivery log`, userId: e.userId });
      continue;
    }
    if (row.eventType !== e.type || row.endpoint !== e.webhook || row.userId !== e.userId) {
      out.push({ invariant: "delivery_mismatch", detail: `${e.id}: logged ${row.eventType}/${row.endpoint}/${row.userId}, expected ${e.type}/${e.webhook}/${e.userId}`, userId: e.userId });
    }
    if (row.status !== "delivered" && !(row.status === "pending" && expectations.allowPending)) {
      out.push({ invariant: "delivery_not_delivered", detail: `${e.type} ${e.eventId} → ${e.webhook}: ${row.status} after ${row.attempts} attempts`, userId: e.userId });
    }
    if (row.status === "delivered" && expectations.received && !expectations.received.has(row.id)) {
      out.push({ invariant: "delivery_not_received", detail: `${row.id} is logged delivered but the receiver never saw it`, userId: e.userId });
    }
  }
  for (const row of rows.values()) {
    if (row.kind === "webhook" && !wanted.has(row.id)) {
      out.push({ invariant: "delivery_unexpected", detail: `${row.id} (${row.eventType} → ${row.endpoint}) matches no committed derived event`, userId: row.userId });
    }
  }
  return out;
}

/** What the driver was told (acknowledged operations) against what is stored. */
export function checkAcknowledged(snapshot: Snapshot, expectations: Expectations): Violation[] {
  const out: Violation[] = [];
  const users = new Map(snapshot.users.map((u) => [u.userId, u]));
  for (const [userId, ids] of expectations.appliedEvents ?? []) {
    const user = users.get(userId);
    const seen = new Set(user?.activity.map((a) => a.eventId) ?? []);
    for (const id of ids) if (!seen.has(id)) out.push({ invariant: "acknowledged_event_lost", detail: `${id} was acknowledged but is not in the activity`, userId });
  }
  for (const [userId, ids] of expectations.refusedEvents ?? []) {
    const user = users.get(userId);
    for (const a of user?.activity ?? []) if (ids.has(a.eventId)) out.push({ invariant: "refused_event_applied", detail: `${a.eventId} was refused every time but is in the activity`, userId });
  }
  for (const [userId, byMetric] of expectations.adjustments ?? []) {
    const user = users.get(userId);
    for (const [metric, want] of byMetric) {
      const entries = (user?.ledger[metric] ?? []).filter((e) => e.source?.adjustmentBy !== undefined);
      const sum = entries.reduce((s, e) => s + e.delta, 0);
      if (entries.length !== want.count || sum !== want.sum) {
        out.push({ invariant: "adjustments_ne_acknowledged", detail: `${metric}: ledger has ${entries.length} adjustments summing ${sum}; ${want.count} summing ${want.sum} were answered 201`, userId });
      }
    }
  }
  const acked = new Map<string, Set<string>>();
  for (const r of expectations.redemptions ?? []) {
    acked.set(r.userId, (acked.get(r.userId) ?? new Set()).add(r.id));
    const stored = users.get(r.userId)?.redemptions[r.id];
    if (!stored) {
      out.push({ invariant: "acknowledged_redemption_lost", detail: `${r.id} (${r.product}) was answered 201 but is not stored`, userId: r.userId });
      continue;
    }
    if (stored.product !== r.product || stored.quantity !== r.quantity || stored.price.amount !== r.price.amount || stored.price.metric !== r.price.metric) {
      out.push({ invariant: "redemption_changed", detail: `${r.id}: stored ${JSON.stringify(stored)}, answered ${JSON.stringify(r)}`, userId: r.userId });
    }
    if (r.cancelled && stored.status !== "cancelled") out.push({ invariant: "cancellation_lost", detail: `${r.id} was cancelled (200) but is ${stored.status}`, userId: r.userId });
  }
  if (expectations.redemptions) {
    for (const user of snapshot.users) {
      // A `product.redeem` effect's redemption is the event's: the event was acknowledged.
      const types = new Map(user.activity.map((a) => [a.eventId, a.type]));
      const byEvent = new Set(
        Object.values(user.ledger)
          .flat()
          .filter((e) => e.reason === "redemption" && e.source?.redemption !== undefined && !(types.get(e.source.eventId ?? "") ?? "admin.").startsWith("admin."))
          .map((e) => e.source.redemption!),
      );
      for (const [id, r] of Object.entries(user.redemptions)) {
        if (r && !acked.get(user.userId)?.has(id) && !byEvent.has(id)) out.push({ invariant: "redemption_unacknowledged", detail: `${id} is stored but no request was answered 201 for it`, userId: user.userId });
      }
    }
  }
  for (const [userId, events] of expectations.reversals ?? []) {
    const user = users.get(userId);
    if (!user) continue;
    out.push(...checkReversals(user, events, new Set(snapshot.metrics.map((m) => m.id))));
  }
  return out;
}

/**
 * Reversals answered 200 (SPEC §7): each is stored (one `admin.reverse` in the activity per
 * event reversed, however often it was asked); every entry its event wrote (not `initial`,
 * not zero, of a metric still defined) is taken back by exactly one reversal entry — except
 * the debit of a redemption cancelled before, refunded then — and its redemptions are cancelled.
 */
export function checkReversals(user: UserSnapshot, events: Set<string>, metrics: Set<string>): Violation[] {
  const out: Violation[] = [];
  const v = (invariant: string, detail: string) => out.push({ invariant, detail, userId: user.userId });
  const ops = user.activity.filter((a) => a.type === "admin.reverse").length;
  if (ops < events.size) v("reversal_lost", `${events.size} events were reversed (200) but the activity has ${ops} reversals`);
  const ledger = Object.values(user.ledger).flat();
  const takenBack = new Map<string, number>();
  for (const e of ledger) if (isReversal(e)) takenBack.set(e.source.reverses!, (takenBack.get(e.source.reverses!) ?? 0) + 1);
  const refundedByCancel = new Set(ledger.filter(isRefund).map((e) => e.source.redemption!));
  for (const e of ledger) {
    const root = e.source?.eventId;
    if (root === undefined || !events.has(root) || isReversal(e) || e.reason === "initial" || e.delta === 0 || !metrics.has(e.metric)) continue;
    const want = e.source.redemption !== undefined && refundedByCancel.has(e.source.redemption) ? 0 : 1;
    const n = takenBack.get(e.id) ?? 0;
    if (n !== want) v("reversal_entries", `${root} was reversed: ${e.metric} ${e.id} (${e.reason}, ${e.delta}) is taken back ${n} times (want ${want})`);
    if (e.source.redemption !== undefined && user.redemptions[e.source.redemption]?.status !== "cancelled") {
      v("reversal_redemption_open", `${root} was reversed but its redemption ${e.source.redemption} is ${user.redemptions[e.source.redemption]?.status ?? "missing"}`);
    }
  }
  return out;
}

/** Every check over one snapshot. */
export async function checkSnapshot(snapshot: Snapshot, expectations: Expectations = {}): Promise<CheckReport> {
  const violations: Violation[] = [];
  let skippedChecks = 0;
  for (const user of snapshot.users) {
    violations.push(...checkLedger(user, snapshot.metrics));
    const reversed = reversedEvents(user, expectations.reversals?.get(user.userId));
    const inventory = checkInventory(user, snapshot.products, reversed);
    violations.push(...inventory.violations);
    skippedChecks += inventory.skipped;
    violations.push(...checkActivity(user, snapshot.campaigns, reversed));
    if (!reversed.complete) skippedChecks++;
    violations.push(...checkRedemptions(user));
  }
  const stock = checkStock(snapshot, expectations);
  violations.push(...stock.violations);
  skippedChecks += stock.skipped;
  const expected = await expectedDeliveries(snapshot, expectations);
  violations.push(...checkDeliveries(expected, snapshot.deliveries, expectations));
  violations.push(...checkAcknowledged(snapshot, expectations));
  return {
    violations,
    counts: {
      users: snapshot.users.length,
      usersSeen: snapshot.users.filter((u) => u.doc !== null).length,
      ledgerEntries: snapshot.users.reduce((n, u) => n + Object.values(u.ledger).reduce((m, l) => m + l.length, 0), 0),
      activityEntries: snapshot.users.reduce((n, u) => n + u.activity.length, 0),
      redemptions: snapshot.users.reduce((n, u) => n + Object.keys(u.redemptions).length, 0),
      products: snapshot.products.length,
      deliveriesExpected: expected.length,
      deliveriesLogged: Object.values(snapshot.deliveries).reduce((n, l) => n + l.length, 0),
      skippedChecks,
    },
  };
}

/** Reads the users through the Admin API and checks them. */
export async function checkSpace(fetcher: Fetcher, credentials: Credentials, userIds: string[], expectations: Expectations = {}): Promise<CheckReport> {
  const redemptionIds = new Map<string, string[]>();
  for (const r of expectations.redemptions ?? []) redemptionIds.set(r.userId, [...(redemptionIds.get(r.userId) ?? []), r.id]);
  const { snapshot, reader } = await readSnapshot(fetcher, credentials, userIds, { redemptionIds });
  const report = await checkSnapshot(snapshot, expectations);
  return { ...report, violations: [...reader.failures, ...report.violations], reads: reader.stats };
}

/**
 * Reads the users once, then polls only the delivery logs until every expected delivery is
 * logged and delivered (queues are asynchronous: a snapshot taken while messages are in
 * flight would report them missing) or `timeoutMs` passes, then checks everything. Users'
 * state must be at rest (the workload finished) before it is called.
 */
export async function checkSpaceSettled(
  fetcher: Fetcher,
  credentials: Credentials,
  userIds: string[],
  expectations: Expectations = {},
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<CheckReport & { settleMs: number; rounds: number }> {
  const redemptionIds = new Map<string, string[]>();
  for (const r of expectations.redemptions ?? []) redemptionIds.set(r.userId, [...(redemptionIds.get(r.userId) ?? []), r.id]);
  const { snapshot, reader } = await readSnapshot(fetcher, credentials, userIds, { redemptionIds });
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 30_000);
  const expected = await expectedDeliveries(snapshot, expectations);
  const wanted = new Set(userIds);
  let rounds = 1;
  for (;;) {
    const transient = checkDeliveries(expected, snapshot.deliveries, expectations).filter(
      (v) => v.invariant === "delivery_missing" || v.invariant === "delivery_not_delivered" || v.invariant === "delivery_not_received",
    );
    if (transient.length === 0 || Date.now() >= deadline) break;
    await sleep(options.intervalMs ?? 1000);
    rounds++;
    for (const webhook of snapshot.webhooks) {
      const rows = await reader.all<Delivery>(`/webhooks/${encodeURIComponent(webhook.id)}/deliveries`);
      snapshot.deliveries[webhook.id] = rows.filter((row) => wanted.has(row.userId));
    }
  }
  const settleMs = Date.now() - started;
  const report = await checkSnapshot(snapshot, expectations);
  return { ...report, violations: [...reader.failures, ...report.violations], reads: reader.stats, settleMs, rounds };
}
