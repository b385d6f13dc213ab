import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { ROOT_KEY, answer, callDirect, uniqueSlug, type Answer, type CallOptions, type TestSpace } from "./harness";

// Shared by the isolation matrix (issue #10, test/hardening/isolation-*.test.ts): two
// spaces whose data carry markers, a space's state as rows and objects (to prove a
// request of the other space changed nothing), the leak check every answer goes
// through, the OpenAPI operations the matrix must cover, and the ISOLATION-REPORT line.
//
// Transport: the Worker's fetch handler in-process (harness.callDirect), not SELF.fetch,
// which gets slower with every call a file makes (cloudflare/workers-sdk#15446).

export const ADMIN = "/api/loyalty/admin";
export const ME = "/api/loyalty/me";
export const OPENAPI = "/api/loyalty/openapi.json";

/** Written into everything space A (or a user X) owns; never in an answer about someone else. */
export const MARK_A = "isoMarkAlpha7f3c";
/** Written into everything space B owns: no answer to a credential of A may contain it. */
export const MARK_B = "isoMarkBravo9d1e";

export type Reply = Answer;

export interface Space extends TestSpace {
  /** An admin-scoped key of the space. */
  admin: string;
  /** A read-scoped key of the space. */
  read: string;
  readId: string;
  adminId: string;
}

/** A space with an admin and a read key, named `Space <MARK>`. */
export async function isoSpace(mark: string, extra: Record<string, unknown> = {}): Promise<Space> {
  const slug = uniqueSlug("iso");
  const created = await answer(await callDirect(`${ADMIN}/spaces`, { body: { slug, name: `Space ${mark}`, ...extra } }));
  expect(created.status, created.text).toBe(201);
  const space = { id: created.body.id as string, slug };
  const key = async (scopes: string[]) => {
    const a = await answer(await callDirect(`${ADMIN}/api-keys`, { space: slug, body: { name: `key ${mark} ${scopes.join("+")}`, scopes } }));
    expect(a.status, a.text).toBe(201);
    return { id: a.body.id as string, secret: a.body.secret as string };
  };
  const admin = await key(["admin"]);
  const read = await key(["read"]);
  return { ...space, admin: admin.secret, adminId: admin.id, read: read.secret, readId: read.id };
}

/** An Admin API request with `key` (root by default) in `space`; the answer read once. */
export async function adminCall(
  path: string,
  options: { method?: string; key?: string | null; space?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return answer(await callDirect(`${ADMIN}${path}`, options as CallOptions));
}

/** A root-key write in `space`; expects one of `statuses`. */
export async function rootWrite(space: TestSpace, method: string, path: string, body?: unknown, statuses: number[] = [200, 201, 204], headers?: Record<string, string>): Promise<Reply> {
  const a = await adminCall(path, { method, space: space.slug, body, headers });
  expect(statuses, `${method} ${path} in ${space.slug}: ${a.text}`).toContain(a.status);
  return a;
}

/** A User API request with a bearer token. */
export async function meCall(
  path: string,
  token: string,
  options: { method?: string; space?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return answer(
    await callDirect(`${ME}${path}`, {
      method: options.method,
      key: null,
      space: options.space,
      body: options.body,
      headers: { Authorization: `Bearer ${token}`, ...options.headers },
    }),
  );
}

/** Mints a user token with the root key in `space`. */
export async function tokenFor(space: TestSpace, userId: string, ttlSeconds = 3600): Promise<string> {
  const a = await adminCall(`/users/${encodeURIComponent(userId)}/token`, { space: space.slug, body: { ttlSeconds } });
  expect(a.status, a.text).toBe(201);
  return a.body.token as string;
}

/** The payload of a JWT (no verification). */
export function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
}

// ---------------------------------------------------------------------------------------
// Another deployment configuration (SPACE_HOST_SUFFIX) for the same bindings.

const envCache = new Map<string, Env>();

/**
 * The test bindings with some vars changed. src/config.ts caches the parsed config per env
 * object, so each variant is one stable object.
 */
export function envWith(vars: Record<string, string>): Env {
  const id = JSON.stringify(vars);
  let variant = envCache.get(id);
  if (!variant) {
    variant = { ...(env as unknown as Env), ...vars } as Env;
    envCache.set(id, variant);
  }
  return variant;
}

/** A request to the Worker's fetch handler with `withEnv` (e.g. envWith({ SPACE_HOST_SUFFIX })). */
export async function dispatchWith(withEnv: Env, request: Request): Promise<Reply> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, withEnv, ctx);
  await waitOnExecutionContext(ctx);
  return answer(response);
}

