import { fromBase64url } from "../lib/ids";
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


/**
 * Outcomes are kept 30 days and were most of a month's storage: their JSON repeats keys and
 * campaign ids, so it is stored deflated as a BLOB in the same column, with a preset
 * dictionary of the engine's own vocabulary (keys, statuses, derived event types) so even
 * the first occurrence of each is a back-reference: about an eighth of the JSON (a third
 * without). Rows written before are JSON text, or deflated without the dictionary, which
 * inflates the same with it (their back-references never reach into it).
 */
type StoredOutcome = string | ArrayBuffer;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Never change these bytes: stored outcomes were deflated with them. Deflate reaches back
 * 32 KiB, and the most frequent strings come last (nearest, so cheapest to refer to).
 */
const OUTCOME_DICTIONARY = encoder.encode(
  [
    `"loyalty.user.created""loyalty.user.updated""loyalty.product.granted""loyalty.product.revoked""loyalty.reward.redeemed"`,
    `"loyalty.redemption.cancelled""loyalty.ladder.level_changed""loyalty.streak.started""loyalty.streak.extended"`,
    `"loyalty.streak.freeze_used""loyalty.streak.broken""loyalty.streak.restored""loyalty.segment.entered""loyalty.segment.left"`,
    `"reason":"","requested":`,
    `"product.grant","product.revoke","product.redeem","streak.checkin","attribute.set","segment.add","webhook.send","push.send","event.emit"`,
    `"status":"skipped""status":"failed","product":"","quantity":1`,
    `{"type":"ladder","ladder":"","from":"","to":""}{"type":"segment","segment":"","member":true}`,
    `{"steps":[{"campaign":"","step":"","progress":1,"target":1,"completed":true}],"campaignsCompleted":[{"campaign":"","completions":1}],`,
    `"effects":[{"campaign":"","step":"","type":"metric.add","status":"applied","metric":"points","amount":1,"balance":1}],"changes":[],`,
    `"derivedEvents":[{"id":"#1","type":"loyalty.metric.changed","depth":1},{"id":"#2","type":"loyalty.step.completed","depth":1},`,
    `{"id":"#3","type":"loyalty.campaign.completed","depth":1}],"late":false,"cascadeLimited":false}`,
  ].join(""),
);

/**
 * Deflate's state for one outcome, sized to it. By default zlib sets up a 32 KiB window
 * and a 32 Ki-entry hash (~256 KiB, zeroed for every call), which cost as much as the
 * compression of a ~5 KiB outcome itself. An 8 KiB window still holds the dictionary and
 * all of a typical outcome (the benchmark's: 5.3 KiB on average, 8 KiB at most, deflated
 * to the same bytes); a larger outcome compresses a little less. Inflating needs no
 * change: a 32 KiB window reads any smaller one.
 */
const OUTCOME_DEFLATE = { dictionary: OUTCOME_DICTIONARY, windowBits: 13, memLevel: 6 };

/** An outcome's JSON text, deflated: how activity keeps it. */
function packOutcome(outcomeJson: string): ArrayBuffer {
  const packed = deflateRawSync(encoder.encode(outcomeJson), OUTCOME_DEFLATE);
  return packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength) as ArrayBuffer;
}

/** A stored outcome's JSON text (rows written before outcomes were deflated hold the text). */
function unpackOutcomeJson(stored: StoredOutcome): string {
  if (typeof stored === "string") return stored;
  return decoder.decode(inflateRawSync(new Uint8Array(stored), { dictionary: OUTCOME_DICTIONARY }));
}

const unpackOutcome = (stored: StoredOutcome): Outcome => JSON.parse(unpackOutcomeJson(stored)) as Outcome;

/**
 * A seen event's hashes as stored: the id's 16 bytes (a collision would drop an event, so
 * 128 bits), the body's first 8 (a collision would only answer a reused id as a duplicate
 * instead of 409). 24 bytes a row instead of 44 as text.
 */
const BODY_HASH_BYTES = 8;

