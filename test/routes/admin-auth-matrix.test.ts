import { describe, expect, it } from "vitest";
import { requirementFor, SCOPES, scopesAllow, type Requirement, type Scope } from "../../src/auth/scopes";
import { BASE, ROOT_KEY, call, createKey, createSpace, expectProblem, json, uniqueSlug, type TestSpace } from "../helpers/harness";

// The shared Admin API security matrix (SPEC §3.1, §3.2): every admin route, every way a
// credential can be wrong. A route added to the Admin API must be added to ROUTES below;
// the coverage test at the end compares the table with the OpenAPI document.

const ADMIN = "/api/loyalty/admin";

interface Fixture {
  /** The space the requests act in, with one key per scope and a revoked admin key. */
  space: TestSpace;
  keys: Record<Scope, string>;
  revoked: string;
  /** Another space and its admin key. */
  other: TestSpace;
  otherAdmin: string;
}

interface Prepared {
  path: string;
  body?: unknown;
}

interface RouteCase {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** As in the OpenAPI document, relative to /api/loyalty/admin. */
  template: string;
  /** What src/auth/scopes.ts requires (checked against requirementFor below). */
  needs: Requirement;
  /** Status of a successful call by a sufficient credential. */
  success: number;
  /** A valid request acting in `slug` (the fixture's space unless a test names another). */
  prepare(f: Fixture, slug: string): Promise<Prepared>;
  /** Observable state a refused request must leave unchanged. */
  snapshot?(f: Fixture, p: Prepared): Promise<unknown>;
}

async function spaceState(slug: string): Promise<unknown> {
  const res = await call(`${ADMIN}/spaces/${slug}`);
  return res.status === 200 ? (({ name, version }) => ({ name, version }))(await json(res)) : res.status;
}

async function jwksKids(slug: string): Promise<string[]> {
  const res = await call(`/api/loyalty/spaces/${slug}/.well-known/jwks.json`, { key: null });
  return (await json(res)).keys.map((k: { kid: string }) => k.kid).sort();
}

async function keyIds(slug: string): Promise<string[]> {
  const res = await call(`${ADMIN}/api-keys?limit=100`, { space: slug });
  return (await json(res)).data.map((k: { id: string }) => k.id);
}

/** A fresh key to read or revoke; created with the root key. */
async function victimKey(slug: string): Promise<string> {
  const res = await call(`${ADMIN}/api-keys`, { space: slug, body: { name: "victim", scopes: ["read"] } });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await json(res)).id;
}

