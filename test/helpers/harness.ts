import { SELF, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { expect } from "vitest";

// The test harness: every test builds its own space (storage is shared within a file),
// talks to the real Worker through SELF.fetch, and reads answers as JSON.

export const ROOT_KEY = env.ADMIN_ROOT_KEY!;
export const BASE = "https://loyalty.test";

let counter = 0;
/** A slug unique within this test run. */
export function uniqueSlug(prefix = "t"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export interface CallOptions {
  method?: string;
  key?: string | null;
  space?: string;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

/** The request `call` sends: root key unless `key` says otherwise, JSON body, space header. */
export function requestOf(path: string, options: CallOptions = {}): Request {
  const headers = new Headers(options.headers);
  const key = options.key === undefined ? ROOT_KEY : options.key;
  if (key !== null && !headers.has("authorization")) headers.set("Authorization", `Bearer ${key}`);
  if (options.space) headers.set("X-Loyalty-Space", options.space);
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("Content-Type", "application/json");
  }
  return new Request(`${BASE}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
}

/** Through the pool's SELF binding: the Worker's default export, as a client reaches it. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  return SELF.fetch(requestOf(path, options));
}

/**
 * The same Worker fetch handler called in-process (same workerd, bindings and D1). Files
 * that send thousands of requests use it: under vitest-pool-workers every SELF.fetch costs
 * more than the one before it within a file (cloudflare/workers-sdk#15446).
 */
export async function callDirect(path: string, options: CallOptions = {}): Promise<Response> {
  return dispatchDirect(requestOf(path, options));
}

export async function dispatchDirect(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** Any answer read once (JSON, problem+json, text or empty), so the body is always drained. */
export interface Answer<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export async function answer<T = any>(response: Response): Promise<Answer<T>> {
  const text = await response.text();
  let body: any = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, body, text, headers: response.headers };
}

export async function json<T = any>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** Asserts a problem+json answer and returns it. */
export async function expectProblem(response: Response, status: number, code: string): Promise<any> {
  const text = await response.text();
  expect({ status: response.status, body: text }).toMatchObject({ status });
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = JSON.parse(text);
  expect(problem).toMatchObject({ type: "about:blank", status, code });
  expect(problem.requestId).toBe(response.headers.get("x-request-id"));
  return problem;
}

export interface TestSpace {
  id: string;
  slug: string;
}

export async function createSpace(extra: Record<string, unknown> = {}): Promise<TestSpace> {
  const slug = uniqueSlug();
  const response = await call("/api/loyalty/admin/spaces", { body: { slug, name: `Space ${slug}`, ...extra } });
  expect(response.status, await response.clone().text()).toBe(201);
  const space = await json(response);
  return { id: space.id, slug: space.slug };
}

export async function createKey(space: TestSpace, scopes: string[], key: string = ROOT_KEY): Promise<{ id: string; secret: string }> {
  const response = await call("/api/loyalty/admin/api-keys", {
    key,
    space: space.slug,
    body: { name: `key ${scopes.join("+")}`, scopes },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return json(response);
}

export async function mintToken(space: TestSpace, userId: string, ttlSeconds = 3600): Promise<string> {
  const response = await call(`/api/loyalty/admin/users/${encodeURIComponent(userId)}/token`, {
    space: space.slug,
    body: { ttlSeconds },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await json(response)).token;
}

export async function me(token: string, space?: string, path = "/api/loyalty/me"): Promise<Response> {
  return call(path, { key: null, space, headers: { Authorization: `Bearer ${token}` } });
}