function packedHash(hash: string, bytes: number): ArrayBuffer {
  return fromBase64url(hash).slice(0, bytes).buffer as ArrayBuffer;
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/**
 * The ledger is append-only and kept forever, and its entries repeat metric, reason,
 * campaign and event ids. So it is stored in blocks of LEDGER_BLOCK_ROWS entries: the
 * newest block is open, one JSON row (`ledger_open`) to which an event appends its
 * entries as text (one row written per event instead of one per entry); a full block is
 * sealed, deflated to about a seventh, and appended to `ledger_blocks` (bench/README.md
 * has the numbers). The open block has a table of its own: rewritten among sealed ones,
 * its growth would split their pages and leave them mostly empty. Ledgers written before
 * blocks keep their rows in `ledger`, read as the oldest part.
 */
const LEDGER_BLOCK_ROWS = 64;

/** A ledger entry as SQLite answers a `ledger` row (and as a block keeps it, by position). */
type LedgerRow = Record<string, string | number | null>;
const LEDGER_COLUMNS = ["seq", "metric", "delta", "requested", "balance_after", "reason", ...LEDGER_SOURCE_COLUMNS.map(([, column]) => column), "occurred_at", "at"];
type BlockEntries = Array<Array<string | number | null>>;
/** The open block while entries are appended: its first seq, how many ledger_open holds, and the new ones. */
type OpenBlock = { first: number; stored: number; added: BlockEntries };

/** A block's entries: the open block's JSON text, or a sealed block's deflated JSON. */
function blockEntries(stored: string | ArrayBuffer): BlockEntries {
  return JSON.parse(typeof stored === "string" ? stored : decoder.decode(inflateRawSync(new Uint8Array(stored)))) as BlockEntries;
}

function deflateBlock(entries: BlockEntries): ArrayBuffer {
  const packed = deflateRawSync(encoder.encode(JSON.stringify(entries)));
  return packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength) as ArrayBuffer;
}

const rowOf = (values: Array<string | number | null>): LedgerRow => Object.fromEntries(LEDGER_COLUMNS.map((column, i) => [column, values[i] ?? null]));

function ledgerEntryOf(r: LedgerRow): LedgerEntry {
  return {
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
  };
}

/** Statements rebuilding a table as WITHOUT ROWID with the same columns (in the same order) and rows. */
function withoutRowid(table: string, columns: string): string[] {
  return [
    `CREATE TABLE ${table}_rebuilt (${columns}) WITHOUT ROWID`,
    `INSERT INTO ${table}_rebuilt SELECT * FROM ${table}`,
    `DROP TABLE ${table}`,
    `ALTER TABLE ${table}_rebuilt RENAME TO ${table}`,
  ];
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
  // A ledger page of one metric walks the ledger backwards by seq: a user has a handful of
  // metrics, and the index cost a sixth of a user-year's storage and a row per entry.
  `DROP INDEX IF EXISTS ledger_metric`,
  // The ledger in blocks of entries from here on (see appendLedger); the rows above stay
  // where they are and are read as the oldest part of the ledger.
  `CREATE TABLE IF NOT EXISTS ledger_open (id INTEGER PRIMARY KEY CHECK (id = 1), first_seq INTEGER NOT NULL, entries TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ledger_blocks (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, entries BLOB NOT NULL)`,
  // Every table or index is at least a 4 KiB page, a fortieth of the storage target: small
  // tables keyed by text become WITHOUT ROWID (no separate index for the key), and
  // activity is pruned in seq order (see pruneActivity) instead of through an index.
  ...withoutRowid("meta", "key TEXT PRIMARY KEY, value TEXT NOT NULL"),
  ...withoutRowid("timers", "name TEXT PRIMARY KEY, due_at INTEGER NOT NULL"),
  ...withoutRowid("pending_reservations", "id TEXT PRIMARY KEY, created_at INTEGER NOT NULL"),
  ...withoutRowid("applied_reservations", "id TEXT PRIMARY KEY, at INTEGER NOT NULL"),
  ...withoutRowid("push_subscriptions", "endpoint TEXT PRIMARY KEY, p256dh TEXT NOT NULL, auth TEXT NOT NULL, created_at INTEGER NOT NULL"),
  ...withoutRowid(
    "redemptions",
    `id TEXT PRIMARY KEY, product TEXT NOT NULL, quantity INTEGER NOT NULL, price TEXT NOT NULL, codes TEXT NOT NULL,
     reservation_id TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL, cancelled_at INTEGER`,
  ),
  `DROP INDEX IF EXISTS activity_at`,
];

