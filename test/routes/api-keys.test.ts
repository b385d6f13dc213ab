import { describe, expect, it } from "vitest";
import { call, createKey, createSpace, expectProblem, json, uniqueSlug, type TestSpace } from "../helpers/harness";

// Admin API keys (SPEC §3.2): the secret is shown once, only a hash is stored, revocation
// is immediate, and a key never sees another space's keys.

const KEYS = "/api/loyalty/admin/api-keys";
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** `lk_` + base64url of at least 32 random bytes (43 characters for exactly 32). */
const SECRET = /^lk_[A-Za-z0-9_-]{43,}$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function postKey(space: TestSpace, body: unknown, headers: Record<string, string> = {}, key?: string): Promise<Response> {
  return call(KEYS, { space: space.slug, body, headers, key });
}

async function listKeys(space: TestSpace, query = "", key?: string): Promise<Response> {
  return call(`${KEYS}${query}`, { space: space.slug, key });
}

async function allKeys(space: TestSpace, limit = 100): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const res = await listKeys(space, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const page: any = await json(res);
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

async function expectInvalid(response: Response, ...paths: string[]): Promise<any> {
  const problem = await expectProblem(response, 400, "invalid_request");
  expect(problem.errors.map((e: { path: string }) => e.path).sort()).toEqual([...paths].sort());
  return problem;
}

describe("POST /admin/api-keys", () => {
  it("answers 201 with the secret once, and a Location", async () => {
    const space = await createSpace();
    const res = await postKey(space, { name: "backend", scopes: ["events:write", "read"] });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = await json(res);
    expect(created).toEqual({
      id: expect.stringMatching(/^key_[0-9a-z]{26}$/),
      name: "backend",
      scopes: ["events:write", "read"],
      secret: expect.stringMatching(SECRET),
      createdAt: expect.stringMatching(ISO_MS),
      revokedAt: null,
    });
    expect(res.headers.get("location")).toBe(`${KEYS}/${created.id}`);

    // The secret works as a bearer credential.
    const read = await call(`${KEYS}/${created.id}`, { key: created.secret });
    expect(read.status, await read.clone().text()).toBe(200);
  });

  it("never shows the secret again: not in GET, not in the list", async () => {
    const space = await createSpace();
    const created = await createKey(space, ["admin"]);
    const one = await call(`${KEYS}/${created.id}`, { space: space.slug });
    const oneText = await one.text();
    expect(one.status).toBe(200);
    expect(oneText).not.toContain(created.secret);
    const view = JSON.parse(oneText);
    expect(view).not.toHaveProperty("secret");
    expect(view).toEqual({
      id: created.id,
      name: "key admin",
      scopes: ["admin"],
      createdAt: expect.stringMatching(ISO_MS),
      revokedAt: null,
    });

    const list = await listKeys(space);
    const listText = await list.text();
    expect(listText).not.toContain(created.secret);
    expect(listText).not.toContain('"secret"');
    // Not under the key's own credential either.
    const self = await (await call(`${KEYS}/${created.id}`, { key: created.secret })).text();
    expect(self).not.toContain(created.secret);
  });

  it("every key gets a different secret", async () => {
    const space = await createSpace();
    const a = await createKey(space, ["read"]);
    const b = await createKey(space, ["read"]);
    expect(a.secret).not.toBe(b.secret);
    expect(a.id).not.toBe(b.id);
  });

  it("repeated scopes are stored once", async () => {
    const space = await createSpace();
    const res = await postKey(space, { name: "dup", scopes: ["read", "read", "users:write"] });
    expect(res.status, await res.clone().text()).toBe(201);
    expect((await json(res)).scopes).toEqual(["read", "users:write"]);
  });

  it("accepts each scope of SPEC §3.2", async () => {
    const space = await createSpace();
    for (const scope of ["admin", "events:write", "users:write", "read"]) {
      const res = await postKey(space, { name: scope, scopes: [scope] });
      expect(res.status, scope).toBe(201);
      expect((await json(res)).scopes).toEqual([scope]);
    }
  });

  it("an unknown scope is 400 with the scope's path", async () => {
    const space = await createSpace();
    await expectInvalid(await postKey(space, { name: "k", scopes: ["superuser"] }), "scopes[0]");
    await expectInvalid(await postKey(space, { name: "k", scopes: ["read", "write"] }), "scopes[1]");
    await expectInvalid(await postKey(space, { name: "k", scopes: ["READ"] }), "scopes[0]");
    await expectInvalid(await postKey(space, { name: "k", scopes: [7] }), "scopes[0]");
    expect(await allKeys(space)).toEqual([]);
  });

  it("an empty, missing or non-array scope list is 400 path scopes", async () => {
    const space = await createSpace();
    await expectInvalid(await postKey(space, { name: "k", scopes: [] }), "scopes");
    await expectInvalid(await postKey(space, { name: "k" }), "scopes");
    const notArray = await expectProblem(await postKey(space, { name: "k", scopes: "admin" }), 400, "invalid_request");
    expect(new Set(notArray.errors.map((e: { path: string }) => e.path))).toEqual(new Set(["scopes"]));
    expect(await allKeys(space)).toEqual([]);
  });

  it("a missing or blank name is 400 path name, unknown fields 400 with their path", async () => {
    const space = await createSpace();
    await expectInvalid(await postKey(space, { scopes: ["read"] }), "name");
    await expectInvalid(await postKey(space, { name: "  ", scopes: ["read"] }), "name");
    await expectInvalid(await postKey(space, { name: "x".repeat(201), scopes: ["read"] }), "name");
    await expectInvalid(await postKey(space, { name: "k", scopes: ["read"], secret: "lk_mine" }), "secret");
    await expectInvalid(await postKey(space, { name: "k", scopes: ["read"], space: "other" }), "space");
    expect(await allKeys(space)).toEqual([]);
  });

  it("malformed JSON is 400 malformed_json, a form body 415", async () => {
    const space = await createSpace();
    await expectProblem(
      await call(KEYS, { space: space.slug, method: "POST", rawBody: '{"name":', headers: { "Content-Type": "application/json" } }),
      400,
      "malformed_json",
    );
    await expectProblem(
      await call(KEYS, { space: space.slug, method: "POST", rawBody: "name=x", headers: { "Content-Type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
  });

  it("Idempotency-Key is refused with 400 idempotency_not_supported, and no key is created", async () => {
    const space = await createSpace();
    const res = await postKey(space, { name: "k", scopes: ["read"] }, { "Idempotency-Key": "create-key-1" });
    const problem = await expectProblem(res, 400, "idempotency_not_supported");
    expect(problem.errors).toEqual([{ path: "header.idempotency-key", message: expect.any(String) }]);
    expect(JSON.stringify(problem)).not.toMatch(/lk_/);
    expect(await allKeys(space)).toEqual([]);
  });

  it("a space admin key creates keys in its own space without naming it", async () => {
    const space = await createSpace();
    const admin = await createKey(space, ["admin"]);
    const res = await call(KEYS, { key: admin.secret, body: { name: "child", scopes: ["read"] } });
    expect(res.status, await res.clone().text()).toBe(201);
    const child = await json(res);
    expect((await allKeys(space)).map((k) => k.id)).toContain(child.id);
    // The new key acts in the same space.
    const own = await call(`/api/loyalty/admin/spaces/${space.slug}`, { key: child.secret });
    expect(own.status).toBe(200);
  });

  it("the root key without X-Loyalty-Space acts in the default space", async () => {
    const res = await call(KEYS, { body: { name: `default-${uniqueSlug()}`, scopes: ["read"] } });
    expect(res.status, await res.clone().text()).toBe(201);
    const created = await json(res);
    const inDefault = await call(`${KEYS}/${created.id}`, { space: "default" });
    expect(inDefault.status).toBe(200);
    const spaceOfKey = await call("/api/loyalty/admin/spaces/default", { key: created.secret });
    expect(spaceOfKey.status).toBe(200);
    expect((await json(spaceOfKey)).slug).toBe("default");
    // Clean up so the default space does not keep a live key around.
    expect((await call(`${KEYS}/${created.id}`, { method: "DELETE", space: "default" })).status).toBe(204);
  });
});

describe("GET /admin/api-keys", () => {
  it("lists oldest first and pages with a cursor, nextCursor null at the end", async () => {
    const space = await createSpace();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await createKey(space, ["read"])).id);
      await sleep(3); // ids carry millisecond time: keep creation order observable
    }
    const first = await json(await listKeys(space, "?limit=2"));
    expect(first.data.map((k: { id: string }) => k.id)).toEqual(created.slice(0, 2));
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await json(await listKeys(space, `?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`));
    expect(second.data.map((k: { id: string }) => k.id)).toEqual(created.slice(2, 4));
    const third = await json(await listKeys(space, `?limit=2&cursor=${encodeURIComponent(second.nextCursor)}`));
    expect(third.data.map((k: { id: string }) => k.id)).toEqual(created.slice(4));
    expect(third.nextCursor).toBeNull();

    // An exact multiple of the limit ends with nextCursor null, not an empty extra page.
    const exact = await json(await listKeys(space, "?limit=5"));
    expect(exact.data).toHaveLength(5);
    expect(exact.nextCursor).toBeNull();

    const all = await json(await listKeys(space));
    expect(all.data.map((k: { id: string }) => k.id)).toEqual(created);
    expect(all.nextCursor).toBeNull();
  });

  it("an empty space lists nothing", async () => {
    const space = await createSpace();
    const res = await listKeys(space);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: [], nextCursor: null });
  });

  it("revoked keys stay listed with revokedAt", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["read"]);
    expect((await call(`${KEYS}/${key.id}`, { method: "DELETE", space: space.slug })).status).toBe(204);
    const [listed] = await allKeys(space);
    expect(listed).toMatchObject({ id: key.id, revokedAt: expect.stringMatching(ISO_MS) });
  });

  it("a space's key lists only its own space's keys", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const aKey = await createKey(a, ["read"]);
    const bKey = await createKey(b, ["read"]);
    const res = await call(KEYS, { key: aKey.secret });
    expect(res.status).toBe(200);
    const ids = (await json(res)).data.map((k: { id: string }) => k.id);
    expect(ids).toEqual([aKey.id]);
    expect(ids).not.toContain(bKey.id);
  });

  it("a cursor of another space or another list is 400 invalid_cursor", async () => {
    const a = await createSpace();
    const b = await createSpace();
    for (const s of [a, b]) {
      await createKey(s, ["read"]);
      await createKey(s, ["read"]);
    }
    const aCursor = (await json(await listKeys(a, "?limit=1"))).nextCursor;
    expect(aCursor).toEqual(expect.any(String));
    const foreign = await expectProblem(await listKeys(b, `?cursor=${encodeURIComponent(aCursor)}`), 400, "invalid_cursor");
    expect(foreign.errors).toEqual([{ path: "query.cursor", message: expect.any(String) }]);

    const spacesCursor = (await json(await call("/api/loyalty/admin/spaces?limit=1"))).nextCursor;
    expect(spacesCursor).toEqual(expect.any(String));
    await expectProblem(await listKeys(a, `?cursor=${encodeURIComponent(spacesCursor)}`), 400, "invalid_cursor");
    await expectProblem(await listKeys(a, "?cursor=not-a-cursor"), 400, "invalid_cursor");
  });

  it.each([["0"], ["101"], ["abc"]])("limit=%s is 400 path query.limit", async (limit) => {
    const space = await createSpace();
    await expectInvalid(await listKeys(space, `?limit=${limit}`), "query.limit");
  });
});

