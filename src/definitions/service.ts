import type { Config } from "../config";
import type { Db } from "../db/client";
import type { DefinitionRow, SpaceRow } from "../db/schema";
import { ApiError } from "../errors";
import { seal } from "../crypto/sealed";
import { assertIfMatch } from "../http/etag";
import { validationError } from "../http/validation";
import { newId } from "../lib/ids";
import { mergePatch } from "../lib/merge-patch";
import { sameJson } from "./kinds/common";
import { triggerFrozenFieldsChanged } from "./kinds/triggers";
import { kindSpecs, type KindSpecs } from "./registry";
import {
  backoff,
  commitDefinitionWrites,
  MAX_WRITE_ATTEMPTS,
  findDefinition,
  infoKey,
  loadSnapshot,
  referrersOf,
  type DefinitionWrite,
  type SpaceSnapshot,
} from "./store";
import { DEFINITION_ID_PATTERN, type DefinitionInfo, type DefinitionKind, type StoredDefinition } from "./types";
import { ValidationContext } from "./validation-context";
import { needsRecompute } from "../jobs/recompute";

// The write paths of every definition kind: create, create-or-replace, merge patch,
// delete. Each validates the whole definition against one snapshot of the space, then
// commits with optimistic concurrency (store.ts); a lost race is retried from a fresh
// snapshot, so every stored definition was valid against the state it was stored in.

const MAX_DYNAMIC_SEGMENTS = 100;
/** Read-only fields a client may echo back from a GET; they are ignored on write. */
const SERVER_FIELDS = ["version", "createdAt", "updatedAt", "archivedAt", "memberCount", "redeemed"];

export interface DefinitionDeps {
  db: Db;
  config: Config;
  space: SpaceRow;
}

export interface WriteResult {
  row: DefinitionRow;
  created: boolean;
  /** The webhook signing secret, on create only (SPEC §8.1). */
  secret?: string;
  /** Whether users must be recomputed in the background (SPEC §5.8); false for a no-op. */
  recompute: boolean;
}

export function storedOf(row: DefinitionRow): StoredDefinition {
  return {
    spaceId: row.spaceId,
    kind: row.kind as DefinitionKind,
    id: row.id,
    body: row.body,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    archivedAt: row.archivedAt,
  };
}

/** Splits a request body into the definition body and the id it names, if any. */
function bodyAndId(input: unknown, pathId: string | undefined): { body: Record<string, unknown>; id: string | undefined } {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new ApiError("invalid_request", "the body must be a JSON object", [{ path: "", message: "expected an object" }]);
  }
  const { id, ...rest } = input as Record<string, unknown>;
  for (const field of SERVER_FIELDS) delete rest[field];
  if (id !== undefined) {
    if (typeof id !== "string" || !DEFINITION_ID_PATTERN.test(id)) {
      throw new ApiError("invalid_request", "id: not a valid definition id", [
        { path: "id", message: "1-64 of a-z, 0-9, _ and -, starting with a letter or digit" },
      ]);
    }
    if (pathId !== undefined && id !== pathId) {
      throw new ApiError("invalid_request", "id: differs from the id in the path", [{ path: "id", message: "differs from the path" }]);
    }
  }
  return { body: rest, id: id as string | undefined };
}

/** The lookup a ValidationContext sees: the snapshot with pending definitions laid over it. */
export function lookupOver(snapshot: SpaceSnapshot, pending: Map<string, DefinitionInfo>) {
  return (kind: DefinitionKind, id: string): DefinitionInfo | undefined =>
    pending.get(infoKey(kind, id)) ?? snapshot.infos.get(infoKey(kind, id));
}

/**
 * Parses and validates one definition body; returns the upsert to commit. Rules that
 * need more than the body (frozen triggers, per-space caps) are checked here too.
 */
