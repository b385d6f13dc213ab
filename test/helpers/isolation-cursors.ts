import { afterAll, describe, expect, it, vi } from "vitest";
import { KIND_FIXTURES } from "./definitions-api";
import { insertDelivery, defBody } from "./isolation-admin";
import {
  ADMIN,
  IsolationReport,
  MARK_A,
  MARK_B,
  ME,
  ROOT_KEY,
  adminCall,
  documentedOperations,
  isoSpace,
  meCall,
  tokenFor,
  until,
  type Reply,
  type Space,
} from "./isolation";

// Shared by test/hardening/isolation-cursors*.test.ts. The isolation matrix, cursors (issue #10, case 2; SPEC §2: "Cursors are bound to the
// space and the list; a foreign cursor is 400"). Every paginated route — found in the
// OpenAPI document by its `cursor` query parameter — is given, in space A:
// - the cursor of the same list obtained in space B (B's key, or B's token for /me);
// - the cursor of every other list, filter, user and metric of A (the whole cross product);
// - tampered cursors: each character flipped, truncations, base64 garbage, forged bodies.
// Every answer is 400 invalid_cursor — except a tampered cursor that still decodes to one
// of this very list (cursors are opaque but not signed), which must answer rows of the
// caller's own list only. Never a row of B, of another user, or a 500.

vi.setConfig({ testTimeout: 60_000 });

const KINDS = KIND_FIXTURES.map((f) => f.kind);

export interface Variant {
  /** `METHOD /full/template` of the OpenAPI document. */
  op: string;
  label: string;
  /** The list's path (with its filters) in any space; {{…}} are not used: paths are the same in A and B. */
  path: string;
  /** Who reads it: an admin key, the root key (space list), or a user token of `user`. */
  as: "admin" | "root" | { user: string };
  /** Variants answering the same list (same cursor accepted by design). */
  group?: string;
}

/** m1…m4 read their /me lists in the B and cross tests, m1t…m4t in the tamper tests (100 requests a minute each). */
export const USERS = ["m1", "m2", "m3", "m4", "m1t", "m2t", "m3t", "m4t"];

export function variants(): Variant[] {
  const out: Variant[] = [
    { op: "GET /api/loyalty/admin/spaces", label: "spaces (root)", path: "/spaces?limit=1", as: "root" },
    { op: "GET /api/loyalty/admin/api-keys", label: "api-keys", path: "/api-keys?limit=1", as: "admin" },
  ];
  for (const kind of KINDS) {
    out.push(
      { op: `GET /api/loyalty/admin/${kind}`, label: kind, path: `/${kind}?limit=1`, as: "admin" },
      { op: `GET /api/loyalty/admin/${kind}`, label: `${kind} include=archived`, path: `/${kind}?limit=1&include=archived`, as: "admin" },
    );
  }
  const ledger = "GET /api/loyalty/admin/users/{userId}/metrics/{metric}/transactions";
  const activity = "GET /api/loyalty/admin/users/{userId}/activity";
  out.push(
    { op: ledger, label: "ledger m1 pts", path: "/users/m1/metrics/pts/transactions?limit=1", as: "admin", group: "ledger-m1-pts" },
    { op: ledger, label: "ledger m2 pts", path: "/users/m2/metrics/pts/transactions?limit=1", as: "admin", group: "ledger-m2-pts" },
    { op: ledger, label: "ledger m1 xp", path: "/users/m1/metrics/xp/transactions?limit=1", as: "admin", group: "ledger-m1-xp" },
    { op: activity, label: "activity m3", path: "/users/m3/activity?limit=1", as: "admin", group: "activity-m3" },
    { op: activity, label: "activity m1", path: "/users/m1/activity?limit=1", as: "admin", group: "activity-m1" },
    { op: "GET /api/loyalty/admin/users", label: "directory", path: "/users?limit=1", as: "admin" },
    { op: "GET /api/loyalty/admin/users", label: "directory q=m", path: "/users?limit=1&q=m", as: "admin" },
    { op: "GET /api/loyalty/admin/users", label: "directory segment=seg", path: "/users?limit=1&segment=seg", as: "admin", group: "members-seg" },
    { op: "GET /api/loyalty/admin/segments/{id}/users", label: "members seg", path: "/segments/seg/users?limit=1", as: "admin", group: "members-seg" },
    { op: "GET /api/loyalty/admin/segments/{id}/users", label: "members seg q=m", path: "/segments/seg/users?limit=1&q=m", as: "admin", group: "members-seg-q" },
    { op: "GET /api/loyalty/admin/users", label: "directory segment=seg q=m", path: "/users?limit=1&segment=seg&q=m", as: "admin", group: "members-seg-q" },
    { op: "GET /api/loyalty/admin/jobs", label: "jobs", path: "/jobs?limit=1", as: "admin" },
    { op: "GET /api/loyalty/admin/webhooks/{id}/deliveries", label: "deliveries hook", path: "/webhooks/hook/deliveries?limit=1", as: "admin" },
    { op: "GET /api/loyalty/admin/webhooks/{id}/deliveries", label: "deliveries hook failed", path: "/webhooks/hook/deliveries?limit=1&status=failed", as: "admin" },
    { op: "GET /api/loyalty/admin/webhooks/{id}/deliveries", label: "deliveries hook2", path: "/webhooks/hook2/deliveries?limit=1", as: "admin" },
    // The User API: each list read by its own user (100 requests a minute per user).
    { op: "GET /api/loyalty/me/metrics/{id}/transactions", label: "me ledger pts (m1)", path: "/metrics/pts/transactions?limit=1", as: { user: "m1" }, group: "ledger-m1-pts" },
    { op: "GET /api/loyalty/me/metrics/{id}/transactions", label: "me ledger xp (m2)", path: "/metrics/xp/transactions?limit=1", as: { user: "m2" } },
    { op: "GET /api/loyalty/me/activity", label: "me activity (m3)", path: "/activity?limit=1", as: { user: "m3" }, group: "activity-m3" },
    { op: "GET /api/loyalty/me/activity", label: "me activity (m4)", path: "/activity?limit=1", as: { user: "m4" } },
  );
  return out;
}