/**
 * The schema MIGRATIONS leave, created at once for a new object: replaying every
 * migration (tables created to be rebuilt or dropped) cost a new user about 8 ms of CPU in
 * a profile of `npm start`, and left the pages of the dropped tables behind. A test
 * (test/user/storage-compact.test.ts) checks that both paths give the same schema.
 */
const SCHEMA = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE user_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`,
  `CREATE TABLE campaign_states (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE ledger_open (id INTEGER PRIMARY KEY CHECK (id = 1), first_seq INTEGER NOT NULL, entries TEXT NOT NULL)`,
  `CREATE TABLE ledger_blocks (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, entries BLOB NOT NULL)`,
  // Empty in a new object: the rows of a ledger written before blocks.
  `CREATE TABLE ledger (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, metric TEXT NOT NULL, delta INTEGER NOT NULL, requested INTEGER,
     balance_after INTEGER NOT NULL, reason TEXT NOT NULL, ${LEDGER_SOURCE_COLUMNS.map(([, column]) => `${column} TEXT`).join(", ")},
     occurred_at INTEGER NOT NULL, at INTEGER NOT NULL)`,
  `CREATE TABLE seen_events (id_hash TEXT PRIMARY KEY, body_hash TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE activity (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, type TEXT NOT NULL,
     occurred_at TEXT NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL)`,
  `CREATE INDEX activity_event ON activity (event_id)`,
  `CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL, created_at INTEGER NOT NULL, queue TEXT NOT NULL DEFAULT 'deliveries')`,
  `CREATE TABLE timers (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, answer TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  `CREATE INDEX idempotency_created ON idempotency (created_at)`,
  `CREATE TABLE pending_reservations (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE applied_reservations (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE redemptions (
     id TEXT PRIMARY KEY, product TEXT NOT NULL, quantity INTEGER NOT NULL, price TEXT NOT NULL, codes TEXT NOT NULL,
     reservation_id TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL, cancelled_at INTEGER) WITHOUT ROWID`,
  `CREATE TABLE push_subscriptions (endpoint TEXT PRIMARY KEY, p256dh TEXT NOT NULL, auth TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE reversals (event_id TEXT PRIMARY KEY, answer TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`,
].join(";\n");

/** Where an outbox row goes: webhooks and pushes, or the D1 directory. */
export type OutboxQueue = "deliveries" | "index";


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

  /** Brings the schema to MIGRATIONS.length: all at once for a new object, else the missing migrations in order. */
  migrate(transaction: (fn: () => void) => void): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
    const applied = this.sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0]?.version ?? 0;
    if (applied >= MIGRATIONS.length) return;
    transaction(() => {
      // Version 0 is a new object: schema_version is the first thing any object creates.
      if (applied === 0) this.sql.exec(SCHEMA);
      else for (const statement of MIGRATIONS.slice(applied)) this.sql.exec(statement);
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

  /**
   * undefined if the event id was never seen; else whether it was seen with this body.
   * Seen ids are kept forever, so rows are bytes (see packedHash); rows written before as
   * base64url text are still found.
   */
  seenEvent(idHash: string, bodyHash?: string): { sameBody: boolean } | undefined {
    const row = this.sql
      .exec<{ body_hash: string | ArrayBuffer }>(`SELECT body_hash FROM seen_events WHERE id_hash IN (?, ?)`, packedHash(idHash, 16), idHash)
      .toArray()[0];
    if (!row) return undefined;
    const stored = row.body_hash;
    if (bodyHash === undefined) return { sameBody: false };
    if (typeof stored === "string") return { sameBody: stored === bodyHash };
    return { sameBody: sameBytes(stored, packedHash(bodyHash, BODY_HASH_BYTES)) };
  }

  recordSeen(idHash: string, bodyHash: string): void {
    this.sql.exec(`INSERT INTO seen_events (id_hash, body_hash) VALUES (?, ?)`, packedHash(idHash, 16), packedHash(bodyHash, BODY_HASH_BYTES));
  }

  /** Appends to the open block, sealing it when full, numbering on from the last entry. */
  appendLedger(entries: LedgerEntryDraft[], at: string): void {
    if (entries.length === 0) return;
    const atMs = Date.parse(at);
    // The open block is appended to as text, counted by SQLite: reading it into JavaScript
    // to parse and stringify it again on every event cost more than the rest of the append.
    const open = this.sql
      .exec<{ first_seq: number; size: number }>(`SELECT first_seq, json_array_length(entries) AS size FROM ledger_open WHERE id = 1`)
      .toArray()[0];
    // `stored`: how many of the block's entries are already in ledger_open; `added`: the new ones.
    let block: OpenBlock | undefined = open ? { first: open.first_seq, stored: open.size, added: [] } : undefined;
    let seq = open ? open.first_seq + open.size - 1 : this.lastSealedSeq();
    for (const e of entries) {
      seq += 1;
      if (!block || block.stored + block.added.length >= LEDGER_BLOCK_ROWS) {
        if (block) this.sealBlock(block, seq - 1);
        block = { first: seq, stored: 0, added: [] };
      }
      const row: LedgerRow = {
        seq, metric: e.metric, delta: e.delta, requested: e.requested ?? null, balance_after: e.balanceAfter, reason: e.reason,
        ...Object.fromEntries(LEDGER_SOURCE_COLUMNS.map(([key, column]) => [column, e.source[key] ?? null])),
        occurred_at: Date.parse(e.occurredAt), at: atMs,
      };
      block.added.push(LEDGER_COLUMNS.map((column) => row[column] ?? null));
    }
    const added = JSON.stringify(block!.added);
    if (block!.stored > 0) {
      // "[a,b]" + "[c]" is "[a,b,c]": the stored array loses its "]" and takes the new entries.
      this.sql.exec(`UPDATE ledger_open SET entries = substr(entries, 1, length(entries) - 1) || ',' || ? WHERE id = 1`, added.slice(1));
    } else {
      this.sql.exec(`INSERT OR REPLACE INTO ledger_open (id, first_seq, entries) VALUES (1, ?, ?)`, block!.first, added);
    }
  }

  /** A full open block (what ledger_open holds of it, then the entries added) deflated into ledger_blocks. */
  private sealBlock(block: OpenBlock, lastSeq: number): void {
    const stored = block.stored > 0 ? blockEntries(this.sql.exec<{ entries: string }>(`SELECT entries FROM ledger_open WHERE id = 1`).one().entries) : [];
    this.sql.exec(`INSERT INTO ledger_blocks (first_seq, last_seq, entries) VALUES (?, ?, ?)`, block.first, lastSeq, deflateBlock([...stored, ...block.added]));
  }

  /** The last entry's seq when no block is open: the last sealed block's, else the rows' of an older ledger. */
  private lastSealedSeq(): number {
    const sealed = this.sql.exec<{ seq: number | null }>(`SELECT MAX(last_seq) AS seq FROM ledger_blocks`).one().seq;
    return sealed ?? this.sql.exec<{ seq: number | null }>(`SELECT MAX(seq) AS seq FROM ledger`).one().seq ?? 0;
  }

  /**
   * Every entry before `before`, newest first, one block at a time: the blocks, then the
   * rows of a ledger written before blocks (all older).
   */
  private *ledgerRowsDescending(before = Number.MAX_SAFE_INTEGER): Generator<LedgerRow> {
    for (const { entries } of this.sql.exec<{ entries: string | ArrayBuffer }>(
      `SELECT entries FROM ledger_open WHERE first_seq < ?1 UNION ALL SELECT entries FROM (SELECT entries FROM ledger_blocks WHERE first_seq < ?1 ORDER BY first_seq DESC)`,
      before,
    )) {
      const rows = blockEntries(entries);
      for (let i = rows.length - 1; i >= 0; i--) if ((rows[i]![0] as number) < before) yield rowOf(rows[i]!);
    }
    yield* this.sql.exec<LedgerRow>(`SELECT * FROM ledger WHERE seq < ? ORDER BY seq DESC`, before);
  }

  /** Newest first; `before` is a seq for pagination. */
  ledger(metric: string, limit: number, before?: number): LedgerEntry[] {
    const page: LedgerEntry[] = [];
    for (const row of this.ledgerRowsDescending(before)) {
      if (page.length >= limit) break;
      if (row.metric === metric) page.push(ledgerEntryOf(row));
    }
    return page;
  }

  ledgerSum(metric: string): number {
    let total = 0;
    for (const row of this.ledgerRowsDescending()) if (row.metric === metric) total += row.delta as number;
    return total;
  }

  /** `outcome` as the object or as its JSON text (an event has the text already, for its answer). */
  recordActivity(eventId: string, type: string, occurredAt: string, at: number, outcome: Outcome | string): void {
    this.sql.exec(
      `INSERT INTO activity (event_id, type, occurred_at, at, outcome) VALUES (?, ?, ?, ?, ?)`,
      eventId,
      type,
      occurredAt,
      at,
      packOutcome(typeof outcome === "string" ? outcome : JSON.stringify(outcome)),
    );
  }

  /** The JSON text of the event's outcome while its activity entry is kept. */
  outcomeJsonOf(eventId: string): string | null {
    const row = this.activityRowOf(eventId);
    return row ? unpackOutcomeJson(row.outcome) : null;
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
   * carry the reversal's id). No index: one on every entry of a ledger kept forever would
   * cost more than it saves for reversals, which are rare. One commit writes all of an
   * event's entries, so they are consecutive: the walk back from the newest entry stops
   * at the first entry before them, and reversing a recent event (a refund) reads only
   * the newest blocks, however long the ledger.
   */
  ledgerOfEvent(eventId: string): ReversibleEntry[] {
    const rows: LedgerRow[] = [];
    for (const row of this.ledgerRowsDescending()) {
      if (row.event_id === eventId && row.reverses === null) rows.push(row);
      else if (rows.length > 0) break;
    }
    return rows.reverse().map((r) => ({
      id: `led_${r.seq}`,
      metric: r.metric as string,
      delta: r.delta as number,
      reason: r.reason as string,
      ...(r.redemption !== null ? { redemption: r.redemption as string } : {}),
    }));
  }

  /** The event's activity entry while it is kept. */
  activityOf(eventId: string): { occurredAt: string; outcome: Outcome } | null {
    const row = this.activityRowOf(eventId);
    return row ? { occurredAt: row.occurred_at, outcome: unpackOutcome(row.outcome) } : null;
  }

  /** The event's newest activity row while it is kept. */
  private activityRowOf(eventId: string): { occurred_at: string; outcome: StoredOutcome } | undefined {
    return this.sql
      .exec<{ occurred_at: string; outcome: StoredOutcome }>(`SELECT occurred_at, outcome FROM activity WHERE event_id = ? ORDER BY seq DESC LIMIT 1`, eventId)
      .toArray()[0];
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

  /** Deletes activity older than `retentionMs` (SPEC §5.7: ACTIVITY_RETENTION_DAYS). */
  pruneActivity(now: number, retentionMs: number): void {
    // Rows are appended in commit order, so the expired ones are those before the first
    // row still kept: found by walking from the oldest, which costs the rows it deletes.
    this.sql.exec(
      `DELETE FROM activity WHERE seq < COALESCE((SELECT seq FROM activity WHERE at >= ?1 ORDER BY seq LIMIT 1), (SELECT MAX(seq) + 1 FROM activity))`,
      now - retentionMs,
    );
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
