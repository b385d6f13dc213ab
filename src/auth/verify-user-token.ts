import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  importJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyOptions,
  type ProtectedHeaderParameters,
} from "jose";
import type { Config } from "../config";
import type { Db } from "../db/client";
import type { SpaceRow } from "../db/schema";
import { ApiError } from "../errors";
import { USER_ID_PATTERN } from "../spaces/schemas";
import { openHs256Secret, type StoredSpaceAuth } from "../spaces/store";
import { JwksUnavailableError, remoteJwks, secondsUntilRetry } from "./remote-jwks";
import { sha256Hex } from "../crypto/hash";
import { USER_TOKEN_ALG, userTokenAudience, userTokenIssuer, verificationKeys } from "./user-tokens";

// Verifies a User API token for one space (SPEC §3.3). The source is chosen from the
// token header, and each source pins its own algorithm list, so an attacker cannot pick
// one: the space's own keys accept ES256 only; an HS256 secret accepts HS256 only (and a
// space with a secret has no asymmetric source); an IdP JWKS accepts asymmetric
// algorithms only. `alg: none` matches no source.

const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const MAX_TOKEN_LENGTH = 8192;
const CLOCK_TOLERANCE_SECONDS = 60;

const invalid = (detail: string) => new ApiError("token_invalid", detail, [], { "WWW-Authenticate": "Bearer" });

function mapJoseError(error: unknown): ApiError {
  if (error instanceof joseErrors.JWTExpired) {
    return new ApiError("token_expired", "the token has expired", [], { "WWW-Authenticate": "Bearer" });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) return invalid(`the token's '${error.claim}' claim is not acceptable`);
  if (error instanceof joseErrors.JWKSNoMatchingKey) return invalid("the token's signing key is unknown");
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return invalid("the token's signature is invalid");
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return invalid("the token's algorithm is not accepted");
  if (error instanceof joseErrors.JOSEError) return invalid("the token is malformed or not acceptable");
  throw error;
}

export interface VerifiedUser {
  userId: string;
  /** Seconds since epoch; compared with a user's tokensNotBefore (erasure, SPEC §7). */
  issuedAt: number | undefined;
}

export async function verifyUserToken(db: Db, space: SpaceRow, config: Config, token: string): Promise<VerifiedUser> {
  if (token.length > MAX_TOKEN_LENGTH) throw invalid("the token is too large");
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw invalid("the token is malformed");
  }
  const alg = typeof header.alg === "string" ? header.alg : "";
  const kid = typeof header.kid === "string" ? header.kid : undefined;
  const common: JWTVerifyOptions = { clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ["exp"] };
  const idp = space.auth as StoredSpaceAuth | null;

  let payload: JWTPayload;
  let userIdClaim = "sub";
  try {
    const own = kid !== undefined ? (await verificationKeys(db, space, config)).find((k) => k.kid === kid) : undefined;
    if (own) {
      const tokenHash = await sha256Hex(token);
      const remembered = rememberedToken(tokenHash, space.id, own.kid);
      if (remembered) return remembered;
      const key = await importJWK(own.publicJwk as JWK, USER_TOKEN_ALG);
      ({ payload } = await jwtVerify(token, key, {
        ...common,
        algorithms: [USER_TOKEN_ALG],
        issuer: userTokenIssuer(space, config),
        audience: userTokenAudience(space),
      }));
      const verified = userOf(payload, "sub");
      remember(tokenHash, { ...verified, spaceId: space.id, kid: own.kid, exp: payload.exp!, nbf: payload.nbf });
      return verified;
    } else if (idp?.hs256Secret && alg === "HS256") {
      const secret = new TextEncoder().encode(await openHs256Secret(space, config));
      ({ payload } = await jwtVerify(token, secret, { ...common, algorithms: ["HS256"], issuer: idp.issuer, audience: idp.audience }));
      userIdClaim = idp.userIdClaim;
    } else if ((idp?.jwks || idp?.jwksUrl) && ASYMMETRIC_ALGS.includes(alg)) {
      const jwks = idp.jwks ?? (await remoteJwks(idp.jwksUrl!, kid, {
        allowPrivate: config.allowPrivateTargets,
        spaceHostSuffix: config.spaceHostSuffix,
      }));
      ({ payload } = await jwtVerify(token, createLocalJWKSet(jwks as { keys: JWK[] }), {
        ...common,
        algorithms: ASYMMETRIC_ALGS,
        issuer: idp.issuer,
        audience: idp.audience,
      }));
      userIdClaim = idp.userIdClaim;
    } else {
      throw invalid("the token's signing key or algorithm is not accepted by this space");
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof JwksUnavailableError) {
      throw new ApiError("unavailable", "the identity provider's signing keys cannot be fetched right now", [], {
        "Retry-After": String(secondsUntilRetry(idp!.jwksUrl!)),
      });
    }
    throw mapJoseError(error);
  }

  return userOf(payload, userIdClaim);
}

function userOf(payload: JWTPayload, userIdClaim: string): VerifiedUser {
  const userId = Object.hasOwn(payload, userIdClaim) ? (payload as Record<string, unknown>)[userIdClaim] : undefined;
  if (typeof userId !== "string" || !USER_ID_PATTERN.test(userId)) {
    throw invalid(`the token's '${userIdClaim}' claim is not a valid user id`);
  }
  return { userId, issuedAt: payload.iat };
}

/**
 * Tokens of the space's own signer already verified in this isolate, by the SHA-256 of
 * the whole token (signature included, so no other string can match one; the map holds
 * no bearer secret). An app reads `/me` many times with one token; verifying it each time
 * (ES256 and jose's parsing) cost `/me` about a fifth of its throughput in `npm start`.
 * A remembered token is accepted only while its kid is still one of the space's
 * verification keys (rotation and grace, looked up per request as before) and within its
 * `exp` and `nbf`; erasure is checked by the user's object from `issuedAt`, as for any
 * token. Tokens of an operator's IdP are not remembered: its keys can change at the IdP
 * without the space knowing.
 */
interface RememberedToken extends VerifiedUser {
  spaceId: string;
  kid: string;
  exp: number;
  nbf: number | undefined;
}
const rememberedTokens = new Map<string, RememberedToken>();
const MAX_REMEMBERED_TOKENS = 10_000;

function rememberedToken(tokenHash: string, spaceId: string, kid: string, now = Date.now() / 1000): VerifiedUser | undefined {
  const entry = rememberedTokens.get(tokenHash);
  if (!entry || entry.spaceId !== spaceId || entry.kid !== kid) return undefined;
  if (now >= entry.exp + CLOCK_TOLERANCE_SECONDS || (entry.nbf !== undefined && now < entry.nbf - CLOCK_TOLERANCE_SECONDS)) {
    rememberedTokens.delete(tokenHash);
    return undefined;
  }
  return { userId: entry.userId, issuedAt: entry.issuedAt };
}

function remember(tokenHash: string, entry: RememberedToken): void {
  if (rememberedTokens.size >= MAX_REMEMBERED_TOKENS) rememberedTokens.delete(rememberedTokens.keys().next().value!);
  rememberedTokens.set(tokenHash, entry);
}
