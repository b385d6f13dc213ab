import { expect } from "vitest";
import type { DefinitionKind } from "../../src/definitions/types";
import { call as harnessCall, callDirect, json, uniqueSlug, type TestSpace } from "./harness";

// Shared by the definitions route tests and the admin auth matrix: one small fixture per
// definition kind (SPEC §4) — a minimal valid body with the definitions it needs, the
// body as stored (defaults applied), a one-field merge patch and a replacement body.

export const ADMIN = "/api/loyalty/admin";
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// Transport. Requests go to the Worker's own fetch handler (src/index.ts, the handler
// SELF reaches) inside workerd, with the real bindings and the real D1 — but not through
// SELF.fetch: under @cloudflare/vitest-pool-workers every SELF.fetch costs more than the
// one before it within a test file (cloudflare/workers-sdk#15446: linear per request,
// quadratic per file; measured here ~4 ms → ~100 ms after 600 calls), and these files
// send thousands of requests. `viaSelf` sends one request through SELF.fetch, for the
// tests that check both paths answer alike.

/** harness.call with the same options, dispatched to the Worker's fetch handler in-process. */
export const call = callDirect;

/** harness.call itself (SELF.fetch): for a few requests only. */
export const viaSelf = harnessCall;

/** harness.createSpace through the same transport. */
export async function createSpace(): Promise<TestSpace> {
  const slug = uniqueSlug();
  const response = await call(`${ADMIN}/spaces`, { body: { slug, name: `Space ${slug}` } });
  expect(response.status, await response.clone().text()).toBe(201);
  const space = await json(response);
  return { id: space.id, slug: space.slug };
}

type Space = TestSpace | string;
const slugOf = (space: Space) => (typeof space === "string" ? space : space.slug);

