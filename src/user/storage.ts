import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { ReversibleEntry } from "../engine/reversal";
import { emptyUserState, type CampaignState, type LedgerEntryDraft, type Outcome, type UserState } from "../engine/types";

// The user's Durable Object storage (SQLite): the state document, the ledger, the seen
// event ids, the activity log and the outbox. Synchronous SQL only, so a caller can wrap
// several of these in one transactionSync.

/** A ledger entry's source fields and their columns (SPEC §5.7: where each entry came from). */
const LEDGER_SOURCE_COLUMNS = [
  ["eventId", "event_id"],
  ["derivedEventId", "derived_event_id"],
  ["campaign", "campaign"],
  ["step", "step"],
  ["redemption", "redemption"],
  ["adjustmentBy", "adjustment_by"],
  ["reverses", "reverses"],
] as const satisfies ReadonlyArray<readonly [keyof LedgerEntryDraft["source"], string]>;

/** SQL for an RFC 3339 UTC column's unix ms (julianday keeps milliseconds exactly once rounded). */
const isoToMs = (column: string) => `CAST(ROUND((julianday(${column}) - 2440587.5) * 86400000.0) AS INTEGER)`;

const SOURCE_COLUMN_LIST = LEDGER_SOURCE_COLUMNS.map(([, column]) => column).join(", ");

/**
 * Outcomes are kept 30 days and were most of a month's storage: their JSON repeats keys and
 * campaign ids, so it is stored deflated (about a third of the size) as a BLOB in the
 * same column. Rows written before are JSON text, read as such until they age out.
 */
type StoredOutcome = string | ArrayBuffer;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function packOutcome(outcome: Outcome): ArrayBuffer {
  const packed = deflateRawSync(encoder.encode(JSON.stringify(outcome)));
  return packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength) as ArrayBuffer;
}

function unpackOutcome(stored: StoredOutcome): Outcome {
  return JSON.parse(typeof stored === "string" ? stored : decoder.decode(inflateRawSync(new Uint8Array(stored)))) as Outcome;
}

/** Ordered storage migrations; the applied count lives in `schema_version`. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS user_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`,
  // The ledger is kept forever: balance = sum(delta) per metric (SPEC §5.7).
  `CREATE TABLE IF NOT EXISTS ledger (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, metric TEXT NOT NULL, delta INTEGER NOT NULL,
     requested INTEGER, balance_after INTEGER NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL,
     occurred_at TEXT NOT NULL, at TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ledger_metric ON ledger (metric, seq)`,
  // Seen event ids for the user's lifetime, compactly: 16-byte hashes of the id and body.
  `CREATE TABLE IF NOT EXISTS seen_events (id_hash TEXT PRIMARY KEY, body_hash TEXT NOT NULL) WITHOUT ROWID`,
  // Processed events with their full outcome; pruned after the retention period.
  `CREATE TABLE IF NOT EXISTS activity (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, type TEXT NOT NULL,
     occurred_at TEXT NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS activity_event ON activity (event_id)`,
  `CREATE INDEX IF NOT EXISTS activity_at ON activity (at)`,
  // Outbound work written with the event, handed to the Queue after commit.
  `CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  // One alarm per object: every timer (streak settlement, outbox retry) is a row here and
  // the alarm is set to the earliest.
  `CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL)`,
  // The outbox also carries directory updates for the index queue (SPEC §5.8).
  `ALTER TABLE outbox ADD COLUMN queue TEXT NOT NULL DEFAULT 'deliveries'`,
  // Idempotency-Key answers of the Admin API's operations on this user (SPEC §5.1), 24 h.
  `CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, answer TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at)`,
  // Reservations (SPEC §4.2): pending = reserved in D1, not yet confirmed or released
  // (written before D1 is asked, so a crash leaves a trace the alarm repairs); applied =
  // committed by this object (what the alarm and a sweeper ask about).
  `CREATE TABLE IF NOT EXISTS pending_reservations (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS applied_reservations (id TEXT PRIMARY KEY, at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS redemptions (
     id TEXT PRIMARY KEY, product TEXT NOT NULL, quantity INTEGER NOT NULL, price TEXT NOT NULL, codes TEXT NOT NULL,
     reservation_id TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL, cancelled_at INTEGER)`,
  // Web Push subscriptions of this user (SPEC §8.2): not loyalty state.
  `CREATE TABLE IF NOT EXISTS push_subscriptions (endpoint TEXT PRIMARY KEY, p256dh TEXT NOT NULL, auth TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  // One row per campaign the user has touched: an event rewrites the few it changed, not
  // the hundreds a seasoned user holds (they used to live in the state document).
  `CREATE TABLE IF NOT EXISTS campaign_states (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID`,
  // The ledger, compactly: it is kept forever and was most of a user-year's storage
  // (bench/README.md). Times as unix ms instead of ISO text, the source's fields as
  // columns instead of a JSON object with its keys repeated in every row.
  `CREATE TABLE ledger_compact (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, metric TEXT NOT NULL, delta INTEGER NOT NULL, requested INTEGER,
     balance_after INTEGER NOT NULL, reason TEXT NOT NULL, ${LEDGER_SOURCE_COLUMNS.map(([, column]) => `${column} TEXT`).join(", ")},
     occurred_at INTEGER NOT NULL, at INTEGER NOT NULL)`,
  `INSERT INTO ledger_compact (seq, metric, delta, requested, balance_after, reason, ${LEDGER_SOURCE_COLUMNS.map(([, column]) => column).join(", ")}, occurred_at, at)
     SELECT seq, metric, delta, requested, balance_after, reason, ${LEDGER_SOURCE_COLUMNS.map(([key]) => `json_extract(source, '$.${key}')`).join(", ")},
       ${isoToMs("occurred_at")}, ${isoToMs("at")}
     FROM ledger ORDER BY seq`,
  `DROP TABLE ledger`,
  `ALTER TABLE ledger_compact RENAME TO ledger`,
  `CREATE INDEX IF NOT EXISTS ledger_metric ON ledger (metric, seq)`,
  // Events reversed (SPEC §7) with the answer given, so a repeat answers the same.
  `CREATE TABLE IF NOT EXISTS reversals (event_id TEXT PRIMARY KEY, answer TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`,
];

/** Where an outbox row goes: webhooks and pushes, or the D1 directory. */
export type OutboxQueue = "deliveries" | "index";

