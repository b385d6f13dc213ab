import { ApiError, type ErrorCode, type FieldError } from "../errors";
import { seal } from "../crypto/sealed";
import { assertIfMatch } from "../http/etag";
import type { DefinitionRow } from "../db/schema";
import { sameJson } from "./kinds/common";
import { needsRecompute } from "../jobs/recompute";
import { kindSpecs } from "./registry";
import { newWebhookSecret, planUpsert, webhookSecretContext, type DefinitionDeps } from "./service";
import {
  backoff,
  commitDefinitionWrites,
  MAX_WRITE_ATTEMPTS,
  findDefinition,
  infoKey,
  liveDefinitions,
  loadSnapshot,
  referrersOf,
  type DefinitionWrite,
} from "./store";
import type { Reference } from "./validation-context";
import { DEFINITION_ID_PATTERN, DEFINITION_KINDS, type DefinitionInfo, type DefinitionKind } from "./types";

// The programme document (SPEC §4.8): a space's whole programme as one JSON document,
// exported sorted by id without server fields or secrets, and applied atomically — every
// definition validated against the document plus what the space already has, then all
// changes committed in one D1 batch, or nothing. Applying the same document twice is a
// no-op, so operators can keep their programme in version control.

export type ProgrammeDocument = Partial<Record<DefinitionKind, Array<Record<string, unknown>>>>;

export interface ProgrammeDiff {
  created: string[];
  updated: string[];
  unchanged: string[];
  archived: string[];
  /** Created or updated definitions that need every user recomputed (SPEC §5.8). */
  recompute: string[];
}

/** Problem codes of a failed document, most fundamental first: the answer carries that one. */
const CODE_ORDER: ErrorCode[] = [
  "invalid_request",
  "already_exists",
  "campaign_frozen",
  "frozen",
  "invalid_transition",
  "in_use",
  "unknown_reference",
  "invalid_definition",
  "limit_reached",
];

export async function exportProgramme(deps: DefinitionDeps): Promise<{ document: Required<ProgrammeDocument>; version: number }> {
  const [snapshot, rows] = await Promise.all([loadSnapshot(deps.db, deps.space.id), liveDefinitions(deps.db, deps.space.id)]);
  const document = Object.fromEntries(DEFINITION_KINDS.map((k) => [k, [] as Array<Record<string, unknown>>])) as Required<ProgrammeDocument>;
  for (const row of rows) document[row.kind as DefinitionKind].push({ id: row.id, ...row.body });
  return { document, version: snapshot.definitionsVersion };
}

/** Checks the document's outline: known kinds, arrays of objects with unique valid ids. */
function outline(input: unknown): Array<{ kind: DefinitionKind; index: number; id: string; body: Record<string, unknown> }> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new ApiError("invalid_request", "the programme must be a JSON object", [{ path: "", message: "expected an object" }]);
  }
  const errors: FieldError[] = [];
  const items: Array<{ kind: DefinitionKind; index: number; id: string; body: Record<string, unknown> }> = [];
  for (const [key, list] of Object.entries(input)) {
    if (!(DEFINITION_KINDS as readonly string[]).includes(key)) {
      errors.push({ path: key, message: "unknown field" });
      continue;
    }
    if (!Array.isArray(list)) {
      errors.push({ path: key, message: "expected an array" });
      continue;
    }
    const seen = new Set<string>();
    list.forEach((item, index) => {
      const at = `${key}[${index}]`;
      if (item === null || typeof item !== "object" || Array.isArray(item)) return void errors.push({ path: at, message: "expected an object" });
      const { id, ...body } = item as Record<string, unknown>;
      if (typeof id !== "string" || !DEFINITION_ID_PATTERN.test(id)) return void errors.push({ path: `${at}.id`, message: "a definition id is required" });
      if (seen.has(id)) return void errors.push({ path: `${at}.id`, message: `'${id}' appears twice` });
      seen.add(id);
      items.push({ kind: key as DefinitionKind, index, id, body });
    });
  }
  if (errors.length > 0) throw new ApiError("invalid_request", `${errors[0]!.path}: ${errors[0]!.message}`, errors);
  return items;
}

/** Whether a reference recorded at a document path belongs to the definition `write` itself. */
function isSelf(ref: Reference, write: { kind: DefinitionKind; id: string }, items: Array<{ kind: DefinitionKind; index: number; id: string }>): boolean {
  const own = items.find((i) => i.kind === write.kind && i.id === write.id);
  return own !== undefined && ref.path.startsWith(`${own.kind}[${own.index}].`);
}

