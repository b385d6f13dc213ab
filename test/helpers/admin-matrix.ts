import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { requirementFor, SCOPES, scopesAllow, type Requirement, type Scope } from "../../src/auth/scopes";
import { KIND_FIXTURES, call, createDefinition, programmeVersion, setupPrerequisites, viaSelf, type KindFixture } from "./definitions-api";
import { browserSubscription as newSubscription } from "./push";
import { BASE, ROOT_KEY, createKey, createSpace, expectProblem, json, uniqueSlug, type TestSpace } from "./harness";

// The shared Admin API security matrix (its cases; the test files run them in two halves) (SPEC §3.1, §3.2): every admin route, every way a
// credential can be wrong. A route added to the Admin API must be added to ROUTES below;
// the coverage test at the end compares the table with the OpenAPI document.
//
// Requests go to the Worker's fetch handler in-process (`call` of definitions-api.ts,
// same options as the harness's), not through SELF.fetch: SELF.fetch gets slower with
// every call a test file makes (cloudflare/workers-sdk#15446) and this matrix sends
// thousands. "the matrix's transport" below checks SELF.fetch answers alike.

export const ADMIN = "/api/loyalty/admin";
// A row's prepare makes several requests (a user, points, a redemption): ample time when
// the suite shares the machine with other files.
vi.setConfig({ testTimeout: 30_000 });

export interface Fixture {
  /** The space the requests act in, with one key per scope and a revoked admin key. */
  space: TestSpace;
  keys: Record<Scope, string>;
  revoked: string;
  /** Another space and its admin key. */
  other: TestSpace;
  otherAdmin: string;
}

export interface Prepared {
  path: string;
  body?: unknown;
  /** The user a /users or /events row acts on (what its snapshot reads). */
  user?: string;
}

export interface RouteCase {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** As in the OpenAPI document, relative to /api/loyalty/admin. */
  template: string;
  /** What src/auth/scopes.ts requires (checked against requirementFor below). */
  needs: Requirement;
  /** Status of a successful call by a sufficient credential. */
  success: number;
  /** A valid request acting in `slug` (the fixture's space unless a test names another). */
  prepare(f: Fixture, slug: string): Promise<Prepared>;
  /** Observable state a refused request must leave unchanged. */
  snapshot?(f: Fixture, p: Prepared): Promise<unknown>;
}

export async function spaceState(slug: string): Promise<unknown> {
  const res = await call(`${ADMIN}/spaces/${slug}`);
  return res.status === 200 ? (({ name, version }) => ({ name, version }))(await json(res)) : res.status;
}

export async function jwksKids(slug: string): Promise<string[]> {
  const res = await call(`/api/loyalty/spaces/${slug}/.well-known/jwks.json`, { key: null });
  return (await json(res)).keys.map((k: { kid: string }) => k.kid).sort();
}

export async function keyIds(slug: string): Promise<string[]> {
  const res = await call(`${ADMIN}/api-keys?limit=100`, { space: slug });
  return (await json(res)).data.map((k: { id: string }) => k.id);
}

/** A fresh key to read or revoke; created with the root key. */
export async function victimKey(slug: string): Promise<string> {
  const res = await call(`${ADMIN}/api-keys`, { space: slug, body: { name: "victim", scopes: ["read"] } });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await json(res)).id;
}

