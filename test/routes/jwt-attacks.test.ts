import { env } from "cloudflare:test";
import { decodeJwt, decodeProtectedHeader, exportSPKI, importJWK, type JWK } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, createSpace, expectProblem, json, me, mintToken, uniqueSlug, type TestSpace } from "../helpers/harness";
import {
  expectTokenRefused,
  hs256Token,
  idpClaims,
  newIdpKey,
  nowSeconds,
  rawToken,
  setSpaceAuth,
  signEcdsaRaw,
  signWith,
  type IdpKey,
} from "../helpers/jwt";

// The JWT attack list of the Foundation issue against GET /api/loyalty/me (SPEC §3.3).
// Tokens of the space's own signer come from the mint endpoint; every other token is
// built here, signed with keys the test generates and configures as the space's IdP.

interface IdpSpace {
  space: TestSpace;
  key: IdpKey;
  auth: { issuer: string; audience: string };
}

/** A space whose IdP (`auth.jwks`) is a key generated here; issuer/audience unique per space. */
async function idpSpace(extraAuth: Record<string, unknown> = {}, alg: "ES256" | "RS256" = "ES256"): Promise<IdpSpace> {
  const space = await createSpace();
  const key = await newIdpKey(alg);
  const auth = { issuer: `https://idp.example/${space.slug}`, audience: `aud-${space.slug}` };
  await setSpaceAuth(space, { ...auth, jwks: { keys: [key.publicJwk] }, ...extraAuth });
  return { space, key, auth };
}

async function expectMe(token: string, space: TestSpace, userId: string): Promise<void> {
  const response = await me(token, space.slug);
  expect(response.status, await response.clone().text()).toBe(200);
  expect(await json(response)).toMatchObject({ userId, space: space.slug });
}

async function ownPublicJwk(space: TestSpace): Promise<JWK> {
  const response = await call(`/api/loyalty/spaces/${space.slug}/.well-known/jwks.json`, { key: null });
  expect(response.status).toBe(200);
  return (await json<{ keys: JWK[] }>(response)).keys[0]!;
}

function flipChar(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === "A" ? "B" : "A") + text.slice(index + 1);
}

describe("GET /api/loyalty/me: credentials", () => {
  it("no Authorization header → 401 missing_credential with a Bearer challenge", async () => {
    const space = await createSpace();
    const response = await call("/api/loyalty/me", { key: null, space: space.slug });
    await expectProblem(response, 401, "missing_credential");
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("a non-Bearer scheme is a missing credential; an admin key is not a user token", async () => {
    const space = await createSpace();
    await expectProblem(
      await call("/api/loyalty/me", { key: null, space: space.slug, headers: { Authorization: "Basic dXNlcjpwYXNz" } }),
      401,
      "missing_credential",
    );
    await expectTokenRefused(await call("/api/loyalty/me", { space: space.slug }), "");
  });

  it("garbage after Bearer → 401 token_invalid, never echoed", async () => {
    const space = await createSpace();
    for (const garbage of ["garbage", "a.b.c", "....", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0", "x".repeat(300)]) {
      await expectTokenRefused(await me(garbage, space.slug), garbage);
    }
  });

  it("an unknown space is 404, not a token verdict", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "u1");
    await expectProblem(await me(token, "no-such-space-zz9"), 404, "not_found");
  });
});

describe("GET /api/loyalty/me: time claims", () => {
  it("expired beyond the 60 s tolerance → token_expired; within it → accepted", async () => {
    const { space, key, auth } = await idpSpace();
    const now = nowSeconds();
    const expired = await signWith(key, idpClaims(auth, { iat: now - 3600, exp: now - 120 }));
    await expectTokenRefused(await me(expired, space.slug), expired, "token_expired");
    const justExpired = await signWith(key, idpClaims(auth, { iat: now - 3600, exp: now - 30 }));
    await expectMe(justExpired, space, "user-1");
  });

  it("nbf in the future beyond the tolerance → token_invalid; within it → accepted", async () => {
    const { space, key, auth } = await idpSpace();
    const now = nowSeconds();
    const early = await signWith(key, idpClaims(auth, { nbf: now + 600 }));
    await expectTokenRefused(await me(early, space.slug), early);
    const slightlyEarly = await signWith(key, idpClaims(auth, { nbf: now + 30 }));
    await expectMe(slightlyEarly, space, "user-1");
  });

  it("a token without exp → token_invalid; a non-numeric exp → token_invalid", async () => {
    const { space, key, auth } = await idpSpace();
    const { exp: _exp, ...noExp } = idpClaims(auth);
    const eternal = await signWith(key, noExp);
    await expectTokenRefused(await me(eternal, space.slug), eternal);
    const stringExp = await signWith(key, idpClaims(auth, { exp: String(nowSeconds() + 3600) }));
    await expectTokenRefused(await me(stringExp, space.slug), stringExp);
  });

  it("a retired own key verifies for 24 h, not beyond (retired_at moved back in D1)", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "retiree", 86_400);
    const kid = decodeProtectedHeader(token).kid!;
    const rotated = await call(`/api/loyalty/admin/spaces/${space.slug}/rotate-signing-key`, { method: "POST" });
    expect(rotated.status).toBe(200);
    const setRetiredAt = (ms: number) =>
      env.DB.prepare("UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND space_id = ?").bind(ms, kid, space.id).run();

    await setRetiredAt(Date.now() - 23 * 3_600_000);
    await expectMe(token, space, "retiree");

    await setRetiredAt(Date.now() - 25 * 3_600_000);
    await expectTokenRefused(await me(token, space.slug), token);
    const jwks = await json<{ keys: JWK[] }>(await call(`/api/loyalty/spaces/${space.slug}/.well-known/jwks.json`, { key: null }));
    expect(jwks.keys.map((k) => k.kid)).not.toContain(kid);
    expect(jwks.keys).toHaveLength(1);
  });
});

