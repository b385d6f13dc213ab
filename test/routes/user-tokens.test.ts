import { env } from "cloudflare:test";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { call, createKey, createSpace, expectProblem, json, me, mintToken, type TestSpace } from "../helpers/harness";

// Minting user tokens with the space's own ES256 key, publishing the public keys, and
// rotating them (SPEC §3.3), through the real Worker and D1.

const tokenPath = (userId: string) => `/api/loyalty/admin/users/${userId}/token`;

async function mint(space: TestSpace, userId: string, body?: unknown, headers?: Record<string, string>): Promise<Response> {
  return call(tokenPath(encodeURIComponent(userId)), { method: "POST", space: space.slug, body, headers });
}

async function jwksOf(space: TestSpace): Promise<{ keys: JWK[] }> {
  const response = await call(`/api/loyalty/spaces/${space.slug}/.well-known/jwks.json`, { key: null });
  expect(response.status, await response.clone().text()).toBe(200);
  return json(response);
}

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

function expectPublicOnly(jwks: { keys: JWK[] }): void {
  expect(jwks.keys.length).toBeGreaterThan(0);
  for (const key of jwks.keys) {
    for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.toHaveProperty(member);
    expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(typeof key.kid).toBe("string");
  }
}

describe("POST /api/loyalty/admin/users/{userId}/token", () => {
  it("answers 201 {token, expiresAt} with a default ttl of 3600 s and the documented claims", async () => {
    const space = await createSpace();
    const before = Math.floor(Date.now() / 1000);
    const response = await mint(space, "user-42", {});
    const after = Math.ceil(Date.now() / 1000);
    expect(response.status, await response.clone().text()).toBe(201);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const body = await json(response);
    expect(Object.keys(body).sort()).toEqual(["expiresAt", "token"]);

    const header = decodeProtectedHeader(body.token);
    expect(header.alg).toBe("ES256");
    expect(header.typ).toBe("JWT");
    expect(typeof header.kid).toBe("string");
    const claims = decodeJwt(body.token);
    expect(claims.iss).toBe(`urn:loyalty:space:${space.id}`);
    expect(claims.aud).toBe(`loyalty:${space.id}`);
    expect(claims.sub).toBe("user-42");
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(after);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(body.expiresAt).toBe(new Date(claims.exp! * 1000).toISOString());
    expect(body.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // The space view advertises the same issuer and audience.
    const view = await json(await call(`/api/loyalty/admin/spaces/${space.slug}`));
    expect(view.userTokenIssuer).toBe(claims.iss);
    expect(view.userTokenAudience).toBe(claims.aud);

    // And the token works on the User API of its space.
    const profile = await me(body.token, space.slug);
    expect(profile.status, await profile.clone().text()).toBe(200);
    expect(await json(profile)).toMatchObject({ userId: "user-42", space: space.slug });
  });

  it("accepts a request with no body at all (default ttl)", async () => {
    const space = await createSpace();
    const response = await call(tokenPath("no-body"), { method: "POST", space: space.slug });
    expect(response.status, await response.clone().text()).toBe(201);
    const claims = decodeJwt((await json(response)).token);
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it("honours ttlSeconds at both bounds (60 and 86400)", async () => {
    const space = await createSpace();
    for (const ttl of [60, 86_400]) {
      const response = await mint(space, "u-ttl", { ttlSeconds: ttl });
      expect(response.status, await response.clone().text()).toBe(201);
      const claims = decodeJwt((await json(response)).token);
      expect(claims.exp! - claims.iat!).toBe(ttl);
    }
  });

  it("refuses ttlSeconds out of range or not an integer with 400 at path ttlSeconds", async () => {
    const space = await createSpace();
    for (const ttlSeconds of [59, 86_401, 0, -1, 3600.5, "3600", null, true, 1e308]) {
      const problem = await expectProblem(await mint(space, "u-bad-ttl", { ttlSeconds }), 400, "invalid_request");
      // One place in the request, possibly more than one message about it.
      expect([...new Set(problem.errors.map((e: { path: string }) => e.path))], JSON.stringify(ttlSeconds)).toEqual(["ttlSeconds"]);
    }
  });

  it("refuses unknown body fields, malformed JSON and non-JSON bodies", async () => {
    const space = await createSpace();
    const unknown = await expectProblem(await mint(space, "u1", { ttlSeconds: 60, sub: "admin" }), 400, "invalid_request");
    expect(unknown.errors).toEqual([{ path: "sub", message: expect.any(String) }]);
    await expectProblem(
      await call(tokenPath("u1"), { space: space.slug, rawBody: "{", headers: { "Content-Type": "application/json" } }),
      400,
      "malformed_json",
    );
    await expectProblem(
      await call(tokenPath("u1"), { space: space.slug, rawBody: "ttlSeconds=60", headers: { "Content-Type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
  });

  it("accepts every character of the userId alphabet and 128 characters", async () => {
    const space = await createSpace();
    for (const userId of ["a.b:c@d|e+f-g_H9", "x".repeat(128), "7"]) {
      const response = await mint(space, userId, {});
      expect(response.status, `${userId}: ${await response.clone().text()}`).toBe(201);
      expect(decodeJwt((await json(response)).token).sub).toBe(userId);
    }
  });

  it("refuses a bad userId in the path with 400 at path.userId", async () => {
    const space = await createSpace();
    const bad = ["x".repeat(129), "a%20b", "%C3%A9", "a%2Fb", "a%00b", "a%22b", "a%3Cb"];
    for (const raw of bad) {
      const response = await call(tokenPath(raw), { space: space.slug, body: {} });
      const problem = await expectProblem(response, 400, "invalid_request");
      expect(problem.errors.map((e: { path: string }) => e.path), raw).toEqual(["path.userId"]);
    }
  });

  it("refuses Idempotency-Key with 400 idempotency_not_supported (a token is a secret, never replayed)", async () => {
    const space = await createSpace();
    const problem = await expectProblem(
      await mint(space, "u-idem", { ttlSeconds: 60 }, { "Idempotency-Key": "abc-123" }),
      400,
      "idempotency_not_supported",
    );
    expect(problem.detail).not.toContain("abc-123");
  });

  it("enforces admin authentication and scopes", async () => {
    const space = await createSpace();
    const other = await createSpace();
    await expectProblem(await call(tokenPath("u1"), { key: null, space: space.slug, body: {} }), 401, "missing_credential");
    await expectProblem(await call(tokenPath("u1"), { key: "lk_nope", space: space.slug, body: {} }), 401, "invalid_credential");

    const read = await createKey(space, ["read"]);
    await expectProblem(await call(tokenPath("u1"), { key: read.secret, body: {} }), 403, "insufficient_scope");
    const events = await createKey(space, ["events:write"]);
    await expectProblem(await call(tokenPath("u1"), { key: events.secret, body: {} }), 403, "insufficient_scope");

    const usersWrite = await createKey(space, ["users:write"]);
    const ok = await call(tokenPath("u1"), { key: usersWrite.secret, body: {} });
    expect(ok.status, await ok.clone().text()).toBe(201);
    // A space key mints for its own space, whatever no header says.
    expect(decodeJwt((await json(ok)).token).aud).toBe(`loyalty:${space.id}`);

    const admin = await createKey(space, ["admin"]);
    const viaAdmin = await call(tokenPath("u1"), { key: admin.secret, space: space.slug, body: {} });
    expect(viaAdmin.status).toBe(201);

    // Another space's key cannot mint tokens here.
    const foreign = await createKey(other, ["admin"]);
    await expectProblem(await call(tokenPath("u1"), { key: foreign.secret, space: space.slug, body: {} }), 403, "wrong_space");

    // A revoked key stops at once.
    const revoke = await call(`/api/loyalty/admin/api-keys/${usersWrite.id}`, { method: "DELETE", space: space.slug });
    expect(revoke.status).toBe(204);
    await expectProblem(await call(tokenPath("u1"), { key: usersWrite.secret, body: {} }), 401, "invalid_credential");
  });

  it("answers 404 for an unknown space", async () => {
    await expectProblem(await call(tokenPath("u1"), { space: "no-such-space-zz9", body: {} }), 404, "not_found");
  });
});

describe("JWKS", () => {
  it("publishes the space's public key; the minted token verifies against it with jose", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "jwks-user");
    const response = await call(`/api/loyalty/spaces/${space.slug}/.well-known/jwks.json`, { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const text = await response.text();
    expect(text).not.toMatch(/"(d|p|q|dp|dq|qi|k)"\s*:/);
    const jwks = JSON.parse(text) as { keys: JWK[] };
    expectPublicOnly(jwks);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]!.kid).toBe(decodeProtectedHeader(token).kid);

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ["ES256"],
      issuer: `urn:loyalty:space:${space.id}`,
      audience: `loyalty:${space.id}`,
    });
    expect(payload.sub).toBe("jwks-user");
    expect(protectedHeader.alg).toBe("ES256");
  });

  it("serves the same keys at /api/loyalty/.well-known/jwks.json with X-Loyalty-Space", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "hdr-user");
    const response = await call("/api/loyalty/.well-known/jwks.json", { key: null, space: space.slug });
    expect(response.status, await response.clone().text()).toBe(200);
    const jwks = await json<{ keys: JWK[] }>(response);
    expectPublicOnly(jwks);
    expect(jwks).toEqual(await jwksOf(space));
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ["ES256"] });
    expect(payload.sub).toBe("hdr-user");
  });

  it("keys of different spaces differ, and one space's token does not verify with another's JWKS", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const jwksA = await jwksOf(a);
    const jwksB = await jwksOf(b);
    expect(jwksA.keys[0]!.kid).not.toBe(jwksB.keys[0]!.kid);
    const token = await mintToken(a, "u1");
    await expect(jwtVerify(token, createLocalJWKSet(jwksB), { algorithms: ["ES256"] })).rejects.toThrow();
  });

  it("without a space named, serves the default space's keys", async () => {
    const response = await call("/api/loyalty/.well-known/jwks.json", { key: null });
    expect(response.status, await response.clone().text()).toBe(200);
    expectPublicOnly(await json(response));
  });

  it("answers 404 for an unknown slug, 400 for a malformed one or a disagreeing header", async () => {
    await expectProblem(await call("/api/loyalty/spaces/no-such-space-zz9/.well-known/jwks.json", { key: null }), 404, "not_found");
    await expectProblem(await call("/api/loyalty/.well-known/jwks.json", { key: null, space: "no-such-space-zz9" }), 404, "not_found");
    const bad = await expectProblem(await call("/api/loyalty/spaces/Not_A_Slug/.well-known/jwks.json", { key: null }), 400, "invalid_request");
    expect(bad.errors[0].path).toBe("path.slug");
    const space = await createSpace();
    const other = await createSpace();
    await expectProblem(
      await call(`/api/loyalty/spaces/${space.slug}/.well-known/jwks.json`, { key: null, space: other.slug }),
      400,
      "space_mismatch",
    );
  });
});

