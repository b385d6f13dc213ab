import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { DELIVERY_LOG_RETENTION_MS, pruneD1 } from "../../src/maintenance/prune";
import { IDEMPOTENCY_TTL_MS } from "../../src/http/idempotency";
import { PAYLOAD_RETENTION_MS } from "../../src/outbound/delivery-log";
import { uniqueSlug } from "../helpers/harness";

// The hourly cron (src/maintenance/prune.ts): what D1 keeps only for a while is removed
// once that while is over, and nothing younger is touched.

const NOW = Date.parse("2026-11-26T03:17:00.000Z");
const HOUR = 3_600_000;

async function idempotencyKey(spaceId: string, key: string, createdAt: number) {
  await env.DB.prepare(
    `INSERT INTO idempotency_keys (space_id, key, fingerprint, state, status, body, headers, created_at, updated_at)
     VALUES (?1, ?2, 'f', 'done', 201, '{}', '{}', ?3, ?3)`,
  )
    .bind(spaceId, key, createdAt)
    .run();
}

async function delivery(spaceId: string, id: string, createdAt: number, attempts = 1) {
  await env.DB.prepare(
    `INSERT INTO deliveries (id, space_id, kind, endpoint_id, user_id, event_type, message, status, attempts, created_at, updated_at)
     VALUES (?1, ?2, 'webhook', 'crm', 'u1', 'loyalty.metric.changed', '{"payload":true}', 'delivered', ?4, ?3, ?3)`,
  )
    .bind(id, spaceId, createdAt, attempts)
    .run();
  for (let n = 1; n <= attempts; n++) {
    await env.DB.prepare(`INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, latency_ms, error) VALUES (?1, ?2, ?3, 200, 12, NULL)`)
      .bind(id, n, createdAt)
      .run();
  }
}

const keysOf = async (spaceId: string) =>
  (await env.DB.prepare(`SELECT key FROM idempotency_keys WHERE space_id = ? ORDER BY key`).bind(spaceId).all<{ key: string }>()).results.map((r) => r.key);
const deliveriesOf = async (spaceId: string) =>
  (
    await env.DB.prepare(
      `SELECT id, message IS NOT NULL AS kept, (SELECT COUNT(*) FROM delivery_attempts WHERE delivery_id = d.id) AS attempts FROM deliveries d WHERE space_id = ? ORDER BY id`,
    )
      .bind(spaceId)
      .all<{ id: string; kept: number; attempts: number }>()
  ).results;

describe("D1 pruning (the scheduled handler)", () => {
  it("removes Idempotency-Key answers older than 24 h, and only those", async () => {
    const space = uniqueSlug("prune");
    await idempotencyKey(space, "fresh", NOW - HOUR);
    await idempotencyKey(space, "just-kept", NOW - IDEMPOTENCY_TTL_MS + 1);
    await idempotencyKey(space, "expired", NOW - IDEMPOTENCY_TTL_MS - 1);
    await idempotencyKey(space, "old", NOW - 10 * 24 * HOUR);
    const report = await pruneD1(env.DB, NOW);
    expect(await keysOf(space)).toEqual(["fresh", "just-kept"]);
    expect(report.idempotencyKeys).toBeGreaterThanOrEqual(2);
  });

  it("drops delivery payloads after 30 days (the row and its attempts stay) and the whole log entry after 90", async () => {
    const space = uniqueSlug("prune");
    await delivery(space, `${space}-a-recent`, NOW - 24 * HOUR);
    await delivery(space, `${space}-b-29d`, NOW - PAYLOAD_RETENTION_MS + HOUR, 2);
    await delivery(space, `${space}-c-31d`, NOW - PAYLOAD_RETENTION_MS - HOUR, 3);
    await delivery(space, `${space}-d-91d`, NOW - DELIVERY_LOG_RETENTION_MS - HOUR, 2);
    await pruneD1(env.DB, NOW);
    expect(await deliveriesOf(space)).toEqual([
      { id: `${space}-a-recent`, kept: 1, attempts: 1 },
      { id: `${space}-b-29d`, kept: 1, attempts: 2 },
      { id: `${space}-c-31d`, kept: 0, attempts: 3 },
    ]);
    const orphans = await env.DB.prepare(`SELECT COUNT(*) AS n FROM delivery_attempts WHERE delivery_id = ?`).bind(`${space}-d-91d`).first<{ n: number }>();
    expect(orphans!.n).toBe(0);
  });

  it("a backlog larger than one slice goes in one run (slices of 500)", async () => {
    const space = uniqueSlug("prune");
    const old = NOW - IDEMPOTENCY_TTL_MS - HOUR;
    const rows = Array.from({ length: 1_203 }, (_, i) => `k${String(i).padStart(5, "0")}`);
    for (let i = 0; i < rows.length; i += 100) {
      await env.DB.batch(rows.slice(i, i + 100).map((key) => env.DB.prepare(`INSERT INTO idempotency_keys (space_id, key, fingerprint, state, created_at, updated_at) VALUES (?1, ?2, 'f', 'done', ?3, ?3)`).bind(space, key, old)));
    }
    await idempotencyKey(space, "zz-fresh", NOW);
    await pruneD1(env.DB, NOW);
    expect(await keysOf(space)).toEqual(["zz-fresh"]);
  });

  it("runs from the Worker's scheduled handler (the cron of wrangler.toml)", async () => {
    const space = uniqueSlug("prune");
    await idempotencyKey(space, "expired", NOW - IDEMPOTENCY_TTL_MS - 1);
    await delivery(space, `${space}-old`, NOW - PAYLOAD_RETENTION_MS - HOUR);
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: NOW, cron: "17 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await keysOf(space)).toEqual([]);
    expect(await deliveriesOf(space)).toEqual([{ id: `${space}-old`, kept: 0, attempts: 1 }]);
  });
});