describe("GET /api/loyalty/me: a token remembered after its first verification", () => {
  // src/auth/verify-user-token.ts remembers the space's own tokens once verified. The
  // tests above already present remembered tokens tampered with, with a key retired
  // beyond its grace, and after the user's erasure; these cover its clock.
  afterEach(() => vi.useRealTimers());

  it("is refused once its exp is more than 60 s past, as a token never seen", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "clock", 60);
    await expectMe(token, space, "clock");
    // From the token's own exp (whole seconds), not from "now": the first request may take
    // a second on a loaded machine.
    const expMs = decodeJwt(token).exp! * 1000;
    vi.setSystemTime(expMs + 59_000);
    await expectMe(token, space, "clock"); // within the tolerance
    vi.setSystemTime(expMs + 61_000);
    await expectTokenRefused(await me(token, space.slug), token, "token_expired");
  });

  it("is accepted by its own space only", async () => {
    const [a, b] = [await createSpace(), await createSpace()];
    const token = await mintToken(a, "one-space");
    await expectMe(token, a, "one-space");
    await expectTokenRefused(await me(token, b.slug), token);
  });
});

describe("GET /api/loyalty/me: signatures and algorithms", () => {
  it("alg: none (unsecured JWT) → token_invalid, whatever kid or casing", async () => {
    const space = await createSpace();
    const own = await mintToken(space, "u1");
    const ownKid = decodeProtectedHeader(own).kid!;
    const claims = {
      iss: `urn:loyalty:space:${space.id}`,
      aud: `loyalty:${space.id}`,
      sub: "attacker",
      iat: nowSeconds(),
      exp: nowSeconds() + 3600,
    };
    const variants = [
      rawToken({ alg: "none", typ: "JWT" }, claims),
      rawToken({ alg: "none", kid: ownKid }, claims),
      rawToken({ alg: "None", kid: ownKid }, claims),
      rawToken({ alg: "NONE" }, claims),
      rawToken({ alg: "none", kid: ownKid }, claims, own.split(".")[2]),
      rawToken({ kid: ownKid }, claims),
    ];
    for (const token of variants) await expectTokenRefused(await me(token, space.slug), token);

    // The same against an IdP space: alg none never matches a source.
    const idp = await idpSpace();
    const idpNone = rawToken({ alg: "none", kid: idp.key.kid }, idpClaims(idp.auth));
    await expectTokenRefused(await me(idpNone, idp.space.slug), idpNone);
  });

  it("a forged signature or a tampered payload → token_invalid", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "victim");
    await expectMe(token, space, "victim");
    const [h, p, s] = token.split(".") as [string, string, string];
    for (const i of [0, 10, 40]) {
      const forged = `${h}.${p}.${flipChar(s, i)}`;
      await expectTokenRefused(await me(forged, space.slug), forged);
    }
    // Keep the signature, change the subject.
    const payload = JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")));
    const tampered = rawToken(JSON.parse(atob(h.replace(/-/g, "+").replace(/_/g, "/"))), { ...payload, sub: "admin" }, s);
    await expectTokenRefused(await me(tampered, space.slug), tampered);
    // No signature at all.
    await expectTokenRefused(await me(`${h}.${p}.`, space.slug), `${h}.${p}.`);
    await expectTokenRefused(await me(`${h}.${p}`, space.slug), `${h}.${p}`);
  });

  it("algorithm confusion: HS256 keyed with the space's own public key (JWK or PEM) → token_invalid", async () => {
    const space = await createSpace();
    const jwk = await ownPublicJwk(space);
    const pem = await exportSPKI((await importJWK(jwk, "ES256", { extractable: true })) as CryptoKey);
    const claims = {
      iss: `urn:loyalty:space:${space.id}`,
      aud: `loyalty:${space.id}`,
      sub: "attacker",
      iat: nowSeconds(),
      exp: nowSeconds() + 3600,
    };
    const { kid: _kid, alg: _alg, use: _use, ...bareJwk } = jwk;
    const secrets = [JSON.stringify(jwk), JSON.stringify(bareJwk), pem, pem.trim(), jwk.x!, `${jwk.x}${jwk.y}`];
    for (const secret of secrets) {
      for (const header of [{ kid: jwk.kid }, {}]) {
        const token = await hs256Token(secret, claims, header);
        await expectTokenRefused(await me(token, space.slug), token);
      }
    }
  });

  it("algorithm confusion: HS256 keyed with the IdP's public key (JWK or PEM) → token_invalid", async () => {
    for (const alg of ["ES256", "RS256"] as const) {
      const { space, key, auth } = await idpSpace({}, alg);
      const pem = await exportSPKI(key.publicKey);
      for (const secret of [JSON.stringify(key.publicJwk), pem, key.publicJwk.n ?? key.publicJwk.x!]) {
        const token = await hs256Token(secret, idpClaims(auth, { sub: "attacker" }), { kid: key.kid });
        await expectTokenRefused(await me(token, space.slug), token);
      }
      // Sanity: the IdP's real tokens are accepted.
      await expectMe(await signWith(key, idpClaims(auth)), space, "user-1");
    }
  });

  it("an algorithm that does not match the IdP key (ES384 header on a P-256 key) → token_invalid", async () => {
    const { space, key, auth } = await idpSpace();
    const other = await newIdpKey("ES384", key.kid);
    const token = await signWith(other, idpClaims(auth));
    await expectTokenRefused(await me(token, space.slug), token);
  });

  it("an embedded jwk / jku header cannot supply the verification key", async () => {
    const { space, auth } = await idpSpace();
    const attacker = await newIdpKey("ES256");
    const embedded = await signWith(attacker, idpClaims(auth), { header: { jwk: attacker.publicJwk } });
    await expectTokenRefused(await me(embedded, space.slug), embedded);
    const jku = await signWith(attacker, idpClaims(auth), { header: { jku: "https://attacker.example/jwks.json" } });
    await expectTokenRefused(await me(jku, space.slug), jku);
    const noKid = await signWith(attacker, idpClaims(auth), { header: { kid: undefined, jwk: attacker.publicJwk } });
    await expectTokenRefused(await me(noKid, space.slug), noKid);
  });

  it("an unknown critical header → token_invalid", async () => {
    const { space, key, auth } = await idpSpace();
    const token = await signEcdsaRaw(key, { alg: "ES256", kid: key.kid, crit: ["x-unknown"], "x-unknown": true }, idpClaims(auth));
    await expectTokenRefused(await me(token, space.slug), token);
    // The same hand-made signing without crit is accepted, so only crit made the difference.
    await expectMe(await signEcdsaRaw(key, { alg: "ES256", kid: key.kid }, idpClaims(auth)), space, "user-1");
  });

  it("an IdP-signed token carrying the space's own kid → token_invalid", async () => {
    const { space, key, auth } = await idpSpace();
    const ownKid = decodeProtectedHeader(await mintToken(space, "u1")).kid!;
    const token = await signWith(key, idpClaims(auth), { header: { kid: ownKid } });
    await expectTokenRefused(await me(token, space.slug), token);
  });
});