// ---------------------------------------------------------------------------------------
// The operations the matrix must cover.

export interface Operation {
  method: string;
  /** Full path template as in the OpenAPI document. */
  path: string;
  /** `METHOD /path` */
  key: string;
  params: Array<{ in: string; name: string }>;
  security: "admin" | "user" | "public";
}

/** Every operation of the OpenAPI document. */
export async function documentedOperations(): Promise<Operation[]> {
  const a = await answer(await callDirect(OPENAPI, { key: null }));
  expect(a.status).toBe(200);
  const out: Operation[] = [];
  for (const [path, operations] of Object.entries(a.body.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(operations)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const security = JSON.stringify(op.security ?? []);
      out.push({
        method: method.toUpperCase(),
        path,
        key: `${method.toUpperCase()} ${path}`,
        params: (op.parameters ?? []).map((p: { in: string; name: string }) => ({ in: p.in, name: p.name })),
        security: security.includes("adminKey") ? "admin" : security.includes("userToken") ? "user" : "public",
      });
    }
  }
  return out;
}

/** `METHOD /template` relative to the Admin API, as admin-matrix.ts's ROUTES name them. */
export const adminKey = (op: Operation): string => `${op.method} ${op.path.slice(ADMIN.length)}`;
/** `METHOD /template` relative to the User API ("" for /me itself). */
export const meKey = (op: Operation): string => `${op.method} ${op.path.slice(ME.length)}`;

/** A path template with every `{param}` replaced by `values[param]` (URI-encoded). */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
}

// ---------------------------------------------------------------------------------------
// State of a space: D1 rows and users' Durable Objects.

/** Tables with a space_id column (migrations/*.sql). */
const SPACE_TABLES = [
  "api_keys",
  "signing_keys",
  "definitions",
  "definition_refs",
  "jobs",
  "segment_members",
  "user_directory",
  "idempotency_keys",
  "product_codes",
  "product_stock",
  "reservations",
  "deliveries",
  "vapid_keys",
];

const sortRows = (rows: unknown[]): unknown[] => rows.map((r) => JSON.stringify(r)).sort();

/** Every D1 row of the space (the space row, its tables, its deliveries' attempts), sorted. */
export async function spaceRows(spaceId: string): Promise<Record<string, unknown[]>> {
  const db = env.DB;
  const out: Record<string, unknown[]> = {};
  out.spaces = sortRows((await db.prepare("SELECT * FROM spaces WHERE id = ?").bind(spaceId).all()).results);
  for (const table of SPACE_TABLES) {
    out[table] = sortRows((await db.prepare(`SELECT * FROM ${table} WHERE space_id = ?`).bind(spaceId).all()).results);
  }
  out.delivery_attempts = sortRows(
    (await db.prepare("SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.space_id = ?").bind(spaceId).all()).results,
  );
  return out;
}

/** A user's Durable Object as the user's space sees it: state, ledgers, activity, push subscriptions, redemptions. */
export async function userObject(spaceId: string, userId: string, metrics: string[], redemptions: string[] = []): Promise<unknown> {
  const stub = env.USERS.getByName(JSON.stringify([spaceId, userId]));
  const snapshot = await stub.snapshot();
  const ledgers: Record<string, unknown> = {};
  for (const metric of metrics) ledgers[metric] = await stub.ledger(metric, 100);
  const found: Record<string, unknown> = {};
  for (const id of redemptions) found[id] = await stub.redemption(id);
  return {
    snapshot,
    ledgers,
    activity: await stub.activity(100),
    push: (await stub.pushSubscriptions()).map((s) => s.endpoint).sort(),
    redemptions: found,
  };
}

