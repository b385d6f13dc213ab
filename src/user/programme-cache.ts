import type { Env } from "../env";
import { compileProgramme, type DefinitionInput } from "../engine/compile";
import type { Programme } from "../engine/types";
import type { DefinitionKind } from "../definitions/types";

// Definitions on the hot path (SPEC §5.9): a space's compiled programme is cached per
// isolate (module scope: shared by every Durable Object in the isolate), keyed by the
// space's definitions version, which is re-checked at most every DEFINITIONS_TTL_MS.
// One event is evaluated against one snapshot.

interface Entry {
  programme: Programme;
  checkedAt: number;
}

const cache = new Map<string, Entry>();
/** Concurrent loads of one space share one query. */
const loading = new Map<string, Promise<Programme>>();

async function load(db: D1Database, spaceId: string): Promise<Programme> {
  const [space, definitions] = await db.batch([
    db.prepare("SELECT definitions_version AS version, timezone, json_extract(push, '$.gatewayUrl') IS NOT NULL AS gateway FROM spaces WHERE id = ?").bind(spaceId),
    db
      .prepare("SELECT kind, id, body FROM definitions WHERE space_id = ? AND archived_at IS NULL AND erased_at IS NULL ORDER BY kind, id")
      .bind(spaceId),
  ]);
  const row = space!.results[0] as { version: number; timezone: string; gateway: number } | undefined;
  if (!row) throw new Error(`no space ${spaceId}`);
  const inputs: DefinitionInput[] = (definitions!.results as Array<{ kind: string; id: string; body: string }>).map((d) => ({
    kind: d.kind as DefinitionKind,
    id: d.id,
    body: JSON.parse(d.body) as Record<string, unknown>,
  }));
  return compileProgramme(inputs, { version: row.version, spaceTimezone: row.timezone, pushGateway: row.gateway === 1 });
}

export async function programmeFor(env: Env, spaceId: string, ttlMs: number, now = Date.now()): Promise<Programme> {
  const entry = cache.get(spaceId);
  if (entry && now - entry.checkedAt < ttlMs) return entry.programme;
  if (entry) {
    const current = await env.DB.prepare("SELECT definitions_version AS version FROM spaces WHERE id = ?")
      .bind(spaceId)
      .first<{ version: number }>();
    if (current?.version === entry.programme.version) {
      entry.checkedAt = now;
      return entry.programme;
    }
  }
  let pending = loading.get(spaceId);
  if (!pending) {
    pending = load(env.DB, spaceId).finally(() => loading.delete(spaceId));
    loading.set(spaceId, pending);
  }
  const programme = await pending;
  cache.set(spaceId, { programme, checkedAt: now });
  return programme;
}

/**
 * Forgets a space's programme in this isolate after a definitions write made here, so
 * the writer's own isolate sees it at once (others within DEFINITIONS_TTL_MS).
 */
export function invalidateProgramme(spaceId: string): void {
  cache.delete(spaceId);
}