describe("GET /api/loyalty/me: issuer, audience, space", () => {
  it("wrong audience or wrong issuer → token_invalid", async () => {
    const { space, key, auth } = await idpSpace();
    const cases = [
      idpClaims(auth, { aud: "someone-else" }),
      idpClaims(auth, { aud: [] }),
      idpClaims(auth, { iss: "https://evil.example" }),
      idpClaims(auth, { iss: `${auth.issuer}/` }),
      idpClaims(auth, { iss: auth.issuer.toUpperCase() }),
      idpClaims(auth, { iss: `urn:loyalty:space:${space.id}`, aud: `loyalty:${space.id}` }),
    ];
    const { iss: _iss, ...noIss } = idpClaims(auth);
    const { aud: _aud, ...noAud } = idpClaims(auth);
    cases.push(noIss, noAud);
    for (const claims of cases) {
      const token = await signWith(key, claims);
      await expectTokenRefused(await me(token, space.slug), token);
    }
    // An audience array that contains ours is standard JWT and accepted.
    await expectMe(await signWith(key, idpClaims(auth, { aud: ["other", auth.audience] })), space, "user-1");
  });

  it("a space cannot be configured to accept another space's own tokens (reserved issuer/audience)", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const jwksA = await json(await call(`/api/loyalty/spaces/${a.slug}/.well-known/jwks.json`, { key: null }));
    for (const [auth, path] of [
      [{ issuer: `urn:loyalty:space:${a.id}`, audience: "b-app", jwks: jwksA }, "auth.issuer"],
      [{ issuer: "https://idp.example", audience: `loyalty:${a.id}`, jwks: jwksA }, "auth.audience"],
    ] as const) {
      const response = await call(`/api/loyalty/admin/spaces/${b.slug}`, { method: "PATCH", body: { auth } });
      const problem = await expectProblem(response, 400, "invalid_request");
      expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const tokenA = await mintToken(a, "alice");
    await expectTokenRefused(await me(tokenA, b.slug), tokenA);
  });

  it("a valid token of space A presented to space B → token_invalid (kid of A unknown to B)", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const tokenA = await mintToken(a, "alice");
    await expectMe(tokenA, a, "alice");
    await expectTokenRefused(await me(tokenA, b.slug), tokenA);
    // Also to the default space (no header).
    await expectTokenRefused(await me(tokenA), tokenA);
    // And to a space that has an IdP: A's kid is not one of its IdP keys either.
    const idp = await idpSpace();
    await expectTokenRefused(await me(tokenA, idp.space.slug), tokenA);
  });

  it("an IdP token of space A is refused by space B even when B has its own IdP", async () => {
    const a = await idpSpace();
    const b = await idpSpace();
    const tokenA = await signWith(a.key, idpClaims(a.auth));
    await expectMe(tokenA, a.space, "user-1");
    await expectTokenRefused(await me(tokenA, b.space.slug), tokenA);
    // B's key with A's issuer/audience: B's IdP is configured for B's pair only.
    const crossed = await signWith(b.key, idpClaims(a.auth));
    await expectTokenRefused(await me(crossed, b.space.slug), crossed);
    await expectTokenRefused(await me(crossed, a.space.slug), crossed);
  });

  it("kid injection strings → token_invalid, never 500", async () => {
    const own = await createSpace();
    const idp = await idpSpace();
    const kids: unknown[] = [
      "../../etc/passwd",
      "' OR 1=1 --",
      "\"; DROP TABLE signing_keys; --",
      "%00",
      "k".repeat(5000),
      "",
      123,
      null,
      { $ne: null },
      ["a"],
    ];
    const attacker = await newIdpKey("ES256");
    for (const kid of kids) {
      for (const target of [own, idp.space]) {
        const signed = await signWith(attacker, idpClaims(idp.auth), { header: { kid } });
        await expectTokenRefused(await me(signed, target.slug), signed);
        const unsigned = rawToken({ alg: "ES256", kid }, idpClaims(idp.auth), "AAAA");
        await expectTokenRefused(await me(unsigned, target.slug), unsigned);
      }
    }
    // The table is intact and the space still works.
    await expectMe(await mintToken(own, "still-ok"), own, "still-ok");
  });

  it("a token over 8 KiB → 401 token_invalid even when validly signed; just under is accepted", async () => {
    const { space, key, auth } = await idpSpace();
    const tokenOfPad = (n: number) => signWith(key, idpClaims(auth, { pad: "x".repeat(n) }));
    let under = "";
    let over = "";
    for (let n = 5500; n < 6400 && (!under || !over); n += 1) {
      const token = await tokenOfPad(n);
      if (token.length <= 8192 && token.length > 8150) under = token;
      if (token.length > 8192 && !over) over = token;
    }
    expect(under.length).toBeGreaterThan(8150);
    expect(over.length).toBeGreaterThan(8192);
    await expectMe(under, space, "user-1");
    await expectTokenRefused(await me(over, space.slug), over);
    const huge = "a".repeat(20_000);
    await expectTokenRefused(await me(huge, space.slug), huge);
  });
});

