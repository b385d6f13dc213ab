import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import type { Env } from "../env";
import { dbOf } from "../db/client";
import { ApiError } from "../errors";
import { log } from "../http/log";
import { apiKeys } from "../db/schema";
import type { Scope } from "./scopes";

// Admin API keys are checked on every Admin request, and SPEC §3.2 wants a revocation to
// take effect at once, so no isolate may cache a key. Reading D1 every time cost more
// than half of ingestion's throughput in `npm run bench` (each D1 query is a round trip
// to the database's single writer). Instead every key is answered by one of 16 gate
// objects, chosen by its hash: a Durable Object is a single instance, so its memory is a
// cache that a revocation sent to it invalidates for every caller at once.
//
// D1 stays the record (create, list, revoke write it first); a gate learns a key from D1
// the first time it is asked and re-reads it after KEY_RECHECK_MS, so that a key changed
// behind the API's back (a restored database) is not trusted for ever.

const SHARDS = 16;
export const KEY_RECHECK_MS = 60_000;

export interface KeyGrant {
  keyId: string;
  spaceId: string;
  scopes: Scope[];
  revokedAt: number | null;
}

/** The gate object that answers for the key with this SHA-256 (hex). */
export function keyGateOf(env: Env, secretHash: string) {
  return env.API_KEY_GATES.getByName(`keys-${Number.parseInt(secretHash.slice(0, 2), 16) % SHARDS}`);
}

/** The key's grant from its gate; 503 (not 500) when the gate cannot be reached. */
export async function checkKey(env: Env, secretHash: string): Promise<KeyGrant | undefined> {
  try {
    return await keyGateOf(env, secretHash).grantFor(secretHash);
  } catch (error) {
    log(env, "warn", "auth.key_gate_failed", { error: String(error) });
    throw new ApiError("unavailable", "API keys cannot be checked right now; retry shortly", [], { "Retry-After": "1" });
  }
}

/**
 * Tells the key's gate of a revocation D1 already holds. If the gate cannot be reached the
 * DELETE answers 503: the key dies anyway once the gate re-reads it (KEY_RECHECK_MS), and
 * sending the DELETE again makes it immediate.
 */
export async function announceRevocation(env: Env, secretHash: string, revokedAt: number): Promise<void> {
  try {
    await keyGateOf(env, secretHash).revoke(secretHash, revokedAt);
  } catch (error) {
    log(env, "warn", "auth.key_gate_failed", { error: String(error) });
    throw new ApiError("unavailable", "the revocation is recorded, but not yet effective everywhere (within a minute); send the DELETE again", [], {
      "Retry-After": "1",
    });
  }
}

export class ApiKeyGate extends DurableObject<Env> {
  private readonly known = new Map<string, { grant: KeyGrant; readAt: number }>();
  /** Moves on every revocation: a D1 read that started before one is read again. */
  private revision = 0;

  /** The key with this secret hash, revoked or not; undefined if D1 has no such key. */
  async grantFor(secretHash: string): Promise<KeyGrant | undefined> {
    const cached = this.known.get(secretHash);
    if (cached && Date.now() - cached.readAt < KEY_RECHECK_MS) return cached.grant;
    for (;;) {
      const revisionBefore = this.revision;
      const readAt = Date.now();
      const grant = await this.readGrant(secretHash);
      if (this.revision !== revisionBefore) continue;
      // Unknown secrets are not remembered: a key created a moment later must work.
      if (grant) this.known.set(secretHash, { grant, readAt });
      else this.known.delete(secretHash);
      return grant;
    }
  }

  private async readGrant(secretHash: string): Promise<KeyGrant | undefined> {
    const row = await dbOf(this.env.DB).query.apiKeys.findFirst({ where: eq(apiKeys.secretHash, secretHash) });
    return row && { keyId: row.id, spaceId: row.spaceId, scopes: row.scopes as Scope[], revokedAt: row.revokedAt };
  }

  /** Called after D1 recorded the revocation: every later check answers it. */
  async revoke(secretHash: string, revokedAt: number): Promise<void> {
    this.revision += 1;
    const cached = this.known.get(secretHash);
    if (cached) cached.grant = { ...cached.grant, revokedAt: cached.grant.revokedAt ?? revokedAt };
  }
}
