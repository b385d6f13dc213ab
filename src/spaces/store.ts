import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Config } from "../config";
import { isUniqueViolation, type Db } from "../db/client";
import { spaces, type SpaceRow } from "../db/schema";
import { ApiError, invalidAt } from "../errors";
import { assertIfMatch } from "../http/etag";
import { validationError } from "../http/validation";
import { newId } from "../lib/ids";
import { mergePatch } from "../lib/merge-patch";
import { TtlCache } from "../lib/ttl-cache";
import { iso } from "../lib/time";
import { checkOutboundUrl } from "../outbound/url-policy";
import { open, seal } from "../crypto/sealed";
import {
  pushSettingsViewSchema,
  spaceSettingsSchema,
  type CreateSpaceInput,
  type PushSettings,
  type PushSettingsInput,
  type SpaceAuthInput,
  type SpaceView,
} from "./schemas";
import { userTokenAudience, userTokenIssuer } from "../auth/user-tokens";
import { invalidateProgramme } from "../user/programme-cache";

/** How a space's IdP settings are stored: like the input, with the HMAC secret sealed. */
export interface StoredSpaceAuth {
  issuer: string;
  audience: string;
  userIdClaim: string;
  jwks?: { keys: JsonWebKey[] };
  jwksUrl?: string;
  hs256Secret?: string;
}

const bySlug = new TtlCache<SpaceRow>();

/** Space rows are read on every request: cached per isolate for DEFINITIONS_TTL_MS. */
export async function findSpaceBySlug(db: Db, config: Config, slug: string): Promise<SpaceRow | undefined> {
  const cached = bySlug.get(slug, config.definitionsTtlMs);
  if (cached) return cached;
  const row = await db.query.spaces.findFirst({ where: eq(spaces.slug, slug) });
  if (row) bySlug.set(slug, row, config.definitionsTtlMs);
  return row;
}

const originAllowed = new TtlCache<boolean>();

/**
 * Whether any space lists `origin` in its corsOrigins. Browsers send no custom headers on
 * a CORS preflight, so a preflight cannot name its space unless the host does; it is
 * allowed when some space allows the origin, and the real request's response is then
 * checked against its own space (which decides whether the browser may read it).
 */
export async function originAllowedByAnySpace(db: Db, config: Config, origin: string): Promise<boolean> {
  const cached = originAllowed.get(origin, config.definitionsTtlMs);
  if (cached !== undefined) return cached;
  const rows = await db.all<{ found: number }>(
    sql`SELECT 1 AS found FROM spaces, json_each(spaces.cors_origins) WHERE json_each.value = ${origin} LIMIT 1`,
  );
  const allowed = rows.length > 0;
  originAllowed.set(origin, allowed, config.definitionsTtlMs);
  return allowed;
}

export async function findSpaceById(db: Db, id: string): Promise<SpaceRow | undefined> {
  return db.query.spaces.findFirst({ where: eq(spaces.id, id) });
}

const byId = new TtlCache<SpaceRow>();

/** The space of an API key, cached like `findSpaceBySlug` (the key itself is not: key-gate.ts). */
export async function cachedSpaceById(db: Db, config: Config, id: string): Promise<SpaceRow | undefined> {
  const cached = byId.get(id, config.definitionsTtlMs);
  if (cached) return cached;
  const row = await findSpaceById(db, id);
  if (row) byId.set(id, row, config.definitionsTtlMs);
  return row;
}