// | method | path template                          | needs       | success | body                         |
// |--------|----------------------------------------|-------------|---------|------------------------------|
// | POST   | /spaces                                | root        | 201     | { slug, name }               |
// | GET    | /spaces                                | root        | 200     |                              |
// | GET    | /spaces/{slug}                         | read        | 200     |                              |
// | PATCH  | /spaces/{slug}                         | admin       | 200     | { name }                     |
// | POST   | /spaces/{slug}/rotate-signing-key      | admin       | 200     | (none)                       |
// | POST   | /api-keys                              | admin       | 201     | { name, scopes: ["read"] }   |
// | GET    | /api-keys                              | read        | 200     |                              |
// | GET    | /api-keys/{id}                         | read        | 200     |                              |
// | DELETE | /api-keys/{id}                         | admin       | 204     |                              |
// | POST   | /users/{userId}/token                  | users:write | 201     | { ttlSeconds: 600 }          |
// | GET    | /{kind}                                | read        | 200     |                              |
// | POST   | /{kind}                                | admin       | 201     | { id, ...minimal body }      |
// | GET    | /{kind}/{id}                           | read        | 200     |                              |
// | PUT    | /{kind}/{id}                           | admin       | 201     | minimal body (creates)       |
// | PATCH  | /{kind}/{id}                           | admin       | 200     | a one-field merge patch      |
// | DELETE | /{kind}/{id}                           | admin       | 204     |                              |
// | GET    | /programme                             | read        | 200     |                              |
// | PUT    | /programme                             | admin       | 200     | { segments: [one new] }      |
// | POST   | /events                                | events:write| 201     | { id, userId, type }         |
// | POST   | /events/batch                          | events:write| 200     | { events: [two events] }     |
// | GET    | /users/{userId}                        | read        | 200     | (user created first)         |
// | PUT    | /users/{userId}                        | users:write | 201     | { attributes, locale } (new) |
// | PATCH  | /users/{userId}                        | users:write | 200     | { attributes } (user exists) |
// | DELETE | /users/{userId}                        | admin       | 204     | (user created first)         |
// | POST   | /users/{userId}/metrics/{metric}/adjust| users:write | 201     | { amount: 10, reason }       |
// | GET    | /users/{userId}/metrics/{metric}/trans…| read        | 200     | (one adjustment first)       |
// | POST   | /users/{userId}/products               | users:write | 201     | { product (item), quantity } |
// | DELETE | /users/{userId}/products/{product}     | users:write | 200     | (granted first)              |
// | GET    | /users/{userId}/activity               | read        | 200     | (user created first)         |
// | POST   | /users/{userId}/streaks/{id}/restore   | users:write | 200     | (none; a broken streak first)|
// | POST   | /users/{userId}/events/{eventId}/reverse | users:write | 200   | (none; an event first)       |
// | PUT    | /users/{userId}/segments/{segmentId}   | users:write | 200     | (none; a static segment)     |
// | DELETE | /users/{userId}/segments/{segmentId}   | users:write | 204     | (a member first)             |
// | GET    | /users                                 | read        | 200     |                              |
// | GET    | /segments/{id}/users                   | read        | 200     |                              |
// | GET    | /jobs                                  | read        | 200     |                              |
// | GET    | /jobs/{id}                             | read        | 200     | (a dynamic segment's job)    |
// | POST   | /users/{userId}/redemptions            | users:write | 201     | { product } (points first)   |
// | POST   | /users/{userId}/redemptions/{id}/cancel| users:write | 200     | { restock } (redeemed first) |
// | GET    | /users/{userId}/redemptions/{id}       | read        | 200     | (redeemed first)             |
// | POST   | /products/{id}/codes                   | admin       | 200     | { codes: [one new code] }    |
// | GET    | /webhooks/{id}/deliveries              | read        | 200     |                              |
// | GET    | /webhooks/{id}/deliveries/{deliveryId} | read        | 200     | (a logged delivery first)    |
// | POST   | …/deliveries/{deliveryId}/retry        | admin       | 202     | (a logged delivery first)    |
// | POST   | /webhooks/{id}/rotate-secret           | admin       | 200     | (none)                       |
// | PUT    | /users/{userId}/push-subscriptions     | users:write | 201     | a browser subscription       |
// | DELETE | /users/{userId}/push-subscriptions     | users:write | 204     | (?endpoint=, subscribed)     |
// ({kind}: each of the 8 definition kinds, bodies from KIND_FIXTURES; generated below.
// The /events and /users rows act on a fresh user id per prepare; see userRoutes.)
export const ROUTES: RouteCase[] = [
  {
    method: "POST",
    template: "/spaces",
    needs: "root",
    success: 201,
    prepare: async () => {
      const slug = uniqueSlug("m");
      return { path: "/spaces", body: { slug, name: "matrix" } };
    },
    snapshot: async (_f, p) => spaceState((p.body as { slug: string }).slug),
  },
  {
    method: "GET",
    template: "/spaces",
    needs: "root",
    success: 200,
    prepare: async () => ({ path: "/spaces?limit=5" }),
  },
  {
    method: "GET",
    template: "/spaces/{slug}",
    needs: "read",
    success: 200,
    prepare: async (_f, slug) => ({ path: `/spaces/${slug}` }),
  },
  {
    method: "PATCH",
    template: "/spaces/{slug}",
    needs: "admin",
    success: 200,
    prepare: async (_f, slug) => ({ path: `/spaces/${slug}`, body: { name: `patched ${uniqueSlug()}` } }),
    snapshot: async (f) => spaceState(f.space.slug),
  },
  {
    method: "POST",
    template: "/spaces/{slug}/rotate-signing-key",
    needs: "admin",
    success: 200,
    prepare: async (_f, slug) => ({ path: `/spaces/${slug}/rotate-signing-key` }),
    snapshot: async (f) => jwksKids(f.space.slug),
  },
  {
    method: "POST",
    template: "/api-keys",
    needs: "admin",
    success: 201,
    prepare: async () => ({ path: "/api-keys", body: { name: "matrix", scopes: ["read"] } }),
    snapshot: async (f) => keyIds(f.space.slug),
  },
  {
    method: "GET",
    template: "/api-keys",
    needs: "read",
    success: 200,
    prepare: async () => ({ path: "/api-keys" }),
  },
  {
    method: "GET",
    template: "/api-keys/{id}",
    needs: "read",
    success: 200,
    prepare: async (f) => ({ path: `/api-keys/${await victimKey(f.space.slug)}` }),
  },
  {
    method: "DELETE",
    template: "/api-keys/{id}",
    needs: "admin",
    success: 204,
    prepare: async (f) => ({ path: `/api-keys/${await victimKey(f.space.slug)}` }),
    snapshot: async (f, p) => (await json(await call(`${ADMIN}${p.path}`, { space: f.space.slug }))).revokedAt,
  },
  {
    method: "POST",
    template: "/users/{userId}/token",
    needs: "users:write",
    success: 201,
    prepare: async () => ({ path: "/users/matrix-user/token", body: { ttlSeconds: 600 } }),
  },
  ...definitionRoutes(),
  ...userRoutes(),
  ...audienceRoutes(),
  ...rewardRoutes(),
  ...outboundRoutes(),
];

