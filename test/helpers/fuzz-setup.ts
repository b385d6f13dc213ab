import { env } from "cloudflare:test";
import { z } from "zod";
import { expect, it } from "vitest";
import { requirementFor } from "../../src/auth/scopes";
import type { Config } from "../../src/config";
import { kindSpecs } from "../../src/definitions/registry";
import { DEFINITION_ID_PATTERN, DEFINITION_KINDS, type DefinitionKind } from "../../src/definitions/types";
import {
  ADMIN,
  ROUTES,
  STREAK_EVENT,
  USER_ITEM,
  USER_METRIC,
  USER_REWARD,
  USER_SEGMENT,
  browserSubscription,
  fixture,
  type Fixture,
} from "./admin-matrix";
import { ROOT_KEY, answer, callDirect, uniqueSlug } from "./harness";
import {
  FuzzReport,
  baseFromPath,
  casesFor,
  checkAnswer,
  deref,
  describeCase,
  fetchOperations,
  fuzzOperation,
  sampleOf,
  send,
  type BaseRequest,
  type Credentials,
  type FuzzTarget,
  type JsonSchema,
  type Operation,
} from "./fuzz";

// The world the fuzz files act in (issue #10): the admin matrix's fixture space (a key per
// scope, the definitions its rows use), a "witness" user with state of every kind, valid
// requests of every operation (the matrix's `prepare`, else one made from the schema),
// and the snapshots a batch of hostile inputs must leave unchanged: the programme, the
// space's D1 rows, the witness and the operation's own user.

/** Which file fuzzes an operation; every operation of the document is in exactly one part. */
export type Part = "admin" | "definitions" | "user";

export function partOf(op: Operation): Part {
  if (op.group !== "admin") return "user"; // /me and the public routes
  const rel = op.path.slice(ADMIN.length);
  const m = /^\/([a-z]+)(\/\{id\})?$/.exec(rel);
  if ((m && (DEFINITION_KINDS as readonly string[]).includes(m[1]!)) || rel === "/programme") return "definitions";
  return "admin";
}

export interface World {
  f: Fixture;
  operations: Operation[];
  /** A user with points, an item, a segment, a streak check-in, a redemption and a push subscription. */
  witness: string;
}

let worldPromise: Promise<World> | undefined;
/** Built once per file (storage is shared by the tests of a file). */
export function world(): Promise<World> {
  worldPromise ??= (async () => {
    const f = await fixture();
    const { operations } = await fetchOperations();
    const witness = uniqueSlug("witness");
    await seedUser(f, witness);
    return { f, operations, witness };
  })();
  return worldPromise;
}

async function admin(f: Fixture, method: string, path: string, body: unknown, status: number): Promise<any> {
  const a = await answer(await callDirect(`${ADMIN}${path}`, { method, space: f.space.slug, body }));
  expect(a.status, `${method} ${path}: ${a.text}`).toBe(status);
  return a.body;
}

/** Gives a user state of every kind the user document shows (`light`: a profile, points and an item). */
export async function seedUser(f: Fixture, userId: string, light = false): Promise<void> {
  await admin(f, "PUT", `/users/${userId}`, { attributes: { tier: "fuzz", n: 1 }, locale: "en-GB", timezone: "Europe/London" }, 201);
  await admin(f, "POST", `/users/${userId}/metrics/${USER_METRIC}/adjust`, { amount: 50, reason: "fuzz" }, 201);
  await admin(f, "POST", `/users/${userId}/products`, { product: USER_ITEM, quantity: 2 }, 201);
  if (light) return;
  await admin(f, "PUT", `/users/${userId}/segments/${USER_SEGMENT}`, undefined, 200);
  await admin(f, "POST", "/events", { id: uniqueSlug("ev"), userId, type: STREAK_EVENT }, 201);
  await admin(f, "POST", `/users/${userId}/redemptions`, { product: USER_REWARD }, 201);
  await admin(f, "PUT", `/users/${userId}/push-subscriptions`, await browserSubscription(), 201);
}