/** An Admin API request in `space` with the root key. */
export function api(space: Space, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response> {
  return call(`${ADMIN}${path}`, { method, space: slugOf(space), body, headers });
}

/** POSTs a definition and expects 201; returns the answer. */
export async function createDefinition(space: Space, kind: DefinitionKind, body: Record<string, unknown>): Promise<any> {
  const res = await api(space, "POST", `/${kind}`, body);
  expect(res.status, await res.clone().text()).toBe(201);
  return json(res);
}

/** GETs a definition and expects 200; returns the answer and its ETag. */
export async function readDefinition(space: Space, kind: DefinitionKind, id: string): Promise<{ body: any; etag: string | null }> {
  const res = await api(space, "GET", `/${kind}/${id}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return { body: await json(res), etag: res.headers.get("etag") };
}

/** The space's definitions version: the ETag of the programme export (SPEC §4.8). */
export async function programmeVersion(space: Space): Promise<number> {
  const res = await api(space, "GET", "/programme");
  expect(res.status, await res.clone().text()).toBe(200);
  const etag = res.headers.get("etag");
  expect(etag).toMatch(/^"\d+"$/);
  return Number(etag!.slice(1, -1));
}

/** Every id of a list, following cursors. */
export async function listIds(space: Space, kind: DefinitionKind, query = ""): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const params = new URLSearchParams(query);
    params.set("limit", "100");
    if (cursor) params.set("cursor", cursor);
    const res = await api(space, "GET", `/${kind}?${params}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    ids.push(...body.data.map((d: { id: string }) => d.id));
    cursor = body.nextCursor;
    if (cursor === null) return ids;
  }
  throw new Error("too many pages");
}

export interface KindFixture {
  kind: DefinitionKind;
  /** Prefix of server-generated ids. */
  prefix: string;
  /** DELETE archives (true) or erases (false). */
  archivable: boolean;
  /** Definitions (with ids) the bodies reference, created by setup(). */
  prerequisites: Array<{ kind: DefinitionKind; body: Record<string, unknown> }>;
  /** A minimal valid body (no id). */
  body: Record<string, unknown>;
  /** `body` as stored and answered: every default applied (no id or server fields). */
  stored: Record<string, unknown>;
  /** A merge patch changing one field, and the stored body after it. */
  patch: Record<string, unknown>;
  patched: Record<string, unknown>;
  /** An optional field: a value to set, and its default after a merge patch sets it to null. */
  optional: { field: string; value: unknown; storedValue?: unknown; default: unknown };
  /** A whole other body for PUT replace, and how it is stored. */
  replacement: Record<string, unknown>;
  replaced: Record<string, unknown>;
}

const metricPts = { kind: "metrics" as const, body: { id: "pts", name: "Points", kind: "currency" } };
const metricXp = { kind: "metrics" as const, body: { id: "xp", name: "XP", kind: "counter" } };

const campaignStep = { id: "s1", name: "Buy", trigger: { eventType: "purchase" } };
const campaignStored = {
  name: "Welcome",
  description: null,
  imageUrl: null,
  status: "draft",
  startsAt: null,
  endsAt: null,
  acceptLateUntil: null,
  priority: 0,
  audience: { include: [], exclude: [] },
  visibility: "visible",
  order: "sequential",
  steps: [{ id: "s1", name: "Buy", trigger: { eventType: "purchase", conditions: null }, target: 1, measure: null, effects: [] }],
  effects: [],
  repeat: { limit: 1, every: null, total: null },
};

export const KIND_FIXTURES: KindFixture[] = [
  {
    kind: "metrics",
    prefix: "met",
    archivable: true,
    prerequisites: [],
    body: { name: "Points", kind: "currency" },
    stored: { name: "Points", description: null, kind: "currency", initial: 0, min: null, max: null },
    patch: { name: "Stars" },
    patched: { name: "Stars", description: null, kind: "currency", initial: 0, min: null, max: null },
    optional: { field: "max", value: 500, default: null },
    replacement: { name: "Points v2", kind: "currency", initial: 5, max: 1000 },
    replaced: { name: "Points v2", description: null, kind: "currency", initial: 5, min: null, max: 1000 },
  },
  {
    kind: "products",
    prefix: "prd",
    archivable: true,
    prerequisites: [metricPts],
    body: { type: "reward", name: "Scarf" },
    stored: { type: "reward", name: "Scarf", description: null, imageUrl: null, price: null, stock: null, perUserLimit: null, metadata: {} },
    patch: { stock: 10 },
    patched: { type: "reward", name: "Scarf", description: null, imageUrl: null, price: null, stock: 10, perUserLimit: null, metadata: {} },
    optional: { field: "price", value: { metric: "pts", amount: 100 }, default: null },
    replacement: { type: "reward", name: "Scarf v2", price: { metric: "pts", amount: 50 }, perUserLimit: 2 },
    replaced: {
      type: "reward",
      name: "Scarf v2",
      description: null,
      imageUrl: null,
      price: { metric: "pts", amount: 50 },
      stock: null,
      perUserLimit: 2,
      metadata: {},
    },
  },
  {
    kind: "segments",
    prefix: "seg",
    archivable: true,
    prerequisites: [],
    body: { name: "VIP", type: "static" },
    stored: { name: "VIP", description: null, type: "static", rule: null },
    patch: { name: "VIPs" },
    patched: { name: "VIPs", description: null, type: "static", rule: null },
    optional: { field: "description", value: "Very important", default: null },
    replacement: { name: "Big spenders", type: "static", description: "from the CRM" },
    replaced: { name: "Big spenders", description: "from the CRM", type: "static", rule: null },
  },
  {
    kind: "ladders",
    prefix: "lad",
    archivable: true,
    prerequisites: [metricXp],
    body: { name: "Tiers", metric: "xp", levels: [{ id: "bronze", name: "Bronze", threshold: 0 }] },
    stored: {
      name: "Tiers",
      description: null,
      metric: "xp",
      basis: "lifetime",
      demotion: false,
      levels: [{ id: "bronze", name: "Bronze", threshold: 0 }],
    },
    patch: { demotion: true },
    patched: {
      name: "Tiers",
      description: null,
      metric: "xp",
      basis: "lifetime",
      demotion: true,
      levels: [{ id: "bronze", name: "Bronze", threshold: 0 }],
    },
    optional: { field: "description", value: "Membership tiers", default: null },
    replacement: {
      name: "Tiers v2",
      metric: "xp",
      levels: [
        { id: "bronze", name: "Bronze", threshold: 0 },
        { id: "silver", name: "Silver", threshold: 1000 },
      ],
    },
    replaced: {
      name: "Tiers v2",
      description: null,
      metric: "xp",
      basis: "lifetime",
      demotion: false,
      levels: [
        { id: "bronze", name: "Bronze", threshold: 0 },
        { id: "silver", name: "Silver", threshold: 1000 },
      ],
    },
  },
  {
    kind: "streaks",
    prefix: "stk",
    archivable: true,
    prerequisites: [],
    body: { name: "Daily", period: "day" },
    stored: {
      name: "Daily",
      description: null,
      period: "day",
      weekStart: "monday",
      timezoneMode: "user",
      timezone: null,
      freezes: { initial: 0, max: 0 },
      graceMinutes: 60,
    },
    patch: { graceMinutes: 30 },
    patched: {
      name: "Daily",
      description: null,
      period: "day",
      weekStart: "monday",
      timezoneMode: "user",
      timezone: null,
      freezes: { initial: 0, max: 0 },
      graceMinutes: 30,
    },
    optional: { field: "timezone", value: "Europe/London", default: null },
    replacement: { name: "Daily v2", period: "day", timezone: "Europe/Paris", freezes: { max: 2 } },
    replaced: {
      name: "Daily v2",
      description: null,
      period: "day",
      weekStart: "monday",
      timezoneMode: "user",
      timezone: "Europe/Paris",
      freezes: { initial: 0, max: 2 },
      graceMinutes: 60,
    },
  },
  {
    kind: "triggers",
    prefix: "trg",
    archivable: false,
    prerequisites: [],
    body: { name: "Purchase", eventType: "purchase" },
    stored: { name: "Purchase", description: null, eventType: "purchase", conditions: null },
    patch: { name: "Any purchase" },
    patched: { name: "Any purchase", description: null, eventType: "purchase", conditions: null },
    optional: { field: "conditions", value: { path: "event.data.amount", op: "gte", value: 50 }, default: null },
    replacement: { name: "Big purchase", eventType: "purchase", conditions: { path: "event.data.amount", op: "gte", value: 100 } },
    replaced: {
      name: "Big purchase",
      description: null,
      eventType: "purchase",
      conditions: { path: "event.data.amount", op: "gte", value: 100 },
    },
  },
  {
    kind: "campaigns",
    prefix: "cmp",
    archivable: true,
    prerequisites: [metricPts],
    body: { name: "Welcome", steps: [campaignStep] },
    stored: campaignStored,
    patch: { priority: 5 },
    patched: { ...campaignStored, priority: 5 },
    optional: { field: "endsAt", value: "2030-01-01T01:00:00+01:00", storedValue: "2030-01-01T00:00:00.000Z", default: null },
    replacement: {
      name: "Welcome v2",
      steps: [{ ...campaignStep, effects: [{ type: "metric.add", metric: "pts", amount: 10 }] }],
    },
    replaced: {
      ...campaignStored,
      name: "Welcome v2",
      steps: [{ ...campaignStored.steps[0], effects: [{ type: "metric.add", metric: "pts", amount: 10 }] }],
    },
  },
  {
    kind: "webhooks",
    prefix: "whk",
    archivable: false,
    prerequisites: [],
    body: { url: "https://hooks.example.com/loyalty", events: ["*"] },
    stored: { url: "https://hooks.example.com/loyalty", events: ["*"], enabled: true, description: null },
    patch: { enabled: false },
    patched: { url: "https://hooks.example.com/loyalty", events: ["*"], enabled: false, description: null },
    optional: { field: "description", value: "CRM sync", default: null },
    replacement: { url: "https://hooks.example.com/v2", events: ["loyalty.user.created"] },
    replaced: { url: "https://hooks.example.com/v2", events: ["loyalty.user.created"], enabled: true, description: null },
  },
];

export const FIXTURE_BY_KIND = Object.fromEntries(KIND_FIXTURES.map((f) => [f.kind, f])) as Record<DefinitionKind, KindFixture>;

/** Creates a fixture's prerequisites in `space` (PUT: safe to repeat). */
export async function setupPrerequisites(space: Space, fixture: KindFixture): Promise<void> {
  for (const { kind, body } of fixture.prerequisites) {
    const { id, ...rest } = body;
    const res = await api(space, "PUT", `/${kind}/${id as string}`, rest);
    expect([200, 201], await res.clone().text()).toContain(res.status);
  }
}
