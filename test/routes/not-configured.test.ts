import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newApp } from "../../src/app";
import { ROOT_KEY, call, createKey, createSpace, expectProblem, json, uniqueSlug } from "../helpers/harness";

// Deployment configuration (SPEC §3.1): the root key is optional and fails closed; with no
// root key and no API key at all the Admin API says it is not configured (503); host-based
// space resolution under SPACE_HOST_SUFFIX. This file has its own D1, so it starts with
// no API keys. The tests run in order and the first one relies on that.

const ADMIN = "/api/loyalty/admin";
const app = newApp();

type TestEnv = typeof env;

/** Calls the app directly under a modified environment (SELF always has the test bindings). */
async function callWith(
  overrides: Partial<Record<keyof TestEnv, unknown>>,
  url: string,
  init: { method?: string; key?: string | null; space?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.key) headers.set("Authorization", `Bearer ${init.key}`);
  if (init.space) headers.set("X-Loyalty-Space", init.space);
  let body: string | undefined;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers.set("Content-Type", "application/json");
  }
  const request = new Request(url.startsWith("http") ? url : `https://loyalty.test${url}`, {
    method: init.method ?? (body ? "POST" : "GET"),
    headers,
    body,
  });
  return app.fetch(request, { ...env, ...overrides } as TestEnv, createExecutionContext());
}

const NO_ROOT = { ADMIN_ROOT_KEY: undefined };

async function activeKeyCount(): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL").first<{ n: number }>();
  return row!.n;
}