/** Reads a definition for snapshots: its status and body (or just the status). */
export async function definitionState(f: Fixture, path: string): Promise<unknown> {
  const res = await call(`${ADMIN}${path}`, { space: f.space.slug });
  return res.status === 200 ? json(res) : res.status;
}

/**
 * The matrix's webhooks are created disabled. The webhook rows leave dozens of webhooks in
 * the fixture's space, and enabled ones subscribed to "*" would turn every user write of
 * the /events and /users rows into up to 50 deliveries: thousands of queue messages whose
 * consumer runs slow the rest of the file (SELF.fetch most of all) several times over.
 */
export function matrixFixture(fx: KindFixture): KindFixture {
  if (fx.kind !== "webhooks") return fx;
  return { ...fx, body: { ...fx.body, enabled: false }, patch: { description: "matrix" } };
}

/** The six routes of every definition kind (SPEC §4) and the programme document (§4.8). */
export function definitionRoutes(): RouteCase[] {
  const routes: RouteCase[] = [];
  const version = (f: Fixture) => programmeVersion(f.space);
  for (const fixture of KIND_FIXTURES) {
    const fx = matrixFixture(fixture);
    const kind = fx.kind;
    /** A fresh definition of this kind in the fixture's space, created with the root key. */
    const victim = async (f: Fixture) => `/${kind}/${(await createDefinition(f.space, kind, { id: uniqueSlug("v"), ...fx.body })).id}`;
    routes.push(
      { method: "GET", template: `/${kind}`, needs: "read", success: 200, prepare: async () => ({ path: `/${kind}?limit=5` }) },
      {
        method: "POST",
        template: `/${kind}`,
        needs: "admin",
        success: 201,
        prepare: async () => ({ path: `/${kind}`, body: { id: uniqueSlug("v"), ...fx.body } }),
        snapshot: async (f) => version(f),
      },
      { method: "GET", template: `/${kind}/{id}`, needs: "read", success: 200, prepare: async (f) => ({ path: await victim(f) }) },
      {
        method: "PUT",
        template: `/${kind}/{id}`,
        needs: "admin",
        success: 201,
        prepare: async () => ({ path: `/${kind}/${uniqueSlug("v")}`, body: fx.body }),
        snapshot: async (f, p) => [await version(f), await definitionState(f, p.path)],
      },
      {
        method: "PATCH",
        template: `/${kind}/{id}`,
        needs: "admin",
        success: 200,
        prepare: async (f) => ({ path: await victim(f), body: fx.patch }),
        snapshot: async (f, p) => [await version(f), await definitionState(f, p.path)],
      },
      {
        method: "DELETE",
        template: `/${kind}/{id}`,
        needs: "admin",
        success: 204,
        prepare: async (f) => ({ path: await victim(f) }),
        snapshot: async (f, p) => [await version(f), await definitionState(f, p.path)],
      },
    );
  }
  routes.push(
    { method: "GET", template: "/programme", needs: "read", success: 200, prepare: async () => ({ path: "/programme" }) },
    {
      method: "PUT",
      template: "/programme",
      needs: "admin",
      success: 200,
      prepare: async () => ({ path: "/programme", body: { segments: [{ id: uniqueSlug("v"), name: "Matrix", type: "static" }] } }),
      snapshot: async (f) => version(f),
    },
  );
  return routes;
}

