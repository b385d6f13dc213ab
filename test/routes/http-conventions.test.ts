import { SELF, createExecutionContext, env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newApp } from "../../src/app";
import { ERROR_CODES } from "../../src/errors";
import { BASE, ROOT_KEY, call, createSpace, expectProblem, json, uniqueSlug } from "../helpers/harness";

// HTTP conventions of SPEC §2 / §10 / §11, through the real Worker (SELF.fetch):
// request ids, RFC 9457 problems, 404/405/413/415, JSON hygiene, OpenAPI and docs.

const REQUEST_ID = /^req_[0-9a-hjkmnp-tv-z]{26}$/;
const SPACES = "/api/loyalty/admin/spaces";
const KIB = 1024;

/** A raw-text POST to an admin path with the root key (JSON.stringify would drop __proto__). */
function rawPost(path: string, text: string | Uint8Array, contentType = "application/json", method = "POST") {
  return call(path, { method, rawBody: text, headers: { "Content-Type": contentType } });
}

/** A valid space-create body plus extra raw JSON members (inserted as text). */
function spaceBodyWith(extraMembers: string): string {
  const slug = uniqueSlug("hc");
  return `{"slug":"${slug}","name":"HC ${slug}"${extraMembers ? "," + extraMembers : ""}}`;
}

function nested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("X-Request-Id", () => {
  it("is on every kind of response and equals the problem's requestId", async () => {
    const responses: Array<[string, Response]> = [
      ["health", await call("/api/loyalty/health", { key: null })],
      ["head health", await call("/api/loyalty/health", { key: null, method: "HEAD" })],
      ["openapi", await call("/api/loyalty/openapi.json", { key: null })],
      ["docs", await call("/api/loyalty/docs", { key: null })],
      ["admin list", await call(SPACES)],
      ["admin 401", await call(SPACES, { key: null })],
      ["404", await call("/nope", { key: null })],
      ["405", await call("/api/loyalty/health", { key: null, method: "DELETE" })],
      ["415", await rawPost(SPACES, "slug=a", "text/plain")],
      ["me 401", await call("/api/loyalty/me", { key: null })],
    ];
    const ids = new Set<string>();
    for (const [name, response] of responses) {
      const id = response.headers.get("x-request-id");
      expect(id, name).toMatch(REQUEST_ID);
      ids.add(id!);
      if (response.headers.get("content-type") === "application/problem+json") {
        expect((await json(response)).requestId, name).toBe(id);
      } else {
        await response.arrayBuffer();
      }
    }
    expect(ids.size, "every request gets its own id").toBe(responses.length);
  });
});

describe("problem details (RFC 9457)", () => {
  it("has exactly the documented members, a code from the closed list and a matching status", async () => {
    const response = await rawPost(SPACES, spaceBodyWith(`"bogus":1`));
    const problem = await expectProblem(response, 400, "invalid_request");
    expect(Object.keys(problem).sort()).toEqual(["code", "detail", "errors", "requestId", "status", "title", "type"]);
    expect(problem.type).toBe("about:blank");
    expect(typeof problem.title).toBe("string");
    expect(problem.title.length).toBeGreaterThan(0);
    expect(typeof problem.detail).toBe("string");
    expect(problem.errors).toEqual([{ path: "bogus", message: "unknown field" }]);
    expect(ERROR_CODES[problem.code as keyof typeof ERROR_CODES]).toBe(problem.status);
  });

  it("answers problems without field errors with the same members minus errors", async () => {
    const problem = await expectProblem(await call("/definitely/not/here", { key: null }), 404, "not_found");
    expect(Object.keys(problem).sort()).toEqual(["code", "detail", "requestId", "status", "title", "type"]);
    expect(problem.requestId).toMatch(REQUEST_ID);
  });
});

describe("unknown routes", () => {
  it.each([
    ["outside the API", "/nope", null],
    ["under /api/loyalty", "/api/loyalty/nope", null],
    ["under the admin API with the root key", "/api/loyalty/admin/nope", ROOT_KEY],
    ["a deeper admin path with the root key", "/api/loyalty/admin/spaces/default/nope/more", ROOT_KEY],
  ])("%s → 404 not_found", async (_name, path, key) => {
    await expectProblem(await call(path, { key }), 404, "not_found");
  });

  it("POSTs to an unknown admin route are 404 too, not 415 or 500", async () => {
    await expectProblem(await call("/api/loyalty/admin/nope", { body: { a: 1 } }), 404, "not_found");
  });
});

