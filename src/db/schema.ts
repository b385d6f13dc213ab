import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
    /** Bumped by every definition write; compiled programmes are cached per version (SPEC §5.9). */
    definitionsVersion: integer("definitions_version").notNull().default(0),
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

export type SpaceRow = typeof spaces.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