// | method | path template                          | needs       | success | body                         |
// |--------|----------------------------------------|-------------|---------|------------------------------|
// | POST   | /spaces                                | root        | 201     | { slug, name }               |
// | GET    | /spaces                                | root        | 200     |                              |
// | GET    | /spaces/{slug}                         | read        | 200     |                              |
// | PATCH  | /spaces/{slug}                         | admin       | 200     | { name }                     |
// | POST   | /spaces/{slug}/rotate-signing-key      | admin       | 200     | (none)                       |
// | POST   | /api-keys                              | admin       | 201     | { name, scopes: ["read"] }   |
// | GET    | /api-keys                              | read        | 200     |                              |
// | GET    | /api-keys/{id}                         | read        | 200     |                              |
// | DELETE | /api-keys/{id}                         | admin       | 204     |                              |
// | POST   | /users/{userId}/token                  | users:write | 201     | { ttlSeconds: 600 }          |
const ROUTES: RouteCase[] = [
  {
    method: "POST",
    template: "/spaces",
    needs: "root",
    success: 201,
    prepare: async () => {
      const slug = uniqueSlug("m");
      return { path: "/spaces", body: { slug, name: "matrix" } };
    },
    snapshot: async (_f, p) => spaceState((p.body as { slug: string }).slug),
  },
  {
    method: "GET",
    template: "/spaces",
    needs: "root",
    success: 200,
    prepare: async () => ({ path: "/spaces?limit=5" }),
  },
  {
    method: "GET",
    template: "/spaces/{slug}",
    needs: "read",
    success: 200,
    prepare: async (_f, slug) => ({ path: `/spaces/${slug}` }),
  },
  {
    method: "PATCH",
    template: "/spaces/{slug}",
    needs: "admin",
    success: 200,
    prepare: async (_f, slug) => ({ path: `/spaces/${slug}`, body: { name: `patched ${uniqueSlug()}` } }),
    snapshot: async (f) => spaceState(f.space.slug),
  },
  {
    method: "POST",
    template: "/spaces/{slug}/rotate-signing-key",
    needs: "admin",
    success: 200,
    prepare: async (_f, slug) => ({ path: `/spaces/${slug}/rotate-signing-key` }),
    snapshot: async (f) => jwksKids(f.space.slug),
  },
  {
    method: "POST",
    template: "/api-keys",
    needs: "admin",
    success: 201,
    prepare: async () => ({ path: "/api-keys", body: { name: "matrix", scopes: ["read"] } }),
    snapshot: async (f) => keyIds(f.space.slug),
  },
  {
    method: "GET",
    template: "/api-keys",
    needs: "read",
    success: 200,
    prepare: async () => ({ path: "/api-keys" }),
  },
  {
    method: "GET",
    template: "/api-keys/{id}",
    needs: "read",
    success: 200,
    prepare: async (f) => ({ path: `/api-keys/${await victimKey(f.space.slug)}` }),
  },
  {
    method: "DELETE",
    template: "/api-keys/{id}",
    needs: "admin",
    success: 204,
    prepare: async (f) => ({ path: `/api-keys/${await victimKey(f.space.slug)}` }),
    snapshot: async (f, p) => (await json(await call(`${ADMIN}${p.path}`, { space: f.space.slug }))).revokedAt,
  },
  {
    method: "POST",
    template: "/users/{userId}/token",
    needs: "users:write",
    success: 201,
    prepare: async () => ({ path: "/users/matrix-user/token", body: { ttlSeconds: 600 } }),
  },
];

let fixturePromise: Promise<Fixture> | undefined;
/** Built once per file (storage is shared by the tests of a file). */
function fixture(): Promise<Fixture> {
  fixturePromise ??= (async () => {
    const space = await createSpace();
    const other = await createSpace();
    const keys = {} as Record<Scope, string>;
    for (const scope of SCOPES) keys[scope] = (await createKey(space, [scope])).secret;
    const revokedKey = await createKey(space, ["admin"]);
    const revoke = await call(`${ADMIN}/api-keys/${revokedKey.id}`, { method: "DELETE", space: space.slug });
    expect(revoke.status).toBe(204);
    const otherAdmin = (await createKey(other, ["admin"])).secret;
    return { space, keys, revoked: revokedKey.secret, other, otherAdmin };
  })();
  return fixturePromise;
}

async function send(
  route: RouteCase,
  p: Prepared,
  options: { key: string | null; space?: string; headers?: Record<string, string> },
): Promise<Response> {
  return call(`${ADMIN}${p.path}`, {
    method: route.method,
    key: options.key,
    space: options.space,
    headers: options.headers,
    body: p.body,
  });
}

/** Runs a request that must be refused, and checks it changed nothing. */
async function refused(
  route: RouteCase,
  f: Fixture,
  options: { key: string | null; space?: string; headers?: Record<string, string> },
  status: number,
  code: string,
): Promise<any> {
  const p = await route.prepare(f, f.space.slug);
  const before = await route.snapshot?.(f, p);
  const problem = await expectProblem(await send(route, p, options), status, code);
  expect(await route.snapshot?.(f, p)).toEqual(before);
  return problem;
}

const isRoot = (route: RouteCase) => route.needs === "root";

describe("the matrix agrees with src/auth/scopes.ts", () => {
  it.each(ROUTES.map((r) => [r.method, r.template, r.needs] as const))("%s %s needs %s", (method, template, needs) => {
    const sample = template.replace("{slug}", "some-space").replace("{id}", "key_x").replace("{userId}", "u-1");
    expect(requirementFor(method, sample)).toBe(needs);
  });
});

