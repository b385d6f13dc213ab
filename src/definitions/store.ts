import { and, asc, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { invalidateProgramme } from "../user/programme-cache";
import { definitionRefs, definitions, spaces, type DefinitionRow } from "../db/schema";
import type { Reference } from "./validation-context";
import type { DefinitionInfo, DefinitionKind } from "./types";

// D1 access for definitions. Concurrency: every write of a space's definitions — one
// definition or a whole programme document — is validated against one snapshot (the
// space's definitionsVersion) and committed as one D1 batch whose first statement moves
// that version forward only if nobody else did, and stamps the batch's own write id.
// Every later statement of the batch runs only while that stamp is its own, so a write
// that lost the race changes nothing and is retried from a fresh snapshot. Writes of one
// space are therefore serialised, and a reference can never be checked against a state
// that another write is changing (no dangling references, no double activation).

export interface SpaceSnapshot {
  definitionsVersion: number;
  /** Every definition of the space (archived and erased included: ids are never reused). */
  infos: Map<string, DefinitionInfo & { erased: boolean }>;
}

export const infoKey = (kind: DefinitionKind, id: string) => `${kind}/${id}`;

export async function loadSnapshot(db: Db, spaceId: string): Promise<SpaceSnapshot> {
  const [space, rows] = await db.batch([
    db.select({ version: spaces.definitionsVersion }).from(spaces).where(eq(spaces.id, spaceId)),
    db
      .select({
        kind: definitions.kind,
        id: definitions.id,
        info: definitions.info,
        status: definitions.status,
        archivedAt: definitions.archivedAt,
        erasedAt: definitions.erasedAt,
      })
      .from(definitions)
      .where(eq(definitions.spaceId, spaceId)),
  ]);
  const infos = new Map<string, DefinitionInfo & { erased: boolean }>();
  for (const row of rows) {
    infos.set(infoKey(row.kind as DefinitionKind, row.id), {
      ...(row.info as Partial<DefinitionInfo>),
      kind: row.kind as DefinitionKind,
      id: row.id,
      archived: row.archivedAt !== null || row.erasedAt !== null,
      erased: row.erasedAt !== null,
      ...(row.status !== null ? { status: row.status } : {}),
    });
  }
  return { definitionsVersion: space[0]?.version ?? 0, infos };
}

/** A live or archived definition (erased ones are gone for reading). */
export async function findDefinition(
  db: Db,
  spaceId: string,
  kind: DefinitionKind,
  id: string,
): Promise<DefinitionRow | undefined> {
  return db.query.definitions.findFirst({
    where: and(
      eq(definitions.spaceId, spaceId),
      eq(definitions.kind, kind),
      eq(definitions.id, id),
      isNull(definitions.erasedAt),
    ),
  });
}

export async function listDefinitions(
  db: Db,
  spaceId: string,
  kind: DefinitionKind,
  options: { after?: string; limit: number; includeArchived: boolean },
): Promise<DefinitionRow[]> {
  return db
    .select()
    .from(definitions)
    .where(
      and(
        eq(definitions.spaceId, spaceId),
        eq(definitions.kind, kind),
        isNull(definitions.erasedAt),
        options.includeArchived ? undefined : isNull(definitions.archivedAt),
        options.after !== undefined ? gt(definitions.id, options.after) : undefined,
      ),
    )
    .orderBy(asc(definitions.id))
    .limit(options.limit + 1);
}

/** Every live definition of the given kinds (the programme export), by kind then id. */
export async function liveDefinitions(db: Db, spaceId: string): Promise<DefinitionRow[]> {
  return db
    .select()
    .from(definitions)
    .where(and(eq(definitions.spaceId, spaceId), isNull(definitions.erasedAt), isNull(definitions.archivedAt)))
    .orderBy(asc(definitions.kind), asc(definitions.id));
}

/** Live definitions that reference (kind, id), with where. Archived referrers no longer count. */
export async function referrersOf(
  db: Db,
  spaceId: string,
  kind: DefinitionKind,
  id: string,
): Promise<Array<{ kind: DefinitionKind; id: string; path: string; status: string | null }>> {
  const rows = await db
    .select({ kind: definitionRefs.fromKind, id: definitionRefs.fromId, path: definitionRefs.path, status: definitions.status })
    .from(definitionRefs)
    .innerJoin(
      definitions,
      and(
        eq(definitions.spaceId, definitionRefs.spaceId),
        eq(definitions.kind, definitionRefs.fromKind),
        eq(definitions.id, definitionRefs.fromId),
      ),
    )
    .where(
      and(
        eq(definitionRefs.spaceId, spaceId),
        eq(definitionRefs.toKind, kind),
        eq(definitionRefs.toId, id),
        isNull(definitions.archivedAt),
        isNull(definitions.erasedAt),
      ),
    )
    .orderBy(asc(definitionRefs.fromKind), asc(definitionRefs.fromId), asc(definitionRefs.path));
  return rows.map((r) => ({ ...r, kind: r.kind as DefinitionKind }));
}

/** How often a definitions write is retried after losing a race (see above). */
export const MAX_WRITE_ATTEMPTS = 6;

/**
 * Waits a little before retrying a lost race: random, growing with the attempt, so that
 * writers that collided do not collide again in lockstep.
 */
export function backoff(attempt: number): Promise<void> {
  if (attempt === 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));
}

