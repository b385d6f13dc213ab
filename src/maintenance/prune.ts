import type { Env } from "../env";
import { log } from "../http/log";
import { IDEMPOTENCY_TTL_MS } from "../http/idempotency";
import { PAYLOAD_RETENTION_MS } from "../outbound/delivery-log";

// Bounded D1 storage, run by the hourly cron (wrangler.toml [triggers]). What the API
// needs only for a while is removed once that while is over:
// - stored Idempotency-Key answers after 24 h (SPEC §5.1: replayed for at least 24 h);
// - delivery payloads after 30 days (SPEC §8.1), so an old delivery cannot be replayed;
// - the delivery log itself (rows and attempts) after 90 days (docs/decisions.md).
// Each kind goes in slices of SLICE rows, at most MAX_SLICES per run, so one run never
// holds D1 for long; a backlog shrinks over the following hours.

export const DELIVERY_LOG_RETENTION_MS = 90 * 86_400_000;
const SLICE = 500;
const MAX_SLICES = 20;

export interface PruneReport {
  idempotencyKeys: number;
  payloads: number;
  deliveries: number;
}

/** Runs `statements` (one slice) until a slice changes fewer than SLICE rows; returns the rows of the first statement. */
async function inSlices(d1: D1Database, statements: () => D1PreparedStatement[]): Promise<number> {
  let total = 0;
  for (let slice = 0; slice < MAX_SLICES; slice++) {
    const results = await d1.batch(statements());
    const changed = results.at(-1)!.meta.changes;
    total += changed;
    if (changed < SLICE) break;
  }
  return total;
}

export async function pruneD1(d1: D1Database, now: number): Promise<PruneReport> {
  const idempotencyKeys = await inSlices(d1, () => [
    d1
      .prepare(`DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ${SLICE})`)
      .bind(now - IDEMPOTENCY_TTL_MS),
  ]);
  const payloads = await inSlices(d1, () => [
    d1
      .prepare(`UPDATE deliveries SET message = NULL WHERE id IN (SELECT id FROM deliveries WHERE created_at < ?1 AND message IS NOT NULL LIMIT ${SLICE})`)
      .bind(now - PAYLOAD_RETENTION_MS),
  ]);
  // The attempts first, then their deliveries: the same ordered slice in one batch.
  const oldest = `SELECT id FROM deliveries WHERE created_at < ?1 ORDER BY created_at, id LIMIT ${SLICE}`;
  const deliveries = await inSlices(d1, () => [
    d1.prepare(`DELETE FROM delivery_attempts WHERE delivery_id IN (${oldest})`).bind(now - DELIVERY_LOG_RETENTION_MS),
    d1.prepare(`DELETE FROM deliveries WHERE id IN (${oldest})`).bind(now - DELIVERY_LOG_RETENTION_MS),
  ]);
  return { idempotencyKeys, payloads, deliveries };
}

/** The Worker's scheduled handler: prunes D1 and logs what it removed. */
export async function runMaintenance(env: Env, now: number): Promise<PruneReport> {
  const report = await pruneD1(env.DB, now);
  log(env, "info", "maintenance.pruned", { ...report });
  return report;
}
