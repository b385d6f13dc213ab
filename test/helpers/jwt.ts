import { SignJWT, base64url, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { expect } from "vitest";
import { call, expectProblem, type TestSpace } from "./harness";

// JWT helpers for the User API tests: keys the test itself generates (an operator's
// identity provider), tokens built and signed by hand (including deliberately broken
// ones), and the check that a refusal never echoes the token.

export interface IdpKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK as an IdP would publish it (kid, alg, use). */
  publicJwk: JWK;
}

let kidCounter = 0;

export async function newIdpKey(alg: "ES256" | "RS256" | "ES384" | "PS256" = "ES256", kid?: string): Promise<IdpKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  kidCounter += 1;
  const id = kid ?? `test-kid-${Date.now().toString(36)}-${kidCounter}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid: id, alg, use: "sig" };
  return { alg, kid: id, privateKey, publicKey, publicJwk };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export interface SignOptions {
  /** Header fields added to (or overriding) `{ alg, kid }`; `kid: undefined` removes it. */
  header?: Record<string, unknown>;
}

/** Signs `payload` (no defaults added: what you pass is what the token says). */
export async function signWith(key: IdpKey, payload: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: "JWT", ...options.header };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return new SignJWT(payload).setProtectedHeader(header as never).sign(key.privateKey);
}

/** Standard claims for an IdP space: iss, aud, sub, iat now, exp in an hour. */
export function idpClaims(auth: { issuer: string; audience: string }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  return { iss: auth.issuer, aud: auth.audience, sub: "user-1", iat: now, exp: now + 3600, ...extra };
}

const encoder = new TextEncoder();
const b64json = (value: unknown): string => base64url.encode(encoder.encode(JSON.stringify(value)));

/** header.payload with no signature logic: for alg:none and hand-made tokens. */
export function rawToken(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ""): string {
  return `${b64json(header)}.${b64json(payload)}.${signature}`;
}

/** An ES256 token with exactly this header, signed with WebCrypto (jose refuses some headers). */
export async function signEcdsaRaw(key: IdpKey, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const signingInput = `${b64json(header)}.${b64json(payload)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key.privateKey as unknown as globalThis.CryptoKey,
    encoder.encode(signingInput),
  );
  return `${signingInput}.${base64url.encode(new Uint8Array(signature))}`;
}

/** An HS256 token whose HMAC key is exactly `secret` (any text, e.g. a public key's JWK or PEM). */
export async function hs256Token(
  secret: string | Uint8Array,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const keyBytes = typeof secret === "string" ? encoder.encode(secret) : secret;
  const signingInput = `${b64json({ alg: "HS256", typ: "JWT", ...header })}.${b64json(payload)}`;
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(signingInput)));
  return `${signingInput}.${base64url.encode(mac)}`;
}

/** PATCHes the space's `auth` and expects 200. */
export async function setSpaceAuth(space: TestSpace, auth: Record<string, unknown> | null): Promise<any> {
  const response = await call(`/api/loyalty/admin/spaces/${space.slug}`, { method: "PATCH", body: { auth } });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

/** Asserts a 401 with `code`, a Bearer challenge, and no trace of the token in the answer. */
export async function expectTokenRefused(response: Response, token: string, code = "token_invalid"): Promise<any> {
  const text = await response.clone().text();
  const problem = await expectProblem(response, 401, code);
  expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
  if (token.length >= 8) expect(text).not.toContain(token);
  for (const part of token.split(".")) {
    if (part.length >= 16) expect(text).not.toContain(part);
  }
  return problem;
}