describe("wrong method on a known path", () => {
  it("DELETE /api/loyalty/health → 405 with Allow", async () => {
    const response = await call("/api/loyalty/health", { key: null, method: "DELETE" });
    await expectProblem(response, 405, "method_not_allowed");
    const allow = response.headers.get("allow")!.split(",").map((m) => m.trim());
    expect(allow.sort()).toEqual(["GET", "HEAD"]);
  });

  it("PUT /api/loyalty/admin/api-keys with the root key → 405 with Allow", async () => {
    const response = await call("/api/loyalty/admin/api-keys", { method: "PUT", body: { name: "x", scopes: ["read"] } });
    await expectProblem(response, 405, "method_not_allowed");
    const allow = response.headers.get("allow")!.split(",").map((m) => m.trim());
    expect(allow.sort()).toEqual(["GET", "HEAD", "POST"]);
  });

  it("DELETE on a parameterised admin path → 405 listing its methods", async () => {
    const response = await call("/api/loyalty/admin/spaces/default", { method: "DELETE" });
    await expectProblem(response, 405, "method_not_allowed");
    const allow = response.headers.get("allow")!.split(",").map((m) => m.trim());
    expect(allow.sort()).toEqual(["GET", "HEAD", "PATCH"]);
  });

  it("HEAD /api/loyalty/health → 200 without a body", async () => {
    const response = await call("/api/loyalty/health", { key: null, method: "HEAD" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });
});

describe("body size limit (64 KiB)", () => {
  const big = () => `{"slug":"big","name":"${"x".repeat(64 * KIB)}"}`;

  it("a body with an honest Content-Length over the limit → 413", async () => {
    const body = big();
    const response = await SELF.fetch(`${BASE}${SPACES}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ROOT_KEY}`, "Content-Type": "application/json", "Content-Length": String(body.length) },
      body,
    });
    await expectProblem(response, 413, "payload_too_large");
  });

  it("a streamed body without Content-Length over the limit → 413", async () => {
    const chunk = new TextEncoder().encode("x".repeat(4 * KIB));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"slug":"big","name":"`));
      },
      pull(controller) {
        if (sent >= 80 * KIB) {
          controller.enqueue(new TextEncoder().encode(`"}`));
          controller.close();
          return;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request(`${BASE}${SPACES}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ROOT_KEY}`, "Content-Type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    await expectProblem(await SELF.fetch(request), 413, "payload_too_large");
  });

  it("a streamed body under the limit is read whole (the stream path is not 413 by itself)", async () => {
    const slug = uniqueSlug("st");
    const bytes = new TextEncoder().encode(JSON.stringify({ slug, name: "streamed" }));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 5));
        controller.enqueue(bytes.slice(5));
        controller.close();
      },
    });
    const response = await SELF.fetch(`${BASE}${SPACES}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ROOT_KEY}`, "Content-Type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status, await response.clone().text()).toBe(201);
    expect((await json(response)).slug).toBe(slug);
  });

  it("a body just under 64 KiB is not 413 (it fails validation instead)", async () => {
    const body = `{"slug":"ok","name":"${"x".repeat(60 * KIB)}"}`;
    const problem = await expectProblem(await rawPost(SPACES, body), 400, "invalid_request");
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain("name");
  });
});