for (const route of ROUTES) {
  describe(`${route.method} ${ADMIN}${route.template} (needs ${route.needs})`, () => {
    it("no Authorization: 401 missing_credential with WWW-Authenticate", async () => {
      const f = await fixture();
      const p = await route.prepare(f, f.space.slug);
      const res = await send(route, p, { key: null, space: f.space.slug });
      await expectProblem(res, 401, "missing_credential");
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
    });

    it("a non-Bearer scheme is 401 missing_credential", async () => {
      const f = await fixture();
      await refused(route, f, { key: null, space: f.space.slug, headers: { Authorization: `Basic ${btoa(`root:${ROOT_KEY}`)}` } }, 401, "missing_credential");
    });

    it.each([
      ["garbage", "garbage"],
      ["an unknown lk_ key", `lk_${"A".repeat(43)}`],
      ["the root key with one character changed", `${ROOT_KEY.slice(0, -1)}${ROOT_KEY.endsWith("0") ? "1" : "0"}`],
      ["the root key with a suffix", `${ROOT_KEY}x`],
      ["an over-long lk_ key", `lk_${"A".repeat(200)}`],
    ])("%s as bearer: 401 invalid_credential", async (_label, bearer) => {
      const f = await fixture();
      const problem = await refused(route, f, { key: bearer, space: f.space.slug }, 401, "invalid_credential");
      expect(JSON.stringify(problem)).not.toContain(bearer);
    });

    it("a revoked key: 401 invalid_credential", async () => {
      const f = await fixture();
      await refused(route, f, { key: f.revoked, space: f.space.slug }, 401, "invalid_credential");
      await refused(route, f, { key: f.revoked }, 401, "invalid_credential");
    });

    it("anonymous requests are refused before the body or the space header is looked at", async () => {
      const f = await fixture();
      const p = await route.prepare(f, f.space.slug);
      const res = await call(`${ADMIN}${p.path}`, {
        method: route.method,
        key: null,
        headers: { "X-Loyalty-Space": "Bad_Slug!", "Content-Type": "application/json" },
        rawBody: route.method === "GET" || route.method === "DELETE" ? undefined : "{not json",
      });
      await expectProblem(res, 401, "missing_credential");
    });

    if (isRoot(route)) {
      it.each(SCOPES.map((s) => [s]))("a space key with scope %s: 403 insufficient_scope (root only)", async (scope) => {
        const f = await fixture();
        await refused(route, f, { key: f.keys[scope] }, 403, "insufficient_scope");
        await refused(route, f, { key: f.keys[scope], space: f.space.slug }, 403, "insufficient_scope");
      });

      it("another space's admin key naming this space: 403 insufficient_scope (root only)", async () => {
        const f = await fixture();
        await refused(route, f, { key: f.otherAdmin, space: f.space.slug }, 403, "insufficient_scope");
      });
    } else {
      it.each(SCOPES.map((s) => [s, scopesAllow([s], route.needs)] as const))(
        "a key with scope %s (allowed: %s)",
        async (scope, allowed) => {
          const f = await fixture();
          if (allowed) {
            const p = await route.prepare(f, f.space.slug);
            const res = await send(route, p, { key: f.keys[scope] });
            expect(res.status, await res.clone().text()).toBe(route.success);
          } else {
            const problem = await refused(route, f, { key: f.keys[scope] }, 403, "insufficient_scope");
            expect(problem.detail).toContain(route.needs);
            await refused(route, f, { key: f.keys[scope], space: f.space.slug }, 403, "insufficient_scope");
          }
        },
      );

      it("another space's admin key naming this space with X-Loyalty-Space: 403 wrong_space", async () => {
        const f = await fixture();
        await refused(route, f, { key: f.otherAdmin, space: f.space.slug }, 403, "wrong_space");
      });

      it("another space's key without admin scope naming this space: still 403 wrong_space", async () => {
        const f = await fixture();
        const readKey = (await createKey(f.other, ["read"])).secret;
        await refused(route, f, { key: readKey, space: f.space.slug }, 403, "wrong_space");
      });

      it("the root key with X-Loyalty-Space of an unknown space: 404 not_found", async () => {
        const f = await fixture();
        const missing = uniqueSlug("missing");
        const p = await route.prepare(f, missing);
        await expectProblem(await send(route, p, { key: ROOT_KEY, space: missing }), 404, "not_found");
      });

      it("the root key naming this space succeeds", async () => {
        const f = await fixture();
        const p = await route.prepare(f, f.space.slug);
        const res = await send(route, p, { key: ROOT_KEY, space: f.space.slug });
        expect(res.status, await res.clone().text()).toBe(route.success);
      });

      it("an admin key of this space naming its own space succeeds", async () => {
        const f = await fixture();
        const p = await route.prepare(f, f.space.slug);
        const res = await send(route, p, { key: f.keys.admin, space: f.space.slug });
        expect(res.status, await res.clone().text()).toBe(route.success);
      });
    }

    it("X-Loyalty-Space: Bad_Slug! is 400 path header.x-loyalty-space (root key and space key)", async () => {
      const f = await fixture();
      for (const key of [ROOT_KEY, f.keys.admin]) {
        const p = await route.prepare(f, f.space.slug);
        const before = await route.snapshot?.(f, p);
        const res = await send(route, p, { key, headers: { "X-Loyalty-Space": "Bad_Slug!" } });
        // A space key on a root-only route is refused for its scope first.
        if (isRoot(route) && key !== ROOT_KEY) {
          await expectProblem(res, 403, "insufficient_scope");
          continue;
        }
        const problem = await expectProblem(res, 400, "invalid_request");
        expect(problem.errors).toEqual([{ path: "header.x-loyalty-space", message: expect.any(String) }]);
        expect(await route.snapshot?.(f, p)).toEqual(before);
      }
    });

    if (isRoot(route)) {
      it("the root key succeeds", async () => {
        const f = await fixture();
        const p = await route.prepare(f, f.space.slug);
        const res = await send(route, p, { key: ROOT_KEY });
        expect(res.status, await res.clone().text()).toBe(route.success);
      });
    }
  });
}