export interface Fix {
  a: Space;
  b: Space;
  tokens: Map<string, string>;
}

async function build(space: Space, mark: string): Promise<void> {
  const w = async (method: string, path: string, body?: unknown, ok = [200, 201, 204]) => {
    const a = await adminCall(path, { method, key: space.admin, body });
    expect(ok, `${method} ${path}: ${a.text}`).toContain(a.status);
    return a;
  };
  await adminCall("/api-keys", { method: "POST", key: space.admin, body: { name: `third ${mark}`, scopes: ["read"] } });
  await w("PUT", "/metrics/pts", { name: `Points ${mark}`, kind: "currency" });
  await w("PUT", "/metrics/xp", { name: `XP ${mark}`, kind: "counter" });
  for (const kind of KINDS) {
    for (const n of [1, 2, 3]) await w("PUT", `/${kind}/c${n}-${kind}`, defBody(kind, mark));
  }
  for (const kind of ["metrics", "products", "segments"]) await w("DELETE", `/${kind}/c3-${kind}`);
  await w("PUT", "/segments/seg", { name: `Seg ${mark}`, type: "static" });
  await w("PUT", "/webhooks/hook", { url: "https://hooks.example.com/c", events: ["*"], enabled: false });
  await w("PUT", "/webhooks/hook2", { url: "https://hooks.example.com/c2", events: ["*"], enabled: false });
  for (const n of [1, 2, 3]) {
    await w("PUT", `/segments/dyn${n}`, { name: `Dyn ${n}`, type: "dynamic", rule: { path: "user.attributes.tier", op: "eq", value: `t${n}` } });
  }
  for (const user of USERS) {
    await w("PUT", `/users/${user}`, { attributes: { mark } });
    for (const n of [1, 2, 3]) {
      await w("POST", `/users/${user}/metrics/pts/adjust`, { amount: n, reason: `pts ${n} ${mark}` });
      await w("POST", `/users/${user}/metrics/xp/adjust`, { amount: n, reason: `xp ${n} ${mark}` });
    }
    await w("PUT", `/users/${user}/segments/seg`, undefined, [200]);
  }
  for (const hook of ["hook", "hook", "hook", "hook2", "hook2"]) await insertDelivery(space, hook, mark);
  // The directory and the segment's members are written by the index queue.
  await until(
    () => adminCall(`/segments/seg/users?limit=100`, { key: space.admin }),
    (a) => a.body?.data?.length === USERS.length,
  );
  await until(() => adminCall(`/users?limit=100`, { key: space.admin }), (a) => a.body?.data?.length === USERS.length);
}

