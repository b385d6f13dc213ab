import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { requirementFor, SCOPES, scopesAllow, type Requirement, type Scope } from "../../src/auth/scopes";
import { KIND_FIXTURES, call, createDefinition, programmeVersion, setupPrerequisites, viaSelf, type KindFixture } from "../helpers/definitions-api";
import { browserSubscription as newSubscription } from "../helpers/push";
import { BASE, ROOT_KEY, createKey, createSpace, expectProblem, json, uniqueSlug, type TestSpace } from "../helpers/harness";
import { ADMIN, ROUTES, fixture, isRoot, keyIds, spaceState, defineRouteMatrix } from "../helpers/admin-matrix";

// The Admin API security matrix (SPEC §3.1, §3.2): the cases live in
// test/helpers/admin-matrix.ts; this file runs half the routes, the transport check, the
// scope table check, space resolution and the coverage check.

// First in the file: SELF.fetch slows down with every request a file has made (workers-sdk#15446).
describe("the matrix's transport", () => {
  // Two SELF.fetch calls per row (~75 rows), each slower than the one before (see the top
  // of the file): ~3 s alone, close to the default 5 s on a loaded machine.
  it("through SELF.fetch every route answers as through the in-process handler", { timeout: 120_000 }, async () => {
    const f = await fixture();
    for (const route of ROUTES) {
      const label = `${route.method} ${route.template}`;
      const p = await route.prepare(f, f.space.slug);
      const anonymous = await viaSelf(`${ADMIN}${p.path}`, { method: route.method, key: null, space: f.space.slug, body: p.body });
      expect(anonymous.status, label).toBe(401);
      expect((await json(anonymous)).code, label).toBe("missing_credential");
      const key = isRoot(route) ? ROOT_KEY : f.keys.admin;
      const res = await viaSelf(`${ADMIN}${p.path}`, { method: route.method, key, space: isRoot(route) ? undefined : f.space.slug, body: p.body });
      expect(res.status, `${label}: ${await res.clone().text()}`).toBe(route.success);
      await res.arrayBuffer();
    }
  });
});

describe("the matrix agrees with src/auth/scopes.ts", () => {
  it.each(ROUTES.map((r) => [r.method, r.template, r.needs] as const))("%s %s needs %s", (method, template, needs) => {
    const sample = template
      .replace("{slug}", "some-space")
      .replace("{id}", "key_x")
      .replace("{userId}", "u-1")
      .replace("{metric}", "pts")
      .replace("{product}", "scarf");
    expect(requirementFor(method, sample)).toBe(needs);
  });
});

/** The first half of the routes here, the second in admin-auth-matrix-2.test.ts: two files run side by side. */
defineRouteMatrix(ROUTES.filter((_, i) => i % 2 === 0));

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