describe("no root key configured", () => {
  it("with no API key either, the Admin API answers 503 not_configured; a space key brings it back", async () => {
    expect(await activeKeyCount()).toBe(0);

    // Anything at all, credential or not, and whatever the route.
    for (const [method, path, key] of [
      ["GET", `${ADMIN}/spaces`, null],
      ["GET", `${ADMIN}/spaces/default`, ROOT_KEY],
      ["POST", `${ADMIN}/spaces`, ROOT_KEY],
      ["GET", `${ADMIN}/api-keys`, "garbage"],
      ["POST", `${ADMIN}/api-keys`, `lk_${"A".repeat(43)}`],
      ["POST", `${ADMIN}/users/u-1/token`, ROOT_KEY],
      ["GET", `${ADMIN}/no-such-route`, null],
    ] as const) {
      const res = await callWith(NO_ROOT, path, {
        method,
        key,
        body: method === "POST" ? { slug: uniqueSlug(), name: "x" } : undefined,
      });
      await expectProblem(res, 503, "not_configured");
    }
    // An empty or blank secret is the same as none.
    await expectProblem(await callWith({ ADMIN_ROOT_KEY: "" }, `${ADMIN}/spaces`, { key: ROOT_KEY }), 503, "not_configured");
    await expectProblem(await callWith({ ADMIN_ROOT_KEY: "   " }, `${ADMIN}/spaces`, { key: ROOT_KEY }), 503, "not_configured");
    // Nothing was created meanwhile.
    expect(await activeKeyCount()).toBe(0);

    // The public surface does not depend on the Admin API's configuration.
    expect((await callWith(NO_ROOT, "/api/loyalty/health")).status).toBe(200);

    // Under the normal environment the root key works, and creates a space key.
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);

    // Without a root key: the root key value is refused (401), the space key still works.
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces/${space.slug}`, { key: ROOT_KEY }), 401, "invalid_credential");
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces`, { key: ROOT_KEY }), 401, "invalid_credential");
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces`), 401, "missing_credential");
    await expectProblem(await callWith({ ADMIN_ROOT_KEY: "" }, `${ADMIN}/api-keys`, { key: "" }), 401, "missing_credential");

    const own = await callWith(NO_ROOT, `${ADMIN}/spaces/${space.slug}`, { key: key.secret });
    expect(own.status, await own.clone().text()).toBe(200);
    expect((await json(own)).id).toBe(space.id);
    const created = await callWith(NO_ROOT, `${ADMIN}/api-keys`, { key: key.secret, body: { name: "second", scopes: ["read"] } });
    expect(created.status, await created.clone().text()).toBe(201);
    const second = await json(created);

    // Still root-only routes are closed to space keys.
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces`, { key: key.secret }), 403, "insufficient_scope");

    // Once every key is revoked, nothing can authenticate: 503 again.
    for (const id of [second.id, key.id]) {
      const res = await callWith(NO_ROOT, `${ADMIN}/api-keys/${id}`, { method: "DELETE", key: key.secret });
      expect(res.status).toBe(204);
    }
    expect(await activeKeyCount()).toBe(0);
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces/${space.slug}`), 503, "not_configured");
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces/${space.slug}`, { key: ROOT_KEY }), 503, "not_configured");
    // A revoked key is still told that it was revoked.
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/spaces/${space.slug}`, { key: key.secret }), 401, "invalid_credential");
    // The root-configured deployment is unaffected.
    expect((await call(`${ADMIN}/spaces/${space.slug}`)).status).toBe(200);
  });

  it("with the root key configured, no credential is 401, not 503, even with no API key", async () => {
    // The previous test revoked every key.
    expect(await activeKeyCount()).toBe(0);
    const res = await callWith({}, `${ADMIN}/spaces`);
    await expectProblem(res, 401, "missing_credential");
    expect((await callWith({}, `${ADMIN}/spaces`, { key: ROOT_KEY })).status).toBe(200);
  });

  it("a space key keeps working without the root key while other keys exist", async () => {
    const space = await createSpace();
    const reader = await createKey(space, ["read"]);
    const res = await callWith(NO_ROOT, `${ADMIN}/api-keys`, { key: reader.secret });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).data.map((k: { id: string }) => k.id)).toEqual([reader.id]);
    // A garbage credential is 401 (not 503) as soon as some key exists.
    await expectProblem(await callWith(NO_ROOT, `${ADMIN}/api-keys`, { key: "garbage" }), 401, "invalid_credential");
  });
});

describe("host-based space resolution (SPACE_HOST_SUFFIX)", () => {
  const HOSTED = { SPACE_HOST_SUFFIX: "loyalty.test" };
  const at = (slug: string, path: string) => `https://${slug}.loyalty.test${path}`;

  it("{slug}.{suffix} names the space", async () => {
    const space = await createSpace();
    const res = await callWith(HOSTED, at(space.slug, `${ADMIN}/spaces/${space.slug}`), { key: ROOT_KEY });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).id).toBe(space.id);
  });

  it("the host decides the space of routes that have no slug in their path", async () => {
    const space = await createSpace();
    const created = await callWith(HOSTED, at(space.slug, `${ADMIN}/api-keys`), {
      key: ROOT_KEY,
      body: { name: "by host", scopes: ["read"] },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const { id } = await json(created);
    // It landed in the host's space, not in `default`.
    expect((await call(`${ADMIN}/api-keys/${id}`, { space: space.slug })).status).toBe(200);
    await expectProblem(await call(`${ADMIN}/api-keys/${id}`, { space: "default" }), 404, "not_found");
  });

  it("the host's suffix is matched case-insensitively and the suffix setting is normalised", async () => {
    const space = await createSpace();
    const res = await callWith(
      { SPACE_HOST_SUFFIX: ".Loyalty.Test." },
      `https://${space.slug.toUpperCase()}.LOYALTY.TEST${ADMIN}/spaces/${space.slug}`,
      { key: ROOT_KEY },
    );
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it("host and a different X-Loyalty-Space: 400 space_mismatch", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const res = await callWith(HOSTED, at(a.slug, `${ADMIN}/spaces/${a.slug}`), { key: ROOT_KEY, space: b.slug });
    await expectProblem(res, 400, "space_mismatch");
    const keys = await callWith(HOSTED, at(a.slug, `${ADMIN}/api-keys`), { key: ROOT_KEY, space: b.slug });
    await expectProblem(keys, 400, "space_mismatch");
    // Agreeing host and header are fine.
    expect((await callWith(HOSTED, at(a.slug, `${ADMIN}/api-keys`), { key: ROOT_KEY, space: a.slug })).status).toBe(200);
  });

  it("host and a different path slug: 400 space_mismatch", async () => {
    const a = await createSpace();
    const b = await createSpace();
    await expectProblem(await callWith(HOSTED, at(a.slug, `${ADMIN}/spaces/${b.slug}`), { key: ROOT_KEY }), 400, "space_mismatch");
  });

  it("a space key used on another space's host: 403 wrong_space", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const aKey = await createKey(a, ["admin"]);
    await expectProblem(await callWith(HOSTED, at(b.slug, `${ADMIN}/api-keys`), { key: aKey.secret }), 403, "wrong_space");
    const own = await callWith(HOSTED, at(a.slug, `${ADMIN}/api-keys`), { key: aKey.secret });
    expect(own.status).toBe(200);
  });

  it("an unknown space's host with the root key: 404", async () => {
    const missing = uniqueSlug("missing");
    await expectProblem(await callWith(HOSTED, at(missing, `${ADMIN}/api-keys`), { key: ROOT_KEY }), 404, "not_found");
  });

  it("a host label that is not a slug: 400 path header.host", async () => {
    const space = await createSpace();
    for (const host of [`a.${space.slug}.loyalty.test`, "bad_label.loyalty.test", "-x.loyalty.test"]) {
      const res = await callWith(HOSTED, `https://${host}${ADMIN}/api-keys`, { key: ROOT_KEY });
      const problem = await expectProblem(res, 400, "invalid_request");
      expect(problem.errors).toEqual([{ path: "header.host", message: expect.any(String) }]);
    }
  });

  it("the bare suffix or another host names no space: the header or default decides", async () => {
    const space = await createSpace();
    const bare = await callWith(HOSTED, `https://loyalty.test${ADMIN}/spaces/${space.slug}`, { key: ROOT_KEY });
    expect(bare.status).toBe(200);
    const other = await callWith(HOSTED, `https://api.example.com${ADMIN}/api-keys`, { key: ROOT_KEY, space: space.slug });
    expect(other.status).toBe(200);
    // A look-alike host that merely ends with the suffix text is not under it.
    const lookalike = await callWith(HOSTED, `https://${space.slug}loyalty.test${ADMIN}/spaces/${space.slug}`, { key: ROOT_KEY });
    expect(lookalike.status).toBe(200);
  });

  it("without SPACE_HOST_SUFFIX the host is ignored", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const res = await callWith({}, at(a.slug, `${ADMIN}/spaces/${b.slug}`), { key: ROOT_KEY });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).id).toBe(b.id);
  });

  it("the User API resolves the space from the host too", async () => {
    const space = await createSpace();
    const minted = await callWith(HOSTED, at(space.slug, `${ADMIN}/users/u-host/token`), { key: ROOT_KEY, body: {} });
    expect(minted.status, await minted.clone().text()).toBe(201);
    const { token } = await json(minted);
    const me = await callWith(HOSTED, at(space.slug, "/api/loyalty/me"), { key: token });
    expect(me.status, await me.clone().text()).toBe(200);
    expect(await json(me)).toMatchObject({ userId: "u-host", space: space.slug });
    // The same token on the default space's host is another space's token.
    const other = await callWith(HOSTED, "https://default.loyalty.test/api/loyalty/me", { key: token });
    await expectProblem(other, 401, "token_invalid");
  });
});