/** One definition change inside a committed write. */
export type DefinitionWrite =
  | {
      op: "upsert";
      kind: DefinitionKind;
      id: string;
      body: Record<string, unknown>;
      info: Record<string, unknown>;
      status: string | null;
      /** null = create; otherwise the version being replaced. */
      previousVersion: number | null;
      /** Only on create (webhook signing secret, sealed). */
      secret?: string;
      /** A campaign moved to `archived` by PUT/PATCH is archived in full (archivedAt set). */
      archives?: boolean;
      references: Reference[];
    }
  | { op: "archive"; kind: DefinitionKind; id: string; status: string | null }
  | { op: "erase"; kind: DefinitionKind; id: string };

/**
 * Commits `writes` atomically if the space's definitions are still at `expectedVersion`.
 * Returns false when another write got there first (nothing was changed): re-read and
 * retry.
 */
export async function commitDefinitionWrites(
  db: Db,
  spaceId: string,
  expectedVersion: number,
  writes: DefinitionWrite[],
  now = Date.now(),
): Promise<boolean> {
  // Raw D1 statements: drizzle's batch does not take raw SQL, and these are guarded
  // statements drizzle's builders cannot express.
  const d1 = db.$client;
  const writeId = crypto.randomUUID();
  const OURS = "EXISTS (SELECT 1 FROM spaces WHERE id = ? AND definitions_write_id = ?)";
  const ours = [spaceId, writeId];
  const statements: D1PreparedStatement[] = [
    d1
      .prepare(
        `UPDATE spaces SET definitions_version = definitions_version + 1, definitions_write_id = ?
         WHERE id = ? AND definitions_version = ?`,
      )
      .bind(writeId, spaceId, expectedVersion),
  ];
  const dropRefs = (kind: string, id: string) =>
    d1
      .prepare(`DELETE FROM definition_refs WHERE space_id = ? AND from_kind = ? AND from_id = ? AND ${OURS}`)
      .bind(spaceId, kind, id, ...ours);
  for (const write of writes) {
    if (write.op === "upsert") {
      const body = JSON.stringify(write.body);
      const info = JSON.stringify(write.info);
      statements.push(
        write.previousVersion === null
          ? d1
              .prepare(
                `INSERT INTO definitions (space_id, kind, id, body, info, status, secret, version, created_at, updated_at, archived_at)
                 SELECT ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ? WHERE ${OURS}`,
              )
              .bind(spaceId, write.kind, write.id, body, info, write.status, write.secret ?? null, now, now, write.archives ? now : null, ...ours)
          : d1
              .prepare(
                `UPDATE definitions SET body = ?, info = ?, status = ?, version = ?, updated_at = ?,
                   archived_at = CASE WHEN ? THEN ? ELSE archived_at END
                 WHERE space_id = ? AND kind = ? AND id = ? AND ${OURS}`,
              )
              .bind(body, info, write.status, write.previousVersion + 1, now, write.archives ? 1 : 0, now, spaceId, write.kind, write.id, ...ours),
        dropRefs(write.kind, write.id),
        d1
          .prepare(
            `INSERT OR IGNORE INTO definition_refs (space_id, from_kind, from_id, path, to_kind, to_id)
             SELECT ?, ?, ?, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]')
             FROM json_each(?) AS j WHERE ${OURS}`,
          )
          .bind(spaceId, write.kind, write.id, JSON.stringify(write.references.map((r) => [r.path, r.kind, r.id])), ...ours),
      );
      if (write.kind === "products") {
        // The stock row is D1's authority on what remains (SPEC §4.2): a `stock` value other
        // than the one last written sets what remains; the same value leaves it alone.
        const stock = (write.body.stock ?? null) as number | null;
        statements.push(
          d1
            .prepare(
              `INSERT INTO product_stock (space_id, product_id, remaining, redeemed, configured) SELECT ?, ?, ?, 0, ? WHERE ${OURS}
               ON CONFLICT (space_id, product_id) DO UPDATE SET remaining = excluded.remaining, configured = excluded.configured
               WHERE product_stock.configured IS NOT excluded.configured`,
            )
            .bind(spaceId, write.id, stock, stock, ...ours),
        );
      }
    } else if (write.op === "archive") {
      statements.push(
        d1
          .prepare(
            `UPDATE definitions SET archived_at = ?, updated_at = ?, version = version + 1, status = ?,
               body = CASE WHEN ? IS NULL THEN body ELSE json_set(body, '$.status', ?) END
             WHERE space_id = ? AND kind = ? AND id = ? AND archived_at IS NULL AND ${OURS}`,
          )
          .bind(now, now, write.status, write.status, write.status, spaceId, write.kind, write.id, ...ours),
      );
    } else {
      statements.push(
        d1
          .prepare(
            `UPDATE definitions SET erased_at = ?, updated_at = ?, body = '{}', info = '{}', secret = NULL
             WHERE space_id = ? AND kind = ? AND id = ? AND erased_at IS NULL AND ${OURS}`,
          )
          .bind(now, now, spaceId, write.kind, write.id, ...ours),
        dropRefs(write.kind, write.id),
      );
    }
  }
  const [first] = await d1.batch(statements);
  const committed = (first?.meta.changes ?? 0) === 1;
  if (committed) invalidateProgramme(spaceId);
  return committed;
}