describe("media type (415)", () => {
  it.each([
    ["text/plain", `{"slug":"a","name":"b"}`],
    ["application/x-www-form-urlencoded", "slug=a&name=b"],
    ["application/merge-patch+json", `{"slug":"a","name":"b"}`],
    ["application/jsonx", `{"slug":"a","name":"b"}`],
  ])("POST with %s → 415 unsupported_media_type", async (type, body) => {
    await expectProblem(await rawPost(SPACES, body, type), 415, "unsupported_media_type");
  });

  it("POST with a body and no Content-Type → 415", async () => {
    const response = await SELF.fetch(`${BASE}${SPACES}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ROOT_KEY}` },
      body: new TextEncoder().encode(`{"slug":"a","name":"b"}`),
    });
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    await expectProblem(response, 415, "unsupported_media_type");
  });

  it("application/json with parameters is accepted", async () => {
    const response = await rawPost(SPACES, spaceBodyWith(""), "Application/JSON; charset=utf-8");
    expect(response.status, await response.clone().text()).toBe(201);
  });

  it("PATCH accepts application/merge-patch+json and application/json; not text/plain", async () => {
    const space = await createSpace();
    const path = `${SPACES}/${space.slug}`;
    const merge = await rawPost(path, `{"name":"Renamed"}`, "application/merge-patch+json", "PATCH");
    expect(merge.status, await merge.clone().text()).toBe(200);
    expect((await json(merge)).name).toBe("Renamed");
    const plain = await rawPost(path, `{"name":"Renamed again"}`, "application/json", "PATCH");
    expect(plain.status, await plain.clone().text()).toBe(200);
    expect((await json(plain)).name).toBe("Renamed again");
    await expectProblem(await rawPost(path, `{"name":"x"}`, "text/plain", "PATCH"), 415, "unsupported_media_type");
  });
});

describe("malformed bodies", () => {
  it.each([
    ["truncated", `{"slug":"a",`],
    ["trailing comma", `{"slug":"a",}`],
    ["single quotes", `{'slug':'a'}`],
    ["not JSON at all", `hello`],
    ["two documents", `{}{}`],
  ])("%s → 400 malformed_json", async (_name, body) => {
    await expectProblem(await rawPost(SPACES, body), 400, "malformed_json");
  });

  it("invalid UTF-8 bytes → 400 malformed_json", async () => {
    const prefix = new TextEncoder().encode(`{"slug":"a","name":"`);
    const bytes = new Uint8Array([...prefix, 0xff, 0xfe, 0x22, 0x7d]);
    await expectProblem(await rawPost(SPACES, bytes), 400, "malformed_json");
  });

  it("a lone surrogate half encoded as bytes (CESU) → 400 malformed_json", async () => {
    const prefix = new TextEncoder().encode(`{"slug":"a","name":"`);
    const bytes = new Uint8Array([...prefix, 0xed, 0xa0, 0x80, 0x22, 0x7d]);
    await expectProblem(await rawPost(SPACES, bytes), 400, "malformed_json");
  });

  it("the detail does not echo the whole body", async () => {
    const secret = "s3cr3t-".repeat(20);
    const problem = await expectProblem(await rawPost(SPACES, `{"name":"${secret}",`), 400, "malformed_json");
    expect(JSON.stringify(problem)).not.toContain(secret);
  });
});

describe("plain data: __proto__, constructor, prototype", () => {
  it.each([
    ["top-level __proto__", `"__proto__":{}`, "__proto__"],
    ["top-level constructor", `"constructor":{}`, "constructor"],
    ["top-level prototype", `"prototype":1`, "prototype"],
    ["nested __proto__ in auth", `"auth":{"__proto__":{}}`, "auth.__proto__"],
    ["nested constructor in auth", `"auth":{"issuer":"i","constructor":{"prototype":1}}`, "auth.constructor"],
    ["deep prototype", `"auth":{"jwks":{"keys":[{"kty":"EC","prototype":"x"}]}}`, "auth.jwks.keys[0].prototype"],
    ["inside an array", `"corsOrigins":[{"__proto__":null}]`, "corsOrigins[0].__proto__"],
  ])("%s → 400 invalid_request at %s", async (_name, members, path) => {
    const problem = await expectProblem(await rawPost(SPACES, spaceBodyWith(members)), 400, "invalid_request");
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors[0].path).toBe(path);
  });

  it("the raw nested-__proto__ body of the brief is refused on POST /spaces", async () => {
    const problem = await expectProblem(await rawPost(SPACES, `{"auth":{"__proto__":{}}}`), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "auth.__proto__", message: expect.any(String) }]);
  });

  it("is refused on PATCH too, and nothing is written", async () => {
    const space = await createSpace();
    const path = `${SPACES}/${space.slug}`;
    const problem = await expectProblem(
      await rawPost(path, `{"name":"Hacked","__proto__":{"name":"x"}}`, "application/merge-patch+json", "PATCH"),
      400,
      "invalid_request",
    );
    expect(problem.errors[0].path).toBe("__proto__");
    const after = await json(await call(path));
    expect(after.name).toBe(`Space ${space.slug}`);
    expect(after.version).toBe(1);
  });

  it("a value equal to a forbidden word is fine (only keys are refused)", async () => {
    const response = await rawPost(SPACES, `{"slug":"${uniqueSlug("pv")}","name":"__proto__"}`);
    expect(response.status, await response.clone().text()).toBe(201);
  });
});

