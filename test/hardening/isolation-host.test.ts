import { afterAll, describe, expect, it, vi } from "vitest";
import {
  IsolationReport,
  MARK_A,
  MARK_B,
  ROOT_KEY,
  adminCall,
  dispatchWith,
  documentedOperations,
  envWith,
  fill,
  isoSpace,
  settle,
  spaceRows,
  tokenFor,
  type Operation,
  type Reply,
  type Space,
} from "../helpers/isolation";

// The isolation matrix, host and header (issue #10, case 4; SPEC §3.1: a request's space
// comes from the host `{slug}.{SPACE_HOST_SUFFIX}` when the deployment sets a suffix, else
// `X-Loyalty-Space`; "a host and header that disagree are 400 space_mismatch"). The
// deployment's SPACE_HOST_SUFFIX is set for this file only (the same bindings with that var
// changed, src/config.ts parses per env object). For every operation of the OpenAPI
// document — Admin API, User API and public — each way host, header and path can disagree
// is tried with A's credentials (admin key, root key, X's user token): a mismatch is 400
// space_mismatch, B's host with A's credential is 403 wrong_space / 401, and nothing of B
// is ever answered or changed.

vi.setConfig({ testTimeout: 60_000 });

const report = new IsolationReport("isolation-host.test.ts");
const SUFFIX = "spaces.test";
const hostEnv = envWith({ SPACE_HOST_SUFFIX: SUFFIX });
const hostOf = (space: Space) => `${space.slug}.${SUFFIX}`;

interface Fix {
  a: Space;
  b: Space;
  /** X's tokens in A and in B. */
  xa: string;
  xb: string;
  bRows: Record<string, unknown[]>;
  ops: Operation[];
}

let fixturePromise: Promise<Fix> | undefined;
function fixture(): Promise<Fix> {
  fixturePromise ??= (async () => {
    const [a, b] = await Promise.all([isoSpace(MARK_A, { publicAttributes: ["mark"] }), isoSpace(MARK_B, { publicAttributes: ["mark"] })]);
    for (const [space, mark] of [
      [a, MARK_A],
      [b, MARK_B],
    ] as const) {
      for (const [path, body] of [
        ["/metrics/pts", { name: `Points ${mark}`, kind: "currency" }],
        ["/users/ux", { attributes: { mark } }],
      ] as const) {
        const w = await adminCall(path, { method: "PUT", key: space.admin, body });
        expect(w.status, w.text).toBe(201);
      }
    }
    const [xa, xb] = await Promise.all([tokenFor(a, "ux"), tokenFor(b, "ux")]);
    const bRows = await settle(b.id, 1);
    return { a, b, xa, xb, bRows, ops: await documentedOperations() };
  })();
  return fixturePromise;
}

/** Path parameters: the slug named in the path (when the route has one) and harmless ids. */
function pathOf(op: Operation, slug: string): string {
  const path = fill(op.path, { slug, id: "x1", userId: "u-ctl", metric: "pts", product: "p1", segmentId: "s1", deliveryId: "msg_x", eventId: "e1" });
  return op.params.some((p) => p.in === "query" && p.name === "endpoint") ? `${path}?endpoint=${encodeURIComponent("https://fcm.googleapis.com/fcm/send/x")}` : path;
}

interface Send {
  host: string;
  header?: string;
  bearer?: string;
  /** The slug a /spaces/{slug} path names (default: the host's space). */
  pathSlug: string;
}

async function send(op: Operation, s: Send): Promise<Reply> {
  const headers = new Headers();
  if (s.bearer) headers.set("Authorization", `Bearer ${s.bearer}`);
  if (s.header) headers.set("X-Loyalty-Space", s.header);
  let body: string | undefined;
  if (["POST", "PUT", "PATCH"].includes(op.method)) {
    body = "{}";
    headers.set("Content-Type", "application/json");
  }
  return dispatchWith(hostEnv, new Request(`https://${s.host}${pathOf(op, s.pathSlug)}`, { method: op.method, headers, body }));
}

const SPACE_ERRORS = ["wrong_space", "space_mismatch", "insufficient_scope"];
const foreign = (f: Fix) => ({ markers: [MARK_B, f.b.id, f.b.admin] });