describe("space resolution for space keys", () => {
  it("a space key without X-Loyalty-Space acts in its own space", async () => {
    const f = await fixture();
    const list = await call(`${ADMIN}/api-keys?limit=100`, { key: f.keys.read });
    expect(list.status).toBe(200);
    const ids = (await json(list)).data.map((k: { id: string }) => k.id);
    expect(ids).toEqual(await keyIds(f.space.slug));

    const own = await call(`${ADMIN}/spaces/${f.space.slug}`, { key: f.keys.read });
    expect((await json(own)).id).toBe(f.space.id);

    const minted = await call(`${ADMIN}/users/u-own/token`, { key: f.keys["users:write"], body: {} });
    expect(minted.status, await minted.clone().text()).toBe(201);
    const { token } = await json(minted);
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload).toMatchObject({ sub: "u-own", aud: `loyalty:${f.space.id}`, iss: `urn:loyalty:space:${f.space.id}` });
  });

  it("a space key naming its own space with X-Loyalty-Space is accepted", async () => {
    const f = await fixture();
    expect((await call(`${ADMIN}/api-keys`, { key: f.keys.read, space: f.space.slug })).status).toBe(200);
  });

  it("a space key on another space's path is 403 wrong_space, even without the header", async () => {
    const f = await fixture();
    await expectProblem(await call(`${ADMIN}/spaces/${f.other.slug}`, { key: f.keys.admin }), 403, "wrong_space");
    await expectProblem(
      await call(`${ADMIN}/spaces/${f.other.slug}`, { method: "PATCH", key: f.keys.admin, body: { name: "mine" } }),
      403,
      "wrong_space",
    );
    await expectProblem(
      await call(`${ADMIN}/spaces/${f.other.slug}/rotate-signing-key`, { method: "POST", key: f.keys.admin }),
      403,
      "wrong_space",
    );
    expect(await spaceState(f.other.slug)).toMatchObject({ version: 1 });
  });

  it("a header and a path naming different spaces are 400 space_mismatch", async () => {
    const f = await fixture();
    await expectProblem(await call(`${ADMIN}/spaces/${f.other.slug}`, { space: f.space.slug }), 400, "space_mismatch");
    await expectProblem(
      await call(`${ADMIN}/spaces/${f.other.slug}`, { key: f.keys.admin, space: f.space.slug }),
      400,
      "space_mismatch",
    );
  });

  it("users:write can mint user tokens but not create API keys", async () => {
    const f = await fixture();
    const minted = await call(`${ADMIN}/users/u-writer/token`, { key: f.keys["users:write"], body: { ttlSeconds: 120 } });
    expect(minted.status, await minted.clone().text()).toBe(201);
    const before = await keyIds(f.space.slug);
    await expectProblem(
      await call(`${ADMIN}/api-keys`, { key: f.keys["users:write"], body: { name: "escalate", scopes: ["admin"] } }),
      403,
      "insufficient_scope",
    );
    expect(await keyIds(f.space.slug)).toEqual(before);
  });

  it("read can GET its own space but not PATCH it", async () => {
    const f = await fixture();
    expect((await call(`${ADMIN}/spaces/${f.space.slug}`, { key: f.keys.read })).status).toBe(200);
    const before = await spaceState(f.space.slug);
    await expectProblem(
      await call(`${ADMIN}/spaces/${f.space.slug}`, { method: "PATCH", key: f.keys.read, body: { name: "nope" } }),
      403,
      "insufficient_scope",
    );
    expect(await spaceState(f.space.slug)).toEqual(before);
  });

  it("events:write can neither read settings nor mint tokens", async () => {
    const f = await fixture();
    await expectProblem(await call(`${ADMIN}/spaces/${f.space.slug}`, { key: f.keys["events:write"] }), 403, "insufficient_scope");
    await expectProblem(await call(`${ADMIN}/api-keys`, { key: f.keys["events:write"] }), 403, "insufficient_scope");
    await expectProblem(
      await call(`${ADMIN}/users/u-x/token`, { key: f.keys["events:write"], body: {} }),
      403,
      "insufficient_scope",
    );
  });

  it("a key with several scopes gets the union", async () => {
    const f = await fixture();
    const both = (await createKey(f.space, ["read", "users:write"])).secret;
    expect((await call(`${ADMIN}/api-keys`, { key: both })).status).toBe(200);
    expect((await call(`${ADMIN}/users/u-both/token`, { key: both, body: {} })).status).toBe(201);
    await expectProblem(
      await call(`${ADMIN}/api-keys`, { key: both, body: { name: "x", scopes: ["read"] } }),
      403,
      "insufficient_scope",
    );
  });

  it("an unknown admin path is 401 without a credential and 404 with one (no route enumeration)", async () => {
    await expectProblem(await call(`${ADMIN}/no-such-thing`, { key: null }), 401, "missing_credential");
    await expectProblem(await call(`${ADMIN}/no-such-thing`, { key: "garbage" }), 401, "invalid_credential");
    await expectProblem(await call(`${ADMIN}/no-such-thing`), 404, "not_found");
  });

  it("a known admin path with the wrong method is 401 anonymously, 405 with Allow when authenticated", async () => {
    const f = await fixture();
    await expectProblem(await call(`${ADMIN}/spaces/${f.space.slug}`, { method: "DELETE", key: null }), 401, "missing_credential");
    const res = await call(`${ADMIN}/spaces/${f.space.slug}`, { method: "DELETE", space: f.space.slug });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")?.split(", ").sort()).toEqual(["GET", "HEAD", "PATCH"]);
  });

  it("the Admin API sends no CORS headers", async () => {
    const f = await fixture();
    const res = await call(`${ADMIN}/spaces/${f.space.slug}`, { headers: { Origin: "https://evil.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const anon = await call(`${ADMIN}/spaces/${f.space.slug}`, { key: null, headers: { Origin: "https://evil.example" } });
    expect(anon.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("matrix coverage", () => {
  it("every Admin API operation of the OpenAPI document is in ROUTES", async () => {
    const res = await call("/api/loyalty/openapi.json", { key: null });
    expect(res.status).toBe(200);
    const doc = await json(res);
    const documented: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      if (!path.startsWith(`${ADMIN}/`)) continue;
      for (const method of Object.keys(operations)) {
        if (["get", "post", "put", "patch", "delete"].includes(method)) {
          documented.push(`${method.toUpperCase()} ${path.slice(ADMIN.length)}`);
        }
      }
    }
    const tested = ROUTES.map((r) => `${r.method} ${r.template}`);
    // A failure here names an admin route without a row in ROUTES: add one.
    expect(documented.filter((op) => !tested.includes(op))).toEqual([]);
    expect(tested.filter((op) => !documented.includes(op))).toEqual([]);
    expect(BASE).toMatch(/^https:/);
  });
});