let fixturePromise: Promise<Fix> | undefined;
export function fixture(): Promise<Fix> {
  fixturePromise ??= (async () => {
    const a = await isoSpace(MARK_A);
    const b = await isoSpace(MARK_B);
    await Promise.all([build(a, MARK_A), build(b, MARK_B)]);
    const tokens = new Map<string, string>();
    for (const space of [a, b]) for (const u of USERS) tokens.set(`${space.slug}:${u}`, await tokenFor(space, u));
    return { a, b, tokens };
  })();
  return fixturePromise;
}

/** Reads a variant in `space` with `cursor` (none: the first page). */
export async function read(f: Fix, space: Space, v: Variant, cursor?: string, limit?: number): Promise<Reply> {
  let path = v.path;
  if (limit !== undefined) path = path.replace("limit=1", `limit=${limit}`);
  if (cursor !== undefined) path += `&cursor=${encodeURIComponent(cursor)}`;
  if (v.as === "admin") return adminCall(path, { key: space.admin });
  if (v.as === "root") return adminCall(path, { key: ROOT_KEY });
  return meCall(path, f.tokens.get(`${space.slug}:${v.as.user}`)!, { space: space.slug });
}

export const rowKey = (row: Record<string, unknown>): string => String(row.id ?? row.userId ?? row.seq ?? row.eventId ?? JSON.stringify(row));

/** The variant's whole list in `space` (its own rows: what a cursor may ever answer). */
export async function whole(f: Fix, space: Space, v: Variant): Promise<Set<string>> {
  const a = await read(f, space, v, undefined, 100);
  expect(a.status, a.text).toBe(200);
  return new Set((a.body.data as Array<Record<string, unknown>>).map(rowKey));
}

const cursors = new Map<string, string>();
/** The cursor of the variant's second page in `space` (read once per file). */
export async function firstCursor(f: Fix, space: Space, v: Variant): Promise<string> {
  const key = `${space.slug}|${v.path}|${JSON.stringify(v.as)}`;
  const known = cursors.get(key);
  if (known !== undefined) return known;
  const a = await read(f, space, v);
  expect(a.status, `${v.label} in ${space.slug}: ${a.text}`).toBe(200);
  expect(a.body.nextCursor, `${v.label} has a second page in ${space.slug}`).toEqual(expect.any(String));
  cursors.set(key, a.body.nextCursor as string);
  return a.body.nextCursor as string;
}

export const foreign = (f: Fix) => ({ markers: [MARK_B, f.b.id] });

/** A refusal as the SPEC wants it, leak-checked and counted. */
export function refused(report: IsolationReport, f: Fix, v: Variant, a: Reply, label: string, codes = ["invalid_cursor"]): void {
  report.count(v.op);
  report.noLeak(a, foreign(f), `${v.label}: ${label}`);
  report.problem(a, 400, codes, `${v.label}: ${label}`);
  if (a.body?.code === "invalid_cursor") expect(a.body.errors, a.text).toEqual([{ path: "query.cursor", message: expect.any(String) }]);
}

/** A refusal, or the caller's own rows (a tampered cursor that still names this list). */
export function refusedOrOwn(report: IsolationReport, f: Fix, v: Variant, a: Reply, own: Set<string>, label: string): "refused" | "own" {
  report.count(v.op);
  report.noLeak(a, foreign(f), `${v.label}: ${label}`);
  expect(a.status, `${v.label}: ${label}: ${a.text}`).not.toBe(500);
  if (a.status === 200) {
    const rows = (a.body.data as Array<Record<string, unknown>>).map(rowKey);
    report.unchanged(rows.filter((r) => !own.has(r)), [], `${v.label}: ${label}: rows not of the caller's own list`);
    return "own";
  }
  report.problem(a, 400, ["invalid_cursor", "invalid_request"], `${v.label}: ${label}`);
  return "refused";
}