// Snapshots ------------------------------------------------------------------------

/** D1 tables a request could write synchronously (the directory, jobs and deliveries are written by queues). */
const TABLES = ["api_keys", "signing_keys", "definitions", "definition_refs", "idempotency_keys", "product_stock", "product_codes", "reservations", "vapid_keys"];

export async function d1Rows(spaceId: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  out.spaces = (await env.DB.prepare("SELECT * FROM spaces ORDER BY id").all()).results;
  const rows = await Promise.all(TABLES.map((table) => env.DB.prepare(`SELECT * FROM ${table} WHERE space_id = ? ORDER BY rowid`).bind(spaceId).all()));
  TABLES.forEach((table, i) => (out[table] = rows[i]!.results));
  return out;
}

/** The programme document and its version (the ETag). */
export async function programme(f: Fixture): Promise<unknown> {
  const a = await answer(await callDirect(`${ADMIN}/programme`, { space: f.space.slug }));
  expect(a.status, a.text).toBe(200);
  return { etag: a.headers.get("etag"), document: a.body };
}

/** A user as the admin user route shows them, and the object's whole state, ledger and push subscriptions. */
export async function userState(f: Fixture, userId: string): Promise<unknown> {
  const stub = env.USERS.getByName(JSON.stringify([f.space.id, userId])) as any;
  const [doc, state, ledger, subscriptions] = await Promise.all([
    answer(await callDirect(`${ADMIN}/users/${encodeURIComponent(userId)}`, { space: f.space.slug })),
    stub.getState(),
    stub.ledger(USER_METRIC, 100),
    stub.pushSubscriptions(),
  ]);
  // The state document moves with every change (balances, holdings, seen events, activity
  // counters); the ledger and the push subscriptions are kept beside it.
  return { doc: doc.status === 200 ? doc.body : doc.status, state, ledger, subscriptions };
}

// Bodies the server validates with: the kinds' zod schemas, with the id and the server fields it drops --

const config = { allowPrivateTargets: false, spaceHostSuffix: "" } as unknown as Config;

/** Fields a definition body may carry that the service drops (answers sent back as bodies). */
const SERVER_FIELDS = ["version", "createdAt", "updatedAt", "archivedAt", "memberCount", "redeemed"];

