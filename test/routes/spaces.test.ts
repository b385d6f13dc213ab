import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { call, createKey, createSpace, expectProblem, json, me, mintToken, uniqueSlug } from "../helpers/harness";
import { DEFAULT_PUSH_HOSTS } from "../../src/spaces/schemas";

// Admin API: spaces (SPEC §3.1, §3.3 auth settings, §2 conventions). Everything goes through
// the real Worker (SELF.fetch) and the real D1 of this test file.

const SPACES = "/api/loyalty/admin/spaces";
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET_32 = "s".repeat(32);

/** An issuer/audience pair no other test uses (the pair is unique across spaces). */
function idp(label = "idp"): { issuer: string; audience: string } {
  const tag = uniqueSlug(label);
  return { issuer: `https://${tag}.example.com/`, audience: `aud-${tag}` };
}

async function publicJwk(): Promise<Record<string, unknown>> {
  const { publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(publicKey)), kid: uniqueSlug("kid"), alg: "ES256" };
}

async function privateJwk(): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: uniqueSlug("kid") };
}

async function postSpace(body: unknown): Promise<Response> {
  return call(SPACES, { body });
}

async function patch(slug: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(`${SPACES}/${slug}`, { method: "PATCH", body, headers });
}

async function getSpace(slug: string): Promise<Response> {
  return call(`${SPACES}/${slug}`);
}

/** Expects a 400 invalid_request whose errors include exactly these paths (order-free). */
async function expectInvalid(response: Response, ...paths: string[]): Promise<any> {
  const problem = await expectProblem(response, 400, "invalid_request");
  expect(problem.errors.map((e: { path: string }) => e.path).sort()).toEqual([...paths].sort());
  return problem;
}

async function hs256Token(secret: string, claims: { iss: string; aud: string; sub: string }): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(claims.iss)
    .setAudience(claims.aud)
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(secret));
}