export async function planUpsert(
  deps: DefinitionDeps,
  specs: KindSpecs,
  snapshot: SpaceSnapshot,
  kind: DefinitionKind,
  id: string,
  input: Record<string, unknown>,
  previous: DefinitionRow | undefined,
  options: { pathPrefix?: string; pending?: Map<string, DefinitionInfo> } = {},
): Promise<Extract<DefinitionWrite, { op: "upsert" }>> {
  const spec = specs[kind];
  const parsed = spec.schema.safeParse(input);
  if (!parsed.success) {
    const error = validationError(parsed.error);
    if (!options.pathPrefix) throw error;
    const prefixed = error.errors.map((e) => ({ ...e, path: e.path ? `${options.pathPrefix}${e.path}` : options.pathPrefix!.replace(/\.$/, "") }));
    throw new ApiError("invalid_request", `${prefixed[0]!.path}: ${prefixed[0]!.message}`, prefixed);
  }
  const body = parsed.data as Record<string, unknown>;
  const info = spec.info(body);
  const pending = new Map(options.pending);
  pending.set(infoKey(kind, id), { ...info, kind, id, archived: false });
  const ctx = new ValidationContext(lookupOver(snapshot, pending), options.pathPrefix);
  spec.validate(body, ctx, previous ? storedOf(previous) : undefined);

  if (kind === "triggers" && previous) {
    const changed = triggerFrozenFieldsChanged(previous.body as never, body as never);
    if (changed.length > 0) {
      const inUse = (await referrersOf(deps.db, deps.space.id, "triggers", id)).filter(
        (r) => r.kind === "campaigns" && r.status !== "draft",
      );
      for (const field of changed) {
        if (inUse.length > 0) ctx.frozen(field, `used by the non-draft campaign '${inUse[0]!.id}'; create a new trigger instead`);
      }
    }
  }
  ctx.throwIfInvalid();
  assertWithinLimits(deps.config, snapshot, kind, body, pending);

  return {
    op: "upsert",
    kind,
    id,
    body,
    info,
    status: kind === "campaigns" ? String(body.status) : null,
    previousVersion: previous?.version ?? null,
    references: ctx.references,
    archives: kind === "campaigns" && body.status === "archived",
  };
}

/** SPEC §10: ≤ MAX_ACTIVE_CAMPAIGNS active campaigns and ≤ 100 dynamic segments per space. */
function assertWithinLimits(
  config: Config,
  snapshot: SpaceSnapshot,
  kind: DefinitionKind,
  body: Record<string, unknown>,
  pending: Map<string, DefinitionInfo>,
): void {
  const all = new Map<string, DefinitionInfo>([...snapshot.infos, ...pending]);
  const count = (predicate: (info: DefinitionInfo) => boolean) => [...all.values()].filter((i) => !i.archived && predicate(i)).length;
  if (kind === "campaigns" && body.status === "active") {
    const active = count((i) => i.kind === "campaigns" && i.status === "active");
    if (active > config.maxActiveCampaigns) {
      throw new ApiError("limit_reached", `at most ${config.maxActiveCampaigns} campaigns may be active in a space`, [
        { path: "status", message: `the space already has ${config.maxActiveCampaigns} active campaigns` },
      ]);
    }
  }
  if (kind === "segments" && body.type === "dynamic") {
    const dynamic = count((i) => i.kind === "segments" && i.type === "dynamic");
    if (dynamic > MAX_DYNAMIC_SEGMENTS) {
      throw new ApiError("limit_reached", `at most ${MAX_DYNAMIC_SEGMENTS} dynamic segments per space`, [
        { path: "type", message: `the space already has ${MAX_DYNAMIC_SEGMENTS} dynamic segments` },
      ]);
    }
  }
}

export type WriteMode =
  | { mode: "create"; input: unknown }
  | { mode: "put"; id: string; input: unknown; ifMatch?: string; ifNoneMatch?: string }
  | { mode: "patch"; id: string; input: unknown; ifMatch?: string };