function check(f: Fix, op: Operation, a: Reply, status: number, code: string, label: string): void {
  report.count(op.key);
  report.noLeak(a, foreign(f), `${op.key}: ${label}`);
  report.problem(a, status, code, `${op.key}: ${label}`);
}

describe("coverage", () => {
  it("every operation of the OpenAPI document is tried here", async () => {
    const f = await fixture();
    const kinds = new Set(f.ops.map((op) => op.security));
    expect([...kinds].sort()).toEqual(["admin", "public", "user"]);
    expect(f.ops.length).toBeGreaterThan(100);
  });
});

describe("Admin API: host and header", () => {
  it("every space-scoped operation: A's key on B's host is 403; any disagreement of host, header and path is 400", async () => {
    const f = await fixture();
    const admin = f.ops.filter((op) => op.security === "admin");
    for (const op of admin) {
      const hasSlug = op.path.includes("{slug}");
      const rootOnly = op.path === "/api/loyalty/admin/spaces";
      if (rootOnly) {
        check(f, op, await send(op, { host: hostOf(f.b), bearer: f.a.admin, pathSlug: f.b.slug }), 403, "insufficient_scope", "A's key on B's host");
        check(f, op, await send(op, { host: hostOf(f.a), header: f.b.slug, bearer: ROOT_KEY, pathSlug: f.a.slug }), 400, "space_mismatch", "root: host A, header B");
        continue;
      }
      check(f, op, await send(op, { host: hostOf(f.b), bearer: f.a.admin, pathSlug: f.b.slug }), 403, "wrong_space", "A's key on B's host");
      check(f, op, await send(op, { host: hostOf(f.b), bearer: f.a.read, pathSlug: f.b.slug }), 403, "wrong_space", "A's read key on B's host");
      check(f, op, await send(op, { host: `${f.b.slug.toUpperCase()}.SPACES.TEST:8443`, bearer: f.a.admin, pathSlug: f.b.slug }), 403, "wrong_space", "A's key on B's host (upper case, port)");
      for (const bearer of [f.a.admin, ROOT_KEY]) {
        const who = bearer === ROOT_KEY ? "root" : "A's key";
        check(f, op, await send(op, { host: hostOf(f.a), header: f.b.slug, bearer, pathSlug: f.a.slug }), 400, "space_mismatch", `${who}: host A, header B`);
        check(f, op, await send(op, { host: hostOf(f.b), header: f.a.slug, bearer, pathSlug: f.a.slug }), 400, "space_mismatch", `${who}: host B, header A`);
        if (hasSlug) {
          check(f, op, await send(op, { host: hostOf(f.a), bearer, pathSlug: f.b.slug }), 400, "space_mismatch", `${who}: host A, path B`);
          check(f, op, await send(op, { host: hostOf(f.a), header: f.a.slug, bearer, pathSlug: f.b.slug }), 400, "space_mismatch", `${who}: host and header A, path B`);
        }
      }
      // A host with more labels names no valid space: 400 at header.host, not a fallback.
      const deep = await send(op, { host: `x.${hostOf(f.b)}`, bearer: f.a.admin, pathSlug: f.b.slug });
      check(f, op, deep, 400, "invalid_request", "A's key on a sub-subdomain of B's host");
      expect(deep.body.errors).toEqual([{ path: "header.host", message: expect.any(String) }]);
      // Control: on A's own host, A's key reaches the route (whatever the route answers).
      const own = await send(op, { host: hostOf(f.a), bearer: f.a.admin, pathSlug: f.a.slug });
      report.count(op.key);
      report.noLeak(own, foreign(f), `${op.key}: A's key on A's host`);
      expect(own.status, `${op.key}: ${own.text}`).not.toBe(500);
      expect(SPACE_ERRORS, `${op.key}: ${own.text}`).not.toContain(own.body?.code);
    }
  });

  it("the root key on B's host acts in B (the root key names any space); A's key without a header on B's host is still 403", async () => {
    const f = await fixture();
    const op = f.ops.find((o) => o.key === "GET /api/loyalty/admin/metrics/{id}")!;
    const root = await dispatchWith(hostEnv, new Request(`https://${hostOf(f.b)}/api/loyalty/admin/metrics/pts`, { headers: { Authorization: `Bearer ${ROOT_KEY}` } }));
    report.count(op.key);
    expect(root.status).toBe(200);
    expect(root.text).toContain(MARK_B);
    const key = await dispatchWith(hostEnv, new Request(`https://${hostOf(f.b)}/api/loyalty/admin/metrics/pts`, { headers: { Authorization: `Bearer ${f.a.admin}` } }));
    check(f, op, key, 403, "wrong_space", "A's key on B's host, no header");
  });

  it("hosts outside the suffix name no space: the header (or the key) decides, and a space key still cannot cross", async () => {
    const f = await fixture();
    const op = f.ops.find((o) => o.key === "GET /api/loyalty/admin/metrics/{id}")!;
    const at = (host: string, bearer: string, header?: string) =>
      dispatchWith(hostEnv, new Request(`https://${host}/api/loyalty/admin/metrics/pts`, { headers: { Authorization: `Bearer ${bearer}`, ...(header ? { "X-Loyalty-Space": header } : {}) } }));
    for (const host of [SUFFIX, `${f.a.slug}.${SUFFIX}.evil.example`, `${f.a.slug}-${SUFFIX}`, "loyalty.test"]) {
      // A's key naming B by header: wrong_space, whatever the host.
      check(f, op, await at(host, f.a.admin, f.b.slug), 403, "wrong_space", `A's key, host ${host}, header B`);
      // A's key alone: its own space.
      const own = await at(host, f.a.admin);
      report.count(op.key);
      expect(own.status, own.text).toBe(200);
      expect(own.text).toContain(MARK_A);
    }
    // The fully qualified form of A's host (trailing dot) names A like the plain form: a
    // header naming B disagrees with it, for the root key and A's key alike.
    for (const bearer of [ROOT_KEY, f.a.admin]) check(f, op, await at(`${f.a.slug}.${SUFFIX}.`, bearer, f.b.slug), 400, "space_mismatch", "FQDN host A, header B");
    const fqdn = await at(`${f.a.slug}.${SUFFIX}.`, f.a.admin);
    report.count(op.key);
    expect(fqdn.status, fqdn.text).toBe(200);
    expect(fqdn.text).toContain(MARK_A);
  });
});