export const b64 = (text: string): string => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
export const unb64 = (cursor: string): string => atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
export const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The cursor with the character at `i` replaced by another base64url character. */
export function flip(cursor: string, i: number): string {
  const c = cursor[i]!;
  const next = ALPHABET[(ALPHABET.indexOf(c) + 17) % ALPHABET.length]!;
  return cursor.slice(0, i) + next + cursor.slice(i + 1);
}

/**
 * The tampered-and-forged-cursor matrix over half of the variants (`half` 0 or 1: the
 * test files isolation-cursors-tamper and -2 run one each, since requests get slower as a
 * file goes on): every paginated route given its own cursor with characters flipped
 * (every fourth one; fewer on /me, where a user has 100 requests a minute), truncated,
 * extended, garbage, and forged bodies (another space, list or position). The answer is
 * 400, or, for a cursor that still decodes to this very list (cursors are opaque, not
 * signed), rows of the caller's own list only. Never a row of B or a 500.
 */
export function defineTamperMatrix(half: 0 | 1, file: string): void {
  const report = new IsolationReport(file);
  const tally = { refused: 0, own: 0 };
  describe("tampered and forged cursors: 400, or the caller's own rows; never a 500", () => {
    for (const listed of variants().filter((_v, i) => i % 2 === half)) {
      // /me lists are read by m1t…m4t here (the same lists as m1…m4's), whose requests are spare.
      const v: Variant = typeof listed.as === "object" ? { ...listed, as: { user: `${listed.as.user}t` } } : listed;
      it(v.label, async () => {
        const f = await fixture();
        const own = await whole(f, f.a, v);
        const cursor = await firstCursor(f, f.a, v);
        const fromB = await firstCursor(f, f.b, v);
        const body = JSON.parse(unb64(cursor)) as Record<string, unknown>;
        const bBody = JSON.parse(unb64(fromB)) as Record<string, unknown>;
        const check = async (c: string, label: string) => {
          tally[refusedOrOwn(report, f, v, await read(f, f.a, v, c), own, label)] += 1;
        };
        const step = typeof v.as === "object" ? Math.max(1, Math.ceil(cursor.length / 40)) : 4;
        for (let i = 0; i < cursor.length; i += step) await check(flip(cursor, i), `flip at ${i}`);
        const garbage = [
          "",
          "x",
          "!!!!",
          "%00",
          "null",
          cursor.slice(0, Math.floor(cursor.length / 2)),
          `${cursor}A`,
          `${cursor}==`,
          cursor.split("").reverse().join(""),
          b64("{}"),
          b64("[]"),
          b64("null"),
          b64("42"),
          b64('"x"'),
          b64("{not json"),
          b64("\u00ff\u00fe"),
          b64(JSON.stringify({ ...body, v: 2 })),
          b64(JSON.stringify({ ...body, list: `${body.list}x` })),
          b64(JSON.stringify({ ...body, list: "spaces", space: "*" })),
          b64(JSON.stringify({ ...body, space: f.b.id })),
          b64(JSON.stringify({ ...body, space: "*" })),
          b64(JSON.stringify({ ...body, after: 1 })),
          b64(JSON.stringify({ v: 1, list: body.list, space: body.space })),
          // B's cursor with only its space rewritten to A's: B's position in A's list.
          b64(JSON.stringify({ ...bBody, space: body.space })),
          // Positions that are not keys of this list.
          b64(JSON.stringify({ ...body, after: "not-a-number" })),
          b64(JSON.stringify({ ...body, after: "" })),
          b64(JSON.stringify({ ...body, after: "-1" })),
          b64(JSON.stringify({ ...body, after: "1e309" })),
          b64(JSON.stringify({ ...body, after: "x|y|z" })),
          b64(JSON.stringify({ ...body, after: "\u0000" })),
          b64(JSON.stringify({ ...body, after: "'; DROP TABLE spaces; --" })),
          "A".repeat(1025),
        ];
        for (const [n, g] of garbage.entries()) await check(g, `garbage #${n}`);
      });
    }
  });

  afterAll(() => report.print({ tampered: tally }));
}
