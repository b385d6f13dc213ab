import { SELF, createExecutionContext, env } from "cloudflare:test";
import { expect } from "vitest";
import { newApp } from "../../src/app";
import { BASE, ROOT_KEY, answer, uniqueSlug, type Answer, type TestSpace } from "./harness";

// Admin definition calls bound to one space (SPEC §4), shared by the route tests of the
// definitions issue: the campaign lifecycle, the programme document, fuzzing and races.
//
// Transport. `SELF.fetch` goes through the pool's service binding, whose per-request cost
// grows with every request the workerd instance has served (cloudflare/workers-sdk#15446:
// ~3 ms → ~200 ms per request after a few hundred here), so files that send thousands of
// requests call the same Worker app in-process instead: `newApp().fetch(request, env, ctx)`
// inside workerd, with the real bindings and the real D1. Both run the same code.

export const ADMIN = "/api/loyalty/admin";

export type Transport = (request: Request) => Promise<Response>;

/** Through the Worker's default export (the pool's SELF binding). */
export const viaSelf: Transport = (request) => SELF.fetch(request);

/** The Worker app in-process, with the test bindings plus `overrides` (e.g. MAX_ACTIVE_CAMPAIGNS). */
export function viaApp(overrides: Record<string, string> = {}): Transport {
  const app = newApp();
  const bindings = { ...env, ...overrides } as typeof env;
  return async (request) => app.fetch(request, bindings, createExecutionContext());
}

export { answer, type Answer } from "./harness";

export interface SendOptions {
  method?: string;
  space?: string;
  /** Serialised with JSON.stringify. */
  body?: unknown;
  /** Sent as is (with Content-Type: application/json unless headers say otherwise). */
  raw?: string;
  headers?: Record<string, string>;
}

/** One admin request with the root key. */
export async function send(transport: Transport, path: string, options: SendOptions = {}): Promise<Answer> {
  const headers = new Headers(options.headers);
  headers.set("Authorization", `Bearer ${ROOT_KEY}`);
  if (options.space) headers.set("X-Loyalty-Space", options.space);
  const text = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (text !== undefined && !headers.has("content-type")) headers.set("Content-Type", "application/json");
  const request = new Request(`${BASE}${path}`, { method: options.method ?? (text === undefined ? "GET" : "POST"), headers, body: text });
  return answer(await transport(request));
}

/** A fresh space (SPEC §3.1), created through `transport`. */
export async function newSpace(transport: Transport = viaSelf): Promise<TestSpace> {
  const slug = uniqueSlug("def");
  const a = await send(transport, `${ADMIN}/spaces`, { body: { slug, name: `Space ${slug}` } });
  expect(a.status, a.text).toBe(201);
  return { id: a.body.id, slug: a.body.slug };
}

export function definitionsOf(space: TestSpace, transport: Transport = viaSelf) {
  const at = (path: string, options: SendOptions = {}) => send(transport, `${ADMIN}${path}`, { space: space.slug, ...options });
  const api = {
    space,
    transport,
    create: (kind: string, body: unknown, headers?: Record<string, string>) => at(`/${kind}`, { method: "POST", body, headers }),
    createRaw: (kind: string, raw: string) => at(`/${kind}`, { method: "POST", raw }),
    get: (kind: string, id: string) => at(`/${kind}/${id}`),
    put: (kind: string, id: string, body: unknown, headers?: Record<string, string>) => at(`/${kind}/${id}`, { method: "PUT", body, headers }),
    patch: (kind: string, id: string, body: unknown, headers?: Record<string, string>) =>
      at(`/${kind}/${id}`, { method: "PATCH", body, headers }),
    del: (kind: string, id: string, headers?: Record<string, string>) => at(`/${kind}/${id}`, { method: "DELETE", headers }),
    /** Every definition of a kind (one page of 100), archived ones too when asked. */
    list: async (kind: string, includeArchived = false): Promise<any[]> => {
      const a = await at(`/${kind}?limit=100${includeArchived ? "&include=archived" : ""}`);
      expect(a.status, a.text).toBe(200);
      return a.body.data;
    },
    exportProgramme: () => at("/programme"),
    applyProgramme: (document: unknown, query = "", headers?: Record<string, string>) =>
      at(`/programme${query ? `?${query}` : ""}`, { method: "PUT", body: document, headers }),
    /** The space's definitions version, read from the programme export's ETag. */
    version: async (): Promise<number> => {
      const a = await at("/programme");
      expect(a.status, a.text).toBe(200);
      return Number(JSON.parse(a.headers.get("etag")!));
    },
    /** Creates and asserts 201. */
    make: async (kind: string, body: Record<string, unknown>): Promise<any> => {
      const a = await at(`/${kind}`, { method: "POST", body });
      expect(a.status, `${kind} ${JSON.stringify(body)} → ${a.text}`).toBe(201);
      return a.body;
    },
  };
  return api;
}

export type Definitions = ReturnType<typeof definitionsOf>;

/** A fresh space and its definitions API over `transport`. */
export async function freshDefinitions(transport: Transport = viaSelf): Promise<Definitions> {
  return definitionsOf(await newSpace(transport), transport);
}

/** Asserts a problem answer: status, problem+json, code. Returns the problem. */
export function expectProblemAnswer(a: Answer, status: number, code: string): any {
  expect({ status: a.status, body: a.body }).toMatchObject({ status, body: { status, code } });
  expect(a.headers.get("content-type")).toBe("application/problem+json");
  return a.body;
}

/** The error paths of a problem answer. */
export const pathsOf = (a: Answer): string[] => (a.body?.errors ?? []).map((e: { path: string }) => e.path);

/** A definition as GET answers it, minus the server-managed fields (what the programme exports). */
export function bodyOf(definition: Record<string, unknown>): Record<string, unknown> {
  const { version, createdAt, updatedAt, archivedAt, memberCount, redeemed, ...rest } = definition;
  return rest;
}

// Valid minimal bodies ---------------------------------------------------------------

export const bodies = {
  currency: (extra: Record<string, unknown> = {}) => ({ name: "Points", kind: "currency", ...extra }),
  trigger: (eventType = "article_read", extra: Record<string, unknown> = {}) => ({ name: `On ${eventType}`, eventType, ...extra }),
  campaign: (trigger: string | Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: "Welcome",
    steps: [{ id: "s1", name: "Step one", trigger, target: 3, effects: [] }],
    ...extra,
  }),
};