/** Definitions the /users rows use, created in the fixture's space by fixture(). */
export const USER_METRIC = "matrix-pts";
export const USER_ITEM = "matrix-item";
/** A daily streak without freezes, checked in by `matrix_visit` events. */
export const USER_STREAK = "matrix-streak";
export const STREAK_EVENT = "matrix_visit";
/** A static segment the membership rows add users to and remove them from. */
export const USER_SEGMENT = "matrix-static";
/** A reward costing 1 matrix point, for the redemption rows. */
export const USER_REWARD = "matrix-reward";
/** A reward the code-pool row adds codes to. */
export const CODED_REWARD = "matrix-coded-reward";

/** A user id no other prepare uses, so rows and tests never share a user. */
export const freshUser = () => uniqueSlug("mu");

/** A user's whole document in the fixture's space, or the status when there is none (404). */
export async function userState(f: Fixture, userId: string): Promise<unknown> {
  const res = await call(`${ADMIN}/users/${userId}`, { space: f.space.slug });
  return res.status === 200 ? json(res) : res.status;
}

/** A fresh user in the fixture's space, created with the root key; returns its id. */
export async function existingUser(f: Fixture): Promise<string> {
  const userId = freshUser();
  const res = await call(`${ADMIN}/users/${userId}`, { method: "PUT", space: f.space.slug, body: { attributes: { tier: "a" } } });
  expect(res.status, await res.clone().text()).toBe(201);
  return userId;
}

/** A root-key write in the fixture's space (a prepare's setup); expects `status`. */
export async function rootWrite(f: Fixture, method: string, path: string, body: unknown, status: number): Promise<void> {
  const res = await call(`${ADMIN}${path}`, { method, space: f.space.slug, body });
  expect(res.status, await res.clone().text()).toBe(status);
}

/** Event ingestion (SPEC §5.1) and the user routes (SPEC §7). */
export function userRoutes(): RouteCase[] {
  const event = (userId: string) => ({ id: uniqueSlug("ev"), userId, type: "matrix_ping", data: { n: 1 } });
  const userSnapshot = async (f: Fixture, p: Prepared) => userState(f, p.user!);
  return [
    {
      method: "POST",
      template: "/events",
      needs: "events:write",
      success: 201,
      prepare: async () => {
        const user = freshUser();
        return { path: "/events", user, body: event(user) };
      },
      snapshot: userSnapshot,
    },
    {
      method: "POST",
      template: "/events/batch",
      needs: "events:write",
      success: 200,
      prepare: async () => {
        const user = freshUser();
        return { path: "/events/batch", user, body: { events: [event(user), event(user)] } };
      },
      snapshot: userSnapshot,
    },
    {
      method: "GET",
      template: "/users/{userId}",
      needs: "read",
      success: 200,
      prepare: async (f) => ({ path: `/users/${await existingUser(f)}` }),
    },
    {
      method: "PUT",
      template: "/users/{userId}",
      needs: "users:write",
      success: 201,
      prepare: async () => {
        const user = freshUser();
        return { path: `/users/${user}`, user, body: { attributes: { tier: "b" }, locale: "en-GB" } };
      },
      snapshot: userSnapshot,
    },
    {
      method: "PATCH",
      template: "/users/{userId}",
      needs: "users:write",
      success: 200,
      prepare: async (f) => {
        const user = await existingUser(f);
        return { path: `/users/${user}`, user, body: { attributes: { tier: "b" } } };
      },
      snapshot: userSnapshot,
    },
    {
      method: "DELETE",
      template: "/users/{userId}",
      needs: "admin",
      success: 204,
      prepare: async (f) => {
        const user = await existingUser(f);
        return { path: `/users/${user}`, user };
      },
      snapshot: userSnapshot,
    },
    {
      method: "POST",
      template: "/users/{userId}/metrics/{metric}/adjust",
      needs: "users:write",
      success: 201,
      prepare: async () => {
        const user = freshUser();
        return { path: `/users/${user}/metrics/${USER_METRIC}/adjust`, user, body: { amount: 10, reason: "matrix" } };
      },
      snapshot: userSnapshot,
    },
    {
      method: "GET",
      template: "/users/{userId}/metrics/{metric}/transactions",
      needs: "read",
      success: 200,
      prepare: async (f) => {
        const user = freshUser();
        await rootWrite(f, "POST", `/users/${user}/metrics/${USER_METRIC}/adjust`, { amount: 5, reason: "matrix" }, 201);
        return { path: `/users/${user}/metrics/${USER_METRIC}/transactions?limit=5` };
      },
    },
    {
      method: "POST",
      template: "/users/{userId}/products",
      needs: "users:write",
      success: 201,
      prepare: async () => {
        const user = freshUser();
        return { path: `/users/${user}/products`, user, body: { product: USER_ITEM, quantity: 2 } };
      },
      snapshot: userSnapshot,
    },
    {
      method: "DELETE",
      template: "/users/{userId}/products/{product}",
      needs: "users:write",
      success: 200,
      prepare: async (f) => {
        const user = freshUser();
        await rootWrite(f, "POST", `/users/${user}/products`, { product: USER_ITEM, quantity: 2 }, 201);
        return { path: `/users/${user}/products/${USER_ITEM}`, user };
      },
      snapshot: userSnapshot,
    },
    {
      method: "GET",
      template: "/users/{userId}/activity",
      needs: "read",
      success: 200,
      prepare: async (f) => ({ path: `/users/${await existingUser(f)}/activity?limit=5` }),
    },
    {
      method: "POST",
      template: "/users/{userId}/streaks/{id}/restore",
      needs: "users:write",
      success: 200,
      prepare: async (f) => {
        // A streak checked in three days ago (no freezes) is broken as of now: restorable.
        const user = freshUser();
        const occurredAt = new Date(Date.now() - 3 * 86_400_000).toISOString();
        await rootWrite(f, "POST", "/events", { id: uniqueSlug("ev"), userId: user, type: STREAK_EVENT, occurredAt }, 201);
        return { path: `/users/${user}/streaks/${USER_STREAK}/restore`, user };
      },
      snapshot: userSnapshot,
    },
    {
      method: "POST",
      template: "/users/{userId}/events/{eventId}/reverse",
      needs: "users:write",
      success: 200,
      prepare: async (f) => {
        // An event that checked the streak in: reversing it emits loyalty.event.reversed.
        const user = freshUser();
        const eventId = uniqueSlug("ev");
        await rootWrite(f, "POST", "/events", { id: eventId, userId: user, type: STREAK_EVENT }, 201);
        return { path: `/users/${user}/events/${eventId}/reverse`, user };
      },
      snapshot: userSnapshot,
    },
    {
      method: "PUT",
      template: "/users/{userId}/segments/{segmentId}",
      needs: "users:write",
      success: 200,
      prepare: async (f) => {
        const user = await existingUser(f);
        return { path: `/users/${user}/segments/${USER_SEGMENT}`, user };
      },
      snapshot: userSnapshot,
    },
    {
      method: "DELETE",
      template: "/users/{userId}/segments/{segmentId}",
      needs: "users:write",
      success: 204,
      prepare: async (f) => {
        const user = freshUser();
        await rootWrite(f, "PUT", `/users/${user}/segments/${USER_SEGMENT}`, undefined, 200);
        return { path: `/users/${user}/segments/${USER_SEGMENT}`, user };
      },
      snapshot: userSnapshot,
    },
  ];
}

