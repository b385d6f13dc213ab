import type { DirectoryUpdate } from "./entry";

// The D1 user directory and segment-member index (SPEC §5.5, §5.8): written in batches by
// the index queue's consumer, erased with the user, read by the Admin API. Every
// statement is scoped by space id. Whole batches go through json_each, so a batch of
// updates is three statements whatever its size (D1 bounds parameters per statement).

/** Orders one user's updates: a row only moves to a newer (generation, revision). */
const NEWER = `excluded.generation > user_directory.generation
  OR (excluded.generation = user_directory.generation AND excluded.revision > user_directory.revision)`;

const UPSERT_USERS = `
INSERT INTO user_directory (space_id, user_id, generation, revision, created_at, last_seen_at, segments, updated_at, erased_at)
SELECT json_extract(value, '$.spaceId'), json_extract(value, '$.userId'), json_extract(value, '$.generation'),
       json_extract(value, '$.revision'), json_extract(value, '$.createdAt'), json_extract(value, '$.lastSeenAt'),
       json_extract(value, '$.segments'), ?2, NULL
FROM json_each(?1) WHERE true
ON CONFLICT (space_id, user_id) DO UPDATE SET
  generation = excluded.generation, revision = excluded.revision, created_at = excluded.created_at,
  last_seen_at = excluded.last_seen_at, segments = excluded.segments, updated_at = excluded.updated_at, erased_at = NULL
WHERE ${NEWER}`;

// After the upsert each user's row holds the newest state known, whichever message of the
// batch (or an earlier one) carried it: memberships are made to match that row, so a late
// message changes nothing and a repeated one is harmless.
const USERS_OF_BATCH = `
SELECT d.space_id, d.user_id, d.segments FROM json_each(?1) u
JOIN user_directory d ON d.space_id = json_extract(u.value, '$.spaceId') AND d.user_id = json_extract(u.value, '$.userId')`;

const DELETE_STALE_MEMBERSHIPS = `
DELETE FROM segment_members WHERE rowid IN (
  SELECT m.rowid FROM (${USERS_OF_BATCH}) d
  JOIN segment_members m ON m.space_id = d.space_id AND m.user_id = d.user_id
  WHERE m.segment_id NOT IN (SELECT value FROM json_each(d.segments)))`;

const INSERT_MEMBERSHIPS = `
INSERT OR IGNORE INTO segment_members (space_id, segment_id, user_id)
SELECT d.space_id, s.value, d.user_id FROM (${USERS_OF_BATCH}) d, json_each(d.segments) s`;

export async function applyDirectoryUpdates(d1: D1Database, updates: DirectoryUpdate[], now: number): Promise<void> {
  if (updates.length === 0) return;
  const batch = JSON.stringify(updates);
  await d1.batch([
    d1.prepare(UPSERT_USERS).bind(batch, now),
    d1.prepare(DELETE_STALE_MEMBERSHIPS).bind(batch),
    d1.prepare(INSERT_MEMBERSHIPS).bind(batch),
  ]);
}

/**
 * Erasure (SPEC §7): the user's row becomes a tombstone of the new generation (no dates,
 * no segments) and their memberships go, unless an update of that generation already
 * arrived (the user came back right after the erasure).
 */
export async function eraseFromDirectory(d1: D1Database, spaceId: string, userId: string, generation: number, now: number): Promise<void> {
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO user_directory (space_id, user_id, generation, revision, created_at, last_seen_at, segments, updated_at, erased_at)
         VALUES (?1, ?2, ?3, 0, NULL, NULL, '[]', ?4, ?4)
         ON CONFLICT (space_id, user_id) DO UPDATE SET
           generation = excluded.generation, revision = 0, created_at = NULL, last_seen_at = NULL, segments = '[]',
           updated_at = excluded.updated_at, erased_at = excluded.erased_at
         WHERE excluded.generation > user_directory.generation`,
      )
      .bind(spaceId, userId, generation, now),
    d1
      .prepare(
        `DELETE FROM segment_members WHERE space_id = ?1 AND user_id = ?2
         AND EXISTS (SELECT 1 FROM user_directory WHERE space_id = ?1 AND user_id = ?2 AND erased_at IS NOT NULL)`,
      )
      .bind(spaceId, userId),
  ]);
}

export interface DirectoryUser {
  userId: string;
  createdAt: string | null;
  lastSeenAt: string | null;
  segments: string[];
}

export interface DirectoryQuery {
  /** Last user id of the previous page. */
  after?: string;
  limit: number;
  /** Prefix of the user id, compared exactly (no wildcards). */
  prefix?: string;
  segment?: string;
}

/**
 * A page of the directory by user id. The prefix is a range on the primary key: user ids
 * are printable ASCII below DEL (USER_ID_PATTERN), so `[prefix, prefix + DEL)` holds
 * exactly the ids that start with it, and `%` or `_` mean nothing special.
 */
export async function listDirectory(d1: D1Database, spaceId: string, query: DirectoryQuery): Promise<DirectoryUser[]> {
  const filters = ["d.space_id = ?1", "d.erased_at IS NULL", "d.user_id > ?2"];
  const params: unknown[] = [spaceId, query.after ?? "", query.limit];
  if (query.prefix !== undefined) {
    params.push(query.prefix, `${query.prefix}\u007f`);
    filters.push(`d.user_id >= ?${params.length - 1}`, `d.user_id < ?${params.length}`);
  }
  let from = "user_directory d";
  if (query.segment !== undefined) {
    params.push(query.segment);
    from = `segment_members m JOIN user_directory d ON d.space_id = m.space_id AND d.user_id = m.user_id`;
    filters.push(`m.space_id = ?1`, `m.segment_id = ?${params.length}`);
  }
  const { results } = await d1
    .prepare(`SELECT d.user_id, d.created_at, d.last_seen_at, d.segments FROM ${from} WHERE ${filters.join(" AND ")} ORDER BY d.user_id LIMIT ?3`)
    .bind(...params)
    .all<{ user_id: string; created_at: string | null; last_seen_at: string | null; segments: string }>();
  return results.map((r) => ({ userId: r.user_id, createdAt: r.created_at, lastSeenAt: r.last_seen_at, segments: JSON.parse(r.segments) as string[] }));
}

/** Members per segment, from the index (eventually consistent, SPEC §5.5). */
export async function memberCounts(d1: D1Database, spaceId: string, segmentIds: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>(segmentIds.map((id) => [id, 0]));
  if (segmentIds.length === 0) return counts;
  const { results } = await d1
    .prepare(
      `SELECT segment_id, COUNT(*) AS members FROM segment_members
       WHERE space_id = ?1 AND segment_id IN (SELECT value FROM json_each(?2)) GROUP BY segment_id`,
    )
    .bind(spaceId, JSON.stringify(segmentIds))
    .all<{ segment_id: string; members: number }>();
  for (const r of results) counts.set(r.segment_id, r.members);
  return counts;
}

/** The ids of live users in the directory after `after`, for jobs walking a space. */
export async function directoryPage(d1: D1Database, spaceId: string, after: string, limit: number): Promise<string[]> {
  const { results } = await d1
    .prepare(`SELECT user_id FROM user_directory WHERE space_id = ?1 AND erased_at IS NULL AND user_id > ?2 ORDER BY user_id LIMIT ?3`)
    .bind(spaceId, after, limit)
    .all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

export async function directorySize(d1: D1Database, spaceId: string): Promise<number> {
  const row = await d1
    .prepare(`SELECT COUNT(*) AS n FROM user_directory WHERE space_id = ?1 AND erased_at IS NULL`)
    .bind(spaceId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