/** POST, PUT and PATCH of one definition. */
export async function writeDefinition(deps: DefinitionDeps, kind: DefinitionKind, request: WriteMode): Promise<WriteResult> {
  const specs = kindSpecs(deps.config);
  const spec = specs[kind];
  const split = bodyAndId(request.input, request.mode === "create" ? undefined : request.id);
  const id = request.mode === "create" ? (split.id ?? newId(spec.prefix)) : request.id;

  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    await backoff(attempt);
    const snapshot = await loadSnapshot(deps.db, deps.space.id);
    const known = snapshot.infos.get(infoKey(kind, id));
    const current = known && !known.erased ? await findDefinition(deps.db, deps.space.id, kind, id) : undefined;

    if (request.mode === "create" && known) throw idTaken(kind, id, known);
    if (request.mode === "patch" && !current) throw new ApiError("not_found", `no ${kind} '${id}' in this space`);
    if (request.mode !== "create") {
      if (request.mode === "put" && request.ifNoneMatch?.trim() === "*" && known) {
        throw new ApiError("precondition_failed", "If-None-Match: * but the definition exists");
      }
      // PUT is create-or-replace: an archived id can be neither (ids are never reused, SPEC §4).
      if (known?.erased || (request.mode === "put" && known?.archived)) throw idTaken(kind, id, known);
      assertIfMatch(request.ifMatch, current?.version ?? null);
      if (current?.archivedAt != null) {
        throw new ApiError("frozen", `'${id}' is archived; archived definitions never change (create a new one)`);
      }
    }

    const input = request.mode === "patch" ? (mergePatch(current!.body, split.body) as Record<string, unknown>) : split.body;
    const upsert = await planUpsert(deps, specs, snapshot, kind, id, input, current);
    if (current && sameJson(current.body, upsert.body)) return { row: current, created: false, recompute: false }; // no-op: version stays

    // Archiving through the status is archiving: the same in-use rule as DELETE.
    if (upsert.archives) await assertNotInUse(deps, kind, id);
    let secret: string | undefined;
    if (!current && kind === "webhooks") {
      secret = newWebhookSecret();
      upsert.secret = await seal(secret, webhookSecretContext(deps.space.id, id), deps.config.signingKeySecret);
    }
    if (await commitDefinitionWrites(deps.db, deps.space.id, snapshot.definitionsVersion, [upsert])) {
      const row = await findDefinition(deps.db, deps.space.id, kind, id);
      return { row: row!, created: !current, recompute: needsRecompute(kind, current?.body, upsert.body), ...(secret ? { secret } : {}) };
    }
  }
  throw new ApiError("conflict", "the space's definitions changed concurrently; retry");
}

/** 409 in_use while a live definition other than itself references (kind, id). */
async function assertNotInUse(deps: DefinitionDeps, kind: DefinitionKind, id: string): Promise<void> {
  const referrers = (await referrersOf(deps.db, deps.space.id, kind, id)).filter((r) => !(r.kind === kind && r.id === id));
  if (referrers.length === 0) return;
  const names = [...new Set(referrers.map((r) => `${r.kind}/${r.id}`))];
  throw new ApiError(
    "in_use",
    `'${id}' is referenced by ${names.join(", ")}`,
    referrers.map((r) => ({ path: "", message: `referenced by ${r.kind}/${r.id} at ${r.path}` })),
    {},
    { referrers: referrers.map(({ kind, id, path }) => ({ kind, id, path })) },
  );
}

/** A webhook signing secret (SPEC §8.1): `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
}

export function webhookSecretContext(spaceId: string, webhookId: string): string {
  return `webhook-secret:${spaceId}:${webhookId}`;
}

function idTaken(kind: DefinitionKind, id: string, known: { archived: boolean; erased: boolean }): ApiError {
  const why = known.erased ? "was used before" : known.archived ? "is archived" : "exists";
  return new ApiError("already_exists", `id: '${id}' ${why}; ${kind} ids are never reused`, [
    { path: "id", message: `already ${known.erased || known.archived ? "used" : "taken"}` },
  ]);
}

/** DELETE: archive (kinds users hold state in) or erase (triggers, webhooks); 409 in_use if referenced. */
export async function deleteDefinition(
  deps: DefinitionDeps,
  kind: DefinitionKind,
  id: string,
  ifMatch: string | undefined,
): Promise<void> {
  const spec = kindSpecs(deps.config)[kind];
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    await backoff(attempt);
    const snapshot = await loadSnapshot(deps.db, deps.space.id);
    const current = await findDefinition(deps.db, deps.space.id, kind, id);
    if (!current) throw new ApiError("not_found", `no ${kind} '${id}' in this space`);
    assertIfMatch(ifMatch, current.version);
    if (current.archivedAt !== null) return; // archiving is idempotent
    await assertNotInUse(deps, kind, id);
    const write: DefinitionWrite = spec.archivable
      ? { op: "archive", kind, id, status: kind === "campaigns" ? "archived" : null }
      : { op: "erase", kind, id };
    if (await commitDefinitionWrites(deps.db, deps.space.id, snapshot.definitionsVersion, [write])) return;
  }
  throw new ApiError("conflict", "the space's definitions changed concurrently; retry");
}

