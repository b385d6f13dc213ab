import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runQueue, type QueueResult, type QueueTestMessage } from "../helpers/queue";
import type { Env } from "../../src/env";
import { directoryChanged, LAST_SEEN_REFRESH_MS, type DirectoryUpdate } from "../../src/directory/entry";
import { answer, callDirect, uniqueSlug, type Answer, type TestSpace } from "../helpers/harness";

// The D1 user directory and segment-member index (SPEC §5.5, §5.8, §7): fed by the users'
// Durable Objects through the `loyalty-index` queue (real queue, real consumer), read by
// GET /admin/users, GET /admin/segments/{id}/users and `memberCount`. Everything there
// is eventually consistent, so reads poll with a deadline before asserting. Ordering,
// tombstones and poison messages are driven through the Worker's own `queue` export
// with batches built by the pool (createMessageBatch / getQueueResult).
//
// Requests go through the Worker's fetch handler in-process (harness.callDirect): this
// file sends several thousand requests, and SELF.fetch gets slower with each one.

vi.setConfig({ testTimeout: 180_000 });

const ADMIN = "/api/loyalty/admin";
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Admin API client -----------------------------------------------------------------

async function createSpace(): Promise<TestSpace> {
  const slug = uniqueSlug("dir");
  const a = await answer(await callDirect(`${ADMIN}/spaces`, { body: { slug, name: `Space ${slug}` } }));
  expect(a.status, a.text).toBe(201);
  return { id: a.body.id, slug: a.body.slug };
}

type Api = ReturnType<typeof apiOf>;