describe("GET /api/loyalty/me: auth.userIdClaim", () => {
  it("answers the custom claim's value; refuses values outside the userId alphabet or not strings", async () => {
    const { space, key, auth } = await idpSpace({ userIdClaim: "uid" });
    await expectMe(await signWith(key, idpClaims(auth, { uid: "cust:42", sub: "ignored" })), space, "cust:42");
    await expectMe(await signWith(key, idpClaims(auth, { uid: "u".repeat(128) })), space, "u".repeat(128));

    const bad: unknown[] = ["a b", "u".repeat(129), "u".repeat(200), "", "é", "a/b", 42, 4.2, true, null, ["x"], { id: "x" }];
    for (const uid of bad) {
      const token = await signWith(key, idpClaims(auth, { uid, sub: "fallback-must-not-be-used" }));
      const problem = await expectTokenRefused(await me(token, space.slug), token);
      expect(problem.detail).toContain("uid");
    }
    // Missing custom claim: no fallback to sub.
    const missing = await signWith(key, idpClaims(auth, { sub: "someone" }));
    await expectTokenRefused(await me(missing, space.slug), missing);
  });

  it("a claim name found only on Object.prototype is not a value", async () => {
    const { space, key, auth } = await idpSpace({ userIdClaim: "toString" });
    const token = await signWith(key, idpClaims(auth));
    await expectTokenRefused(await me(token, space.slug), token);
    await expectMe(await signWith(key, idpClaims(auth, { toString: "own-value" })), space, "own-value");
  });

  it("the default claim sub is checked against the userId alphabet too", async () => {
    const { space, key, auth } = await idpSpace();
    for (const sub of ["a b", "x".repeat(129), 42]) {
      const token = await signWith(key, idpClaims(auth, { sub }));
      await expectTokenRefused(await me(token, space.slug), token);
    }
    const { sub: _sub, ...noSub } = idpClaims(auth);
    const token = await signWith(key, noSub);
    await expectTokenRefused(await me(token, space.slug), token);
  });

  it("the space's own tokens keep working next to an IdP (own signer always accepted)", async () => {
    const { space } = await idpSpace({ userIdClaim: "uid" });
    await expectMe(await mintToken(space, "own-user"), space, "own-user");
  });
});