/** Redemptions and code pools (SPEC §4.2, §7). */
export function rewardRoutes(): RouteCase[] {
  /** A user holding 10 matrix points (root key), ready to redeem. */
  const funded = async (f: Fixture) => {
    const user = freshUser();
    await rootWrite(f, "POST", `/users/${user}/metrics/${USER_METRIC}/adjust`, { amount: 10, reason: "matrix" }, 201);
    return user;
  };
  return [
    {
      method: "POST",
      template: "/users/{userId}/redemptions",
      needs: "users:write",
      success: 201,
      prepare: async (f) => {
        const user = await funded(f);
        return { path: `/users/${user}/redemptions`, user, body: { product: USER_REWARD } };
      },
      snapshot: async (f, p) => userState(f, p.user!),
    },
    {
      method: "POST",
      template: "/users/{userId}/redemptions/{id}/cancel",
      needs: "users:write",
      success: 200,
      prepare: async (f) => {
        const user = await funded(f);
        const res = await call(`${ADMIN}/users/${user}/redemptions`, { space: f.space.slug, body: { product: USER_REWARD } });
        expect(res.status, await res.clone().text()).toBe(201);
        const { id } = await json(res);
        return { path: `/users/${user}/redemptions/${id}/cancel`, user, body: { restock: true } };
      },
      snapshot: async (f, p) => userState(f, p.user!),
    },
    {
      method: "GET",
      template: "/users/{userId}/redemptions/{id}",
      needs: "read",
      success: 200,
      prepare: async (f) => {
        const user = await funded(f);
        const res = await call(`${ADMIN}/users/${user}/redemptions`, { space: f.space.slug, body: { product: USER_REWARD } });
        expect(res.status, await res.clone().text()).toBe(201);
        return { path: `/users/${user}/redemptions/${(await json(res)).id}` };
      },
    },
    {
      method: "POST",
      template: "/products/{id}/codes",
      needs: "admin",
      success: 200,
      // Its own reward: once a pool has codes, every redemption of the reward needs one.
      prepare: async () => ({ path: `/products/${CODED_REWARD}/codes`, body: { codes: [uniqueSlug("code")] } }),
    },
  ];
}