/** A kind's body schema as JSON Schema (its input side), with the optional `id` and the dropped server fields. */
export function kindSchema(kind: DefinitionKind, requireId = false): JsonSchema {
  const raw = z.toJSONSchema((kindSpecs(config)[kind] as any).schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const schema = deref(raw, raw) as JsonSchema;
  delete schema.$defs;
  schema.properties = { ...schema.properties, id: { type: "string", pattern: DEFINITION_ID_PATTERN.source } };
  for (const field of SERVER_FIELDS) schema.properties[field] = {};
  if (requireId) schema.required = [...(schema.required ?? []), "id"];
  return schema;
}

/**
 * Where the document's body schema is looser than what the server applies, the schema it
 * applies: definition writes and the programme document (validated by the kinds' zod
 * schemas in the service), and a space's merge patch (applied to the settings, then
 * validated as the settings of POST /spaces are).
 */
export function bodySchemaOf(op: Operation, operations: Operation[]): { bodySchema?: JsonSchema; mergePatch?: boolean } {
  const rel = op.path.slice(ADMIN.length);
  if (rel === "/spaces/{slug}" && op.method === "PATCH") {
    const create = operations.find((o) => o.key === `POST ${ADMIN}/spaces`)?.body?.schema;
    if (!create) return { mergePatch: true };
    const { slug: _slug, ...settings } = create.properties as Record<string, JsonSchema>;
    // id and slug may be named (unchanged); every setting but name has a default.
    return { bodySchema: { ...create, properties: { ...settings, id: { type: "string" }, slug: { type: "string" } }, required: ["name"] }, mergePatch: true };
  }
  if (rel === "/programme" && op.method === "PUT") {
    const properties = Object.fromEntries(DEFINITION_KINDS.map((k) => [k, { type: "array", items: kindSchema(k, true) }]));
    return { bodySchema: { type: "object", properties, additionalProperties: false } };
  }
  const m = /^\/([a-z]+)(\/\{id\})?$/.exec(rel);
  if (!m || !(DEFINITION_KINDS as readonly string[]).includes(m[1]!)) return {};
  if (!["POST", "PUT", "PATCH"].includes(op.method)) return {};
  return { bodySchema: kindSchema(m[1] as DefinitionKind), mergePatch: op.method === "PATCH" };
}

// Valid requests -----------------------------------------------------------------------

/** A valid request of an operation the matrix does not know: from its schema (path values it accepts). */
export function sampledBase(op: Operation, values: Record<string, string> = {}): BaseRequest {
  const params = Object.fromEntries(op.pathParams.map((p) => [p.name, values[p.name] ?? String(sampleOf(p.schema))]));
  const query = Object.fromEntries(op.queryParams.filter((p) => p.required).map((p) => [p.name, String(sampleOf(p.schema))]));
  return { params, query, body: op.body ? sampleOf(op.body.schema) : undefined };
}

export interface Prepared {
  target: FuzzTarget;
  credentials: Credentials;
  snapshot: () => Promise<unknown>;
}

/** An Admin API operation ready to fuzz: its valid request (the matrix's), credentials and snapshot. */
export async function prepareAdmin(w: World, op: Operation): Promise<Prepared> {
  const { f } = w;
  const route = ROUTES.find((r) => `${r.method} ${ADMIN}${r.template}` === op.key);
  let base: BaseRequest;
  let user: string | undefined;
  let p: Awaited<ReturnType<NonNullable<typeof route>["prepare"]>> | undefined;
  if (route) {
    p = await route.prepare(f, f.space.slug);
    base = baseFromPath(op, `${ADMIN}${p.path}`, p.body);
    user = p.user;
  } else {
    base = sampledBase(op, { slug: f.space.slug, userId: w.witness, metric: USER_METRIC, product: USER_ITEM, segmentId: USER_SEGMENT });
  }
  user ??= base.params.userId;
  const relative = op.path.slice(ADMIN.length).replace(/\{[^}]+\}/g, "x");
  // Root-only routes take the root key (no space); the rest a space admin key in its own space.
  const credentials: Credentials = requirementFor(op.method, relative) === "root" ? { key: ROOT_KEY } : { key: f.keys.admin, space: f.space.slug };
  const target: FuzzTarget = { op, base, foreignSpaceId: f.other.id, foreignSpaceSlug: f.other.slug, ...bodySchemaOf(op, w.operations) };
  const snapshot = async () => {
    const [programmeNow, d1, witness, own, routeState] = await Promise.all([
      programme(f),
      d1Rows(f.space.id),
      userState(f, w.witness),
      user && user !== w.witness ? userState(f, user) : null,
      route?.snapshot && p ? route.snapshot(f, p) : null,
    ]);
    return { programme: programmeNow, d1, witness, user: own, route: routeState };
  };
  return { target, credentials, snapshot };
}

/** Random runs per operation on top of its fixed examples (one per family of hostile input). */
export const RUNS = 15;

/** Runs the batch of one operation and records it. */
export async function fuzz(prepared: Prepared, report: FuzzReport, runs = RUNS): Promise<void> {
  await fuzzOperation({ ...prepared, report, numRuns: runs });
}

export { ADMIN };

/** A fuzz file's share of the document's operations (read at collection time, so each gets its own test) and its report. */
export async function fuzzPart(part: Part, file: string): Promise<{ report: FuzzReport; operations: Operation[]; mine: Operation[] }> {
  const { operations } = await fetchOperations();
  return { report: new FuzzReport(file), operations, mine: operations.filter((op) => partOf(op) === part) };
}