function apiOf(space: TestSpace) {
  const at = async (method: string, path: string, body?: unknown): Promise<Answer> =>
    answer(await callDirect(`${ADMIN}${path}`, { method, space: space.slug, body }));
  const api = {
    space,
    at,
    get: (path: string) => at("GET", path),
    /** PUT a definition with a chosen id and expect 201 (created). */
    define: async (kind: string, id: string, body: Record<string, unknown>) => {
      const a = await at("PUT", `/${kind}/${id}`, body);
      expect(a.status, `${kind}/${id}: ${a.text}`).toBe(201);
      return a.body;
    },
    /** Creates a user with an empty profile (201). */
    createUser: async (userId: string) => {
      const a = await at("PUT", `/users/${encodeURIComponent(userId)}`, {});
      expect(a.status, `${userId}: ${a.text}`).toBe(201);
      return a.body;
    },
    join: async (userId: string, segment: string) => {
      const a = await at("PUT", `/users/${encodeURIComponent(userId)}/segments/${segment}`);
      expect(a.status, `${userId} → ${segment}: ${a.text}`).toBe(200);
    },
    play: async (userId: string, id: string, occurredAt?: string) => {
      const a = await at("POST", "/events", { id, userId, type: "play", ...(occurredAt ? { occurredAt } : {}) });
      expect(a.status, `${id}: ${a.text}`).toBe(201);
      return a.body;
    },
    /** Every item of a list, following nextCursor (each page 200, full while a cursor follows). */
    all: async (path: string, limit = 100): Promise<any[]> => {
      const out: any[] = [];
      let cursor: string | null = null;
      const sep = path.includes("?") ? "&" : "?";
      for (let page = 0; page < 100; page++) {
        const a = await at("GET", `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        expect(a.status, a.text).toBe(200);
        expect(a.body.data.length).toBeLessThanOrEqual(limit);
        out.push(...a.body.data);
        cursor = a.body.nextCursor;
        if (cursor === null) return out;
        expect(a.body.data.length, "a page with a next cursor is full").toBe(limit);
      }
      throw new Error("too many pages");
    },
    ids: async (path: string, limit = 100): Promise<string[]> => (await api.all(path, limit)).map((u) => u.userId),
    memberCount: async (segment: string): Promise<number> => {
      const a = await at("GET", `/segments/${segment}`);
      expect(a.status, a.text).toBe(200);
      return a.body.memberCount;
    },
  };
  return api;
}

function expectProblem(a: Answer, status: number, code: string, paths?: string[]): any {
  expect({ status: a.status, code: a.body?.code }, a.text).toEqual({ status, code });
  expect(a.headers.get("content-type")).toBe("application/problem+json");
  if (paths) expect((a.body.errors ?? []).map((e: { path: string }) => e.path)).toEqual(paths);
  return a.body;
}

/**
 * Polls `probe` every 150 ms until `done` holds or `deadlineMs` passed; answers the last
 * value and how long it took. The caller asserts on the value afterwards.
 */
async function poll<T>(probe: () => Promise<T>, done: (value: T) => boolean, deadlineMs = 30_000): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() - start > deadlineMs) return { value, ms: Date.now() - start };
    await sleep(150);
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

// Queue delivery -------------------------------------------------------------------

let keys = 0;
/** The envelope a user's outbox sends to the index queue. */
function directoryMessage(update: unknown, key = `test-directory-${++keys}`) {
  return { v: 1, type: "directory", key, body: update };
}

/** One batch through the Worker's `queue` export on `loyalty-index` (optionally with another env). */
const deliver = (messages: QueueTestMessage[], withEnv: Env = env) => runQueue("loyalty-index", messages, withEnv);

function expectAllAcked(result: QueueResult, ids: string[]): void {
  expect(result.outcome).toBe("ok");
  expect(result.retryBatch.retry).toBe(false);
  expect(result.retryMessages).toEqual([]);
  expect([...result.explicitAcks].sort()).toEqual([...ids].sort());
}

afterEach(() => {
  vi.restoreAllMocks();
});

// A programme: points, a campaign worth 10 points per `play`, `regulars` (dynamic:
// balance ≥ 30, i.e. 3 plays) and `vips` (static, joined by a `join` event's effect).
async function programmeSpace(): Promise<Api> {
  const api = apiOf(await createSpace());
  await api.define("metrics", "points", { name: "Points", kind: "currency" });
  await api.define("segments", "regulars", {
    name: "Regulars",
    type: "dynamic",
    rule: { path: "user.metrics.points.balance", op: "gte", value: 30 },
  });
  await api.define("segments", "vips", { name: "VIPs", type: "static" });
  await api.define("campaigns", "play-points", {
    name: "Points per play",
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "play", name: "Play", trigger: { eventType: "play" }, effects: [{ type: "metric.add", metric: "points", amount: 10 }] }],
  });
  await api.define("campaigns", "vip-join", {
    name: "Join the VIPs",
    status: "active",
    steps: [{ id: "join", name: "Join", trigger: { eventType: "join" }, effects: [{ type: "segment.add", segment: "vips" }] }],
  });
  return api;
}

// Tests ----------------------------------------------------------------------------

describe("directory convergence after a burst", () => {
  it("500 events across 200 users: the directory, segment members and memberCount match every user's own state", async () => {
    const api = await programmeSpace();
    const users = Array.from({ length: 200 }, (_, i) => `p${String(i).padStart(3, "0")}`);
    // 40 users × 3 plays, 30 × 5, 60 × 2, 70 × 1 = 460 plays; every fifth user joins the VIPs (40).
    const plays = (i: number) => (i < 40 ? 3 : i < 70 ? 5 : i < 130 ? 2 : 1);
    const joins = (i: number) => i % 5 === 0;
    const expectedRegulars = users.filter((_, i) => plays(i) >= 3);
    const expectedVips = users.filter((_, i) => joins(i));
    expect(expectedRegulars).toHaveLength(70);
    expect(expectedVips).toHaveLength(40);

    // Events interleaved across users: every user's first play, then the joins, then the
    // remaining plays round by round. occurredAt is fixed so createdAt is known exactly.
    const base = Math.floor((Date.now() - 3 * 3_600_000) / 1000) * 1000;
    const ordinal = new Map<string, number>();
    const at = (i: number) => {
      const n = ordinal.get(users[i]!) ?? 0;
      ordinal.set(users[i]!, n + 1);
      return new Date(base + i * 1000 + n * 10).toISOString();
    };
    const events: Array<Record<string, unknown>> = [];
    users.forEach((userId, i) => events.push({ id: `play-${userId}-0`, userId, type: "play", occurredAt: at(i) }));
    users.forEach((userId, i) => {
      if (joins(i)) events.push({ id: `join-${userId}`, userId, type: "join", occurredAt: at(i), data: { source: "burst" } });
    });
    for (let round = 1; round < 5; round++) {
      users.forEach((userId, i) => {
        if (round < plays(i)) events.push({ id: `play-${userId}-${round}`, userId, type: "play", occurredAt: at(i) });
      });
    }
    expect(events).toHaveLength(500);

    const started = Date.now();
    const ingest = await api.at("POST", "/events/batch", { events });
    expect(ingest.status, ingest.text.slice(0, 2000)).toBe(200);
    expect(ingest.body.results).toHaveLength(500);
    const failed = (ingest.body.results as Array<{ status: number }>).filter((r) => r.status !== 201);
    expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
    const ingested = Date.now();

    const expectedEntry = (i: number) => ({
      userId: users[i]!,
      createdAt: new Date(base + i * 1000).toISOString(),
      segments: [...(plays(i) >= 3 ? ["regulars"] : []), ...(joins(i) ? ["vips"] : [])],
    });
    const expectedDirectory = users.map((_, i) => expectedEntry(i));
    const view = async () => ({
      directory: (await api.all("/users")).map((u) => ({ userId: u.userId, createdAt: u.createdAt, segments: u.segments })),
      regulars: await api.ids("/segments/regulars/users"),
      vips: await api.ids("/users?segment=vips"),
    });
    const converged = await poll(
      view,
      (v) => same(v.directory, expectedDirectory) && same(v.regulars, expectedRegulars) && same(v.vips, expectedVips),
      60_000,
    );
    const convergedAt = Date.now();
    console.log(
      `directory convergence: ${convergedAt - ingested} ms after the batch answered ` +
        `(${convergedAt - started} ms including ingesting 500 events for 200 users in ${ingested - started} ms)`,
    );
    expect(converged.value.directory.map((u) => u.userId)).toEqual(users);
    expect(converged.value.directory).toEqual(expectedDirectory);
    expect(converged.value.regulars).toEqual(expectedRegulars);
    expect(converged.value.vips).toEqual(expectedVips);
    expect(convergedAt - ingested).toBeLessThanOrEqual(60_000);

    expect(await api.memberCount("regulars")).toBe(70);
    expect(await api.memberCount("vips")).toBe(40);
    const list = await api.get("/segments");
    expect(list.status, list.text).toBe(200);
    expect(list.body.data.map((s: { id: string; memberCount: number }) => [s.id, s.memberCount])).toEqual([
      ["regulars", 70],
      ["vips", 40],
    ]);

    // Every user's own state (their Durable Object) agrees with the directory.
    const directory = new Map((await api.all("/users")).map((u) => [u.userId as string, u]));
    for (let i = 0; i < users.length; i++) {
      const userId = users[i]!;
      const doc = await api.get(`/users/${userId}`);
      expect(doc.status, doc.text).toBe(200);
      const listed = directory.get(userId)!;
      expect(doc.body.segments.map((s: { segment: string }) => s.segment), userId).toEqual(listed.segments);
      expect(doc.body.createdAt, userId).toBe(listed.createdAt);
      expect(doc.body.metrics.find((m: { metric: string }) => m.metric === "points").balance, userId).toBe(plays(i) * 10);
      // The directory's last sight is refreshed at most hourly: never ahead, never an hour behind.
      expect(listed.lastSeenAt, userId).toMatch(ISO_MS);
      const lag = Date.parse(doc.body.lastSeenAt) - Date.parse(listed.lastSeenAt);
      expect(lag, userId).toBeGreaterThanOrEqual(0);
      expect(lag, userId).toBeLessThan(LAST_SEEN_REFRESH_MS);
      expect(Date.parse(listed.lastSeenAt)).toBeGreaterThanOrEqual(started);
    }
  });
});

describe("GET /admin/users and /admin/segments/{id}/users", () => {
  const IDS = ["A_1", "a:x", "a_1", "a_10", "a_2", "ab1", "b.1"]; // already in binary (user id) order

  async function listingSpace(): Promise<Api> {
    const api = apiOf(await createSpace());
    await api.define("segments", "club", { name: "Club", type: "static" });
    await api.define("segments", "only-a", { name: "Only A", type: "static" });
    for (const id of [...IDS].reverse()) await api.createUser(id);
    await api.join("a_1", "club");
    await api.join("a_2", "club");
    const ready = await poll(
      async () => ({ users: await api.all("/users"), club: await api.ids("/segments/club/users") }),
      (v) => v.users.length === IDS.length && same(v.club, ["a_1", "a_2"]) && v.users.filter((u) => u.segments.length > 0).length === 2,
    );
    expect(ready.value.users.map((u) => u.userId)).toEqual(IDS);
    expect(ready.value.club).toEqual(["a_1", "a_2"]);
    return api;
  }

  const page = async (api: Api, query: string) => {
    const a = await api.get(`/users${query}`);
    expect(a.status, a.text).toBe(200);
    return { ids: a.body.data.map((u: { userId: string }) => u.userId) as string[], nextCursor: a.body.nextCursor as string | null, body: a.body };
  };

  it("pages by user id with nextCursor, null at the end; each item has the directory's shape", async () => {
    const api = await listingSpace();
    const pages: string[][] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 10; n++) {
      const p = await page(api, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      pages.push(p.ids);
      cursor = p.nextCursor;
      if (cursor === null) break;
      expect(typeof cursor).toBe("string");
    }
    expect(pages).toEqual([["A_1", "a:x"], ["a_1", "a_10"], ["a_2", "ab1"], ["b.1"]]);
    expect(cursor).toBeNull();

    expect((await page(api, "?limit=7")).nextCursor).toBeNull();
    const six = await page(api, "?limit=6");
    expect(six.ids).toEqual(IDS.slice(0, 6));
    expect(six.nextCursor).not.toBeNull();
    expect((await page(api, `?limit=6&cursor=${encodeURIComponent(six.nextCursor!)}`)).ids).toEqual(["b.1"]);
    expect((await page(api, "")).ids).toEqual(IDS); // default limit 50

    const full = await page(api, "?q=a_1");
    expect(Object.keys(full.body)).toEqual(["data", "nextCursor"]);
    const [a1, a10] = full.body.data;
    expect(Object.keys(a1).sort()).toEqual(["createdAt", "lastSeenAt", "segments", "userId"]);
    expect(a1).toMatchObject({ userId: "a_1", segments: ["club"] });
    expect(a10).toMatchObject({ userId: "a_10", segments: [] });
    const doc = await api.get("/users/a_1");
    expect(a1.createdAt).toBe(doc.body.createdAt);
    expect(a1.createdAt).toMatch(ISO_MS);
    expect(a1.lastSeenAt).toMatch(ISO_MS);
  });

  it("q is a literal user-id prefix: `_` and `%` are not wildcards; pagination within a prefix", async () => {
    const api = await listingSpace();
    expect((await page(api, "?q=a_")).ids).toEqual(["a_1", "a_10", "a_2"]);
    expect((await page(api, "?q=a_1")).ids).toEqual(["a_1", "a_10"]);
    expect((await page(api, "?q=a_10")).ids).toEqual(["a_10"]);
    expect((await page(api, "?q=a")).ids).toEqual(["a:x", "a_1", "a_10", "a_2", "ab1"]);
    expect((await page(api, "?q=A")).ids).toEqual(["A_1"]); // case-sensitive
    expect((await page(api, "?q=a%3A")).ids).toEqual(["a:x"]);
    expect((await page(api, "?q=b.")).ids).toEqual(["b.1"]);
    expect((await page(api, "?q=b_")).ids).toEqual([]); // `_` is not "any character"
    expect((await page(api, "?q=a_1x")).ids).toEqual([]);
    expect((await page(api, "?q=zz")).ids).toEqual([]);

    const pages: string[][] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 10; n++) {
      const p = await page(api, `?q=a&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      pages.push(p.ids);
      cursor = p.nextCursor;
      if (cursor === null) break;
    }
    expect(pages).toEqual([["a:x", "a_1"], ["a_10", "a_2"], ["ab1"]]);

    // q with a segment, on both routes.
    expect((await page(api, "?segment=club&q=a_1")).ids).toEqual(["a_1"]);
    expect((await page(api, "?segment=club&q=a_")).ids).toEqual(["a_1", "a_2"]);
    expect((await page(api, "?segment=club&q=ab")).ids).toEqual([]);
    const members = await api.get("/segments/club/users?q=a_2");
    expect(members.status, members.text).toBe(200);
    expect(members.body).toEqual({ data: [expect.objectContaining({ userId: "a_2", segments: ["club"] })], nextCursor: null });

    for (const bad of ["a%25", "%25", "a%25_", "", "a%20b", "a*", "x".repeat(129)]) {
      expectProblem(await api.get(`/users?q=${bad}`), 400, "invalid_request", ["query.q"]);
    }
    expectProblem(await api.get("/segments/club/users?q=%25"), 400, "invalid_request", ["query.q"]);
    expect((await page(api, `?q=${"x".repeat(128)}`)).ids).toEqual([]);
  });

  it("refuses bad limits, unknown segments and foreign or invalid cursors", async () => {
    const api = await listingSpace();
    for (const limit of ["0", "101", "-1", "1.5", "abc"]) {
      expectProblem(await api.get(`/users?limit=${limit}`), 400, "invalid_request", ["query.limit"]);
      expectProblem(await api.get(`/segments/club/users?limit=${limit}`), 400, "invalid_request", ["query.limit"]);
    }
    expect((await page(api, "?limit=100")).ids).toEqual(IDS);
    expect((await page(api, "?limit=1")).ids).toEqual(["A_1"]);

    expectProblem(await api.get("/users?segment=nope"), 404, "not_found", ["query.segment"]);
    expectProblem(await api.get("/segments/nope/users"), 404, "not_found", ["path.id"]);
    expectProblem(await api.get("/users?segment=Not%20An%20Id"), 400, "invalid_request", ["query.segment"]);

    expectProblem(await api.get("/users?cursor=garbage"), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get("/users?cursor=eyJ2IjoxfQ"), 400, "invalid_cursor", ["query.cursor"]); // {"v":1}
    expectProblem(await api.get("/segments/club/users?cursor=garbage"), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get(`/users?cursor=${"x".repeat(1025)}`), 400, "invalid_request", ["query.cursor"]);

    // Cursors are bound to their list: segment filter, prefix and route.
    const club = await page(api, "?segment=club&limit=1");
    expect(club.ids).toEqual(["a_1"]);
    const clubCursor = encodeURIComponent(club.nextCursor!);
    expect((await page(api, `?segment=club&limit=1&cursor=${clubCursor}`)).ids).toEqual(["a_2"]);
    expectProblem(await api.get(`/users?cursor=${clubCursor}`), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get(`/users?segment=only-a&cursor=${clubCursor}`), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get(`/users?segment=club&q=a&cursor=${clubCursor}`), 400, "invalid_cursor", ["query.cursor"]);

    const plain = await page(api, "?limit=2");
    const plainCursor = encodeURIComponent(plain.nextCursor!);
    expectProblem(await api.get(`/users?segment=club&cursor=${plainCursor}`), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get(`/segments/club/users?cursor=${plainCursor}`), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get(`/users?q=a&cursor=${plainCursor}`), 400, "invalid_cursor", ["query.cursor"]);
    const prefixed = await page(api, "?q=a&limit=2");
    expectProblem(await api.get(`/users?q=a_&cursor=${encodeURIComponent(prefixed.nextCursor!)}`), 400, "invalid_cursor", ["query.cursor"]);
    expectProblem(await api.get(`/users?cursor=${encodeURIComponent(prefixed.nextCursor!)}`), 400, "invalid_cursor", ["query.cursor"]);
    // A cursor of another kind of list (api keys) is refused too.
    const keys = await api.at("POST", "/api-keys", { name: "k1", scopes: ["admin"] });
    expect(keys.status, keys.text).toBe(201);
    await api.at("POST", "/api-keys", { name: "k2", scopes: ["admin"] });
    const keyPage = await api.get("/api-keys?limit=1");
    expect(keyPage.body.nextCursor, keyPage.text).not.toBeNull();
    expectProblem(await api.get(`/users?cursor=${encodeURIComponent(keyPage.body.nextCursor)}`), 400, "invalid_cursor", ["query.cursor"]);
  });

  it("spaces are isolated: users, members, memberCount, segments and cursors", async () => {
    const a = await listingSpace();
    const b = apiOf(await createSpace());
    await b.define("segments", "club", { name: "Club B", type: "static" });
    await b.createUser("a_1");
    await b.createUser("zed");
    await b.join("zed", "club");
    const ready = await poll(
      async () => ({ users: await b.all("/users"), club: await b.ids("/segments/club/users") }),
      (v) => v.users.length === 2 && same(v.club, ["zed"]),
    );
    expect(ready.value.users.map((u) => [u.userId, u.segments])).toEqual([
      ["a_1", []],
      ["zed", ["club"]],
    ]);
    expect(ready.value.club).toEqual(["zed"]);
    expect(await b.ids("/users?segment=club")).toEqual(["zed"]);
    expect(await b.ids("/users?q=a_")).toEqual(["a_1"]);
    expect(await b.memberCount("club")).toBe(1);

    expect(await a.ids("/users")).toEqual(IDS);
    expect(await a.ids("/segments/club/users")).toEqual(["a_1", "a_2"]);
    expect(await a.ids("/users?q=z")).toEqual([]);
    expect(await a.memberCount("club")).toBe(2);
    expect((await a.all("/users?q=a_1")).find((u) => u.userId === "a_1").segments).toEqual(["club"]);

    // A's segment does not exist in B.
    expectProblem(await b.get("/users?segment=only-a"), 404, "not_found", ["query.segment"]);
    expectProblem(await b.get("/segments/only-a/users"), 404, "not_found", ["path.id"]);

    // A cursor of A's list is not one of B's (same list, other space), and vice versa.
    const fromA = await a.get("/users?limit=1");
    expectProblem(await b.get(`/users?limit=1&cursor=${encodeURIComponent(fromA.body.nextCursor)}`), 400, "invalid_cursor", ["query.cursor"]);
    const fromB = await b.get("/users?limit=1");
    expect(fromB.body.data.map((u: { userId: string }) => u.userId)).toEqual(["a_1"]);
    expectProblem(await a.get(`/users?limit=1&cursor=${encodeURIComponent(fromB.body.nextCursor)}`), 400, "invalid_cursor", ["query.cursor"]);
    const bPage2 = await b.get(`/users?limit=1&cursor=${encodeURIComponent(fromB.body.nextCursor)}`);
    expect(bPage2.body).toEqual({ data: [expect.objectContaining({ userId: "zed" })], nextCursor: null });
  });
});