/** A disabled endpoint the delivery rows act on (a replay is logged skipped, nothing is sent). */
export const USER_HOOK = "matrix-hook";

/** A delivery of USER_HOOK written to the log as the consumer would; answers its id. */
export async function loggedDelivery(f: Fixture): Promise<string> {
  const id = `msg_${uniqueSlug("d").replace(/[^a-z0-9]/g, "")}`.slice(0, 40);
  const message = { spaceId: f.space.id, userId: "matrix-user", message: { kind: "webhook", webhook: USER_HOOK, eventId: "e#1", type: "loyalty.metric.changed", occurredAt: new Date().toISOString(), data: {} } };
  await env.DB.prepare(
    `INSERT INTO deliveries (id, space_id, kind, endpoint_id, user_id, event_type, message, status, attempts, created_at, updated_at)
     VALUES (?, ?, 'webhook', ?, 'matrix-user', 'loyalty.metric.changed', ?, 'skipped', 0, ?, ?)`,
  ).bind(id, f.space.id, USER_HOOK, JSON.stringify(message), Date.now(), Date.now()).run();
  return id;
}

/** A browser's subscription to a default push host. */
export const browserSubscription = () => newSubscription(`https://fcm.googleapis.com/fcm/send/${uniqueSlug("sub")}`);

/** Webhook operations and push subscriptions (SPEC §8). */
export function outboundRoutes(): RouteCase[] {
  return [
    { method: "GET", template: "/webhooks/{id}/deliveries", needs: "read", success: 200, prepare: async () => ({ path: `/webhooks/${USER_HOOK}/deliveries?limit=5` }) },
    {
      method: "GET",
      template: "/webhooks/{id}/deliveries/{deliveryId}",
      needs: "read",
      success: 200,
      prepare: async (f) => ({ path: `/webhooks/${USER_HOOK}/deliveries/${await loggedDelivery(f)}` }),
    },
    {
      method: "POST",
      template: "/webhooks/{id}/deliveries/{deliveryId}/retry",
      needs: "admin",
      success: 202,
      prepare: async (f) => ({ path: `/webhooks/${USER_HOOK}/deliveries/${await loggedDelivery(f)}/retry` }),
    },
    { method: "POST", template: "/webhooks/{id}/rotate-secret", needs: "admin", success: 200, prepare: async () => ({ path: `/webhooks/${USER_HOOK}/rotate-secret` }) },
    {
      method: "PUT",
      template: "/users/{userId}/push-subscriptions",
      needs: "users:write",
      success: 201,
      prepare: async () => ({ path: `/users/${freshUser()}/push-subscriptions`, body: await browserSubscription() }),
    },
    {
      method: "DELETE",
      template: "/users/{userId}/push-subscriptions",
      needs: "users:write",
      success: 204,
      prepare: async (f) => {
        const user = freshUser();
        const subscription = await browserSubscription();
        await rootWrite(f, "PUT", `/users/${user}/push-subscriptions`, subscription, 201);
        return { path: `/users/${user}/push-subscriptions?endpoint=${encodeURIComponent(subscription.endpoint)}` };
      },
    },
  ];
}

/** The directory, segment members and jobs (SPEC §5.5, §5.8): reads of the D1 indexes. */
export function audienceRoutes(): RouteCase[] {
  return [
    { method: "GET", template: "/users", needs: "read", success: 200, prepare: async () => ({ path: "/users?limit=5" }) },
    {
      method: "GET",
      template: "/segments/{id}/users",
      needs: "read",
      success: 200,
      prepare: async () => ({ path: `/segments/${USER_SEGMENT}/users?limit=5` }),
    },
    { method: "GET", template: "/jobs", needs: "read", success: 200, prepare: async () => ({ path: "/jobs?limit=5" }) },
    {
      method: "GET",
      template: "/jobs/{id}",
      needs: "read",
      success: 200,
      prepare: async (f) => {
        const id = uniqueSlug("dyn");
        const res = await call(`${ADMIN}/segments/${id}`, {
          method: "PUT",
          space: f.space.slug,
          body: { name: "Matrix dynamic", type: "dynamic", rule: { path: "user.attributes.tier", op: "eq", value: "z" } },
        });
        expect(res.status, await res.clone().text()).toBe(201);
        const job = res.headers.get("loyalty-job");
        expect(job).toMatch(/^job_/);
        return { path: `/jobs/${job}` };
      },
    },
  ];
}

