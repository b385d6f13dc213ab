import { sha256Hex } from "../crypto/hash";
import type { DeliveryRow } from "../db/schema";

// The delivery log in D1 (SPEC §8.1): one row per delivery (its latest outcome) and one
// per attempt. Error texts are cut to 1 KiB; payloads age out after 30 days.

export const MAX_ERROR_CHARS = 1024;
export const PAYLOAD_RETENTION_MS = 30 * 86_400_000;

/**
 * `webhook-id` (and a push's delivery id): derived from the space, the user, the event and
 * the target, so it is stable across retries and replays. The user is part of it because
 * event ids are unique per user, not per space: two users' `checkin-2026-11-26` are two
 * messages, and a receiver that deduplicates by webhook-id must not drop the second.
 */
export async function deliveryIdOf(
  spaceId: string,
  userId: string,
  message: { kind: "webhook"; eventId: string; webhook: string; type: string; seq?: number } | { kind: "push"; eventId: string; endpoint: string },
): Promise<string> {
  const parts = message.kind === "webhook" ? [spaceId, userId, message.eventId, message.webhook, message.type, message.seq ?? 0] : [spaceId, userId, message.eventId, "push", message.endpoint];
  return `msg_${(await sha256Hex(JSON.stringify(parts))).slice(0, 32)}`;
}

export async function recordDelivery(
  d1: D1Database,
  row: { id: string; spaceId: string; kind: string; endpointId: string | null; userId: string; eventType: string; message: unknown },
  now: number,
): Promise<void> {
  await d1
    .prepare(
      `INSERT INTO deliveries (id, space_id, kind, endpoint_id, user_id, event_type, message, status, attempts, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8) ON CONFLICT (id) DO NOTHING`,
    )
    .bind(row.id, row.spaceId, row.kind, row.endpointId, row.userId, row.eventType, JSON.stringify(row.message), now)
    .run();
}

export interface AttemptRecord {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** The delivery's status after this attempt. */
  status: "pending" | "delivered" | "failed" | "skipped";
}

/** Records one attempt and the delivery's new status, in one batch. */
export async function recordAttempt(d1: D1Database, id: string, attempt: AttemptRecord, now: number): Promise<void> {
  const error = attempt.error === null ? null : attempt.error.slice(0, MAX_ERROR_CHARS);
  await d1.batch([
    d1
      .prepare(
        `INSERT OR REPLACE INTO delivery_attempts (delivery_id, attempt, at, status_code, latency_ms, error)
         VALUES (?1, (SELECT attempts + 1 FROM deliveries WHERE id = ?1), ?2, ?3, ?4, ?5)`,
      )
      .bind(id, now, attempt.statusCode, attempt.latencyMs, error),
    d1
      .prepare(
        `UPDATE deliveries SET attempts = attempts + 1, status = ?2, last_status_code = ?3, last_error = ?4, last_latency_ms = ?5, updated_at = ?6
         WHERE id = ?1`,
      )
      .bind(id, attempt.status, attempt.statusCode, error, attempt.latencyMs, now),
  ]);
}

/** Without an attempt (a disabled endpoint, a delivery dead-lettered). */
export async function setDeliveryStatus(d1: D1Database, id: string, status: string, error: string | null, now: number): Promise<void> {
  await d1
    .prepare(`UPDATE deliveries SET status = ?2, last_error = COALESCE(?3, last_error), updated_at = ?4 WHERE id = ?1`)
    .bind(id, status, error, now)
    .run();
}

export async function findDelivery(d1: D1Database, spaceId: string, id: string): Promise<DeliveryRow | null> {
  const row = await d1.prepare(`SELECT * FROM deliveries WHERE space_id = ?1 AND id = ?2`).bind(spaceId, id).first<Record<string, unknown>>();
  return row ? rowOf(row) : null;
}

export async function listDeliveries(
  d1: D1Database,
  spaceId: string,
  endpointId: string,
  options: { status?: string; before?: string; limit: number },
): Promise<DeliveryRow[]> {
  // Newest first: (created_at, id) descending; the cursor is "createdAt|id" of the last row.
  const [beforeAt, beforeId] = options.before ? [Number(options.before.split("|")[0]), options.before.split("|")[1] ?? ""] : [Number.MAX_SAFE_INTEGER, ""];
  const { results } = await d1
    .prepare(
      `SELECT * FROM deliveries WHERE space_id = ?1 AND endpoint_id = ?2 AND (?3 IS NULL OR status = ?3)
         AND (created_at < ?4 OR (created_at = ?4 AND id < ?5))
       ORDER BY created_at DESC, id DESC LIMIT ?6`,
    )
    .bind(spaceId, endpointId, options.status ?? null, beforeAt, options.before ? beforeId : "\uffff", options.limit)
    .all<Record<string, unknown>>();
  return results.map(rowOf);
}

export async function attemptsOf(d1: D1Database, id: string): Promise<Array<{ attempt: number; at: number; statusCode: number | null; latencyMs: number; error: string | null }>> {
  const { results } = await d1
    .prepare(`SELECT attempt, at, status_code, latency_ms, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt`)
    .bind(id)
    .all<{ attempt: number; at: number; status_code: number | null; latency_ms: number; error: string | null }>();
  return results.map((r) => ({ attempt: r.attempt, at: r.at, statusCode: r.status_code, latencyMs: r.latency_ms, error: r.error }));
}

/** Erasure (SPEC §7): the payloads of the user's deliveries go; the outcomes stay. */
export async function forgetUserPayloads(d1: D1Database, spaceId: string, userId: string): Promise<void> {
  await d1.prepare(`UPDATE deliveries SET message = NULL WHERE space_id = ?1 AND user_id = ?2`).bind(spaceId, userId).run();
}

function rowOf(r: Record<string, unknown>): DeliveryRow {
  return {
    id: r.id as string,
    spaceId: r.space_id as string,
    kind: r.kind as string,
    endpointId: (r.endpoint_id as string | null) ?? null,
    userId: r.user_id as string,
    eventType: r.event_type as string,
    message: (r.message as string | null) ?? null,
    status: r.status as string,
    attempts: r.attempts as number,
    lastStatusCode: (r.last_status_code as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    lastLatencyMs: (r.last_latency_ms as number | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}