export function toSpaceView(row: SpaceRow, config: Config): SpaceView {
  const auth = row.auth as StoredSpaceAuth | null;
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    timezone: row.timezone,
    auth: auth
      ? {
          issuer: auth.issuer,
          audience: auth.audience,
          userIdClaim: auth.userIdClaim,
          ...(auth.jwks ? { jwks: auth.jwks as unknown as { keys: Record<string, unknown>[] } } : {}),
          ...(auth.jwksUrl ? { jwksUrl: auth.jwksUrl } : {}),
          ...(auth.hs256Secret ? { hs256SecretSet: true } : {}),
        }
      : null,
    publicAttributes: row.publicAttributes,
    corsOrigins: row.corsOrigins,
    push: pushSettingsOf(row),
    userTokenIssuer: userTokenIssuer(row, config),
    userTokenAudience: userTokenAudience(row),
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

/** The push settings as stored: the gateway secret sealed. */
type StoredPush = Omit<PushSettings, "gatewaySecretSet"> & { gatewaySecret?: string };

/** The space's push settings with their defaults (a space stored before push had none). */
export function pushSettingsOf(row: SpaceRow): PushSettings {
  const { gatewaySecret, ...settings } = (row.push ?? {}) as Partial<StoredPush>;
  return { ...pushSettingsViewSchema.parse(settings), ...(gatewaySecret ? { gatewaySecretSet: true as const } : {}) };
}

function gatewaySecretContext(spaceId: string): string {
  return `push-gateway-secret:${spaceId}`;
}

/** The secret gateway posts are signed with (SPEC §8.2), or undefined if none is set. */
export async function openGatewaySecret(space: SpaceRow, config: Config): Promise<string | undefined> {
  const sealed = (space.push as Partial<StoredPush> | null)?.gatewaySecret;
  return sealed ? open(sealed, gatewaySecretContext(space.id), config.signingKeySecret) : undefined;
}

async function storedPushOf(push: PushSettingsInput, spaceId: string, config: Config, keepSealedSecret?: string): Promise<StoredPush> {
  const { gatewaySecret, ...settings } = push;
  if (gatewaySecret === undefined) return settings;
  return { ...settings, gatewaySecret: keepSealedSecret ?? (await seal(gatewaySecret, gatewaySecretContext(spaceId), config.signingKeySecret)) };
}

/** The gateway URL falls under the outbound URL policy (SPEC §8.3). */
function checkPush(push: PushSettingsInput, config: Config): void {
  if (push.gatewayUrl === null) return;
  const verdict = checkOutboundUrl(push.gatewayUrl, { allowPrivate: config.allowPrivateTargets, spaceHostSuffix: config.spaceHostSuffix });
  if (!verdict.ok) throw invalidAt("push.gatewayUrl", verdict.reason);
}

function hs256Context(spaceId: string): string {
  return `hs256-secret:${spaceId}`;
}

export async function openHs256Secret(space: SpaceRow, config: Config): Promise<string | undefined> {
  const sealed = (space.auth as StoredSpaceAuth | null)?.hs256Secret;
  return sealed ? open(sealed, hs256Context(space.id), config.signingKeySecret) : undefined;
}

async function storedAuthOf(
  auth: SpaceAuthInput | null,
  spaceId: string,
  config: Config,
  keepSealedSecret?: string,
): Promise<StoredSpaceAuth | null> {
  if (!auth) return null;
  if (config.publicBaseUrl && auth.issuer.startsWith(`${config.publicBaseUrl}/api/loyalty/spaces/`)) {
    throw invalidAt("auth.issuer", "this issuer is reserved for the spaces' own tokens");
  }
  if (auth.jwksUrl !== undefined) {
    const verdict = checkOutboundUrl(auth.jwksUrl, {
      allowPrivate: config.allowPrivateTargets,
      spaceHostSuffix: config.spaceHostSuffix,
    });
    if (!verdict.ok) throw invalidAt("auth.jwksUrl", verdict.reason);
  }
  const stored: StoredSpaceAuth = { issuer: auth.issuer, audience: auth.audience, userIdClaim: auth.userIdClaim };
  if (auth.jwks) stored.jwks = auth.jwks as { keys: JsonWebKey[] };
  if (auth.jwksUrl) stored.jwksUrl = auth.jwksUrl;
  if (auth.hs256Secret !== undefined) {
    stored.hs256Secret = keepSealedSecret ?? (await seal(auth.hs256Secret, hs256Context(spaceId), config.signingKeySecret));
  }
  return stored;
}

function idpKeyOf(auth: StoredSpaceAuth | null): string | null {
  return auth ? JSON.stringify([auth.issuer, auth.audience]) : null;
}

const idpTaken = () =>
  new ApiError("conflict", "auth: another space already accepts tokens of this issuer and audience", [
    { path: "auth.audience", message: "issuer and audience must be unique across spaces" },
  ]);

export async function createSpace(
  db: Db,
  config: Config,
  input: CreateSpaceInput,
  now = Date.now(),
): Promise<SpaceRow> {
  const id = newId("spc", now);
  const auth = await storedAuthOf(input.auth, id, config);
  checkPush(input.push, config);
  const push = await storedPushOf(input.push, id, config);
  let inserted: SpaceRow[];
  try {
    inserted = await db
      .insert(spaces)
      .values({
        id,
        slug: input.slug,
        name: input.name,
        timezone: input.timezone,
        auth,
        idpKey: idpKeyOf(auth),
        publicAttributes: input.publicAttributes,
        corsOrigins: input.corsOrigins,
        push,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
  } catch (e) {
    if (isUniqueViolation(e)) throw idpTaken();
    throw e;
  }
  if (inserted[0]) return inserted[0];
  if (await db.query.spaces.findFirst({ where: eq(spaces.slug, input.slug) })) {
    throw new ApiError("already_exists", `slug: a space '${input.slug}' already exists`, [
      { path: "slug", message: "already taken" },
    ]);
  }
  throw idpTaken();
}

/** Marks a sealed secret inside a merge patch target: kept unless replaced. */
const KEEP_SECRET = Object.freeze({ keep: "sealed" });
/** A gateway secret of valid form, validated in place of a kept sealed one. */
const SECRET_STAND_IN = `whsec_${"A".repeat(32)}`;

export async function patchSpace(
  db: Db,
  config: Config,
  space: SpaceRow,
  patch: Record<string, unknown>,
  ifMatch: string | undefined,
  now = Date.now(),
): Promise<SpaceRow> {
  assertIfMatch(ifMatch, space.version);
  for (const field of ["id", "slug"] as const) {
    if (field in patch && patch[field] !== space[field]) {
      throw new ApiError("frozen", `${field}: a space's ${field} never changes`, [{ path: field, message: "immutable" }]);
    }
  }
  const { id: _id, slug: _slug, ...settingsPatch } = patch;
  const current = toSpaceView(space, config);
  const storedAuth = space.auth as StoredSpaceAuth | null;
  const { gatewaySecretSet: _set, ...pushSettings } = current.push;
  const storedPush: StoredPush = { ...pushSettings, ...((space.push as Partial<StoredPush> | null)?.gatewaySecret ? { gatewaySecret: (space.push as StoredPush).gatewaySecret } : {}) };
  const target = {
    name: current.name,
    timezone: current.timezone,
    auth: storedAuth
      ? {
          issuer: storedAuth.issuer,
          audience: storedAuth.audience,
          userIdClaim: storedAuth.userIdClaim,
          ...(storedAuth.jwks ? { jwks: storedAuth.jwks } : {}),
          ...(storedAuth.jwksUrl ? { jwksUrl: storedAuth.jwksUrl } : {}),
          ...(storedAuth.hs256Secret ? { hs256Secret: KEEP_SECRET } : {}),
        }
      : null,
    publicAttributes: current.publicAttributes,
    corsOrigins: current.corsOrigins,
    push: { ...storedPush, ...(storedPush.gatewaySecret ? { gatewaySecret: KEEP_SECRET } : {}) },
  };
  const merged = mergePatch(target, settingsPatch) as typeof target;
  const keepsSecret = merged.auth?.hs256Secret === KEEP_SECRET;
  const keepsGatewaySecret = (merged.push as { gatewaySecret?: unknown } | null)?.gatewaySecret === KEEP_SECRET;
  // Kept secrets are sealed, so validate stand-ins of valid form; the sealed values
  // themselves are carried over by storedAuthOf and storedPushOf below.
  if (keepsSecret && merged.auth) merged.auth = { ...merged.auth, hs256Secret: "x".repeat(32) as never };
  if (keepsGatewaySecret) merged.push = { ...merged.push, gatewaySecret: SECRET_STAND_IN as never };
  const parsed = spaceSettingsSchema.safeParse(merged);
  if (!parsed.success) throw validationError(parsed.error);
  const next = parsed.data;
  const auth = await storedAuthOf(next.auth, space.id, config, keepsSecret ? storedAuth?.hs256Secret : undefined);
  checkPush(next.push, config);
  const push = await storedPushOf(next.push, space.id, config, keepsGatewaySecret ? storedPush.gatewaySecret : undefined);

  const unchanged =
    next.name === space.name &&
    next.timezone === space.timezone &&
    JSON.stringify(auth) === JSON.stringify(storedAuth) &&
    JSON.stringify(next.publicAttributes) === JSON.stringify(space.publicAttributes) &&
    JSON.stringify(next.corsOrigins) === JSON.stringify(space.corsOrigins) &&
    JSON.stringify(push) === JSON.stringify(storedPush);
  if (unchanged) return space; // a no-op write does not move the version (SPEC §2)

  let updated: SpaceRow[];
  try {
    updated = await db
      .update(spaces)
      .set({
        name: next.name,
        timezone: next.timezone,
        auth,
        idpKey: idpKeyOf(auth),
        publicAttributes: next.publicAttributes,
        corsOrigins: next.corsOrigins,
        push,
        version: space.version + 1,
        // Settings such as the time zone change how events evaluate: compiled programmes
        // cached on the definitions version must be rebuilt (SPEC §5.9).
        definitionsVersion: sql`${spaces.definitionsVersion} + 1`,
        updatedAt: now,
      })
      .where(and(eq(spaces.id, space.id), eq(spaces.version, space.version)))
      .returning();
  } catch (e) {
    if (isUniqueViolation(e)) throw idpTaken();
    throw e;
  }
  bySlug.delete(space.slug);
  byId.delete(space.id);
  invalidateProgramme(space.id);
  if (!updated[0]) {
    throw ifMatch !== undefined
      ? new ApiError("precondition_failed", "the space changed since it was read")
      : new ApiError("conflict", "the space changed concurrently; read it again and retry");
  }
  return updated[0];
}

export async function listSpaces(db: Db, after: string | undefined, limit: number): Promise<SpaceRow[]> {
  return db
    .select()
    .from(spaces)
    .where(after ? gt(spaces.slug, after) : undefined)
    .orderBy(asc(spaces.slug))
    .limit(limit + 1);
}
