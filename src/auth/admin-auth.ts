import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import { secretsEqual, sha256Hex } from "../crypto/hash";
import type { AdminPrincipal, AppEnv } from "../http/context";
import { cachedSpaceById, findSpaceBySlug } from "../spaces/store";
import { namedSpaceSlug } from "../spaces/resolve";
import { API_KEY_PREFIX, anyActiveApiKey } from "./api-keys";
import { checkKey } from "./key-gate";
import { requirementFor, scopesAllow } from "./scopes";
import type { SpaceRow } from "../db/schema";

const ADMIN_PREFIX = "/api/loyalty/admin";
const SPACE_PATH = /^\/spaces\/([^/]+)(?:\/|$)/;

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/**
 * The Admin API's single gate: who is calling (root key or space key), which space the
 * request acts in, and whether the credential's scopes allow this method and path.
 */
export const adminAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = c.get("config");
  const db = c.get("db");
  const adminPath = c.req.path.slice(ADMIN_PREFIX.length) || "/";
  const needs = requirementFor(c.req.method, adminPath);

  const presented = bearerToken(c.req.header("authorization"));
  let principal: AdminPrincipal | undefined;
  let keySpace: SpaceRow | undefined;
  // Space keys first (most traffic), then the root key, so a key request hashes once. The
  // order depends only on the presented value's prefix, so it reveals nothing of the root key.
  if (presented?.startsWith(API_KEY_PREFIX) && presented.length <= 128) {
    const secretHash = await sha256Hex(presented);
    const grant = await checkKey(c.env, secretHash);
    if (grant?.revokedAt != null) throw new ApiError("invalid_credential", "this API key has been revoked", [], { "WWW-Authenticate": "Bearer" });
    keySpace = grant && (await cachedSpaceById(db, config, grant.spaceId));
    if (grant && keySpace) principal = { kind: "key", keyId: grant.keyId, spaceId: grant.spaceId, scopes: grant.scopes };
  }
  if (!principal && presented !== undefined && config.adminRootKey && (await secretsEqual(presented, config.adminRootKey))) {
    principal = { kind: "root" };
  }
  if (!principal) {
    // Fail closed, but say so when nothing at all could ever authenticate (SPEC §3.1).
    if (!config.adminRootKey && !(await anyActiveApiKey(db))) {
      throw new ApiError("not_configured", "no ADMIN_ROOT_KEY is set and no API key exists");
    }
    throw presented === undefined
      ? new ApiError("missing_credential", "send Authorization: Bearer <admin key>", [], { "WWW-Authenticate": "Bearer" })
      : new ApiError("invalid_credential", "unknown admin key", [], { "WWW-Authenticate": "Bearer" });
  }

  if (needs === "root" && principal.kind !== "root") {
    throw new ApiError("insufficient_scope", "only the deployment's root key manages spaces");
  }
  // Root-only routes act in no space, but a malformed space name is still refused (SPEC §10).
  if (needs === "root") namedSpaceSlug(c.req.raw, config);

  if (needs !== "root") {
    const pathSlug = SPACE_PATH.exec(adminPath)?.[1];
    const named = namedSpaceSlug(c.req.raw, config, pathSlug);
    let space: SpaceRow | undefined;
    if (principal.kind === "root") {
      const slug = named ?? "default";
      space = await findSpaceBySlug(db, config, slug);
      if (!space) throw new ApiError("not_found", `no space '${slug}'`);
    } else {
      space = keySpace!;
      if (named !== undefined && named !== space.slug) {
        throw new ApiError("wrong_space", "this API key belongs to another space");
      }
      if (!scopesAllow(principal.scopes, needs)) {
        throw new ApiError("insufficient_scope", `this API key lacks the '${needs}' scope`);
      }
    }
    c.set("space", space);
  }
  c.set("principal", principal);
  return next();
};