async function listAll(limit: number): Promise<{ slugs: string[]; pages: number }> {
  const slugs: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await call(`${SPACES}${query}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const page = await json(res);
    expect(page.data.length).toBeLessThanOrEqual(limit);
    if (page.nextCursor !== null) expect(page.data.length).toBe(limit);
    slugs.push(...page.data.map((s: { slug: string }) => s.slug));
    cursor = page.nextCursor;
    pages += 1;
    expect(pages).toBeLessThan(500);
  } while (cursor !== null);
  return { slugs, pages };
}

describe("POST /admin/spaces", () => {
  it("creates a space: 201, Location, ETag, server id, defaults", async () => {
    const slug = uniqueSlug();
    const res = await postSpace({ slug, name: "Club" });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get("location")).toBe(`${SPACES}/${slug}`);
    expect(res.headers.get("etag")).toBe('"1"');
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    const space = await json(res);
    expect(space).toEqual({
      id: expect.stringMatching(/^spc_[0-9a-z]{26}$/),
      slug,
      name: "Club",
      timezone: "UTC",
      auth: null,
      publicAttributes: [],
      corsOrigins: [],
      push: { allowedHosts: DEFAULT_PUSH_HOSTS, contact: "mailto:loyalty@example.com", gatewayUrl: null },
      userTokenIssuer: `urn:loyalty:space:${space.id}`,
      userTokenAudience: `loyalty:${space.id}`,
      version: 1,
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: space.createdAt,
    });

    const read = await getSpace(slug);
    expect(read.status).toBe(200);
    expect(await json(read)).toEqual(space);
  });

  it("keeps the settings it was given", async () => {
    const slug = uniqueSlug();
    const res = await postSpace({
      slug,
      name: "  Trimmed  ",
      timezone: "Europe/London",
      publicAttributes: ["tier", "first_name"],
      corsOrigins: ["https://app.example.com", "http://localhost:3000"],
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await json(res)).toMatchObject({
      slug,
      name: "Trimmed",
      timezone: "Europe/London",
      publicAttributes: ["tier", "first_name"],
      corsOrigins: ["https://app.example.com", "http://localhost:3000"],
    });
  });

  it("an id in the body is refused: the id is always the server's", async () => {
    const res = await postSpace({ slug: uniqueSlug(), name: "x", id: "spc_mine" });
    await expectInvalid(res, "id");
  });

  it("accepts a 63-character slug and a one-character slug", async () => {
    const long = `${uniqueSlug("l")}-`.padEnd(62, "x") + "z";
    expect(long).toHaveLength(63);
    const res = await postSpace({ slug: long, name: "long" });
    expect(res.status, await res.clone().text()).toBe(201);
    // The first one-character slug still free in this file's database.
    let one: string | undefined;
    for (const c of "abcdefghijklmnopqrstuvwxyz0123456789") {
      if ((await getSpace(c)).status === 404) {
        one = c;
        break;
      }
    }
    expect(one).toBeDefined();
    const short = await postSpace({ slug: one, name: "short" });
    expect(short.status, await short.clone().text()).toBe(201);
  });

  it("409 already_exists on a taken slug, with errors[].path slug", async () => {
    const space = await createSpace();
    const res = await postSpace({ slug: space.slug, name: "again" });
    const problem = await expectProblem(res, 409, "already_exists");
    expect(problem.errors).toEqual([{ path: "slug", message: expect.any(String) }]);
    // The original is untouched.
    expect((await json(await getSpace(space.slug))).name).toBe(`Space ${space.slug}`);
  });

  it("409 already_exists on the default space's slug", async () => {
    await expectProblem(await postSpace({ slug: "default", name: "mine" }), 409, "already_exists");
  });

  it.each([
    ["uppercase", "Club"],
    ["a dot", "fc.united"],
    ["a leading hyphen", "-club"],
    ["a trailing hyphen", "club-"],
    ["an underscore", "fc_united"],
    ["a space", "fc united"],
    ["64 characters", "a".repeat(64)],
    ["empty", ""],
    ["non-ASCII", "clüb"],
  ])("400 path slug for a slug with %s", async (_label, slug) => {
    await expectInvalid(await postSpace({ slug, name: "x" }), "slug");
  });

  it("400 path slug when the slug is not a string or missing", async () => {
    await expectInvalid(await postSpace({ slug: 42, name: "x" }), "slug");
    await expectInvalid(await postSpace({ name: "x" }), "slug");
  });

  it("400 path name for a missing, empty or blank name", async () => {
    await expectInvalid(await postSpace({ slug: uniqueSlug() }), "name");
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "" }), "name");
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "   " }), "name");
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "x".repeat(201) }), "name");
  });

  it("400 with the unknown key's path for unknown fields, top level and nested", async () => {
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "x", colour: "red" }), "colour");
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), hs256Secret: SECRET_32, extra: 1 } }),
      "auth.extra",
    );
  });

  it("400 path timezone for an invalid time zone", async () => {
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "x", timezone: "Mars/Olympus" }), "timezone");
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "x", timezone: "" }), "timezone");
    await expectInvalid(await postSpace({ slug: uniqueSlug(), name: "x", timezone: 3 }), "timezone");
  });

  it("400 with precise paths for bad publicAttributes and corsOrigins", async () => {
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", publicAttributes: ["ok", "1bad"] }),
      "publicAttributes[1]",
    );
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", corsOrigins: ["https://app.example.com/path"] }),
      "corsOrigins[0]",
    );
  });

  it("nothing is written when validation fails", async () => {
    const slug = uniqueSlug();
    await expectInvalid(await postSpace({ slug, name: "x", timezone: "Nowhere/Else" }), "timezone");
    await expectProblem(await getSpace(slug), 404, "not_found");
  });

  it("malformed JSON is 400 malformed_json and a non-JSON body is 415", async () => {
    await expectProblem(
      await call(SPACES, { method: "POST", rawBody: "{nope", headers: { "Content-Type": "application/json" } }),
      400,
      "malformed_json",
    );
    await expectProblem(
      await call(SPACES, { method: "POST", rawBody: "slug=x", headers: { "Content-Type": "application/x-www-form-urlencoded" } }),
      415,
      "unsupported_media_type",
    );
    // merge-patch+json is for PATCH only.
    await expectProblem(
      await call(SPACES, {
        method: "POST",
        body: { slug: uniqueSlug(), name: "x" },
        headers: { "Content-Type": "application/merge-patch+json" },
      }),
      415,
      "unsupported_media_type",
    );
  });

  it("a body over 64 KiB is 413", async () => {
    const res = await postSpace({ slug: uniqueSlug(), name: "x", pad: "p".repeat(70 * 1024) });
    await expectProblem(res, 413, "payload_too_large");
  });

  it("refuses __proto__ keys anywhere in the body", async () => {
    const res = await call(SPACES, {
      method: "POST",
      rawBody: `{"slug":"${uniqueSlug()}","name":"x","auth":{"__proto__":{"admin":true}}}`,
      headers: { "Content-Type": "application/json" },
    });
    const problem = await expectProblem(res, 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "auth.__proto__", message: expect.any(String) }]);
  });
});

describe("POST /admin/spaces: auth settings (SPEC §3.3)", () => {
  it("stores an hs256Secret sealed and never returns it", async () => {
    const slug = uniqueSlug();
    const secret = `hs-${crypto.randomUUID()}-${crypto.randomUUID()}`;
    const pair = idp();
    const res = await postSpace({ slug, name: "x", auth: { ...pair, hs256Secret: secret } });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(text).not.toContain(secret);
    expect(JSON.parse(text).auth).toEqual({ ...pair, userIdClaim: "sub", hs256SecretSet: true });

    const read = await (await getSpace(slug)).text();
    expect(read).not.toContain(secret);
    expect(JSON.parse(read).auth).toEqual({ ...pair, userIdClaim: "sub", hs256SecretSet: true });

    const { slugs } = await listAll(100);
    expect(slugs).toContain(slug);
    const list = await (await call(`${SPACES}?limit=100`)).text();
    expect(list).not.toContain(secret);
  });

  it("HS256 tokens of the configured issuer and audience verify on the User API", async () => {
    const slug = uniqueSlug();
    const secret = SECRET_32 + crypto.randomUUID();
    const pair = idp();
    expect((await postSpace({ slug, name: "x", auth: { ...pair, hs256Secret: secret, userIdClaim: "uid" } })).status).toBe(201);
    const token = await new SignJWT({ uid: "member-7" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(pair.issuer)
      .setAudience(pair.audience)
      .setSubject("ignored")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    const res = await me(token, slug);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({ userId: "member-7", space: slug });
  });

  it("accepts an inline public JWKS and a public https jwksUrl", async () => {
    const jwk = await publicJwk();
    const a = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), jwks: { keys: [jwk] } } });
    expect(a.status, await a.clone().text()).toBe(201);
    const body = await json(a);
    expect(body.auth.jwks).toEqual({ keys: [jwk] });
    expect(body.auth).not.toHaveProperty("hs256SecretSet");

    const url = "https://idp.example.com/.well-known/jwks.json";
    const b = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), jwksUrl: url } });
    expect(b.status, await b.clone().text()).toBe(201);
    expect((await json(b)).auth).toMatchObject({ jwksUrl: url, userIdClaim: "sub" });
  });

  it("400 unless exactly one of jwks, jwksUrl and hs256Secret is set", async () => {
    const jwk = await publicJwk();
    const none = await postSpace({ slug: uniqueSlug(), name: "x", auth: idp() });
    await expectInvalid(none, "auth");

    const two = await postSpace({
      slug: uniqueSlug(),
      name: "x",
      auth: { ...idp(), jwks: { keys: [jwk] }, hs256Secret: SECRET_32 },
    });
    const problem = await expectProblem(two, 400, "invalid_request");
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors[0].path).toMatch(/^auth\.(jwks|hs256Secret)$/);

    const three = await postSpace({
      slug: uniqueSlug(),
      name: "x",
      auth: { ...idp(), jwks: { keys: [jwk] }, jwksUrl: "https://idp.example.com/jwks", hs256Secret: SECRET_32 },
    });
    expect((await expectProblem(three, 400, "invalid_request")).errors[0].path).toMatch(/^auth\./);
  });

  it("400 path auth.issuer / auth.audience when they are missing", async () => {
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", auth: { audience: "a", hs256Secret: SECRET_32 } }),
      "auth.issuer",
    );
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", auth: { issuer: "i", hs256Secret: SECRET_32 } }),
      "auth.audience",
    );
  });

  it("hs256Secret must be at least 32 bytes (bytes, not characters)", async () => {
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), hs256Secret: "s".repeat(31) } }),
      "auth.hs256Secret",
    );
    // 16 two-byte characters = 32 bytes.
    const ok = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), hs256Secret: "é".repeat(16) } });
    expect(ok.status, await ok.clone().text()).toBe(201);
    const exact = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), hs256Secret: SECRET_32 } });
    expect(exact.status, await exact.clone().text()).toBe(201);
  });

  it("refuses a JWKS holding a private key", async () => {
    const res = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), jwks: { keys: [await privateJwk()] } } });
    const problem = await expectInvalid(res, "auth.jwks.keys[0]");
    expect(problem.errors[0].message).toMatch(/public/);
    // The second key is the private one: the path says so.
    const mixed = await postSpace({
      slug: uniqueSlug(),
      name: "x",
      auth: { ...idp(), jwks: { keys: [await publicJwk(), await privateJwk()] } },
    });
    await expectInvalid(mixed, "auth.jwks.keys[1]");
  });

  it("refuses a symmetric (oct) key in a JWKS", async () => {
    const oct = { kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", alg: "HS256" };
    const res = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), jwks: { keys: [oct] } } });
    const problem = await expectProblem(res, 400, "invalid_request");
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain("auth.jwks.keys[0].kty");
    expect(problem.errors.every((e: { path: string }) => e.path.startsWith("auth.jwks.keys[0]"))).toBe(true);
  });

  it("refuses an empty JWKS", async () => {
    await expectInvalid(
      await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...idp(), jwks: { keys: [] } } }),
      "auth.jwks.keys",
    );
  });

  it.each([
    ["http://127.0.0.1/jwks.json"],
    ["https://127.0.0.1/jwks.json"],
    ["https://localhost/"],
    ["https://idp.localhost/jwks"],
    ["http://idp.example.com/jwks.json"],
    ["https://169.254.169.254/latest/meta-data"],
    ["https://[::1]/jwks"],
    ["https://10.0.0.8/jwks"],
    ["not a url"],
  ])("refuses the jwksUrl %s (URL policy, private targets not allowed)", async (url) => {
    const slug = uniqueSlug();
    await expectInvalid(await postSpace({ slug, name: "x", auth: { ...idp(), jwksUrl: url } }), "auth.jwksUrl");
    await expectProblem(await getSpace(slug), 404, "not_found");
  });

  it("409 conflict when another space already uses the issuer/audience pair", async () => {
    const pair = idp();
    const first = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...pair, hs256Secret: SECRET_32 } });
    expect(first.status).toBe(201);
    const slug = uniqueSlug();
    const second = await postSpace({ slug, name: "y", auth: { ...pair, jwks: { keys: [await publicJwk()] } } });
    const problem = await expectProblem(second, 409, "conflict");
    expect(problem.errors[0].path).toMatch(/^auth\./);
    await expectProblem(await getSpace(slug), 404, "not_found");

    // Same issuer with another audience (or the reverse) is a different pair.
    const otherAudience = await postSpace({
      slug: uniqueSlug(),
      name: "z",
      auth: { issuer: pair.issuer, audience: `${pair.audience}-2`, hs256Secret: SECRET_32 },
    });
    expect(otherAudience.status, await otherAudience.clone().text()).toBe(201);
    const otherIssuer = await postSpace({
      slug: uniqueSlug(),
      name: "w",
      auth: { issuer: `${pair.issuer}other`, audience: pair.audience, hs256Secret: SECRET_32 },
    });
    expect(otherIssuer.status, await otherIssuer.clone().text()).toBe(201);
  });

  it("a taken slug wins over a taken issuer/audience pair (already_exists on slug)", async () => {
    const pair = idp();
    const first = await createSpace({ auth: { ...pair, hs256Secret: SECRET_32 } });
    const again = await postSpace({ slug: first.slug, name: "again", auth: { ...pair, hs256Secret: SECRET_32 } });
    const problem = await expectProblem(again, 409, "already_exists");
    expect(problem.errors[0].path).toBe("slug");
  });
});

describe("GET /admin/spaces", () => {
  it("pages through every space in slug order, nextCursor null at the end", async () => {
    const prefix = uniqueSlug("page");
    const mine = [`${prefix}-c`, `${prefix}-a`, `${prefix}-b`];
    for (const slug of mine) expect((await postSpace({ slug, name: slug })).status).toBe(201);

    const all = await listAll(100);
    const byTwo = await listAll(2);
    expect(byTwo.slugs).toEqual(all.slugs);
    expect(byTwo.pages).toBeGreaterThanOrEqual(Math.ceil(all.slugs.length / 2));
    expect(new Set(all.slugs).size).toBe(all.slugs.length);
    expect([...all.slugs].sort()).toEqual(all.slugs);
    expect(all.slugs).toContain("default");
    expect(all.slugs.filter((s) => s.startsWith(`${prefix}-`))).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
  });

  it("limit 1 answers one space and a cursor that continues after it", async () => {
    await createSpace();
    await createSpace();
    const first = await json(await call(`${SPACES}?limit=1`));
    expect(first.data).toHaveLength(1);
    expect(typeof first.nextCursor).toBe("string");
    const second = await json(await call(`${SPACES}?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`));
    expect(second.data).toHaveLength(1);
    expect(second.data[0].slug > first.data[0].slug).toBe(true);
  });

  it("the default limit is 50", async () => {
    while ((await listAll(100)).slugs.length <= 50) await createSpace();
    const page = await json(await call(SPACES));
    expect(page.data).toHaveLength(50);
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it("list items are full space views", async () => {
    const space = await createSpace({ timezone: "Asia/Tokyo" });
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await json(await call(`${SPACES}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`));
      all.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    const item = all.find((s) => s.slug === space.slug);
    expect(item).toEqual(await json(await getSpace(space.slug)));
    expect(item.timezone).toBe("Asia/Tokyo");
  });

  it("a cursor of another list is 400 invalid_cursor", async () => {
    const space = await createSpace();
    await createKey(space, ["read"]);
    await createKey(space, ["read"]);
    const keys = await json(await call("/api/loyalty/admin/api-keys?limit=1", { space: space.slug }));
    expect(keys.nextCursor).toEqual(expect.any(String));
    const res = await call(`${SPACES}?cursor=${encodeURIComponent(keys.nextCursor)}`);
    const problem = await expectProblem(res, 400, "invalid_cursor");
    expect(problem.errors).toEqual([{ path: "query.cursor", message: expect.any(String) }]);
  });

  it.each([["garbage"], ["%%%"], ["eyJ2IjoxfQ"], [""]])("a made-up cursor %j is 400 invalid_cursor", async (cursor) => {
    const res = await call(`${SPACES}?cursor=${encodeURIComponent(cursor)}`);
    await expectProblem(res, 400, "invalid_cursor");
  });

  it.each([["0"], ["101"], ["abc"], ["-1"], ["1.5"]])("limit=%s is 400 path query.limit", async (limit) => {
    await expectInvalid(await call(`${SPACES}?limit=${limit}`), "query.limit");
  });

  it("limit=100 and limit=1 are accepted", async () => {
    expect((await call(`${SPACES}?limit=100`)).status).toBe(200);
    expect((await call(`${SPACES}?limit=1`)).status).toBe(200);
  });
});

describe("GET /admin/spaces/{slug}", () => {
  it("answers the space with its ETag", async () => {
    const space = await createSpace();
    const res = await getSpace(space.slug);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"1"');
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await json(res)).toMatchObject({ id: space.id, slug: space.slug, version: 1 });
  });

  it("the default space exists", async () => {
    const res = await getSpace("default");
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ slug: "default", timezone: "UTC" });
  });

  it("404 not_found for an unknown slug with the root key", async () => {
    await expectProblem(await getSpace(uniqueSlug("missing")), 404, "not_found");
  });

  it("400 path path.slug for a malformed slug in the path (root key and space key)", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    for (const credential of [undefined, key.secret]) {
      const problem = await expectProblem(await call(`${SPACES}/Bad_Slug`, { key: credential }), 400, "invalid_request");
      expect(problem.errors).toEqual([{ path: "path.slug", message: "not a valid space slug" }]);
    }
  });

  it("a space API key reads its own space", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["read"]);
    const res = await call(`${SPACES}/${space.slug}`, { key: key.secret });
    expect(res.status).toBe(200);
    expect((await json(res)).id).toBe(space.id);
  });
});

describe("PATCH /admin/spaces/{slug} (JSON merge patch)", () => {
  it("a name change bumps version, ETag and updatedAt", async () => {
    const space = await createSpace();
    const before = await json(await getSpace(space.slug));
    await new Promise((r) => setTimeout(r, 5));
    const res = await patch(space.slug, { name: "Renamed" });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get("etag")).toBe('"2"');
    const after = await json(res);
    expect(after).toMatchObject({ name: "Renamed", version: 2, createdAt: before.createdAt, id: before.id });
    expect(after.updatedAt > before.updatedAt).toBe(true);

    const read = await getSpace(space.slug);
    expect(read.headers.get("etag")).toBe('"2"');
    expect(await json(read)).toEqual(after);
  });

  it("accepts application/merge-patch+json and application/json", async () => {
    const space = await createSpace();
    const a = await patch(space.slug, { timezone: "America/New_York" }, { "Content-Type": "application/merge-patch+json" });
    expect(a.status, await a.clone().text()).toBe(200);
    expect(await json(a)).toMatchObject({ timezone: "America/New_York", version: 2 });
    const b = await patch(space.slug, { timezone: "Europe/Paris" }, { "Content-Type": "application/json; charset=utf-8" });
    expect(b.status, await b.clone().text()).toBe(200);
    expect(await json(b)).toMatchObject({ timezone: "Europe/Paris", version: 3 });
  });

  it("415 for a PATCH body that is not JSON", async () => {
    const space = await createSpace();
    const res = await call(`${SPACES}/${space.slug}`, {
      method: "PATCH",
      rawBody: "name=x",
      headers: { "Content-Type": "text/plain" },
    });
    await expectProblem(res, 415, "unsupported_media_type");
  });

  it("a no-op patch keeps the version and the ETag", async () => {
    const space = await createSpace({ timezone: "Europe/London", publicAttributes: ["tier"] });
    for (const body of [{}, { name: `Space ${space.slug}` }, { timezone: "Europe/London", publicAttributes: ["tier"] }, { slug: space.slug }, { id: space.id }, { auth: null }]) {
      const res = await patch(space.slug, body);
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.headers.get("etag")).toBe('"1"');
      expect((await json(res)).version).toBe(1);
    }
  });

  it("arrays are replaced, not merged", async () => {
    const space = await createSpace({ publicAttributes: ["a", "b"] });
    const res = await patch(space.slug, { publicAttributes: ["c"] });
    expect((await json(res)).publicAttributes).toEqual(["c"]);
    const cleared = await patch(space.slug, { publicAttributes: null });
    // null deletes the member; the default (none) applies.
    expect(cleared.status, await cleared.clone().text()).toBe(200);
    expect((await json(cleared)).publicAttributes).toEqual([]);
  });

  it("auth: null clears the auth settings and frees the issuer/audience pair", async () => {
    const pair = idp();
    const space = await createSpace({ auth: { ...pair, hs256Secret: SECRET_32 } });
    const res = await patch(space.slug, { auth: null });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({ auth: null, version: 2 });
    expect((await json(await getSpace(space.slug))).auth).toBeNull();
    // The pair is free again.
    const other = await postSpace({ slug: uniqueSlug(), name: "x", auth: { ...pair, hs256Secret: SECRET_32 } });
    expect(other.status, await other.clone().text()).toBe(201);
  });

  it("patching auth.issuer keeps the stored hs256Secret, which still verifies HS256 tokens", async () => {
    const secret = `${SECRET_32}-${crypto.randomUUID()}`;
    const pair = idp();
    const space = await createSpace({ auth: { ...pair, hs256Secret: secret } });
    const newIssuer = `${pair.issuer}v2`;
    const res = await patch(space.slug, { auth: { issuer: newIssuer } });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({
      version: 2,
      auth: { issuer: newIssuer, audience: pair.audience, userIdClaim: "sub", hs256SecretSet: true },
    });

    const good = await me(await hs256Token(secret, { iss: newIssuer, aud: pair.audience, sub: "u-1" }), space.slug);
    expect(good.status, await good.clone().text()).toBe(200);
    expect(await json(good)).toMatchObject({ userId: "u-1", space: space.slug });
    // The old issuer is no longer accepted.
    const old = await me(await hs256Token(secret, { iss: pair.issuer, aud: pair.audience, sub: "u-1" }), space.slug);
    await expectProblem(old, 401, "token_invalid");
  });

  it("replacing the hs256Secret retires the old one", async () => {
    const oldSecret = `${SECRET_32}-old-${crypto.randomUUID()}`;
    const newSecret = `${SECRET_32}-new-${crypto.randomUUID()}`;
    const pair = idp();
    const space = await createSpace({ auth: { ...pair, hs256Secret: oldSecret } });
    const res = await patch(space.slug, { auth: { hs256Secret: newSecret } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).version).toBe(2);
    const claims = { iss: pair.issuer, aud: pair.audience, sub: "u-2" };
    expect((await me(await hs256Token(newSecret, claims), space.slug)).status).toBe(200);
    await expectProblem(await me(await hs256Token(oldSecret, claims), space.slug), 401, "token_invalid");
  });

  it("switching from hs256Secret to jwks needs the secret removed in the same patch", async () => {
    const space = await createSpace({ auth: { ...idp(), hs256Secret: SECRET_32 } });
    const jwk = await publicJwk();
    const both = await patch(space.slug, { auth: { jwks: { keys: [jwk] } } });
    const problem = await expectProblem(both, 400, "invalid_request");
    expect(problem.errors[0].path).toMatch(/^auth\.(jwks|hs256Secret)$/);
    expect((await json(await getSpace(space.slug))).version).toBe(1);

    const switched = await patch(space.slug, { auth: { jwks: { keys: [jwk] }, hs256Secret: null } });
    expect(switched.status, await switched.clone().text()).toBe(200);
    const body = await json(switched);
    expect(body.auth.jwks).toEqual({ keys: [jwk] });
    expect(body.auth).not.toHaveProperty("hs256SecretSet");
  });

  it("adding auth to a space without it needs the whole auth object", async () => {
    const space = await createSpace();
    await expectInvalid(await patch(space.slug, { auth: { issuer: "only" } }), "auth.audience");
    const pair = idp();
    const res = await patch(space.slug, { auth: { ...pair, hs256Secret: SECRET_32 } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).auth).toEqual({ ...pair, userIdClaim: "sub", hs256SecretSet: true });
  });

  it("a short hs256Secret, a private JWK or a private jwksUrl in a patch are refused", async () => {
    const space = await createSpace({ auth: { ...idp(), hs256Secret: SECRET_32 } });
    await expectInvalid(await patch(space.slug, { auth: { hs256Secret: "short" } }), "auth.hs256Secret");
    await expectInvalid(
      await patch(space.slug, { auth: { hs256Secret: null, jwks: { keys: [await privateJwk()] } } }),
      "auth.jwks.keys[0]",
    );
    await expectInvalid(
      await patch(space.slug, { auth: { hs256Secret: null, jwksUrl: "http://127.0.0.1/jwks" } }),
      "auth.jwksUrl",
    );
    expect((await json(await getSpace(space.slug))).version).toBe(1);
  });

  it("409 conflict when a patch takes another space's issuer/audience pair", async () => {
    const pair = idp();
    await createSpace({ auth: { ...pair, hs256Secret: SECRET_32 } });
    const space = await createSpace({ auth: { ...idp(), hs256Secret: SECRET_32 } });
    const res = await patch(space.slug, { auth: { issuer: pair.issuer, audience: pair.audience } });
    await expectProblem(res, 409, "conflict");
    expect((await json(await getSpace(space.slug))).version).toBe(1);
  });

  it("409 frozen when the slug or id would change", async () => {
    const space = await createSpace();
    const slug = await expectProblem(await patch(space.slug, { slug: uniqueSlug() }), 409, "frozen");
    expect(slug.errors).toEqual([{ path: "slug", message: expect.any(String) }]);
    const id = await expectProblem(await patch(space.slug, { id: "spc_other" }), 409, "frozen");
    expect(id.errors).toEqual([{ path: "id", message: expect.any(String) }]);
    // Deleting the slug is no way around it either (the patch schema wants a string there).
    await expectInvalid(await patch(space.slug, { slug: null }), "slug");
    expect((await json(await getSpace(space.slug))).version).toBe(1);
  });

  it("name: null is 400 path name (a required member cannot be deleted)", async () => {
    const space = await createSpace();
    await expectInvalid(await patch(space.slug, { name: null }), "name");
    await expectInvalid(await patch(space.slug, { name: "" }), "name");
    await expectInvalid(await patch(space.slug, { name: 5 }), "name");
  });

  it("timezone: null resets the default, an invalid timezone is 400 path timezone", async () => {
    const space = await createSpace({ timezone: "Asia/Tokyo" });
    await expectInvalid(await patch(space.slug, { timezone: "Not/AZone" }), "timezone");
    const reset = await patch(space.slug, { timezone: null });
    expect(reset.status, await reset.clone().text()).toBe(200);
    expect((await json(reset)).timezone).toBe("UTC");
  });

  it("unknown fields are 400 with their path", async () => {
    const space = await createSpace();
    await expectInvalid(await patch(space.slug, { colour: "red" }), "colour");
    await expectInvalid(await patch(space.slug, { version: 7 }), "version");
    const withAuth = await createSpace({ auth: { ...idp(), hs256Secret: SECRET_32 } });
    await expectInvalid(await patch(withAuth.slug, { auth: { bogus: true } }), "auth.bogus");
  });

  it("a body that is not an object is 400", async () => {
    const space = await createSpace();
    await expectProblem(await patch(space.slug, ["name"]), 400, "invalid_request");
    await expectProblem(await patch(space.slug, "name"), 400, "invalid_request");
    expect((await json(await getSpace(space.slug))).version).toBe(1);
  });

  it("If-Match with the current ETag succeeds, a stale one is 412", async () => {
    const space = await createSpace();
    const etag = (await getSpace(space.slug)).headers.get("etag")!;
    expect(etag).toBe('"1"');
    const ok = await patch(space.slug, { name: "v2" }, { "If-Match": etag });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(ok.headers.get("etag")).toBe('"2"');

    await expectProblem(await patch(space.slug, { name: "v3" }, { "If-Match": etag }), 412, "precondition_failed");
    expect((await json(await getSpace(space.slug))).name).toBe("v2");

    // A list including the current tag matches; "*" matches an existing space; weak tags never do.
    expect((await patch(space.slug, { name: "v3" }, { "If-Match": '"1", "2"' })).status).toBe(200);
    expect((await patch(space.slug, { name: "v4" }, { "If-Match": "*" })).status).toBe(200);
    await expectProblem(await patch(space.slug, { name: "v5" }, { "If-Match": 'W/"4"' }), 412, "precondition_failed");
    const final = await json(await getSpace(space.slug));
    expect(final).toMatchObject({ name: "v4", version: 4 });
  });

  it("a stale If-Match is 412 even for a patch that would change nothing", async () => {
    const space = await createSpace();
    expect((await patch(space.slug, { name: "v2" })).status).toBe(200);
    await expectProblem(await patch(space.slug, {}, { "If-Match": '"1"' }), 412, "precondition_failed");
  });

  it("404 not_found when patching an unknown space with the root key", async () => {
    await expectProblem(await patch(uniqueSlug("missing"), { name: "x" }), 404, "not_found");
  });

  it("a space admin key may patch its own space", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    const res = await call(`${SPACES}/${space.slug}`, { method: "PATCH", key: key.secret, body: { name: "by key" } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).name).toBe("by key");
  });
});

describe("POST /admin/spaces/{slug}/rotate-signing-key", () => {
  async function jwksKids(slug: string): Promise<string[]> {
    const res = await call(`/api/loyalty/spaces/${slug}/.well-known/jwks.json`, { key: null });
    expect(res.status).toBe(200);
    return (await json(res)).keys.map((k: { kid: string }) => k.kid);
  }

  it("installs a new key and retires the old one for 24 h", async () => {
    const space = await createSpace();
    const [oldKid] = await jwksKids(space.slug);
    expect(oldKid).toEqual(expect.any(String));
    const tokenBefore = await mintToken(space, "u-rot");

    const before = Date.now();
    const res = await call(`${SPACES}/${space.slug}/rotate-signing-key`, { method: "POST" });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body).toEqual({
      kid: expect.any(String),
      alg: "ES256",
      createdAt: expect.stringMatching(ISO_MS),
      retired: [{ kid: oldKid, retiredAt: expect.stringMatching(ISO_MS), verifiesUntil: expect.stringMatching(ISO_MS) }],
    });
    expect(body.kid).not.toBe(oldKid);
    const retiredAt = Date.parse(body.retired[0].retiredAt);
    expect(Math.abs(retiredAt - before)).toBeLessThan(60_000);
    expect(Date.parse(body.retired[0].verifiesUntil) - retiredAt).toBe(24 * 3600 * 1000);

    // Both keys are published; new tokens use the new kid; old tokens still verify.
    expect((await jwksKids(space.slug)).sort()).toEqual([oldKid, body.kid].sort());
    const tokenAfter = await mintToken(space, "u-rot");
    const header = JSON.parse(atob(tokenAfter.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(header.kid).toBe(body.kid);
    expect((await me(tokenBefore, space.slug)).status).toBe(200);
    expect((await me(tokenAfter, space.slug)).status).toBe(200);
  });

  it("a second rotation retires only the then-active key", async () => {
    const space = await createSpace();
    const first = await json(await call(`${SPACES}/${space.slug}/rotate-signing-key`, { method: "POST" }));
    const second = await json(await call(`${SPACES}/${space.slug}/rotate-signing-key`, { method: "POST" }));
    expect(second.retired.map((k: { kid: string }) => k.kid)).toEqual([first.kid]);
    expect(new Set([first.kid, second.kid, first.retired[0].kid]).size).toBe(3);
    expect(await jwksKids(space.slug)).toHaveLength(3);
  });

  it("rotating one space does not touch another space's keys", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const bKids = await jwksKids(b.slug);
    expect((await call(`${SPACES}/${a.slug}/rotate-signing-key`, { method: "POST" })).status).toBe(200);
    expect(await jwksKids(b.slug)).toEqual(bKids);
  });

  it("404 for an unknown space with the root key", async () => {
    await expectProblem(await call(`${SPACES}/${uniqueSlug("missing")}/rotate-signing-key`, { method: "POST" }), 404, "not_found");
  });

  it("GET on the rotate path is 405 with Allow", async () => {
    const space = await createSpace();
    const res = await call(`${SPACES}/${space.slug}/rotate-signing-key`);
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("POST");
  });
});