describe("erasure and the directory", () => {
  it("an erased member leaves the directory, the members and memberCount; an older generation cannot bring them back", async () => {
    const api = await programmeSpace();
    const users = ["e1", "e2", "k1"];
    for (const userId of users) for (let n = 0; n < 3; n++) await api.play(userId, `${userId}-play-${n}`);
    const members = await poll(
      async () => ({ regulars: await api.ids("/segments/regulars/users"), count: await api.memberCount("regulars") }),
      (v) => same(v.regulars, users) && v.count === 3,
    );
    expect(members.value).toEqual({ regulars: users, count: 3 });
    const before = (await api.all("/users?q=e1"))[0];
    expect(before).toMatchObject({ userId: "e1", segments: ["regulars"] });

    const erased = await api.at("DELETE", "/users/e1");
    expect(erased.status, erased.text).toBe(204);
    const gone = await poll(
      async () => ({ users: await api.ids("/users"), regulars: await api.ids("/segments/regulars/users"), count: await api.memberCount("regulars") }),
      (v) => same(v.users, ["e2", "k1"]) && same(v.regulars, ["e2", "k1"]) && v.count === 2,
    );
    expect(gone.value).toEqual({ users: ["e2", "k1"], regulars: ["e2", "k1"], count: 2 });
    expect((await api.get("/users/e1")).status).toBe(404);

    // A late update from before the erasure (generation 0), however high its revision.
    const stale: DirectoryUpdate = {
      spaceId: api.space.id,
      userId: "e1",
      generation: 0,
      revision: 99,
      createdAt: before.createdAt,
      lastSeenAt: before.lastSeenAt,
      segments: ["regulars"],
    };
    expectAllAcked(await deliver([{ id: "stale", body: directoryMessage(stale) }]), ["stale"]);
    expect(await api.ids("/users")).toEqual(["e2", "k1"]);
    expect(await api.ids("/users?q=e1")).toEqual([]);
    expect(await api.ids("/segments/regulars/users")).toEqual(["e2", "k1"]);
    expect(await api.ids("/users?segment=regulars&q=e")).toEqual(["e2"]);
    expect(await api.memberCount("regulars")).toBe(2);

    // The same, redelivered together with an older one in one batch.
    expectAllAcked(
      await deliver([
        { id: "stale-again", body: directoryMessage(stale), attempts: 2 },
        { id: "stale-older", body: directoryMessage({ ...stale, revision: 1, segments: [] }) },
      ]),
      ["stale-again", "stale-older"],
    );
    expect(await api.ids("/users")).toEqual(["e2", "k1"]);
    expect(await api.memberCount("regulars")).toBe(2);

    // An update of the new generation (the user came back) is applied.
    const fresh: DirectoryUpdate = {
      ...stale,
      generation: 1,
      revision: 1,
      createdAt: "2026-03-04T05:06:07.000Z",
      lastSeenAt: "2026-03-04T05:06:08.000Z",
      segments: ["regulars"],
    };
    expectAllAcked(await deliver([{ id: "fresh", body: directoryMessage(fresh) }]), ["fresh"]);
    expect(await api.all("/users?q=e1")).toEqual([
      { userId: "e1", createdAt: "2026-03-04T05:06:07.000Z", lastSeenAt: "2026-03-04T05:06:08.000Z", segments: ["regulars"] },
    ]);
    expect(await api.ids("/segments/regulars/users")).toEqual(["e1", "e2", "k1"]);
    expect(await api.memberCount("regulars")).toBe(3);
    // …and the old generation still cannot overwrite it.
    expectAllAcked(await deliver([{ id: "stale-3", body: directoryMessage({ ...stale, segments: [] }) }]), ["stale-3"]);
    expect((await api.all("/users?q=e1"))[0].segments).toEqual(["regulars"]);
  });

  it("a user who comes back after erasure is listed anew with the new generation's updates", async () => {
    const api = await programmeSpace();
    for (let n = 0; n < 3; n++) await api.play("back", `back-play-${n}`);
    await poll(() => api.ids("/segments/regulars/users"), (v) => same(v, ["back"]));
    expect(await api.ids("/segments/regulars/users")).toEqual(["back"]);

    expect((await api.at("DELETE", "/users/back")).status).toBe(204);
    expect(await api.ids("/users")).toEqual([]);
    expect(await api.memberCount("regulars")).toBe(0);

    // The object's first update after erasure carries generation 1: it beats the tombstone.
    const occurredAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString();
    await api.play("back", "back-again-1", occurredAt);
    const back = await poll(() => api.all("/users"), (v) => v.length === 1);
    expect(back.value).toEqual([{ userId: "back", createdAt: occurredAt, lastSeenAt: expect.stringMatching(ISO_MS), segments: [] }]);
    expect(await api.ids("/segments/regulars/users")).toEqual([]);
    expect(await api.memberCount("regulars")).toBe(0);

    // Two more plays: a member again (generation 1, revision 2).
    await api.play("back", "back-again-2");
    await api.play("back", "back-again-3");
    const again = await poll(() => api.ids("/segments/regulars/users"), (v) => same(v, ["back"]));
    expect(again.value).toEqual(["back"]);
    expect(await api.memberCount("regulars")).toBe(1);
    expect((await api.all("/users"))[0]).toMatchObject({ userId: "back", createdAt: occurredAt, segments: ["regulars"] });
  });

  it("updates still queued when the user is erased never resurrect them", async () => {
    const api = await programmeSpace();
    // Updates for r1 are queued by each commit (first sight, then entering regulars) and
    // the erasure follows at once, likely before the consumer saw them.
    for (let n = 0; n < 3; n++) await api.play("r1", `r1-play-${n}`);
    expect((await api.at("DELETE", "/users/r1")).status).toBe(204);
    // A sentinel queued after r1's updates: once it is listed, the queue got past them.
    for (let n = 0; n < 3; n++) await api.play("s1", `s1-play-${n}`);
    const seen = await poll(() => api.ids("/segments/regulars/users"), (v) => v.includes("s1"));
    expect(seen.value).toEqual(["s1"]);
    await sleep(500);
    expect(await api.ids("/users")).toEqual(["s1"]);
    expect(await api.ids("/segments/regulars/users")).toEqual(["s1"]);
    expect(await api.memberCount("regulars")).toBe(1);
    expect((await api.get("/users/r1")).status).toBe(404);
  });
});