/** One test per operation: its fixed examples and seeded random cases (see fuzz). */
export function fuzzEach(mine: Operation[], prepare: (w: World, op: Operation) => Promise<Prepared>, report: FuzzReport): void {
  for (const op of mine) {
    it(op.key, { timeout: 60_000 }, async () => {
      const w = await world();
      await fuzz(await prepare(w, op), report);
    });
  }
}

/**
 * The first test of each fuzz file: a few operations' hostile examples of `families` sent
 * both through SELF.fetch and in-process must get the same answers (the rest of the file
 * sends in-process only), and leave their snapshot as it was.
 */
export async function selfAnswersLikeDirect(
  mine: Operation[],
  picks: string[],
  families: string[],
  prepare: (w: World, op: Operation) => Promise<Prepared>,
  report: FuzzReport,
): Promise<void> {
  const w = await world();
  for (const key of picks) {
    const op = mine.find((o) => o.key === key)!;
    expect(op, key).toBeDefined();
    const prepared = await prepare(w, op);
    const before = await prepared.snapshot();
    const { examples } = casesFor(prepared.target);
    const chosen = families.map((family) => examples.find((c) => c.family === family)).filter((c) => c !== undefined);
    for (const c of chosen) {
      const viaSelf = await send(c, prepared.credentials, "self");
      const direct = await send(c, prepared.credentials, "direct");
      report.record(op, c, viaSelf.status);
      report.record(op, c, direct.status);
      checkAnswer(op, c, viaSelf);
      expect([viaSelf.status, viaSelf.body?.code], describeCase(op, c, viaSelf)).toEqual([direct.status, direct.body?.code]);
    }
    expect(await prepared.snapshot(), key).toEqual(before);
  }
}

/** Path values of the User API's single resources that exist in the fixture space. */
const ME_IDS: Record<string, string> = { metrics: USER_METRIC, streaks: "matrix-streak", campaigns: "matrix-checkin", ladders: "fuzz-no-ladder" };

/**
 * A User API or public operation ready to fuzz. Each /me operation acts as its own fresh
 * user (state of every kind, a minted token): the per-user rate limit is 100 requests a
 * minute (SPEC §10), and the snapshot is that user's state.
 */
export async function prepareUser(w: World, op: Operation): Promise<Prepared> {
  const { f } = w;
  const segment = /\/me\/([a-z-]+)/.exec(op.path)?.[1] ?? "";
  let base = sampledBase(op, { slug: f.space.slug, id: ME_IDS[segment] ?? "fuzz" });
  let credentials: Credentials = { key: null };
  let user: string | undefined;
  if (op.group === "user") {
    user = uniqueSlug("fuzz-me");
    await seedUser(f, user, true);
    const minted = await answer(await callDirect(`${ADMIN}/users/${user}/token`, { space: f.space.slug, body: { ttlSeconds: 3600 } }));
    expect(minted.status, minted.text).toBe(201);
    credentials = { key: null, space: f.space.slug, headers: { Authorization: `Bearer ${minted.body.token}` } };
    // The space's VAPID keys are made on first use (GET /me/push-config): not by a hostile request.
    const config = await answer(await callDirect("/api/loyalty/me/push-config", { key: null, space: f.space.slug, headers: credentials.headers }));
    expect(config.status, config.text).toBe(200);
    if (op.path.endsWith("/push-subscriptions")) {
      const subscription = await browserSubscription();
      base = op.method === "PUT" ? { ...base, body: subscription } : { ...base, query: { endpoint: subscription.endpoint } };
    }
    if (op.queryParams.some((p) => p.name === "limit")) base = { ...base, query: { ...base.query, limit: "5" } };
  }
  const target: FuzzTarget = { op, base, foreignSpaceId: f.other.id, foreignSpaceSlug: f.other.slug };
  const snapshot = async () => {
    const [programmeNow, d1, witness, own] = await Promise.all([
      programme(f),
      d1Rows(f.space.id),
      userState(f, w.witness),
      user ? userState(f, user) : null,
    ]);
    return { programme: programmeNow, d1, witness, user: own };
  };
  return { target, credentials, snapshot };
}