export let fixturePromise: Promise<Fixture> | undefined;
/** Built once per file (storage is shared by the tests of a file). */
export function fixture(): Promise<Fixture> {
  fixturePromise ??= (async () => {
    const space = await createSpace();
    const other = await createSpace();
    const keys = {} as Record<Scope, string>;
    for (const scope of SCOPES) keys[scope] = (await createKey(space, [scope])).secret;
    const revokedKey = await createKey(space, ["admin"]);
    const revoke = await call(`${ADMIN}/api-keys/${revokedKey.id}`, { method: "DELETE", space: space.slug });
    expect(revoke.status).toBe(204);
    const otherAdmin = (await createKey(other, ["admin"])).secret;
    // What the definition rows' bodies reference (e.g. a ladder's metric).
    for (const fx of KIND_FIXTURES) await setupPrerequisites(space, fx);
    // What the /users rows adjust and grant.
    await createDefinition(space, "metrics", { id: USER_METRIC, name: "Matrix points", kind: "currency" });
    await createDefinition(space, "products", { id: USER_ITEM, name: "Matrix item", type: "item" });
    await createDefinition(space, "segments", { id: USER_SEGMENT, name: "Matrix static", type: "static" });
    await createDefinition(space, "webhooks", { id: USER_HOOK, url: "https://hooks.example.com/matrix", events: ["*"], enabled: false });
    await createDefinition(space, "products", { id: USER_REWARD, name: "Matrix reward", type: "reward", price: { metric: USER_METRIC, amount: 1 } });
    await createDefinition(space, "products", { id: CODED_REWARD, name: "Matrix coded reward", type: "reward", price: { metric: USER_METRIC, amount: 1 } });
    // What the streak restore row breaks and restores.
    await createDefinition(space, "streaks", { id: USER_STREAK, name: "Matrix streak", period: "day" });
    await createDefinition(space, "campaigns", {
      id: "matrix-checkin",
      name: "Matrix check-in",
      status: "active",
      repeat: { limit: null },
      steps: [{ id: "s", name: "Visit", trigger: { eventType: STREAK_EVENT }, effects: [{ type: "streak.checkin", streak: USER_STREAK }] }],
    });
    return { space, keys, revoked: revokedKey.secret, other, otherAdmin };
  })();
  return fixturePromise;
}

export async function send(
  route: RouteCase,
  p: Prepared,
  options: { key: string | null; space?: string; headers?: Record<string, string> },
): Promise<Response> {
  return call(`${ADMIN}${p.path}`, {
    method: route.method,
    key: options.key,
    space: options.space,
    headers: options.headers,
    body: p.body,
  });
}

/** Runs a request that must be refused, and checks it changed nothing. */
export async function refused(
  route: RouteCase,
  f: Fixture,
  options: { key: string | null; space?: string; headers?: Record<string, string> },
  status: number,
  code: string,
): Promise<any> {
  const p = await route.prepare(f, f.space.slug);
  const before = await route.snapshot?.(f, p);
  const problem = await expectProblem(await send(route, p, options), status, code);
  expect(await route.snapshot?.(f, p)).toEqual(before);
  return problem;
}

export const isRoot = (route: RouteCase) => route.needs === "root";