describe("GET /api/loyalty/me: auth.hs256Secret", () => {
  const SECRET = "this-is-a-32-byte-hmac-secret-ok!";

  async function hsSpace(): Promise<{ space: TestSpace; auth: { issuer: string; audience: string } }> {
    const space = await createSpace();
    const auth = { issuer: `https://hs.example/${space.slug}`, audience: `hs-${space.slug}` };
    const view = await setSpaceAuth(space, { ...auth, hs256Secret: SECRET });
    expect(view.auth).toEqual({ ...auth, userIdClaim: "sub", hs256SecretSet: true });
    return { space, auth };
  }

  it("accepts a valid HS256 token; refuses a wrong secret, expired or wrong audience", async () => {
    const { space, auth } = await hsSpace();
    await expectMe(await hs256Token(SECRET, idpClaims(auth, { sub: "hs-user" })), space, "hs-user");
    const wrongSecret = await hs256Token(`${SECRET}x`, idpClaims(auth));
    await expectTokenRefused(await me(wrongSecret, space.slug), wrongSecret);
    const now = nowSeconds();
    const expired = await hs256Token(SECRET, idpClaims(auth, { exp: now - 600 }));
    await expectTokenRefused(await me(expired, space.slug), expired, "token_expired");
    const wrongAud = await hs256Token(SECRET, idpClaims(auth, { aud: "nope" }));
    await expectTokenRefused(await me(wrongAud, space.slug), wrongAud);
    const { exp: _exp, ...noExp } = idpClaims(auth);
    const eternal = await hs256Token(SECRET, noExp);
    await expectTokenRefused(await me(eternal, space.slug), eternal);
  });

  it("refuses RS256/ES256/HS384/HS512 tokens in an HS256 space", async () => {
    const { space, auth } = await hsSpace();
    for (const alg of ["RS256", "ES256"] as const) {
      const key = await newIdpKey(alg);
      const token = await signWith(key, idpClaims(auth));
      await expectTokenRefused(await me(token, space.slug), token);
    }
    // Same secret, stronger HMAC: still not the pinned algorithm.
    const hs512 = rawToken({ alg: "HS512", typ: "JWT" }, idpClaims(auth), "AAAA");
    await expectTokenRefused(await me(hs512, space.slug), hs512);
  });

  it("an HS256 token signed with the space's secret is refused by another space", async () => {
    const { auth } = await hsSpace();
    const other = await createSpace();
    const token = await hs256Token(SECRET, idpClaims(auth));
    await expectTokenRefused(await me(token, other.slug), token);
  });

  it("HS256 tokens are refused by a space without an HMAC secret (JWKS IdP)", async () => {
    const { space, auth } = await idpSpace();
    const token = await hs256Token(SECRET, idpClaims(auth));
    await expectTokenRefused(await me(token, space.slug), token);
  });

  it("stores the secret sealed and never returns it; refuses a secret under 32 bytes", async () => {
    const { space } = await hsSpace();
    const row = await env.DB.prepare("SELECT auth FROM spaces WHERE id = ?").bind(space.id).first<{ auth: string }>();
    expect(row!.auth).not.toContain(SECRET);
    expect(JSON.parse(row!.auth).hs256Secret).toMatch(/^v1\.k1\./);
    const view = await call(`/api/loyalty/admin/spaces/${space.slug}`);
    expect(await view.text()).not.toContain(SECRET);

    const short = await createSpace();
    const response = await call(`/api/loyalty/admin/spaces/${short.slug}`, {
      method: "PATCH",
      body: { auth: { issuer: "https://short.example", audience: uniqueSlug(), hs256Secret: "x".repeat(31) } },
    });
    const problem = await expectProblem(response, 400, "invalid_request");
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain("auth.hs256Secret");
  });

  it("refuses configuring a secret together with asymmetric keys", async () => {
    const space = await createSpace();
    const key = await newIdpKey("ES256");
    const response = await call(`/api/loyalty/admin/spaces/${space.slug}`, {
      method: "PATCH",
      body: { auth: { issuer: "https://both.example", audience: uniqueSlug(), hs256Secret: SECRET, jwks: { keys: [key.publicJwk] } } },
    });
    await expectProblem(response, 400, "invalid_request");
  });
});
