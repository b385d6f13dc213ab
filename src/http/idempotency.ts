import type { Context, MiddlewareHandler } from "hono";
import { canonicalJson } from "../definitions/kinds/common";
import { sha256Hex } from "../crypto/hash";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

// `Idempotency-Key` on Admin API POSTs (SPEC §5.1, Stripe's rules). The first answer to a
// key is stored and replayed with `Idempotent-Replayed: true` for 24 hours; the same key
// with another payload is 422 `idempotency_key_reused`; while the first request is still
// running, a duplicate is 409 `idempotency_in_progress`. Only answers of requests that
// ran are stored (2xx, and the 409/422 a business rule gave): a request refused before it
// ran (malformed, unauthorised, not found) leaves the key free for a corrected retry, and
// a 5xx frees it too. Events are idempotent by their id instead, and endpoints that
// answer a secret refuse the header.

const HEADER = "idempotency-key";
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A first request that has not answered in this long crashed: the key may be taken over. */
const STALE_IN_PROGRESS_MS = 60_000;
const REPLAYED_HEADERS = ["content-type", "location", "etag", "loyalty-job"];

/** POST paths (relative to /api/loyalty/admin) whose idempotency is handled elsewhere. */
const ELSEWHERE = [/^\/events(\/batch)?\/?$/];
/** POST paths answering a secret: the key is refused (SPEC §5.1). */
const ANSWERS_SECRET = [/^\/api-keys\/?$/, /^\/webhooks\/?$/, /^\/webhooks\/[^/]+\/rotate-secret\/?$/, /^\/users\/[^/]+\/token\/?$/];

/**
 * Responses that carry a secret (API keys, user tokens, webhook secrets) are never stored
 * for replay, so these endpoints refuse `Idempotency-Key` instead of ignoring it (SPEC §5.1).
 */
export function refuseIdempotencyKey(c: Context): void {
  if (c.req.header(HEADER) !== undefined) {
    throw new ApiError("idempotency_not_supported", "this endpoint answers a secret and does not accept Idempotency-Key", [
      { path: "header.idempotency-key", message: "not supported here" },
    ]);
  }
}

/** The request's Idempotency-Key, checked (400 at header.idempotency-key if malformed). */
export function idempotencyKeyOf(c: Context): string | undefined {
  const key = c.req.header(HEADER);
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw new ApiError("invalid_request", "header.idempotency-key: 1-255 printable ASCII characters", [
      { path: "header.idempotency-key", message: "1-255 printable ASCII characters" },
    ]);
  }
  return key;
}

/** What makes two requests "the same": method, path and body (canonical JSON). */
export async function requestFingerprint(c: Context): Promise<string> {
  const text = await c.req.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text || "null");
  } catch {
    body = text;
  }
  return sha256Hex(`${c.req.method} ${c.req.path}\n${canonicalJson(body)}`);
}

/** Whether an answer is stored for replay: the request ran and reached a decision. */
export function isReplayable(status: number): boolean {
  return (status >= 200 && status < 300) || status === 409 || status === 422;
}

export const adminIdempotency: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== "POST") return next();
  const path = c.req.path.replace(/^\/api\/loyalty\/admin/, "");
  if (ELSEWHERE.some((re) => re.test(path))) return next();
  if (ANSWERS_SECRET.some((re) => re.test(path))) {
    refuseIdempotencyKey(c);
    return next();
  }
  // A user's operations keep their keys in the user's Durable Object (their routes).
  if (/^\/users\/[^/]+\/.+$/.test(path)) return next();
  const key = idempotencyKeyOf(c);
  if (key === undefined) return next();

  const d1 = c.env.DB;
  const spaceId = c.get("space").id;
  const fingerprint = await requestFingerprint(c);
  const now = Date.now();
  const claimed = await d1
    .prepare(
      `INSERT INTO idempotency_keys (space_id, key, fingerprint, state, created_at, updated_at)
       VALUES (?1, ?2, ?3, 'in_progress', ?4, ?4)
       ON CONFLICT (space_id, key) DO UPDATE SET
         fingerprint = excluded.fingerprint, state = 'in_progress', status = NULL, body = NULL, headers = NULL,
         created_at = excluded.created_at, updated_at = excluded.updated_at
       WHERE idempotency_keys.created_at < ?5
          OR (idempotency_keys.state = 'in_progress' AND idempotency_keys.updated_at < ?6
              AND idempotency_keys.fingerprint = excluded.fingerprint)`,
    )
    .bind(spaceId, key, fingerprint, now, now - IDEMPOTENCY_TTL_MS, now - STALE_IN_PROGRESS_MS)
    .run();
  if (claimed.meta.changes === 0) return replay(c, spaceId, key, fingerprint);

  await next();
  const status = c.res.status;
  if (!isReplayable(status)) {
    await d1.prepare(`DELETE FROM idempotency_keys WHERE space_id = ?1 AND key = ?2 AND state = 'in_progress'`).bind(spaceId, key).run();
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = c.res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const body = await c.res.clone().text();
  await d1
    .prepare(
      `UPDATE idempotency_keys SET state = 'done', status = ?3, body = ?4, headers = ?5, updated_at = ?6
       WHERE space_id = ?1 AND key = ?2 AND state = 'in_progress'`,
    )
    .bind(spaceId, key, status, body, JSON.stringify(headers), Date.now())
    .run();
};

async function replay(c: Context<AppEnv>, spaceId: string, key: string, fingerprint: string): Promise<Response> {
  const row = await c.env.DB.prepare(`SELECT fingerprint, state, status, body, headers FROM idempotency_keys WHERE space_id = ?1 AND key = ?2`)
    .bind(spaceId, key)
    .first<{ fingerprint: string; state: string; status: number | null; body: string | null; headers: string | null }>();
  if (!row) throw new ApiError("idempotency_in_progress", "the first request with this Idempotency-Key just finished; retry");
  if (row.fingerprint !== fingerprint) {
    throw new ApiError("idempotency_key_reused", "this Idempotency-Key was used with another request", [
      { path: "header.idempotency-key", message: "used with another method, path or body" },
    ]);
  }
  if (row.state !== "done") {
    throw new ApiError("idempotency_in_progress", "a request with this Idempotency-Key is still running; retry shortly", [
      { path: "header.idempotency-key", message: "in progress" },
    ]);
  }
  const headers = new Headers(JSON.parse(row.headers ?? "{}") as Record<string, string>);
  headers.set("Idempotent-Replayed", "true");
  let body = row.body;
  // A replayed problem names this request, like its X-Request-Id (the rest is as stored).
  if (headers.get("content-type")?.startsWith("application/problem+json") && body) {
    body = JSON.stringify({ ...(JSON.parse(body) as Record<string, unknown>), requestId: c.get("requestId") });
  }
  return new Response(body, { status: row.status!, headers });
}
