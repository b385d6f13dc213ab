import { and, asc, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { apiKeys, spaces, type ApiKeyRow, type SpaceRow } from "../db/schema";
import { sha256Hex } from "../crypto/hash";
import { newId, randomSecret } from "../lib/ids";
import type { Scope } from "./scopes";

// Space API keys (SPEC §3.2): `lk_` + 32 random bytes, shown once; only the SHA-256 is
// stored. A presented key is found by its hash, so no comparison ever runs over the
// secret itself, and a database leak yields nothing usable.

export const API_KEY_PREFIX = "lk_";

export async function createApiKey(
  db: Db,
  spaceId: string,
  input: { name: string; scopes: Scope[] },
  now = Date.now(),
): Promise<{ row: ApiKeyRow; secret: string }> {
  const secret = randomSecret(API_KEY_PREFIX);
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId("key", now),
      spaceId,
      name: input.name,
      scopes: [...new Set(input.scopes)],
      secretHash: await sha256Hex(secret),
      createdAt: now,
    })
    .returning();
  return { row: row!, secret };
}

/** The key and its space, or undefined for an unknown secret. Revoked keys are returned (the caller says why). */
export async function findApiKeyBySecret(db: Db, secret: string): Promise<{ key: ApiKeyRow; space: SpaceRow } | undefined> {
  const hash = await sha256Hex(secret);
  const [found] = await db
    .select({ key: apiKeys, space: spaces })
    .from(apiKeys)
    .innerJoin(spaces, eq(spaces.id, apiKeys.spaceId))
    .where(eq(apiKeys.secretHash, hash))
    .limit(1);
  return found;
}

export async function anyActiveApiKey(db: Db): Promise<boolean> {
  const [row] = await db.select({ id: apiKeys.id }).from(apiKeys).where(isNull(apiKeys.revokedAt)).limit(1);
  return row !== undefined;
}

export async function listApiKeys(db: Db, spaceId: string, after: string | undefined, limit: number): Promise<ApiKeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.spaceId, spaceId), after ? gt(apiKeys.id, after) : undefined))
    .orderBy(asc(apiKeys.id))
    .limit(limit + 1);
}

export async function findApiKey(db: Db, spaceId: string, id: string): Promise<ApiKeyRow | undefined> {
  return db.query.apiKeys.findFirst({ where: and(eq(apiKeys.spaceId, spaceId), eq(apiKeys.id, id)) });
}

/** Idempotent: revoking a revoked key keeps its first revocation time. */
export async function revokeApiKey(db: Db, spaceId: string, id: string, now = Date.now()): Promise<boolean> {
  await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.spaceId, spaceId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
  return (await findApiKey(db, spaceId, id)) !== undefined;
}