describe("GET /admin/api-keys/{id}", () => {
  it("404 for an unknown id", async () => {
    const space = await createSpace();
    await expectProblem(await call(`${KEYS}/key_00000000000000000000000000`, { space: space.slug }), 404, "not_found");
    await expectProblem(await call(`${KEYS}/nonsense`, { space: space.slug }), 404, "not_found");
  });

  it("another space's key id is 404, for space keys and for the root key naming this space", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const aKey = await createKey(a, ["admin"]);
    const bKey = await createKey(b, ["read"]);
    await expectProblem(await call(`${KEYS}/${bKey.id}`, { key: aKey.secret }), 404, "not_found");
    await expectProblem(await call(`${KEYS}/${bKey.id}`, { space: a.slug }), 404, "not_found");
    // It is there in its own space.
    expect((await call(`${KEYS}/${bKey.id}`, { space: b.slug })).status).toBe(200);
  });

  it("an over-long id is 400 path path.id", async () => {
    const space = await createSpace();
    await expectInvalid(await call(`${KEYS}/${"k".repeat(65)}`, { space: space.slug }), "path.id");
  });
});

describe("DELETE /admin/api-keys/{id}", () => {
  it("revokes with 204 and the key is refused immediately with 401 invalid_credential", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    expect((await call(KEYS, { key: key.secret })).status).toBe(200);

    const res = await call(`${KEYS}/${key.id}`, { method: "DELETE", space: space.slug });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    const after = await call(KEYS, { key: key.secret });
    const problem = await expectProblem(after, 401, "invalid_credential");
    expect(after.headers.get("www-authenticate")).toBe("Bearer");
    expect(JSON.stringify(problem)).not.toContain(key.secret);
    await expectProblem(await call(`/api/loyalty/admin/spaces/${space.slug}`, { key: key.secret }), 401, "invalid_credential");

    const view = await json(await call(`${KEYS}/${key.id}`, { space: space.slug }));
    expect(view.revokedAt).toMatch(ISO_MS);
  });

  it("revoking twice is 204 both times and keeps the first revocation time", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["read"]);
    expect((await call(`${KEYS}/${key.id}`, { method: "DELETE", space: space.slug })).status).toBe(204);
    const first = (await json(await call(`${KEYS}/${key.id}`, { space: space.slug }))).revokedAt;
    await sleep(5);
    expect((await call(`${KEYS}/${key.id}`, { method: "DELETE", space: space.slug })).status).toBe(204);
    const second = (await json(await call(`${KEYS}/${key.id}`, { space: space.slug }))).revokedAt;
    expect(second).toBe(first);
  });

  it("revoking an unknown id is 404", async () => {
    const space = await createSpace();
    await expectProblem(
      await call(`${KEYS}/key_00000000000000000000000000`, { method: "DELETE", space: space.slug }),
      404,
      "not_found",
    );
  });

  it("another space's key cannot be revoked (404) and keeps working", async () => {
    const a = await createSpace();
    const b = await createSpace();
    const aAdmin = await createKey(a, ["admin"]);
    const bKey = await createKey(b, ["read"]);
    await expectProblem(await call(`${KEYS}/${bKey.id}`, { method: "DELETE", key: aAdmin.secret }), 404, "not_found");
    await expectProblem(await call(`${KEYS}/${bKey.id}`, { method: "DELETE", space: a.slug }), 404, "not_found");
    expect((await call(KEYS, { key: bKey.secret })).status).toBe(200);
    expect((await json(await call(`${KEYS}/${bKey.id}`, { space: b.slug }))).revokedAt).toBeNull();
  });

  it("a key may revoke itself", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    expect((await call(`${KEYS}/${key.id}`, { method: "DELETE", key: key.secret })).status).toBe(204);
    await expectProblem(await call(KEYS, { key: key.secret }), 401, "invalid_credential");
  });

  it("revoking one key leaves the space's other keys working", async () => {
    const space = await createSpace();
    const a = await createKey(space, ["read"]);
    const b = await createKey(space, ["read"]);
    expect((await call(`${KEYS}/${a.id}`, { method: "DELETE", space: space.slug })).status).toBe(204);
    expect((await call(KEYS, { key: b.secret })).status).toBe(200);
  });
});
