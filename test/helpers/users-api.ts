import { env } from "cloudflare:test";
import { expect } from "vitest";
import { answer as reply, call, createSpace, mintToken, type Answer as Reply, type TestSpace } from "./harness";

// Helpers for the engine, reliability and user-admin route tests (issue 4): an Admin API
// client bound to one space (SELF.fetch, the real Worker, its Durable Objects, D1 and
// queues), event ingestion, paging through ledgers and activity, the User API with a
// minted token, and the user's Durable Object stub for invariant checks over RPC.

export const ADMIN = "/api/loyalty/admin";
export const ME = "/api/loyalty/me";

/** Any answer read once: see harness.answer. */
export { answer as reply, type Answer as Reply } from "./harness";

/** Asserts a problem+json answer with `status` and `code`; returns the problem. */
export function expectProblemReply(a: Reply, status: number, code: string): any {
  expect({ status: a.status, code: a.body?.code }, a.text).toEqual({ status, code });
  expect(a.headers.get("content-type")).toBe("application/problem+json");
  return a.body;
}

/** The `errors[].path` list of a problem answer. */
export const errorPaths = (a: Reply): string[] => (a.body?.errors ?? []).map((e: { path: string }) => e.path);

let serial = 0;
/** A user id unique in this run. */
export const uniqueUser = (prefix = "u"): string => `${prefix}-${Date.now().toString(36)}-${++serial}`;

export type Admin = ReturnType<typeof adminOf>;

/** An Admin API client for one space; `key` defaults to the root key. */
export function adminOf(space: TestSpace, key?: string) {
  const at = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(`${ADMIN}${path}`, { method, space: space.slug, body, headers, key }).then((r) => reply(r));
  const u = (userId: string) => `/users/${encodeURIComponent(userId)}`;
  const api = {
    space,
    at,
    get: (path: string) => at("GET", path),
    /** PUT a definition with a chosen id and expect 201 (created). */
    define: async (kind: string, id: string, body: Record<string, unknown>): Promise<any> => {
      const a = await at("PUT", `/${kind}/${id}`, body);
      expect(a.status, `${kind}/${id}: ${a.text}`).toBe(201);
      return a.body;
    },
    event: (body: Record<string, unknown>, query = "", headers?: Record<string, string>) => at("POST", `/events${query}`, body, headers),
    /** Ingests and expects 201; returns the outcome. */
    apply: async (body: Record<string, unknown>, query = ""): Promise<any> => {
      const a = await at("POST", `/events${query}`, body);
      expect(a.status, `event ${JSON.stringify(body)}: ${a.text}`).toBe(201);
      expect(a.body.duplicate).toBe(false);
      return a.body.outcome;
    },
    user: (userId: string) => at("GET", u(userId)),
    putUser: (userId: string, body: unknown) => at("PUT", u(userId), body),
    patchUser: (userId: string, body: unknown) => at("PATCH", u(userId), body),
    deleteUser: (userId: string) => at("DELETE", u(userId)),
    adjust: (userId: string, metric: string, body: unknown) => at("POST", `${u(userId)}/metrics/${metric}/adjust`, body),
    grant: (userId: string, body: unknown) => at("POST", `${u(userId)}/products`, body),
    revoke: (userId: string, product: string, quantity?: number) =>
      at("DELETE", `${u(userId)}/products/${product}${quantity === undefined ? "" : `?quantity=${quantity}`}`),
    ledgerPage: (userId: string, metric: string, query = "") => at("GET", `${u(userId)}/metrics/${metric}/transactions${query}`),
    activityPage: (userId: string, query = "") => at("GET", `${u(userId)}/activity${query}`),
    /** Every ledger entry of a metric, newest first, following cursors. */
    ledger: async (userId: string, metric: string, limit = 100): Promise<any[]> =>
      pageAll((q) => api.ledgerPage(userId, metric, q), limit),
    /** Every activity entry, newest first, following cursors. */
    activity: async (userId: string, limit = 100): Promise<any[]> => pageAll((q) => api.activityPage(userId, q), limit),
    /** The user's balance of a metric from the admin user document (0 if absent). */
    balance: async (userId: string, metric: string): Promise<number> => {
      const a = await api.user(userId);
      expect(a.status, a.text).toBe(200);
      const held = (a.body.metrics as Array<{ metric: string; balance: number }>).find((m) => m.metric === metric);
      expect(held, `metric ${metric} in ${a.text}`).toBeDefined();
      return held!.balance;
    },
    /** The user's Durable Object (named as the brief says: JSON [spaceId, userId]). */
    stub: (userId: string) => env.USERS.getByName(JSON.stringify([space.id, userId])),
    token: (userId: string, ttlSeconds = 3600) => mintToken(space, userId, ttlSeconds),
  };
  return api;
}

/** Follows `nextCursor` until null; asserts every page is 200 and at most `limit` long. */
export async function pageAll(fetchPage: (query: string) => Promise<Reply>, limit: number): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const q = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const a = await fetchPage(q);
    expect(a.status, a.text).toBe(200);
    expect(a.body.data.length).toBeLessThanOrEqual(limit);
    out.push(...a.body.data);
    cursor = a.body.nextCursor;
    if (cursor === null) return out;
    expect(a.body.data.length, "a page with a next cursor is full").toBe(limit);
  }
  throw new Error("too many pages");
}

/** A fresh space and its admin client. */
export async function freshAdmin(extra: Record<string, unknown> = {}): Promise<Admin> {
  return adminOf(await createSpace(extra));
}

/** A User API GET with a bearer token; returns the parsed answer. */
export async function meGet(space: TestSpace, token: string, path = ""): Promise<Reply> {
  return reply(await call(`${ME}${path}`, { key: null, space: space.slug, headers: { Authorization: `Bearer ${token}` } }));
}

/** Sum of the `delta`s of ledger entries. */
export const sumDeltas = (entries: Array<{ delta: number }>): number => entries.reduce((s, e) => s + e.delta, 0);