describe("User API: host and header", () => {
  it("every /me operation: X's token of A on B's host is 401; any disagreement is 400; X's token of B on A's host is 401", async () => {
    const f = await fixture();
    for (const op of f.ops.filter((o) => o.security === "user")) {
      check(f, op, await send(op, { host: hostOf(f.b), bearer: f.xa, pathSlug: f.b.slug }), 401, "token_invalid", "X's A token on B's host");
      check(f, op, await send(op, { host: hostOf(f.a), header: f.b.slug, bearer: f.xa, pathSlug: f.a.slug }), 400, "space_mismatch", "host A, header B");
      check(f, op, await send(op, { host: hostOf(f.b), header: f.a.slug, bearer: f.xa, pathSlug: f.a.slug }), 400, "space_mismatch", "host B, header A");
      check(f, op, await send(op, { host: hostOf(f.a), bearer: f.xb, pathSlug: f.a.slug }), 401, "token_invalid", "X's B token on A's host");
      check(f, op, await send(op, { host: `x.${hostOf(f.a)}`, bearer: f.xa, pathSlug: f.a.slug }), 400, "invalid_request", "sub-subdomain of A's host");
      // Without a token: the space is resolved (and a mismatch refused) before authentication.
      check(f, op, await send(op, { host: hostOf(f.a), header: f.b.slug, pathSlug: f.a.slug }), 400, "space_mismatch", "anonymous, host A, header B");
      // Control: X's token on A's own host.
      const own = await send(op, { host: hostOf(f.a), bearer: f.xa, pathSlug: f.a.slug });
      report.count(op.key);
      report.noLeak(own, foreign(f), `${op.key}: X on A's host`);
      expect(own.status, `${op.key}: ${own.text}`).not.toBe(500);
      expect(["token_invalid", ...SPACE_ERRORS], `${op.key}: ${own.text}`).not.toContain(own.body?.code);
    }
  });

  it("X's own profile by host: A's host answers A's X, B's host B's X (each with its own token only)", async () => {
    const f = await fixture();
    const op = f.ops.find((o) => o.key === "GET /api/loyalty/me")!;
    const inA = await send(op, { host: hostOf(f.a), bearer: f.xa, pathSlug: f.a.slug });
    const inB = await send(op, { host: hostOf(f.b), bearer: f.xb, pathSlug: f.b.slug });
    report.count(op.key, 2);
    expect(inA.body).toMatchObject({ userId: "ux", attributes: { mark: MARK_A }, space: f.a.slug });
    expect(inB.body).toMatchObject({ userId: "ux", attributes: { mark: MARK_B }, space: f.b.slug });
  });
});