describe("nesting depth", () => {
  it("64 levels pass the plain-data check (the schema then names the field)", async () => {
    // root object (1) + 63 nested arrays = 64 levels
    const problem = await expectProblem(await rawPost(SPACES, spaceBodyWith(`"x":${nested(63)}`)), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "x", message: "unknown field" }]);
  });

  it("65 levels → 400 invalid_request about nesting", async () => {
    const problem = await expectProblem(await rawPost(SPACES, spaceBodyWith(`"x":${nested(64)}`)), 400, "invalid_request");
    expect(problem.detail).toMatch(/nesting/);
    expect(problem.errors[0].path).toMatch(/^x(\[0\])+$/);
  });

  it("thousands of levels → 400, never a 500", async () => {
    await expectProblem(await rawPost(SPACES, nested(20_000)), 400, "invalid_request");
    await expectProblem(await rawPost(SPACES, `{"a":`.repeat(5000) + "1" + "}".repeat(5000)), 400, "invalid_request");
  });
});

describe("unknown fields on strict schemas", () => {
  it("top level of a space → the key's path", async () => {
    const problem = await expectProblem(await rawPost(SPACES, spaceBodyWith(`"colour":"red"`)), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "colour", message: "unknown field" }]);
  });

  it("nested in auth → auth.<key>", async () => {
    const auth = `"auth":{"issuer":"https://idp.example","audience":"a","hs256Secret":"${"s".repeat(40)}","extra":true}`;
    const problem = await expectProblem(await rawPost(SPACES, spaceBodyWith(auth)), 400, "invalid_request");
    expect(problem.errors).toContainEqual({ path: "auth.extra", message: "unknown field" });
  });

  it("an odd key is quoted in the path", async () => {
    const problem = await expectProblem(await rawPost(SPACES, spaceBodyWith(`"a.b":1`)), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: `["a.b"]`, message: "unknown field" }]);
  });

  it("api-key create → the key's path", async () => {
    const space = await createSpace();
    const response = await call("/api/loyalty/admin/api-keys", {
      space: space.slug,
      body: { name: "k", scopes: ["read"], secret: "mine" },
    });
    const problem = await expectProblem(response, 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "secret", message: "unknown field" }]);
  });

  it("user-token mint → the key's path", async () => {
    const space = await createSpace();
    const response = await call("/api/loyalty/admin/users/u1/token", { space: space.slug, body: { ttlSeconds: 60, sub: "other" } });
    const problem = await expectProblem(response, 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "sub", message: "unknown field" }]);
  });
});

describe("500s are generic", () => {
  it("an unexpected throw in a route → 500 internal_error without internals, logged with the requestId", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const app = newApp();
    app.get("/api/loyalty/boom", () => {
      throw new Error("secret internals");
    });
    const response = await app.fetch(new Request(`${BASE}/api/loyalty/boom`), env, createExecutionContext());
    const problem = await expectProblem(response, 500, "internal_error");
    const text = JSON.stringify(problem);
    expect(text).not.toContain("secret internals");
    expect(text).not.toMatch(/at .*\.ts|stack/i);
    expect(problem.errors).toBeUndefined();
    const logged = errors.mock.calls.map((args) => args.join(" ")).join("\n");
    expect(logged).toContain(problem.requestId);
    expect(logged).toContain("secret internals");
  });

  it("a failing database → 500 internal_error without internals", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const brokenD1 = {
      prepare() {
        throw new Error("D1_ERROR: secret internals in the database layer");
      },
      batch() {
        throw new Error("D1_ERROR: secret internals in the database layer");
      },
      exec() {
        throw new Error("D1_ERROR: secret internals in the database layer");
      },
    } as unknown as D1Database;
    const request = new Request(`${BASE}${SPACES}?limit=5`, { headers: { Authorization: `Bearer ${ROOT_KEY}` } });
    const response = await newApp().fetch(request, { ...env, DB: brokenD1 }, createExecutionContext());
    const problem = await expectProblem(response, 500, "internal_error");
    expect(JSON.stringify(problem)).not.toMatch(/secret internals|D1_ERROR/);
  });
});

