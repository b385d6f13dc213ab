import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// D1 holds what is shared across users: tenants, their credentials and (later issues)
// the definitions. Timestamps are unix milliseconds; the API renders them as UTC ISO.

export const spaces = sqliteTable(
  "spaces",
  {
    /** Immutable internal id: Durable Object names and token audiences are built on it. */
    id: text("id").primaryKey(),
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    timezone: text("timezone").notNull().default("UTC"),
    /** JSON of SpaceAuthStored (secrets sealed); null = only the space's own tokens. */
    auth: text("auth", { mode: "json" }).$type<unknown>(),
    /** JSON [issuer, audience] of the operator IdP; unique so a token maps to one space. */
    idpKey: text("idp_key"),
    publicAttributes: text("public_attributes", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    corsOrigins: text("cors_origins", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** JSON push settings (SPEC §8.2: allowedHosts, contact, gatewayUrl); null = defaults. */
    push: text("push", { mode: "json" }).$type<unknown>(),
    /** Bumped by every definition write; compiled programmes are cached per version (SPEC §5.9). */
    definitionsVersion: integer("definitions_version").notNull().default(0),
    /**
     * Token of the definition write that last moved definitionsVersion: the statements of
     * one write's D1 batch run only while it is theirs (optimistic concurrency, see
     * definitions/store.ts).
     */
    definitionsWriteId: text("definitions_write_id"),
    version: integer("version").notNull().default(1),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("spaces_slug_unique").on(t.slug),
    // Enforces "the issuer/audience pair must be unique across spaces" (SPEC §3.3) atomically.
    uniqueIndex("spaces_idp_key_unique").on(t.idpKey),
  ],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    spaceId: text("space_id")
      .notNull()
      .references(() => spaces.id),
    name: text("name").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    /** SHA-256 (hex) of the secret; the secret itself is shown once and never stored. */
    secretHash: text("secret_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    // Authentication looks a presented key up by its hash.
    uniqueIndex("api_keys_secret_hash_unique").on(t.secretHash),
    // Listing a space's keys in id (= creation) order.
    index("api_keys_space_idx").on(t.spaceId, t.id),
  ],
);

export const signingKeys = sqliteTable(
  "signing_keys",
  {
    /** JWK thumbprint (RFC 7638) of the public key: globally unique, used as `kid`. */
    kid: text("kid").primaryKey(),
    spaceId: text("space_id")
      .notNull()
      .references(() => spaces.id),
    alg: text("alg").notNull(),
    publicJwk: text("public_jwk", { mode: "json" }).$type<JsonWebKey>().notNull(),
    /** Sealed private JWK (see crypto/sealed.ts); never returned by any route. */
    privateJwk: text("private_jwk").notNull(),
    createdAt: integer("created_at").notNull(),
    retiredAt: integer("retired_at"),
  },
  (t) => [
    // At most one active key per space: concurrent first uses or rotations cannot fork it.
    uniqueIndex("signing_keys_one_active").on(t.spaceId).where(sql`retired_at IS NULL`),
    index("signing_keys_space_idx").on(t.spaceId, t.createdAt),
  ],
);

/**
 * Every definition kind in one table (SPEC §4): the engine loads a space's whole
 * programme with one query, and one store serves every kind.
 */
export const definitions = sqliteTable(
  "definitions",
  {
    spaceId: text("space_id")
      .notNull()
      .references(() => spaces.id),
    kind: text("kind").notNull(),
    id: text("id").notNull(),
    /** The operator's body with defaults applied (JSON). */
    body: text("body", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** The facts other definitions' validation needs (KindSpec.info), so checks never load bodies. */
    info: text("info", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** Campaign status, as a column so active campaigns can be counted and loaded cheaply. */
    status: text("status"),
    /** Sealed secret (webhook signing secret); never part of the body. */
    secret: text("secret"),
    /** After a rotation, the sealed previous secret: it also signs until `previous_secret_until`. */
    previousSecret: text("previous_secret"),
    previousSecretUntil: integer("previous_secret_until"),
    version: integer("version").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    archivedAt: integer("archived_at"),
    /** Triggers and webhooks are erased by DELETE; the row stays so the id is never reused. */
    erasedAt: integer("erased_at"),
  },
  (t) => [
    primaryKey({ columns: [t.spaceId, t.kind, t.id] }),
    // Counting a space's active campaigns (SPEC §10) and loading what the engine runs.
    index("definitions_status_idx").on(t.spaceId, t.kind, t.status),
  ],
);

/** Who references whom, written with the referrer: DELETE answers 409 in_use from it. */
export const definitionRefs = sqliteTable(
  "definition_refs",
  {
    spaceId: text("space_id").notNull(),
    fromKind: text("from_kind").notNull(),
    fromId: text("from_id").notNull(),
    /** Where in the referrer's body, e.g. `steps[1].effects[0].metric`. */
    path: text("path").notNull(),
    toKind: text("to_kind").notNull(),
    toId: text("to_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.spaceId, t.fromKind, t.fromId, t.path, t.toKind, t.toId] }),
    // "Who references this?" on DELETE and for frozen-trigger checks.
    index("definition_refs_to_idx").on(t.spaceId, t.toKind, t.toId),
  ],
);

export type SpaceRow = typeof spaces.$inferSelect;
export type DefinitionRow = typeof definitions.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;

/**
 * The user directory (SPEC §5.8): one row per user who has state, written by the index
 * queue's consumer from messages the users' Durable Objects send after they commit, so
 * it is eventually consistent and no event waits for it. `generation` and `revision`
 * order the updates of one user: a row only moves forward, so a late or repeated message
 * cannot undo a newer one, and a message from before an erasure (older generation)
 * cannot resurrect the user. An erased user keeps a tombstone row (id and generation
 * only, `erased_at` set) for that comparison; listings skip it.
 */
export const userDirectory = sqliteTable(
  "user_directory",
  {
    spaceId: text("space_id").notNull(),
    userId: text("user_id").notNull(),
    generation: integer("generation").notNull(),
    revision: integer("revision").notNull(),
    /** ISO instants as the user's object reports them; null on a tombstone. */
    createdAt: text("created_at"),
    lastSeenAt: text("last_seen_at"),
    /** JSON array of every segment the user belongs to (static and dynamic). */
    segments: text("segments", { mode: "json" }).$type<string[]>().notNull(),
    updatedAt: integer("updated_at").notNull(),
    erasedAt: integer("erased_at"),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.userId] })],
);

/** Segment → members, kept in step with user_directory.segments by the same consumer. */
export const segmentMembers = sqliteTable(
  "segment_members",
  {
    spaceId: text("space_id").notNull(),
    segmentId: text("segment_id").notNull(),
    userId: text("user_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.spaceId, t.segmentId, t.userId] }),
    // Replacing one user's memberships, and erasure.
    index("segment_members_user_idx").on(t.spaceId, t.userId),
  ],
);

/**
 * Background recomputes (SPEC §5.8): a job walks the space's directory in pages through
 * the jobs queue. `cursor` is the last user id of the last page done; advancing it is the
 * compare-and-set that keeps a redelivered page from being counted twice.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    spaceId: text("space_id").notNull(),
    type: text("type").notNull(),
    /** What started it, e.g. `{ "kind": "segments", "id": "high-rollers" }`. */
    reason: text("reason", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** false: the recompute sends no webhooks or pushes (a backfill). */
    notify: integer("notify", { mode: "boolean" }).notNull(),
    status: text("status").notNull(),
    total: integer("total").notNull(),
    processed: integer("processed").notNull().default(0),
    changed: integer("changed").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    /** The first few failures: `[{ userId, message }]` (userId null: the job itself). */
    errors: text("errors", { mode: "json" }).$type<Array<{ userId: string | null; message: string }>>().notNull().default(sql`'[]'`),
    cursor: text("cursor"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("jobs_space_idx").on(t.spaceId, t.createdAt)],
);

export type UserDirectoryRow = typeof userDirectory.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;

/**
 * Stored answers of Admin API POSTs sent with an `Idempotency-Key` (SPEC §5.1, Stripe's
 * rules) that are not about one user (those live in the user's Durable Object).
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    spaceId: text("space_id").notNull(),
    key: text("key").notNull(),
    /** SHA-256 of the method, path and canonical body: another payload is 422. */
    fingerprint: text("fingerprint").notNull(),
    /** `in_progress` until the first request answers, then `done`. */
    state: text("state").notNull(),
    status: integer("status"),
    body: text("body"),
    /** JSON of the headers replayed with the body (content type, Location, ETag…). */
    headers: text("headers"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  // created_at: the hourly prune deletes answers older than 24 h (src/maintenance/prune.ts).
  (t) => [primaryKey({ columns: [t.spaceId, t.key] }), index("idempotency_keys_created_idx").on(t.createdAt)],
);

/**
 * Product stock (SPEC §4.2), one row per product, the single authority on what is left:
 * `remaining` null = unlimited. It changes only by statements whose failure leaves it
 * as it was: taking more than remains violates the CHECK, which aborts the whole D1
 * batch (the reservation with it), so stock is never oversold.
 */
export const productStock = sqliteTable(
  "product_stock",
  {
    spaceId: text("space_id").notNull(),
    productId: text("product_id").notNull(),
    remaining: integer("remaining"),
    /** Units taken by confirmed or pending grants and redemptions, minus restocks. */
    redeemed: integer("redeemed").notNull().default(0),
    /** The definition's `stock` last written: a new value there resets `remaining`. */
    configured: integer("configured"),
  },
  (t) => [primaryKey({ columns: [t.spaceId, t.productId] }), check("out_of_stock", sql`${t.remaining} >= 0`)],
);

/** A reward's code pool: a code belongs to the reservation (and user) that took it. */
export const productCodes = sqliteTable(
  "product_codes",
  {
    spaceId: text("space_id").notNull(),
    productId: text("product_id").notNull(),
    code: text("code").notNull(),
    reservationId: text("reservation_id"),
    userId: text("user_id"),
    allocatedAt: integer("allocated_at"),
  },
  (t) => [
    primaryKey({ columns: [t.spaceId, t.productId, t.code] }),
    // Free codes first; a reservation's codes.
    index("product_codes_free_idx").on(t.spaceId, t.productId, t.reservationId),
  ],
);

/**
 * What a grant or redemption holds of stock and codes (SPEC §4.2): reserved in D1, applied
 * in the user's Durable Object, then confirmed — or released (stock and codes back).
 * The id is derived from the space, user, source and effect, so a retry finds it.
 */
export const reservations = sqliteTable(
  "reservations",
  {
    id: text("id").primaryKey(),
    spaceId: text("space_id").notNull(),
    userId: text("user_id").notNull(),
    productId: text("product_id").notNull(),
    quantity: integer("quantity").notNull(),
    /** Whether the product's stock was taken (a stocked product). */
    stockTaken: integer("stock_taken").notNull(),
    codesWanted: integer("codes_wanted").notNull(),
    /** Set after allocation; fewer than wanted violates the CHECK and aborts the batch. */
    codesAllocated: integer("codes_allocated").notNull(),
    status: text("status").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    check("out_of_codes", sql`${t.codesAllocated} >= ${t.codesWanted}`),
    // The sweeper's scan: reservations still pending after a while.
    index("reservations_status_idx").on(t.status, t.createdAt),
  ],
);

/**
 * Outbound deliveries (SPEC §8): one row per webhook message or push, keyed by its
 * `webhook-id` (stable across retries and replays), with the payload as sent (kept 30
 * days) and the outcome of the latest attempt; every attempt in delivery_attempts.
 */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    spaceId: text("space_id").notNull(),
    /** `webhook` or `push`. */
    kind: text("kind").notNull(),
    /** The webhook endpoint; null for a push. */
    endpointId: text("endpoint_id"),
    userId: text("user_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The queue message body, so a delivery can be replayed; null once aged out. */
    message: text("message"),
    /** pending → delivered | failed | skipped. */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    lastLatencyMs: integer("last_latency_ms"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("deliveries_endpoint_idx").on(t.spaceId, t.endpointId, t.createdAt),
    index("deliveries_user_idx").on(t.spaceId, t.userId),
    index("deliveries_created_idx").on(t.createdAt),
  ],
);

export const deliveryAttempts = sqliteTable(
  "delivery_attempts",
  {
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    at: integer("at").notNull(),
    statusCode: integer("status_code"),
    latencyMs: integer("latency_ms").notNull(),
    /** Cut to 1 KiB. */
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);

/** Per-space VAPID key pair (SPEC §8.2), created on first use; the private key sealed. */
export const vapidKeys = sqliteTable("vapid_keys", {
  spaceId: text("space_id").primaryKey(),
  publicKey: text("public_key").notNull(),
  privateJwk: text("private_jwk").notNull(),
  createdAt: integer("created_at").notNull(),
});

export type DeliveryRow = typeof deliveries.$inferSelect;