/** The matrix cases of every credential for `routes` (one describe per route). */
export function defineRouteMatrix(routes: RouteCase[]): void {
for (const route of routes) {
  describe(`${route.method} ${ADMIN}${route.template} (needs ${route.needs})`, () => {
    it("no Authorization: 401 missing_credential with WWW-Authenticate", async () => {
      const f = await fixture();
      const p = await route.prepare(f, f.space.slug);
      const res = await send(route, p, { key: null, space: f.space.slug });
      await expectProblem(res, 401, "missing_credential");
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
    });

    it("a non-Bearer scheme is 401 missing_credential", async () => {
      const f = await fixture();
      await refused(route, f, { key: null, space: f.space.slug, headers: { Authorization: `Basic ${btoa(`root:${ROOT_KEY}`)}` } }, 401, "missing_credential");
    });

    it.each([
      ["garbage", "garbage"],
      ["an unknown lk_ key", `lk_${"A".repeat(43)}`],
      ["the root key with one character changed", `${ROOT_KEY.slice(0, -1)}${ROOT_KEY.endsWith("0") ? "1" : "0"}`],
      ["the root key with a suffix", `${ROOT_KEY}x`],
      ["an over-long lk_ key", `lk_${"A".repeat(200)}`],
    ])("%s as bearer: 401 invalid_credential", async (_label, bearer) => {
      const f = await fixture();
      const problem = await refused(route, f, { key: bearer, space: f.space.slug }, 401, "invalid_credential");
      expect(JSON.stringify(problem)).not.toContain(bearer);
    });

    it("a revoked key: 401 invalid_credential", async () => {
      const f = await fixture();
      await refused(route, f, { key: f.revoked, space: f.space.slug }, 401, "invalid_credential");
      await refused(route, f, { key: f.revoked }, 401, "invalid_credential");
    });

    it("anonymous requests are refused before the body or the space header is looked at", async () => {
      const f = await fixture();
      const p = await route.prepare(f, f.space.slug);
      const res = await call(`${ADMIN}${p.path}`, {
        method: route.method,
        key: null,
        headers: { "X-Loyalty-Space": "Bad_Slug!", "Content-Type": "application/json" },
        rawBody: route.method === "GET" || route.method === "DELETE" ? undefined : "{not json",
      });
      await expectProblem(res, 401, "missing_credential");
    });

    if (isRoot(route)) {
      it.each(SCOPES.map((s) => [s]))("a space key with scope %s: 403 insufficient_scope (root only)", async (scope) => {
        const f = await fixture();
        await refused(route, f, { key: f.keys[scope] }, 403, "insufficient_scope");
        await refused(route, f, { key: f.keys[scope], space: f.space.slug }, 403, "insufficient_scope");
      });

      it("another space's admin key naming this space: 403 insufficient_scope (root only)", async () => {
        const f = await fixture();
        await refused(route, f, { key: f.otherAdmin, space: f.space.slug }, 403, "insufficient_scope");
      });
    } else {
      it.each(SCOPES.map((s) => [s, scopesAllow([s], route.needs)] as const))(
        "a key with scope %s (allowed: %s)",
        async (scope, allowed) => {
          const f = await fixture();
          if (allowed) {
            const p = await route.prepare(f, f.space.slug);
            const res = await send(route, p, { key: f.keys[scope] });
            expect(res.status, await res.clone().text()).toBe(route.success);
          } else {
            const problem = await refused(route, f, { key: f.keys[scope] }, 403, "insufficient_scope");
            expect(problem.detail).toContain(route.needs);
            await refused(route, f, { key: f.keys[scope], space: f.space.slug }, 403, "insufficient_scope");
          }
        },
      );

      it("another space's admin key naming this space with X-Loyalty-Space: 403 wrong_space", async () => {
        const f = await fixture();
        await refused(route, f, { key: f.otherAdmin, space: f.space.slug }, 403, "wrong_space");
      });

      it("another space's key without admin scope naming this space: still 403 wrong_space", async () => {
        const f = await fixture();
        const readKey = (await createKey(f.other, ["read"])).secret;
        await refused(route, f, { key: readKey, space: f.space.slug }, 403, "wrong_space");
      });

      it("the root key with X-Loyalty-Space of an unknown space: 404 not_found", async () => {
        const f = await fixture();
        const missing = uniqueSlug("missing");
        const p = await route.prepare(f, missing);
        await expectProblem(await send(route, p, { key: ROOT_KEY, space: missing }), 404, "not_found");
      });

      it("the root key naming this space succeeds", async () => {
        const f = await fixture();
        const p = await route.prepare(f, f.space.slug);
        const res = await send(route, p, { key: ROOT_KEY, space: f.space.slug });
        expect(res.status, await res.clone().text()).toBe(route.success);
      });

      it("an admin key of this space naming its own space succeeds", async () => {
        const f = await fixture();
        const p = await route.prepare(f, f.space.slug);
        const res = await send(route, p, { key: f.keys.admin, space: f.space.slug });
        expect(res.status, await res.clone().text()).toBe(route.success);
      });
    }

    it("X-Loyalty-Space: Bad_Slug! is 400 path header.x-loyalty-space (root key and space key)", async () => {
      const f = await fixture();
      for (const key of [ROOT_KEY, f.keys.admin]) {
        const p = await route.prepare(f, f.space.slug);
        const before = await route.snapshot?.(f, p);
        const res = await send(route, p, { key, headers: { "X-Loyalty-Space": "Bad_Slug!" } });
        // A space key on a root-only route is refused for its scope first.
        if (isRoot(route) && key !== ROOT_KEY) {
          await expectProblem(res, 403, "insufficient_scope");
          continue;
        }
        const problem = await expectProblem(res, 400, "invalid_request");
        expect(problem.errors).toEqual([{ path: "header.x-loyalty-space", message: expect.any(String) }]);
        expect(await route.snapshot?.(f, p)).toEqual(before);
      }
    });

    if (isRoot(route)) {
      it("the root key succeeds", async () => {
        const f = await fixture();
        const p = await route.prepare(f, f.space.slug);
        const res = await send(route, p, { key: ROOT_KEY });
        expect(res.status, await res.clone().text()).toBe(route.success);
      });
    }
  });
}
}