export const ACTIVITY_RETENTION_MS = 30 * 86_400_000;

export interface RedemptionRow {
  id: string;
  product: string;
  quantity: number;
  price: { metric: string; amount: number };
  codes: string[];
  reservationId: string | null;
  status: string;
  createdAt: number;
  cancelledAt?: number | null;
}

export interface LedgerEntry extends LedgerEntryDraft {
  id: string;
  seq: number;
  at: string;
}

export interface ActivityEntry {
  seq: number;
  eventId: string;
  type: string;
  occurredAt: string;
  at: string;
  outcome: Outcome;
}

export class UserStorage {
  constructor(private readonly sql: SqlStorage) {}

  migrate(transaction: (fn: () => void) => void): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
    const applied = this.sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0]?.version ?? 0;
    if (applied >= MIGRATIONS.length) return;
    transaction(() => {
      for (const statement of MIGRATIONS.slice(applied)) this.sql.exec(statement);
      this.sql.exec(`DELETE FROM schema_version`);
      this.sql.exec(`INSERT INTO schema_version (version) VALUES (?)`, MIGRATIONS.length);
    });
  }

  schemaVersion(): number {
    return this.sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0]?.version ?? 0;
  }

  meta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, value);
  }

  /** The stored state (the document plus the campaign rows), or undefined for a user never seen. */
  loadState(): UserState | undefined {
    const row = this.sql.exec<{ json: string }>(`SELECT json FROM user_state WHERE id = 1`).toArray()[0];
    if (!row) return undefined;
    const document = JSON.parse(row.json) as Omit<UserState, "campaigns"> & { campaigns?: Record<string, CampaignState> };
    if (document.campaigns) {
      // A document stored before campaign states had rows of their own: move them (once).
      this.writeCampaignStates(document.campaigns);
      delete document.campaigns;
      this.sql.exec(`UPDATE user_state SET json = ? WHERE id = 1`, JSON.stringify(document));
    }
    const campaigns: Record<string, CampaignState> = {};
    for (const { id, json } of this.sql.exec<{ id: string; json: string }>(`SELECT id, json FROM campaign_states`)) {
      campaigns[id] = JSON.parse(json) as CampaignState;
    }
    return { ...document, campaigns };
  }

  stateOrEmpty(userId: string): UserState {
    return this.loadState() ?? emptyUserState(userId);
  }

  /**
   * Stores the state document and the campaign states that changed (`campaignChanges`, as
   * the engine's result lists them). The document is built key by key so `campaigns` is
   * never read: on a result, reading it assembles the whole map (see evaluate.ts).
   */
  saveState(state: UserState, campaignChanges: Record<string, CampaignState>): void {
    const document: Record<string, unknown> = {};
    for (const key of Object.keys(state) as Array<keyof UserState>) if (key !== "campaigns") document[key] = state[key];
    this.sql.exec(`INSERT OR REPLACE INTO user_state (id, json) VALUES (1, ?)`, JSON.stringify(document));
    this.writeCampaignStates(campaignChanges);
  }

  private writeCampaignStates(states: Record<string, CampaignState>): void {
    for (const [id, campaign] of Object.entries(states)) {
      this.sql.exec(`INSERT OR REPLACE INTO campaign_states (id, json) VALUES (?, ?)`, id, JSON.stringify(campaign));
    }
  }

  seenEvent(idHash: string): { bodyHash: string } | undefined {
    const row = this.sql.exec<{ body_hash: string }>(`SELECT body_hash FROM seen_events WHERE id_hash = ?`, idHash).toArray()[0];
    return row ? { bodyHash: row.body_hash } : undefined;
  }

  recordSeen(idHash: string, bodyHash: string): void {
    this.sql.exec(`INSERT INTO seen_events (id_hash, body_hash) VALUES (?, ?)`, idHash, bodyHash);
  }

  appendLedger(entries: LedgerEntryDraft[], at: string): void {
    const atMs = Date.parse(at);
    for (const e of entries) {
      this.sql.exec(
        `INSERT INTO ledger (metric, delta, requested, balance_after, reason, ${SOURCE_COLUMN_LIST}, occurred_at, at)
         VALUES (?, ?, ?, ?, ?, ${LEDGER_SOURCE_COLUMNS.map(() => "?").join(", ")}, ?, ?)`,
        e.metric,
        e.delta,
        e.requested ?? null,
        e.balanceAfter,
        e.reason,
        ...LEDGER_SOURCE_COLUMNS.map(([key]) => e.source[key] ?? null),
        Date.parse(e.occurredAt),
        atMs,
      );
    }
  }

  /** Newest first; `before` is a seq for pagination. */
  ledger(metric: string, limit: number, before?: number): LedgerEntry[] {
    const rows = this.sql
      .exec<Record<string, string | number | null>>(
        `SELECT * FROM ledger WHERE metric = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
        metric,
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray();
    return rows.map((r) => ({
      id: `led_${r.seq}`,
      seq: r.seq as number,
      metric: r.metric as string,
      delta: r.delta as number,
      ...(r.requested !== null ? { requested: r.requested as number } : {}),
      balanceAfter: r.balance_after as number,
      reason: r.reason as string,
      source: Object.fromEntries(LEDGER_SOURCE_COLUMNS.filter(([, column]) => r[column] !== null).map(([key, column]) => [key, r[column] as string])),
      occurredAt: new Date(r.occurred_at as number).toISOString(),
      at: new Date(r.at as number).toISOString(),
    }));
  }

  ledgerSum(metric: string): number {
    return this.sql.exec<{ total: number }>(`SELECT COALESCE(SUM(delta), 0) AS total FROM ledger WHERE metric = ?`, metric).one().total;
  }

  recordActivity(eventId: string, type: string, occurredAt: string, at: number, outcome: Outcome): void {
    this.sql.exec(
      `INSERT INTO activity (event_id, type, occurred_at, at, outcome) VALUES (?, ?, ?, ?, ?)`,
      eventId,
      type,
      occurredAt,
      at,
      packOutcome(outcome),
    );
  }

  outcomeOf(eventId: string): Outcome | null {
    return this.activityOf(eventId)?.outcome ?? null;
  }

  activity(limit: number, before?: number): ActivityEntry[] {
    return this.sql
      .exec<{ seq: number; event_id: string; type: string; occurred_at: string; at: number; outcome: StoredOutcome }>(
        `SELECT * FROM activity WHERE seq < ? ORDER BY seq DESC LIMIT ?`,
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .map((r) => ({
        seq: r.seq,
        eventId: r.event_id,
        type: r.type,
        occurredAt: r.occurred_at,
        at: new Date(r.at).toISOString(),
        outcome: unpackOutcome(r.outcome),
      }));
  }

  /** A stored answer younger than `notBefore`, if any. */
  idempotentAnswer(key: string, notBefore: number): { fingerprint: string; answer: unknown } | undefined {
    const row = this.sql
      .exec<{ fingerprint: string; answer: string }>(`SELECT fingerprint, answer FROM idempotency WHERE key = ? AND created_at >= ?`, key, notBefore)
      .toArray()[0];
    return row ? { fingerprint: row.fingerprint, answer: JSON.parse(row.answer) as unknown } : undefined;
  }

  recordIdempotentAnswer(key: string, fingerprint: string, answer: unknown, now: number): void {
    this.sql.exec(`INSERT OR REPLACE INTO idempotency (key, fingerprint, answer, created_at) VALUES (?, ?, ?, ?)`, key, fingerprint, JSON.stringify(answer), now);
  }

  pruneIdempotency(before: number): void {
    this.sql.exec(`DELETE FROM idempotency WHERE created_at < ?`, before);
  }

  addPendingReservations(ids: string[], now: number): void {
    for (const id of ids) this.sql.exec(`INSERT OR IGNORE INTO pending_reservations (id, created_at) VALUES (?, ?)`, id, now);
  }

  removePendingReservations(ids: string[]): void {
    for (const id of ids) this.sql.exec(`DELETE FROM pending_reservations WHERE id = ?`, id);
  }

  pendingReservations(): string[] {
    return this.sql.exec<{ id: string }>(`SELECT id FROM pending_reservations ORDER BY created_at`).toArray().map((r) => r.id);
  }

  recordAppliedReservations(ids: string[], now: number): void {
    for (const id of ids) this.sql.exec(`INSERT OR IGNORE INTO applied_reservations (id, at) VALUES (?, ?)`, id, now);
  }

  reservationApplied(id: string): boolean {
    return this.sql.exec(`SELECT 1 FROM applied_reservations WHERE id = ?`, id).toArray().length > 0;
  }

  /**
   * The ledger entries an event's cascade wrote, oldest first (a reversal's own entries
   * carry the reversal's id). A scan: reversals are rare, and an index on every entry of
   * a ledger kept forever would cost more than it saves.
   */
  ledgerOfEvent(eventId: string): ReversibleEntry[] {
    return this.sql
      .exec<{ seq: number; metric: string; delta: number; reason: string; redemption: string | null }>(
        `SELECT seq, metric, delta, reason, redemption FROM ledger WHERE event_id = ? AND reverses IS NULL ORDER BY seq`,
        eventId,
      )
      .toArray()
      .map((r) => ({ id: `led_${r.seq}`, metric: r.metric, delta: r.delta, reason: r.reason, ...(r.redemption !== null ? { redemption: r.redemption } : {}) }));
  }

  /** The event's activity entry while it is kept. */
  activityOf(eventId: string): { occurredAt: string; outcome: Outcome } | null {
    const row = this.sql
      .exec<{ occurred_at: string; outcome: StoredOutcome }>(`SELECT occurred_at, outcome FROM activity WHERE event_id = ? ORDER BY seq DESC LIMIT 1`, eventId)
      .toArray()[0];
    return row ? { occurredAt: row.occurred_at, outcome: unpackOutcome(row.outcome) } : null;
  }

  reversal(eventId: string): unknown {
    const row = this.sql.exec<{ answer: string }>(`SELECT answer FROM reversals WHERE event_id = ?`, eventId).toArray()[0];
    return row ? JSON.parse(row.answer) : undefined;
  }

  recordReversal(eventId: string, answer: unknown, now: number): void {
    this.sql.exec(`INSERT INTO reversals (event_id, answer, at) VALUES (?, ?, ?)`, eventId, JSON.stringify(answer), now);
  }

  recordRedemption(r: RedemptionRow): void {
    this.sql.exec(
      `INSERT INTO redemptions (id, product, quantity, price, codes, reservation_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'completed', ?)`,
      r.id, r.product, r.quantity, JSON.stringify(r.price), JSON.stringify(r.codes), r.reservationId, r.createdAt,
    );
  }

  redemption(id: string): RedemptionRow | undefined {
    const row = this.sql
      .exec<{ id: string; product: string; quantity: number; price: string; codes: string; reservation_id: string | null; status: string; created_at: number; cancelled_at: number | null }>(
        `SELECT * FROM redemptions WHERE id = ?`,
        id,
      )
      .toArray()[0];
    if (!row) return undefined;
    return {
      id: row.id,
      product: row.product,
      quantity: row.quantity,
      price: JSON.parse(row.price) as RedemptionRow["price"],
      codes: JSON.parse(row.codes) as string[],
      reservationId: row.reservation_id,
      status: row.status,
      createdAt: row.created_at,
      cancelledAt: row.cancelled_at,
    };
  }

  markRedemptionCancelled(id: string, now: number): void {
    this.sql.exec(`UPDATE redemptions SET status = 'cancelled', cancelled_at = ? WHERE id = ?`, now, id);
  }

  pushSubscriptions(): Array<{ endpoint: string; keys: { p256dh: string; auth: string } }> {
    return this.sql
      .exec<{ endpoint: string; p256dh: string; auth: string }>(`SELECT endpoint, p256dh, auth FROM push_subscriptions ORDER BY created_at, endpoint`)
      .toArray()
      .map((r) => ({ endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth } }));
  }

  /** Adds or replaces (same endpoint) a subscription; false if the user already has `max` others. */
  putPushSubscription(sub: { endpoint: string; keys: { p256dh: string; auth: string } }, max: number, now: number): "created" | "replaced" | "limit" {
    const exists = this.sql.exec(`SELECT 1 FROM push_subscriptions WHERE endpoint = ?`, sub.endpoint).toArray().length > 0;
    if (!exists && this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM push_subscriptions`).one().n >= max) return "limit";
    this.sql.exec(
      `INSERT INTO push_subscriptions (endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth`,
      sub.endpoint, sub.keys.p256dh, sub.keys.auth, now,
    );
    return exists ? "replaced" : "created";
  }

  deletePushSubscription(endpoint: string): boolean {
    return this.sql.exec(`DELETE FROM push_subscriptions WHERE endpoint = ?`, endpoint).rowsWritten > 0;
  }

  pruneActivity(now: number): void {
    this.sql.exec(`DELETE FROM activity WHERE at < ?`, now - ACTIVITY_RETENTION_MS);
  }

  /** Also remembers the space, which the alarm's re-send needs (it has no request). */
  setTimer(name: string, dueAt: number | null): void {
    if (dueAt === null) this.sql.exec(`DELETE FROM timers WHERE name = ?`, name);
    else this.sql.exec(`INSERT OR REPLACE INTO timers (name, due_at) VALUES (?, ?)`, name, dueAt);
  }

  timer(name: string): number | null {
    return this.sql.exec<{ due_at: number }>(`SELECT due_at FROM timers WHERE name = ?`, name).toArray()[0]?.due_at ?? null;
  }

  earliestTimer(): number | null {
    return this.sql.exec<{ due: number | null }>(`SELECT MIN(due_at) AS due FROM timers`).one().due ?? null;
  }

  enqueueOutbox(messages: unknown[], now: number, queue: OutboxQueue = "deliveries"): void {
    for (const m of messages) this.sql.exec(`INSERT INTO outbox (message, created_at, queue) VALUES (?, ?, ?)`, JSON.stringify(m), now, queue);
  }

  /** The space of this user's object, recorded with its first write (the alarm has no request to ask). */
  spaceId(): string | undefined {
    return this.meta("spaceId");
  }

  /** The oldest rows first, of one queue or of all. */
  pendingOutbox(limit = 100, queue?: OutboxQueue): Array<{ id: number; queue: OutboxQueue; message: unknown }> {
    const rows = queue
      ? this.sql.exec<{ id: number; queue: OutboxQueue; message: string }>(`SELECT id, queue, message FROM outbox WHERE queue = ? ORDER BY id LIMIT ?`, queue, limit)
      : this.sql.exec<{ id: number; queue: OutboxQueue; message: string }>(`SELECT id, queue, message FROM outbox ORDER BY id LIMIT ?`, limit);
    return rows
      .toArray()
      .map((r) => ({ id: r.id, queue: r.queue, message: JSON.parse(r.message) as unknown }));
  }

  removeOutbox(ids: number[]): void {
    for (const id of ids) this.sql.exec(`DELETE FROM outbox WHERE id = ?`, id);
  }
}