/** Polls `probe` until `done` or `ms`; answers the last value. */
export async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 20_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Waits until the space's rows stop changing (the index queue has applied the directory
 * updates of its users' writes, jobs have finished): then the space is static, and any
 * later change is someone else's doing.
 */
export async function settle(spaceId: string, expectUsers: number, ms = 25_000): Promise<Record<string, unknown[]>> {
  const end = Date.now() + ms;
  let last = "";
  let stableSince = 0;
  for (;;) {
    const rows = await spaceRows(spaceId);
    const text = JSON.stringify(rows);
    const directory = rows.user_directory!.length;
    const running = rows.jobs!.some((j) => String(j).includes('"status":"running"'));
    if (text === last && directory >= expectUsers && !running) {
      if (Date.now() - stableSince >= 600) return rows;
    } else {
      last = text;
      stableSince = Date.now();
    }
    if (Date.now() > end) throw new Error(`space ${spaceId} did not settle: ${directory}/${expectUsers} directory rows, jobs running: ${running}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

// ---------------------------------------------------------------------------------------
// Leak checks and the report.

export interface Foreign {
  /** Strings that only the other side's data contain (markers, its space id). */
  markers: string[];
}

export class IsolationReport {
  cases = 0;
  leaks = 0;
  readonly routes = new Set<string>();
  readonly notes: string[] = [];
  constructor(readonly file: string) {}

  /** One checked case on `route`. */
  count(route: string, n = 1): void {
    this.cases += n;
    this.routes.add(route);
  }

  /** Runs `check`; a failure of it is counted as a leak, and rethrown. */
  private counted(check: () => void): void {
    try {
      check();
    } catch (error) {
      this.leaks += 1;
      throw error;
    }
  }

  /** Asserts that `a` carries none of `foreign.markers` (a hit is a leak). */
  noLeak(a: Reply, foreign: Foreign, label: string): void {
    const hit = foreign.markers.find((m) => m.length > 0 && a.text.includes(m));
    this.counted(() => expect(hit, `${label}: the answer (${a.status}) carries '${hit}': ${a.text.slice(0, 600)}`).toBeUndefined());
  }

  /** Asserts a status (or one of several); a 2xx where a refusal was due counts as a leak. */
  status(a: Reply, expected: number | number[], label: string): void {
    const allowed = Array.isArray(expected) ? expected : [expected];
    const check = () => expect(allowed.includes(a.status), `${label}: status ${a.status} not in [${allowed.join(", ")}]: ${a.text.slice(0, 600)}`).toBe(true);
    if (!allowed.includes(a.status) && a.status >= 200 && a.status < 300) this.counted(check);
    else check();
  }

  /** Asserts a problem with `status` and `code` (one of several codes allowed). */
  problem(a: Reply, status: number, code: string | string[], label: string): void {
    this.status(a, status, label);
    const codes = Array.isArray(code) ? code : [code];
    expect(a.headers.get("content-type"), `${label}: ${a.text}`).toBe("application/problem+json");
    expect(codes, `${label}: ${a.text}`).toContain(a.body?.code);
  }

  /** Asserts that a state read after a case equals the one before (a difference is a leak). */
  unchanged(after: unknown, before: unknown, label: string): void {
    this.counted(() => expect(after, `${label}: the other side's state changed`).toEqual(before));
  }

  line(extra: Record<string, unknown> = {}): string {
    return `ISOLATION-REPORT ${JSON.stringify({ file: this.file, casesChecked: this.cases, routesCovered: this.routes.size, leaks: this.leaks, ...extra, ...(this.notes.length ? { notes: this.notes } : {}) })}`;
  }

  print(extra: Record<string, unknown> = {}): void {
    console.log(this.line(extra));
  }
}

export { ROOT_KEY };