describe("directory updates through the queue handler", () => {
  async function audienceSpace(): Promise<Api> {
    const api = apiOf(await createSpace());
    await api.define("segments", "club", { name: "Club", type: "static" });
    await api.define("segments", "vips", { name: "VIPs", type: "static" });
    return api;
  }

  const update = (space: TestSpace, userId: string, revision: number, segments: string[], generation = 0): DirectoryUpdate => ({
    spaceId: space.id,
    userId,
    generation,
    revision,
    createdAt: "2026-01-02T03:04:05.000Z",
    lastSeenAt: new Date(Date.UTC(2026, 0, 2, 3 + revision, 0, 0)).toISOString(),
    segments,
  });

  it("a row only moves to a newer revision: within a batch, across batches, and on redelivery", async () => {
    const api = await audienceSpace();
    const userId = `o-${Date.now().toString(36)}`;
    const other = `${userId}-b`;
    const u1 = update(api.space, userId, 1, []);
    const u2 = update(api.space, userId, 2, ["club"]);
    const u3 = update(api.space, userId, 3, ["club", "vips"]);
    const row = async () => (await api.all(`/users?q=${userId}`)).find((u) => u.userId === userId);

    // One batch, newest first.
    expectAllAcked(
      await deliver([
        { id: "u3", body: directoryMessage(u3) },
        { id: "u1", body: directoryMessage(u1) },
        { id: "b1", body: directoryMessage(update(api.space, other, 1, ["vips"])) },
      ]),
      ["u3", "u1", "b1"],
    );
    expect(await row()).toEqual({ userId, createdAt: u3.createdAt, lastSeenAt: "2026-01-02T06:00:00.000Z", segments: ["club", "vips"] });
    expect(await api.ids("/segments/club/users")).toEqual([userId]);
    expect(await api.ids("/segments/vips/users")).toEqual([userId, other]);

    // Across batches: an older one later changes nothing.
    expectAllAcked(await deliver([{ id: "u2", body: directoryMessage(u2) }]), ["u2"]);
    expectAllAcked(await deliver([{ id: "u1-again", body: directoryMessage(u1) }]), ["u1-again"]);
    expect(await row()).toEqual({ userId, createdAt: u3.createdAt, lastSeenAt: "2026-01-02T06:00:00.000Z", segments: ["club", "vips"] });
    expect(await api.ids("/segments/club/users")).toEqual([userId]);
    expect(await api.ids("/segments/vips/users")).toEqual([userId, other]);

    // The same update redelivered (same key, twice in one batch and again later) is harmless.
    const key = "redelivered-u3";
    expectAllAcked(
      await deliver([
        { id: "r1", body: directoryMessage(u3, key), attempts: 2 },
        { id: "r2", body: directoryMessage(u3, key), attempts: 2 },
      ]),
      ["r1", "r2"],
    );
    expectAllAcked(await deliver([{ id: "r3", body: directoryMessage(u3, key), attempts: 3 }]), ["r3"]);
    expect(await row()).toEqual({ userId, createdAt: u3.createdAt, lastSeenAt: "2026-01-02T06:00:00.000Z", segments: ["club", "vips"] });
    expect(await api.memberCount("club")).toBe(1);
    expect(await api.memberCount("vips")).toBe(2);

    // A newer revision leaves a segment: the membership follows the row.
    expectAllAcked(
      await deliver([
        { id: "u2-late", body: directoryMessage(u2) },
        { id: "u4", body: directoryMessage(update(api.space, userId, 4, ["vips"])) },
        { id: "u3-late", body: directoryMessage(u3) },
      ]),
      ["u2-late", "u4", "u3-late"],
    );
    expect(await row()).toEqual({ userId, createdAt: u3.createdAt, lastSeenAt: "2026-01-02T07:00:00.000Z", segments: ["vips"] });
    expect(await api.ids("/segments/club/users")).toEqual([]);
    expect(await api.ids("/segments/vips/users")).toEqual([userId, other]);
    expect(await api.memberCount("club")).toBe(0);
    expect(await api.memberCount("vips")).toBe(2);

    // Oldest first in one batch: the newest wins.
    const third = `${userId}-c`;
    expectAllAcked(
      await deliver([
        { id: "c1", body: directoryMessage(update(api.space, third, 1, ["club"])) },
        { id: "c2", body: directoryMessage(update(api.space, third, 2, [])) },
      ]),
      ["c1", "c2"],
    );
    expect((await api.all(`/users?q=${third}`)).map((u) => [u.userId, u.segments, u.lastSeenAt])).toEqual([
      [third, [], "2026-01-02T05:00:00.000Z"],
    ]);
    expect(await api.memberCount("club")).toBe(0);
  });

  it("q covers the whole user-id alphabet: every separator is literal, ordering is by code point", async () => {
    const api = await audienceSpace();
    // Binary order of the alphabet's punctuation: + - . : @ _ | (around digits and letters).
    const ids = ["p", "p+1", "p-1", "p.1", "p1", "p:1", "p@1", "pA", "p_1", "pz", "p|1", "q"];
    expectAllAcked(
      await deliver([...ids].reverse().map((userId, n) => ({ id: `m${n}`, body: directoryMessage(update(api.space, userId, 1, [])) }))),
      ids.map((_, n) => `m${n}`),
    );
    expect(await api.ids("/users", 5)).toEqual(ids);
    expect(await api.ids("/users?q=p")).toEqual(ids.slice(0, -1));
    for (const [q, expected] of [
      ["p%2B", ["p+1"]],
      ["p-", ["p-1"]],
      ["p.", ["p.1"]],
      ["p%3A", ["p:1"]],
      ["p%40", ["p@1"]],
      ["p_", ["p_1"]],
      ["p%7C", ["p|1"]],
      ["p%7C1", ["p|1"]],
      ["pz", ["pz"]],
      ["P", []],
    ] as const) {
      expect(await api.ids(`/users?q=${q}`), q).toEqual(expected);
    }
  });

  it("an update of the new generation that arrived before the erasure's tombstone is kept", async () => {
    const api = await audienceSpace();
    // The user was never seen by their object (generation 0): DELETE makes it generation 1.
    // A generation-1 update already in the directory means the user came back at once.
    expectAllAcked(await deliver([{ id: "early", body: directoryMessage(update(api.space, "early", 1, ["club"], 1)) }]), ["early"]);
    expectAllAcked(await deliver([{ id: "old", body: directoryMessage(update(api.space, "old", 7, ["club"], 0)) }]), ["old"]);
    expect(await api.ids("/segments/club/users")).toEqual(["early", "old"]);
    expect((await api.at("DELETE", "/users/early")).status).toBe(204);
    expect((await api.at("DELETE", "/users/old")).status).toBe(204);
    expect((await api.all("/users")).map((u) => [u.userId, u.segments])).toEqual([["early", ["club"]]]);
    expect(await api.ids("/segments/club/users")).toEqual(["early"]);
    expect(await api.memberCount("club")).toBe(1);
    // A second erasure (generation 2) does remove it; generation 1 cannot come back after it.
    expect((await api.at("DELETE", "/users/early")).status).toBe(204);
    expect(await api.all("/users")).toEqual([]);
    expect(await api.memberCount("club")).toBe(0);
    expectAllAcked(await deliver([{ id: "late", body: directoryMessage(update(api.space, "early", 2, ["club"], 1)) }]), ["late"]);
    expect(await api.all("/users")).toEqual([]);
    expectAllAcked(await deliver([{ id: "gen2", body: directoryMessage(update(api.space, "early", 1, ["vips"], 2)) }]), ["gen2"]);
    expect((await api.all("/users")).map((u) => [u.userId, u.segments])).toEqual([["early", ["vips"]]]);
    expect([await api.memberCount("club"), await api.memberCount("vips")]).toEqual([0, 1]);
  });

  it("updates are scoped to their space: the same user id in two spaces are two rows", async () => {
    const a = await audienceSpace();
    const b = await audienceSpace();
    const userId = "shared-id";
    expectAllAcked(
      await deliver([
        { id: "a5", body: directoryMessage(update(a.space, userId, 5, ["club"])) },
        { id: "b1", body: directoryMessage(update(b.space, userId, 1, ["vips"])) },
      ]),
      ["a5", "b1"],
    );
    expect((await a.all("/users")).map((u) => [u.userId, u.segments])).toEqual([[userId, ["club"]]]);
    expect((await b.all("/users")).map((u) => [u.userId, u.segments])).toEqual([[userId, ["vips"]]]);
    expect([await a.memberCount("club"), await a.memberCount("vips"), await b.memberCount("club"), await b.memberCount("vips")]).toEqual([1, 0, 0, 1]);
  });

  it("a malformed directory body is acked and logged as poison; a valid message of the batch is applied", async () => {
    const api = await audienceSpace();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const good = update(api.space, "good-user", 1, ["club"]);
    const { userId: _omit, ...withoutUser } = update(api.space, "x", 1, []);
    const result = await deliver([
      { id: "no-user", body: directoryMessage(withoutUser, "poison-no-user") },
      { id: "rev-0", body: directoryMessage(update(api.space, "zero-rev", 0, ["club"]), "poison-rev-0") },
      { id: "segments-string", body: directoryMessage({ ...update(api.space, "bad-segments", 1, []), segments: "club" }, "poison-segments") },
      { id: "good", body: directoryMessage(good) },
      { id: "null-body", body: directoryMessage(null, "poison-null") },
    ]);
    expectAllAcked(result, ["no-user", "rev-0", "segments-string", "good", "null-body"]);
    const lines = errors.mock.calls.map((call) => call.map(String).join(" ")).filter((line) => line.includes("queue.directory_poison"));
    expect(lines).toHaveLength(4);
    for (const key of ["poison-no-user", "poison-rev-0", "poison-segments", "poison-null"]) {
      expect(lines.some((line) => line.includes(key)), key).toBe(true);
    }
    expect(errors.mock.calls.flat().join("\n")).not.toContain("queue.handler_failed");

    expect(await api.all("/users")).toEqual([
      { userId: "good-user", createdAt: good.createdAt, lastSeenAt: good.lastSeenAt, segments: ["club"] },
    ]);
    expect(await api.memberCount("club")).toBe(1);
  });

  it("a D1 failure retries every directory message of the batch with exponential backoff, acks none, writes nothing", async () => {
    const api = await audienceSpace();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    // The same env, except that the database's batch fails (D1 unavailable).
    const failingDb = {
      prepare: env.DB.prepare.bind(env.DB),
      batch: async () => {
        throw new Error("D1_ERROR: simulated outage");
      },
    } as unknown as D1Database;
    const failingEnv = new Proxy(env, { get: (target, prop) => (prop === "DB" ? failingDb : Reflect.get(target, prop)) }) as Env;

    const messages: QueueTestMessage[] = [
      { id: "d1", body: directoryMessage(update(api.space, "f1", 1, ["club"])), attempts: 1 },
      { id: "d2", body: directoryMessage(update(api.space, "f2", 1, ["vips"])), attempts: 2 },
      { id: "d3", body: directoryMessage(update(api.space, "f3", 1, [])), attempts: 3 },
      { id: "junk", body: "not an envelope" },
    ];
    const result = await deliver(messages, failingEnv);
    expect(result.outcome).toBe("ok");
    expect(result.retryBatch.retry).toBe(false);
    expect(result.ackAll).toBe(false);
    expect([...result.explicitAcks].sort()).toEqual(["junk"]);
    expect([...result.retryMessages].sort((x, y) => x.msgId.localeCompare(y.msgId))).toEqual([
      { msgId: "d1", delaySeconds: 5 },
      { msgId: "d2", delaySeconds: 10 },
      { msgId: "d3", delaySeconds: 20 },
    ]);
    const logged = errors.mock.calls.flat().join("\n");
    expect(logged).toContain("queue.handler_failed");
    expect(logged).toContain("simulated outage");
    expect(await api.all("/users")).toEqual([]);
    expect(await api.memberCount("club")).toBe(0);

    // The retry, with D1 back: everything applies.
    const retried = await deliver(messages.slice(0, 3).map((m) => ({ ...m, attempts: (m.attempts ?? 1) + 1 })));
    expectAllAcked(retried, ["d1", "d2", "d3"]);
    expect((await api.all("/users")).map((u) => [u.userId, u.segments])).toEqual([
      ["f1", ["club"]],
      ["f2", ["vips"]],
      ["f3", []],
    ]);
    expect([await api.memberCount("club"), await api.memberCount("vips")]).toEqual([1, 1]);
  });
});