describe("Cache-Control on the Admin API", () => {
  it("successful admin responses are no-store", async () => {
    const list = await call(SPACES);
    expect(list.status).toBe(200);
    expect(list.headers.get("cache-control")).toBe("no-store");
    const slug = uniqueSlug("cc");
    const created = await call(SPACES, { body: { slug, name: "cc" } });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const one = await call(`${SPACES}/${slug}`);
    expect(one.status).toBe(200);
    expect(one.headers.get("cache-control")).toBe("no-store");
  });

  it.each([
    ["404 from a route", () => call("/api/loyalty/admin/api-keys/key_nope")],
    ["400 from validation", () => call(SPACES, { body: { slug: "Bad Slug", name: "x" } })],
    ["401 from authentication", () => call(SPACES, { key: null })],
    ["415 from body parsing", () => rawPost(SPACES, "x", "text/plain")],
  ])("admin errors are no-store too: %s", async (_name, send) => {
    const response = await send();
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.headers.get("cache-control")).toBe("no-store");
  });
});

describe("OpenAPI document and reference page", () => {
  const EXPECTED_PATHS = [
    "/api/loyalty/health",
    "/api/loyalty/.well-known/jwks.json",
    "/api/loyalty/spaces/{slug}/.well-known/jwks.json",
    "/api/loyalty/admin/spaces",
    "/api/loyalty/admin/spaces/{slug}",
    "/api/loyalty/admin/spaces/{slug}/rotate-signing-key",
    "/api/loyalty/admin/api-keys",
    "/api/loyalty/admin/api-keys/{id}",
    "/api/loyalty/admin/users/{userId}/token",
    "/api/loyalty/me",
  ];

  async function document(): Promise<any> {
    const response = await call("/api/loyalty/openapi.json", { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    return json(response);
  }

  it("is OpenAPI 3.1 with both security schemes", async () => {
    const doc = await document();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.components.securitySchemes.adminKey).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes.userToken).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("lists the foundation's routes", async () => {
    const doc = await document();
    const paths = Object.keys(doc.paths).map((p) => p.replace(/\/$/, "") || "/");
    for (const path of EXPECTED_PATHS) expect(paths, path).toContain(path);
    expect(doc.paths["/api/loyalty/admin/spaces"]).toHaveProperty("post");
    expect(doc.paths["/api/loyalty/admin/spaces"]).toHaveProperty("get");
    expect(doc.paths["/api/loyalty/admin/spaces/{slug}"]).toHaveProperty("patch");
    expect(doc.paths["/api/loyalty/admin/api-keys/{id}"]).toHaveProperty("delete");
    expect(doc.paths["/api/loyalty/admin/spaces"].post.security).toEqual([{ adminKey: [] }]);
  });

  it("lists every route registered in the app, with its methods", async () => {
    const doc = await document();
    const documented = new Map<string, Set<string>>(
      Object.entries(doc.paths as Record<string, object>).map(([p, item]) => [p.replace(/\/$/, "") || "/", new Set(Object.keys(item))]),
    );
    const undocumented = ["/api/loyalty/openapi.json", "/api/loyalty/docs"];
    const missing: string[] = [];
    for (const route of newApp().routes) {
      if (route.method === "ALL" || undocumented.includes(route.path)) continue;
      const path = route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\/$/, "") || "/";
      if (!documented.get(path)?.has(route.method.toLowerCase())) missing.push(`${route.method} ${path}`);
    }
    expect(missing).toEqual([]);
  });

  it("/api/loyalty/docs is an HTML page pointing at the document", async () => {
    const response = await call("/api/loyalty/docs", { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toContain("/api/loyalty/openapi.json");
  });
});