describe("signing key rotation and storage", () => {
  it("rotates: old tokens keep working, new tokens carry the new kid, the JWKS lists both", async () => {
    const space = await createSpace();
    const oldToken = await mintToken(space, "rot-user");
    const oldKid = decodeProtectedHeader(oldToken).kid!;

    const rotated = await call(`/api/loyalty/admin/spaces/${space.slug}/rotate-signing-key`, { method: "POST" });
    expect(rotated.status, await rotated.clone().text()).toBe(200);
    const rotation = await json(rotated);
    expect(rotation.kid).not.toBe(oldKid);
    expect(rotation.alg).toBe("ES256");
    expect(rotation).not.toHaveProperty("privateJwk");
    expect(JSON.stringify(rotation)).not.toMatch(/"d"/);
    expect(rotation.retired).toHaveLength(1);
    expect(rotation.retired[0].kid).toBe(oldKid);
    expect(Date.parse(rotation.retired[0].verifiesUntil) - Date.parse(rotation.retired[0].retiredAt)).toBe(86_400_000);

    const oldStill = await me(oldToken, space.slug);
    expect(oldStill.status, await oldStill.clone().text()).toBe(200);
    expect((await json(oldStill)).userId).toBe("rot-user");

    const newToken = await mintToken(space, "rot-user-2");
    expect(decodeProtectedHeader(newToken).kid).toBe(rotation.kid);
    const fresh = await me(newToken, space.slug);
    expect(fresh.status).toBe(200);
    expect((await json(fresh)).userId).toBe("rot-user-2");

    const jwks = await jwksOf(space);
    expectPublicOnly(jwks);
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, rotation.kid].sort());
    const set = createLocalJWKSet(jwks);
    await jwtVerify(oldToken, set, { algorithms: ["ES256"] });
    await jwtVerify(newToken, set, { algorithms: ["ES256"] });

    // Exactly one active key remains in D1.
    const rows = await env.DB.prepare("SELECT kid, retired_at FROM signing_keys WHERE space_id = ? ORDER BY created_at")
      .bind(space.id)
      .all<{ kid: string; retired_at: number | null }>();
    expect(rows.results.filter((r) => r.retired_at === null).map((r) => r.kid)).toEqual([rotation.kid]);
  });

  it("rotation needs admin in the space; another space's key or read scope is refused", async () => {
    const space = await createSpace();
    const other = await createSpace();
    const path = `/api/loyalty/admin/spaces/${space.slug}/rotate-signing-key`;
    await expectProblem(await call(path, { method: "POST", key: null }), 401, "missing_credential");
    const read = await createKey(space, ["read"]);
    await expectProblem(await call(path, { method: "POST", key: read.secret }), 403, "insufficient_scope");
    const usersWrite = await createKey(space, ["users:write"]);
    await expectProblem(await call(path, { method: "POST", key: usersWrite.secret }), 403, "insufficient_scope");
    const foreign = await createKey(other, ["admin"]);
    await expectProblem(await call(path, { method: "POST", key: foreign.secret }), 403, "wrong_space");
    const admin = await createKey(space, ["admin"]);
    const ok = await call(path, { method: "POST", key: admin.secret });
    expect(ok.status, await ok.clone().text()).toBe(200);
    await expectProblem(
      await call("/api/loyalty/admin/spaces/no-such-space-zz9/rotate-signing-key", { method: "POST" }),
      404,
      "not_found",
    );
  });

  it("rotating does not touch another space's keys", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const tokenB = await mintToken(b, "b-user");
    const before = await jwksOf(b);
    const rotated = await call(`/api/loyalty/admin/spaces/${a.slug}/rotate-signing-key`, { method: "POST" });
    expect(rotated.status).toBe(200);
    expect(await jwksOf(b)).toEqual(before);
    expect(decodeProtectedHeader(await mintToken(b, "b-user")).kid).toBe(decodeProtectedHeader(tokenB).kid);
  });

  it("stores private keys sealed (v1.k1.…) with no private JWK member in clear", async () => {
    const space = await createSpace();
    await mintToken(space, "sealed-user");
    const rotated = await call(`/api/loyalty/admin/spaces/${space.slug}/rotate-signing-key`, { method: "POST" });
    expect(rotated.status).toBe(200);
    const rows = await env.DB.prepare("SELECT kid, alg, public_jwk, private_jwk FROM signing_keys WHERE space_id = ?")
      .bind(space.id)
      .all<{ kid: string; alg: string; public_jwk: string; private_jwk: string }>();
    expect(rows.results).toHaveLength(2);
    for (const row of rows.results) {
      expect(row.alg).toBe("ES256");
      expect(row.private_jwk.startsWith("v1.k1.")).toBe(true);
      expect(row.private_jwk).not.toContain('"d"');
      expect(row.private_jwk.split(".")).toHaveLength(4);
      const publicJwk = JSON.parse(row.public_jwk);
      expect(publicJwk.kid).toBe(row.kid);
      for (const member of PRIVATE_JWK_MEMBERS) expect(publicJwk).not.toHaveProperty(member);
    }
    // Each key is sealed with its own IV: no two ciphertexts alike.
    expect(new Set(rows.results.map((r) => r.private_jwk)).size).toBe(2);

    // Nothing about the private key comes back from the Admin API either.
    const view = await call(`/api/loyalty/admin/spaces/${space.slug}`);
    const text = await view.text();
    expect(text).not.toContain("v1.k1.");
    expect(text).not.toMatch(/"d"\s*:/);
  });
});