describe("when a user's object sends a directory update", () => {
  const entry = (createdAt: string | null, lastSeenAt: string | null, segments: string[]) => ({ createdAt, lastSeenAt, segments });
  const T = "2026-05-01T10:00:00.000Z";
  const plus = (ms: number) => new Date(Date.parse(T) + ms).toISOString();

  it.each([
    ["a user never seen", undefined, entry(null, null, []), false],
    ["first sight", undefined, entry(T, T, []), true],
    ["nothing changed", entry(T, T, ["a"]), entry(T, T, ["a"]), false],
    ["createdAt moved (backfill)", entry(T, T, []), entry(plus(-1000), T, []), true],
    ["a segment entered", entry(T, T, ["a"]), entry(T, T, ["a", "b"]), true],
    ["a segment left", entry(T, T, ["a", "b"]), entry(T, T, ["b"]), true],
    ["last sight 59:59 later", entry(T, T, []), entry(T, plus(LAST_SEEN_REFRESH_MS - 1000), []), false],
    ["last sight an hour later", entry(T, T, []), entry(T, plus(LAST_SEEN_REFRESH_MS), []), true],
  ] as const)("%s → %s", (_name, previous, next, expected) => {
    expect(LAST_SEEN_REFRESH_MS).toBe(3_600_000);
    expect(directoryChanged(previous ? { ...previous, segments: [...previous.segments] } : undefined, { ...next, segments: [...next.segments] })).toBe(expected);
  });
});
