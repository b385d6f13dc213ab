import { describe, expect, it } from "vitest";
import { call, createKey, createSpace, expectProblem, json, me, mintToken, type TestSpace } from "../helpers/harness";

// CORS (SPEC §2, §3.3): the User API answers CORS for the space's `corsOrigins` only;
// the Admin API never sends CORS headers.

const APP = "https://app.example";

async function corsSpace(origins: string[] = [APP]): Promise<TestSpace> {
  return createSpace({ corsOrigins: origins });
}

function preflight(space: TestSpace | undefined, origin: string, path = "/api/loyalty/me", method = "GET"): Promise<Response> {
  return call(path, {
    method: "OPTIONS",
    key: null,
    space: space?.slug,
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": method,
      "Access-Control-Request-Headers": "authorization, x-loyalty-space",
    },
  });
}

const list = (value: string | null) => (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);

describe("User API CORS", () => {
  it("answers a preflight from an allowed origin with 204 and the allow headers", async () => {
    const space = await corsSpace();
    const response = await preflight(space, APP);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(list(response.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["get"]));
    expect(list(response.headers.get("access-control-allow-headers"))).toEqual(
      expect.arrayContaining(["authorization", "x-loyalty-space"]),
    );
    expect(list(response.headers.get("vary"))).toContain("origin");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("answers a preflight from another origin with 204 and no allow headers", async () => {
    const space = await corsSpace();
    for (const origin of [
      "https://evil.example",
      "http://app.example",
      "https://app.example:8443",
      "https://app.example.evil.example",
      "https://sub.app.example",
      "null",
      "HTTPS://APP.EXAMPLE",
      `${APP}/`,
    ]) {
      const response = await preflight(space, origin);
      expect(response.status, origin).toBe(204);
      expect(response.headers.get("access-control-allow-origin"), origin).toBeNull();
      expect(response.headers.get("access-control-allow-methods"), origin).toBeNull();
      expect(response.headers.get("access-control-allow-headers"), origin).toBeNull();
      expect(list(response.headers.get("vary"))).toContain("origin");
    }
  });

  it("a space without corsOrigins allows no origin; another space's origins do not leak", async () => {
    const plain = await createSpace();
    await corsSpace();
    const response = await preflight(plain, APP);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const get = await call("/api/loyalty/me", { key: null, space: plain.slug, headers: { Origin: APP } });
    await expectProblem(get, 401, "missing_credential");
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a real GET from the allowed origin carries Access-Control-Allow-Origin and Vary: Origin, on 200 and on 401", async () => {
    const space = await corsSpace();
    const token = await mintToken(space, "cors-user");
    const ok = await call("/api/loyalty/me", {
      key: null,
      space: space.slug,
      headers: { Origin: APP, Authorization: `Bearer ${token}` },
    });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect((await json(ok)).userId).toBe("cors-user");
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    expect(list(ok.headers.get("vary"))).toContain("origin");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();

    const missing = await call("/api/loyalty/me", { key: null, space: space.slug, headers: { Origin: APP } });
    await expectProblem(missing, 401, "missing_credential");
    expect(missing.headers.get("access-control-allow-origin")).toBe(APP);
    expect(list(missing.headers.get("vary"))).toContain("origin");

    const bad = await call("/api/loyalty/me", {
      key: null,
      space: space.slug,
      headers: { Origin: APP, Authorization: "Bearer not-a-token" },
    });
    await expectProblem(bad, 401, "token_invalid");
    expect(bad.headers.get("access-control-allow-origin")).toBe(APP);
    expect(list(bad.headers.get("vary"))).toContain("origin");
    // A browser script can read the request id of a refusal.
    expect(list(bad.headers.get("access-control-expose-headers"))).toContain("x-request-id");
  });

  it("a real GET from another origin gets no Access-Control-Allow-Origin but still Vary: Origin", async () => {
    const space = await corsSpace();
    const token = await mintToken(space, "cors-user");
    const response = await call("/api/loyalty/me", {
      key: null,
      space: space.slug,
      headers: { Origin: "https://evil.example", Authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(list(response.headers.get("vary"))).toContain("origin");
    // Without any Origin: a server-to-server call, no CORS headers.
    const plain = await me(token, space.slug);
    expect(plain.status).toBe(200);
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("follows changes to corsOrigins (PATCH) at once", async () => {
    const space = await corsSpace();
    expect((await preflight(space, APP)).headers.get("access-control-allow-origin")).toBe(APP);
    const patched = await call(`/api/loyalty/admin/spaces/${space.slug}`, {
      method: "PATCH",
      body: { corsOrigins: ["https://other.example"] },
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect((await preflight(space, APP)).headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflight(space, "https://other.example")).headers.get("access-control-allow-origin")).toBe(
      "https://other.example",
    );
  });

  it("refuses corsOrigins that are not bare origins", async () => {
    for (const origin of ["*", "https://app.example/", "https://app.example/path", "ftp://app.example", "app.example", "null"]) {
      const space = await createSpace();
      const response = await call(`/api/loyalty/admin/spaces/${space.slug}`, {
        method: "PATCH",
        body: { corsOrigins: [origin] },
      });
      const problem = await expectProblem(response, 400, "invalid_request");
      expect(problem.errors.map((e: { path: string }) => e.path), origin).toEqual(["corsOrigins[0]"]);
    }
  });
});

describe("Admin API sends no CORS headers", () => {
  it("never sends Access-Control-Allow-Origin, even for an origin the space allows", async () => {
    const space = await corsSpace();
    const key = await createKey(space, ["admin"]);
    const requests: Array<[string, Parameters<typeof call>[1]]> = [
      [`/api/loyalty/admin/spaces/${space.slug}`, { headers: { Origin: APP } }],
      [`/api/loyalty/admin/spaces/${space.slug}`, { key: key.secret, headers: { Origin: APP } }],
      ["/api/loyalty/admin/api-keys", { space: space.slug, headers: { Origin: APP } }],
      ["/api/loyalty/admin/api-keys", { key: null, space: space.slug, headers: { Origin: APP } }],
      ["/api/loyalty/admin/users/u1/token", { method: "POST", space: space.slug, body: {}, headers: { Origin: APP } }],
      [
        "/api/loyalty/admin/users/u1/token",
        {
          method: "OPTIONS",
          key: null,
          space: space.slug,
          headers: { Origin: APP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" },
        },
      ],
      [
        "/api/loyalty/admin/spaces",
        {
          method: "OPTIONS",
          key: null,
          headers: { Origin: APP, "Access-Control-Request-Method": "GET" },
        },
      ],
    ];
    for (const [path, options] of requests) {
      const response = await call(path, options);
      expect(response.status, `${options?.method ?? "GET"} ${path}`).toBeLessThan(500);
      for (const header of [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
        "access-control-expose-headers",
      ]) {
        expect(response.headers.get(header), `${options?.method ?? "GET"} ${path}: ${header}`).toBeNull();
      }
    }
  });

  it("a browser preflight names no space: allowed when some space allows the origin, and only then", async () => {
    const origin = `https://app-${Date.now().toString(36)}.example`;
    const before = await preflight(undefined, origin);
    expect(before.status).toBe(204);
    expect(before.headers.get("access-control-allow-origin")).toBeNull();

    const space = await corsSpace([origin]);
    const response = await preflight(undefined, origin);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(origin);

    // The real request then names its space; only that space's origins may read it.
    const token = await mintToken(space, "u_cors");
    const allowed = await call("/api/loyalty/me", {
      key: null,
      space: space.slug,
      headers: { Authorization: `Bearer ${token}`, Origin: origin },
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(origin);
    const other = await corsSpace(["https://other.example"]);
    const refused = await call("/api/loyalty/me", {
      key: null,
      space: other.slug,
      headers: { Authorization: `Bearer ${await mintToken(other, "u_cors")}`, Origin: origin },
    });
    expect(refused.status).toBe(200);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});
