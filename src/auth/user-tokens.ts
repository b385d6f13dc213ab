import { and, desc, eq, gt, isNull, or } from "drizzle-orm";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Config } from "../config";
import type { Db } from "../db/client";
import { signingKeys, type SigningKeyRow, type SpaceRow } from "../db/schema";
import { open, seal } from "../crypto/sealed";
import { TtlCache } from "../lib/ttl-cache";

// Each space signs its own user tokens with an ES256 key pair (SPEC §3.3). The private
// key is sealed at rest and never leaves this module; the public keys are published as
// a JWKS. Rotation retires the active key; a retired key keeps verifying for the longest
// token lifetime, so no token minted before a rotation stops working early.

export const USER_TOKEN_ALG = "ES256";
export const MAX_TOKEN_TTL_SECONDS = 86_400;
/** How long a retired key still verifies: the longest lifetime a token can have. */
export const RETIRED_KEY_GRACE_MS = MAX_TOKEN_TTL_SECONDS * 1000;

export function userTokenIssuer(space: Pick<SpaceRow, "id" | "slug">, config: Config): string {
  // Never derived from the request's Host: a forged Host must not change what we sign.
  return config.publicBaseUrl
    ? `${config.publicBaseUrl}/api/loyalty/spaces/${space.slug}`
    : `urn:loyalty:space:${space.id}`;
}

export function userTokenAudience(space: Pick<SpaceRow, "id">): string {
  return `loyalty:${space.id}`;
}

function privateKeyContext(spaceId: string, kid: string): string {
  return `signing-key:${spaceId}:${kid}`;
}

async function newSigningKey(spaceId: string, config: Config, now: number): Promise<typeof signingKeys.$inferInsert> {
  const { publicKey, privateKey } = await generateKeyPair(USER_TOKEN_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    spaceId,
    alg: USER_TOKEN_ALG,
    publicJwk: { ...publicJwk, kid, alg: USER_TOKEN_ALG, use: "sig" } as JsonWebKey,
    privateJwk: await seal(JSON.stringify(privateJwk), privateKeyContext(spaceId, kid), config.signingKeySecret),
    createdAt: now,
  };
}

/**
 * The space's active key, created on first use (the `default` space is created by a
 * migration, which cannot generate keys). Concurrent first uses race on the partial
 * unique index; the loser's insert is ignored and both read the winner's key.
 */
export async function activeSigningKey(db: Db, space: SpaceRow, config: Config, now = Date.now()): Promise<SigningKeyRow> {
  const existing = await db.query.signingKeys.findFirst({
    where: and(eq(signingKeys.spaceId, space.id), isNull(signingKeys.retiredAt)),
  });
  if (existing) return existing;
  await db.insert(signingKeys).values(await newSigningKey(space.id, config, now)).onConflictDoNothing();
  const created = await db.query.signingKeys.findFirst({
    where: and(eq(signingKeys.spaceId, space.id), isNull(signingKeys.retiredAt)),
  });
  if (!created) throw new Error(`no active signing key for space ${space.id}`);
  return created;
}

/** Retires the active key and installs a new one in one D1 batch (a transaction). */
export async function rotateSigningKey(
  db: Db,
  space: SpaceRow,
  config: Config,
  now = Date.now(),
): Promise<{ active: SigningKeyRow; retired: SigningKeyRow[] }> {
  const fresh = await newSigningKey(space.id, config, now);
  await db.batch([
    db
      .update(signingKeys)
      .set({ retiredAt: now })
      .where(and(eq(signingKeys.spaceId, space.id), isNull(signingKeys.retiredAt))),
    db.insert(signingKeys).values(fresh),
  ]);
  verificationKeysCache.delete(space.id);
  const keys = await verificationKeyRows(db, space.id, now);
  return {
    active: keys.find((k) => k.kid === fresh.kid)!,
    retired: keys.filter((k) => k.retiredAt !== null && k.retiredAt === now),
  };
}

/** Active key and keys retired less than the grace period ago, newest first. */
async function verificationKeyRows(db: Db, spaceId: string, now: number): Promise<SigningKeyRow[]> {
  return db
    .select()
    .from(signingKeys)
    .where(
      and(
        eq(signingKeys.spaceId, spaceId),
        or(isNull(signingKeys.retiredAt), gt(signingKeys.retiredAt, now - RETIRED_KEY_GRACE_MS)),
      ),
    )
    .orderBy(desc(signingKeys.createdAt));
}

const verificationKeysCache = new TtlCache<SigningKeyRow[]>();

/** Cached per isolate for DEFINITIONS_TTL_MS: the User API verifies on every request. */
export async function verificationKeys(db: Db, space: SpaceRow, config: Config, now = Date.now()): Promise<SigningKeyRow[]> {
  const cached = verificationKeysCache.get(space.id, config.definitionsTtlMs, now);
  if (cached) return cached.filter((k) => k.retiredAt === null || k.retiredAt > now - RETIRED_KEY_GRACE_MS);
  const rows = await verificationKeyRows(db, space.id, now);
  verificationKeysCache.set(space.id, rows, config.definitionsTtlMs, now);
  return rows;
}

/** The public JWKS of a space (SPEC §1.1), creating its first key if needed. */
export async function publicJwks(db: Db, space: SpaceRow, config: Config): Promise<{ keys: JWK[] }> {
  let keys = await verificationKeys(db, space, config);
  if (!keys.some((k) => k.retiredAt === null)) {
    await activeSigningKey(db, space, config);
    verificationKeysCache.delete(space.id);
    keys = await verificationKeys(db, space, config);
  }
  return { keys: keys.map((k) => k.publicJwk as JWK) };
}

export async function mintUserToken(
  db: Db,
  space: SpaceRow,
  config: Config,
  userId: string,
  ttlSeconds: number,
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const key = await activeSigningKey(db, space, config, now);
  const privateJwk = JSON.parse(await open(key.privateJwk, privateKeyContext(space.id, key.kid), config.signingKeySecret)) as JWK;
  const privateKey = await importJWK(privateJwk, USER_TOKEN_ALG);
  const issuedAt = Math.floor(now / 1000);
  const expiresAt = issuedAt + ttlSeconds;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: USER_TOKEN_ALG, kid: key.kid, typ: "JWT" })
    .setIssuer(userTokenIssuer(space, config))
    .setAudience(userTokenAudience(space))
    .setSubject(userId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(privateKey);
  return { token, expiresAt: expiresAt * 1000 };
}