export async function applyProgramme(
  deps: DefinitionDeps,
  input: unknown,
  options: { prune: boolean; dryRun: boolean; ifMatch: string | undefined },
): Promise<{ diff: ProgrammeDiff; version: number; secrets: Record<string, string> }> {
  const specs = kindSpecs(deps.config);
  const items = outline(input);

  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    await backoff(attempt);
    const [snapshot, rows] = await Promise.all([loadSnapshot(deps.db, deps.space.id), liveDefinitions(deps.db, deps.space.id)]);
    assertIfMatch(options.ifMatch, snapshot.definitionsVersion);
    const live = new Map<string, DefinitionRow>(rows.map((r) => [infoKey(r.kind as DefinitionKind, r.id), r]));
    const inDocument = new Set(items.map((i) => infoKey(i.kind, i.id)));

    // Every item's facts first, so definitions of the document can reference each other.
    const pending = new Map<string, DefinitionInfo>();
    for (const item of items) {
      const parsed = specs[item.kind].schema.safeParse(item.body);
      if (parsed.success) pending.set(infoKey(item.kind, item.id), { ...specs[item.kind].info(parsed.data), kind: item.kind, id: item.id, archived: false });
    }
    // Pruned definitions stay visible to validation: a kept one that still references
    // them is then reported as in_use below (not as an unknown reference).
    const pruned = options.prune ? rows.filter((r) => !inDocument.has(infoKey(r.kind as DefinitionKind, r.id))) : [];
    /** Every reference of the document's definitions (changed or not), at its document path. */
    const kept: Reference[] = [];

    const problems: Array<{ code: ErrorCode; errors: FieldError[] }> = [];
    const writes: DefinitionWrite[] = [];
    const diff: ProgrammeDiff = { created: [], updated: [], unchanged: [], archived: [], recompute: [] };
    const secrets: Record<string, string> = {};
    for (const item of items) {
      const key = infoKey(item.kind, item.id);
      const at = `${item.kind}[${item.index}].`;
      const known = snapshot.infos.get(key);
      if (known?.archived) {
        // A campaign the document itself says is archived, exactly as stored, is unchanged
        // (so a document that archives a campaign by its status applies twice). Any other
        // use of an archived or erased id is refused: ids are never reused.
        const says = item.kind === "campaigns" && item.body.status === "archived";
        const stored = says && !known.erased ? await findDefinition(deps.db, deps.space.id, item.kind, item.id) : undefined;
        const parsed = stored ? specs[item.kind].schema.safeParse(item.body) : undefined;
        if (stored && parsed?.success && sameJson(stored.body, parsed.data)) {
          diff.unchanged.push(key);
          continue;
        }
        problems.push({ code: "already_exists", errors: [{ path: `${at}id`, message: `'${item.id}' is archived or erased; ids are never reused` }] });
        continue;
      }
      const current = live.get(key);
      try {
        const upsert = await planUpsert(deps, specs, snapshot, item.kind, item.id, item.body, current, { pathPrefix: at, pending });
        kept.push(...upsert.references.map((r) => ({ ...r, path: `${at}${r.path}` })));
        if (current && sameJson(current.body, upsert.body)) {
          diff.unchanged.push(key);
          continue;
        }
        if (!current && item.kind === "webhooks" && !options.dryRun) {
          const secret = newWebhookSecret();
          upsert.secret = await seal(secret, webhookSecretContext(deps.space.id, item.id), deps.config.signingKeySecret);
          secrets[key] = secret;
        }
        writes.push(upsert);
        (current ? diff.updated : diff.created).push(key);
        if (needsRecompute(item.kind, current?.body, upsert.body)) diff.recompute.push(key);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        problems.push({ code: error.code, errors: error.errors.length ? error.errors : [{ path: at.replace(/\.$/, ""), message: error.detail }] });
      }
    }
    // Archiving by status follows the in-use rule of DELETE: nothing kept may reference it.
    for (const write of writes) {
      if (write.op !== "upsert" || !write.archives || live.get(infoKey(write.kind, write.id))?.archivedAt != null) continue;
      const users = kept.filter((r) => r.kind === write.kind && r.id === write.id && !isSelf(r, write, items));
      const outside = (await referrersOf(deps.db, deps.space.id, write.kind, write.id)).filter(
        (r) => !inDocument.has(infoKey(r.kind, r.id)) && !pruned.some((p) => p.kind === r.kind && p.id === r.id),
      );
      if (users.length + outside.length > 0) {
        problems.push({
          code: "in_use",
          errors: [
            ...users.map((r) => ({ path: r.path, message: `references ${write.kind}/${write.id}, which this document archives` })),
            ...outside.map((r) => ({ path: "", message: `${r.kind}/${r.id} references ${write.kind}/${write.id} at ${r.path}` })),
          ],
        });
      }
    }
    for (const row of pruned) {
      const kind = row.kind as DefinitionKind;
      const users = kept.filter((r) => r.kind === kind && r.id === row.id);
      if (users.length > 0) {
        problems.push({ code: "in_use", errors: users.map((r) => ({ path: r.path, message: `references ${kind}/${row.id}, which prune would archive` })) });
        continue;
      }
      writes.push(specs[kind].archivable ? { op: "archive", kind, id: row.id, status: kind === "campaigns" ? "archived" : null } : { op: "erase", kind, id: row.id });
      diff.archived.push(infoKey(kind, row.id));
    }
    if (problems.length > 0) {
      const code = CODE_ORDER.find((c) => problems.some((p) => p.code === c)) ?? problems[0]!.code;
      const errors = problems.flatMap((p) => p.errors);
      const first = problems.find((p) => p.code === code)!.errors[0]!;
      throw new ApiError(code, `${first.path}: ${first.message}`, errors);
    }
    if (options.dryRun || writes.length === 0) return { diff, version: snapshot.definitionsVersion, secrets: {} };
    if (await commitDefinitionWrites(deps.db, deps.space.id, snapshot.definitionsVersion, writes)) {
      return { diff, version: snapshot.definitionsVersion + 1, secrets };
    }
  }
  throw new ApiError("conflict", "the space's definitions changed concurrently; retry");
}