describe("public routes: host, header and path", () => {
  it("a space's JWKS: path B on A's host (or with A's header) is 400; B's host answers B's keys; health names no space", async () => {
    const f = await fixture();
    const bKids = (await dispatchWith(hostEnv, new Request(`https://any.example/api/loyalty/spaces/${f.b.slug}/.well-known/jwks.json`))).body.keys.map((k: { kid: string }) => k.kid);
    expect(bKids.length).toBeGreaterThan(0);
    for (const op of f.ops.filter((o) => o.security === "public")) {
      if (op.path.includes("{slug}")) {
        check(f, op, await send(op, { host: hostOf(f.a), pathSlug: f.b.slug }), 400, "space_mismatch", "host A, path B");
        check(f, op, await send(op, { host: "any.example", header: f.a.slug, pathSlug: f.b.slug }), 400, "space_mismatch", "header A, path B");
        check(f, op, await send(op, { host: hostOf(f.b), header: f.a.slug, pathSlug: f.b.slug }), 400, "space_mismatch", "host B, header A, path B");
      } else if (op.path.endsWith("jwks.json")) {
        check(f, op, await send(op, { host: hostOf(f.a), header: f.b.slug, pathSlug: f.a.slug }), 400, "space_mismatch", "host A, header B");
        const onB = await send(op, { host: hostOf(f.b), pathSlug: f.b.slug });
        report.count(op.key);
        expect(onB.body.keys.map((k: { kid: string }) => k.kid)).toEqual(bKids);
      } else {
        const health = await send(op, { host: hostOf(f.b), header: f.a.slug, pathSlug: f.a.slug });
        report.count(op.key);
        expect(health.status, health.text).toBe(200);
        report.noLeak(health, foreign(f), `${op.key}`);
      }
    }
  });
});

describe("without SPACE_HOST_SUFFIX the host names nothing", () => {
  it("A's key with B's host and no header acts in A; with B's header it is 403", async () => {
    const f = await fixture();
    const plain = envWith({ SPACE_HOST_SUFFIX: "" });
    const at = (bearer: string, header?: string) =>
      dispatchWith(plain, new Request(`https://${hostOf(f.b)}/api/loyalty/admin/metrics/pts`, { headers: { Authorization: `Bearer ${bearer}`, ...(header ? { "X-Loyalty-Space": header } : {}) } }));
    const own = await at(f.a.admin);
    report.count("GET /api/loyalty/admin/metrics/{id}");
    expect(own.status).toBe(200);
    expect(own.text).toContain(MARK_A);
    const op = f.ops.find((o) => o.key === "GET /api/loyalty/admin/metrics/{id}")!;
    check(f, op, await at(f.a.admin, f.b.slug), 403, "wrong_space", "A's key, B's header, no host mode");
    const me = await dispatchWith(plain, new Request(`https://${hostOf(f.b)}/api/loyalty/me`, { headers: { Authorization: `Bearer ${f.xa}`, "X-Loyalty-Space": f.a.slug } }));
    report.count("GET /api/loyalty/me");
    expect(me.body).toMatchObject({ userId: "ux", space: f.a.slug });
  });
});

describe("space B after the file", () => {
  it("B's D1 rows are as before, and every documented operation was tried", async () => {
    const f = await fixture();
    report.unchanged(await spaceRows(f.b.id), f.bRows, "B's D1 rows");
    expect(f.ops.map((op) => op.key).filter((k) => !report.routes.has(k))).toEqual([]);
  });
});

afterAll(() => report.print());
