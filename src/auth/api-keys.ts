import { and, asc, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { apiKeys, type ApiKeyRow } from "../db/schema";
import type { Env } from "../env";
import { announceRevocation } from "./key-gate";
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

/**
 * Records the revocation in D1, then tells the key's gate, which answers every later check
 * (key-gate.ts). Idempotent: revoking a revoked key keeps its first revocation time, and
 * tells the gate again, so a retry after a failed call to the gate completes it.
 */
export async function revokeApiKey(env: Env, db: Db, spaceId: string, id: string, now = Date.now()): Promise<boolean> {
  await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.spaceId, spaceId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
  const row = await findApiKey(db, spaceId, id);
  if (!row) return false;
  await announceRevocation(env, row.secretHash, row.revokedAt ?? now);
  return true;
}
