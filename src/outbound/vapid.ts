import type { JWK } from "jose";
import type { Config } from "../config";
import { open, seal } from "../crypto/sealed";
import { TtlCache } from "../lib/ttl-cache";
import { newVapidKeys, type VapidKeys } from "./web-push";

// Each space's VAPID key pair (SPEC §8.2), made on first use. Two first uses at once both
// insert-or-ignore: one pair wins and both read it back, so a space has exactly one.

const cache = new TtlCache<VapidKeys>(1000);
const CACHE_MS = 300_000;

function context(spaceId: string): string {
  return `vapid:${spaceId}`;
}

export async function vapidKeysOf(d1: D1Database, config: Config, spaceId: string): Promise<VapidKeys> {
  const hit = cache.get(spaceId, CACHE_MS);
  if (hit) return hit;
  let row = await d1.prepare(`SELECT public_key, private_jwk FROM vapid_keys WHERE space_id = ?`).bind(spaceId).first<{ public_key: string; private_jwk: string }>();
  if (!row) {
    const fresh = await newVapidKeys();
    const sealed = await seal(JSON.stringify(fresh.privateJwk), context(spaceId), config.signingKeySecret);
    await d1
      .prepare(`INSERT OR IGNORE INTO vapid_keys (space_id, public_key, private_jwk, created_at) VALUES (?, ?, ?, ?)`)
      .bind(spaceId, fresh.publicKey, sealed, Date.now())
      .run();
    row = await d1.prepare(`SELECT public_key, private_jwk FROM vapid_keys WHERE space_id = ?`).bind(spaceId).first<{ public_key: string; private_jwk: string }>();
  }
  const keys: VapidKeys = {
    publicKey: row!.public_key,
    privateJwk: JSON.parse(await open(row!.private_jwk, context(spaceId), config.signingKeySecret)) as JWK,
  };
  cache.set(spaceId, keys, CACHE_MS);
  return keys;
}
