import { env } from "cloudflare:test";
import { afterAll, describe, expect, it, vi } from "vitest";
import { browserSubscription } from "../helpers/admin-matrix";
import { idpClaims, newIdpKey, signWith, type IdpKey } from "../helpers/jwt";
import { runQueue } from "../helpers/queue";
import {
  IsolationReport,
  MARK_A,
  MARK_B,
  ME,
  adminCall,
  documentedOperations,
  fill,
  isoSpace,
  meCall,
  meKey,
  tokenFor,
  type Foreign,
  type Reply,
  type Space,
} from "../helpers/isolation";

// The isolation matrix, User API (issue #10, case 3; SPEC §3.3: "the user is the token's
// subject and nothing in the request can name another user"). For every /me operation of
// the OpenAPI document, user X's token:
// - answers X's own data and never user Y's (Y is marked in every field a user can see:
//   public attribute, ledger reasons, activity event ids, reward codes, push endpoints);
// - ignores every other way of naming Y (query, headers, body fields are refused);
// - is refused by space B (header), by the default space (no header), and B's token of
//   the same user id is refused by A;
// - with ids only B defines, answers 404.
// Then: Y's push endpoint in X's requests, userIdClaim with two spaces trusting one
// identity provider, erasure in one space against tokens of the other, and two users'
// events of the same id in the delivery log.

vi.setConfig({ testTimeout: 60_000 });

const report = new IsolationReport("isolation-user.test.ts");
/** Everything user Y of space A owns carries it; X's answers never may. */
const MARK_Y = "isoMarkYankee5b2a";
const MARK_X = "isoMarkXray3c8e";

interface Fix {
  a: Space;
  b: Space;
  /** Tokens by `${slug}:${user}` */
  tokens: Map<string, string>;
  /** Push endpoints by `${slug}:${user}` */
  endpoints: Map<string, string>;
}

async function build(space: Space, mark: string, bOnly: boolean): Promise<void> {
  const w = async (method: string, path: string, body?: unknown, ok = [200, 201, 204]) => {
    const a = await adminCall(path, { method, key: space.admin, body });
    expect(ok, `${space.slug} ${method} ${path}: ${a.text}`).toContain(a.status);
    return a;
  };
  await w("PUT", "/metrics/pts", { name: `Points ${mark}`, kind: "currency" });
  await w("PUT", "/metrics/xp", { name: `XP ${mark}`, kind: "counter" });
  // B's stock runs out with its two users' redemptions; A's does not (the catalogue's stock cache is per space).
  await w("PUT", "/products/gift", { type: "reward", name: `Gift ${mark}`, price: { metric: "pts", amount: 1 }, stock: bOnly ? 2 : 100 });
  await w("PUT", "/products/badge", { type: "badge", name: `Badge ${mark}` });
  await w("PUT", "/ladders/tiers", { name: `Tiers ${mark}`, metric: "xp", levels: [{ id: "bronze", name: "Bronze", threshold: 0 }, { id: "silver", name: "Silver", threshold: 10 }] });
  await w("PUT", "/streaks/daily", { name: `Daily ${mark}`, period: "day" });
  await w("PUT", "/segments/vip", { name: `VIP ${mark}`, type: "static" });
  const campaign = (name: string) => ({
    name,
    status: "active",
    repeat: { limit: null },
    steps: [{ id: "s", name: "Visit", trigger: { eventType: "visit" }, effects: [{ type: "metric.add", metric: "xp", amount: 1 }] }],
  });
  await w("PUT", "/campaigns/visit", campaign(`Visit ${mark}`));
  if (bOnly) {
    await w("PUT", "/metrics/bo-metric", { name: `Only ${mark}`, kind: "currency" });
    await w("PUT", "/ladders/bo-ladder", { name: `Only ${mark}`, metric: "xp", levels: [{ id: "l", name: "L", threshold: 0 }] });
    await w("PUT", "/streaks/bo-streak", { name: `Only ${mark}`, period: "week" });
    await w("PUT", "/campaigns/bo-campaign", campaign(`Only ${mark}`));
  }
}

/** A user of `space` whose every visible field carries `mark`. */
async function marked(f: Fix, space: Space, user: string, mark: string, points: number): Promise<void> {
  const w = async (method: string, path: string, body?: unknown, ok = [200, 201, 204]) => {
    const a = await adminCall(path, { method, key: space.admin, body });
    expect(ok, `${space.slug} ${method} ${path}: ${a.text}`).toContain(a.status);
    return a;
  };
  await w("PUT", `/users/${user}`, { attributes: { mark, tier: mark } });
  await w("POST", `/users/${user}/metrics/pts/adjust`, { amount: points, reason: `reason ${mark}` });
  await w("POST", "/events", { id: `ev-${mark}-1`, userId: user, type: "visit" });
  await w("POST", "/events", { id: `ev-${mark}-2`, userId: user, type: "visit" });
  await w("POST", `/users/${user}/products`, { product: "badge", quantity: 1 });
  await w("PUT", `/users/${user}/segments/vip`, undefined, [200]);
  // One code in the pool, taken by this user's redemption: the code carries the mark.
  await w("POST", "/products/gift/codes", { codes: [`code-${mark}-${user}`] });
  await w("POST", `/users/${user}/redemptions`, { product: "gift" });
  const sub = await browserSubscription();
  f.endpoints.set(`${space.slug}:${user}`, sub.endpoint);
  await w("PUT", `/users/${user}/push-subscriptions`, sub, [201]);
  f.tokens.set(`${space.slug}:${user}`, await tokenFor(space, user));
}

let fixturePromise: Promise<Fix> | undefined;
function fixture(): Promise<Fix> {
  fixturePromise ??= (async () => {
    const [a, b] = await Promise.all([isoSpace(MARK_A, { publicAttributes: ["mark"] }), isoSpace(MARK_B, { publicAttributes: ["mark"] })]);
    const f: Fix = { a, b, tokens: new Map(), endpoints: new Map() };
    await Promise.all([build(a, MARK_A, false), build(b, MARK_B, true)]);
    await Promise.all([
      (async () => {
        await marked(f, a, "ux", MARK_X, 5);
        await marked(f, a, "uy", MARK_Y, 50);
      })(),
      (async () => {
        await marked(f, b, "ux", MARK_B, 100);
        await marked(f, b, "uy", MARK_B, 100);
      })(),
    ]);
    return f;
  })();
  return fixturePromise;
}

const notY = (f: Fix): Foreign => ({ markers: [MARK_Y, MARK_B, f.b.id, f.endpoints.get(`${f.a.slug}:uy`)!] });

// ---------------------------------------------------------------------------------------
// The /me operations: a request for X, and what a success is.

interface MeRoute {
  ok: number;
  /** Values for the path's {params}: ids every space defines. */
  shared?: Record<string, string>;
  /** Ids only B defines (404 in A). */
  bOnly?: Record<string, string>;
  query?: string;
  body?: (f: Fix) => Promise<unknown> | unknown;
}

/** Keyed like the OpenAPI document, relative to /api/loyalty/me. */
const ROUTES: Record<string, MeRoute> = {
  "GET ": { ok: 200 },
  "GET /catalog": { ok: 200 },
  "GET /metrics": { ok: 200 },
  "GET /metrics/{id}": { ok: 200, shared: { id: "pts" }, bOnly: { id: "bo-metric" } },
  "GET /metrics/{id}/transactions": { ok: 200, shared: { id: "pts" }, bOnly: { id: "bo-metric" }, query: "?limit=100" },
  "GET /rewards": { ok: 200 },
  "GET /segments": { ok: 200 },
  "GET /ladders": { ok: 200 },
  "GET /ladders/{id}": { ok: 200, shared: { id: "tiers" }, bOnly: { id: "bo-ladder" } },
  "GET /streaks": { ok: 200 },
  "GET /streaks/{id}": { ok: 200, shared: { id: "daily" }, bOnly: { id: "bo-streak" } },
  "GET /campaigns": { ok: 200 },
  "GET /campaigns/{id}": { ok: 200, shared: { id: "visit" }, bOnly: { id: "bo-campaign" } },
  "GET /activity": { ok: 200, query: "?limit=100" },
  "GET /push-config": { ok: 200 },
  "PUT /push-subscriptions": { ok: 201, body: () => browserSubscription() },
  // An endpoint X never registered: 204 (removing is idempotent); X's real devices are checked below.
  "DELETE /push-subscriptions": { ok: 204, query: "?endpoint=https%3A%2F%2Ffcm.googleapis.com%2Ffcm%2Fsend%2Fnone" },
};

const [METHOD_OF, PATH_OF] = [(key: string) => key.split(" ")[0]!, (key: string) => key.slice(key.indexOf(" ") + 1)];

async function asUser(f: Fix, key: string, token: string, options: { space?: string; values?: Record<string, string>; query?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const route = ROUTES[key]!;
  const path = fill(PATH_OF(key), options.values ?? route.shared ?? {}) + (options.query ?? route.query ?? "");
  return meCall(path, token, { method: METHOD_OF(key), space: options.space, body: await route.body?.(f), headers: options.headers });
}

describe("coverage", () => {
  it("every User API operation of the OpenAPI document is in the table; no /me path names a user's own resource", async () => {
    const ops = (await documentedOperations()).filter((op) => op.security === "user");
    expect(ops.map((op) => op.path).every((p) => p === ME || p.startsWith(`${ME}/`))).toBe(true);
    const documented = ops.map(meKey);
    expect(documented.filter((k) => !(k in ROUTES))).toEqual([]);
    expect(Object.keys(ROUTES).filter((k) => !documented.includes(k))).toEqual([]);
    // The only path parameter of the User API is a definition id: no redemption, push
    // subscription or other per-user id can be named in a /me path.
    const params = new Set(ops.flatMap((op) => op.params.filter((p) => p.in === "path").map((p) => p.name)));
    expect([...params]).toEqual(["id"]);
  });
});

describe("control: Y's own token sees Y's marks (the leak check can see them)", () => {
  it("GET /me, /me/metrics/pts/transactions, /me/activity, /me/rewards with Y's token carry MARK_Y", async () => {
    const f = await fixture();
    const y = f.tokens.get(`${f.a.slug}:uy`)!;
    for (const path of ["", "/metrics/pts/transactions", "/activity", "/rewards"]) {
      const a = await meCall(path, y, { space: f.a.slug });
      expect(a.status, a.text).toBe(200);
      expect(a.text, path).toContain(MARK_Y);
    }
    const b = await meCall("", f.tokens.get(`${f.b.slug}:ux`)!, { space: f.b.slug });
    expect(b.text).toContain(MARK_B);
  });
});

describe.each(Object.keys(ROUTES).map((k) => [k]))("%s", (key) => {
  const label = `${METHOD_OF(key)} ${ME}${PATH_OF(key)}`;
  const op = `${METHOD_OF(key)} ${ME}${PATH_OF(key)}`;

  it("X's token answers X's own data, however the request names Y", async () => {
    const f = await fixture();
    const x = f.tokens.get(`${f.a.slug}:ux`)!;
    const own = await asUser(f, key, x, { space: f.a.slug });
    report.count(op);
    report.noLeak(own, notY(f), `${label} as X`);
    report.status(own, ROUTES[key]!.ok, `${label} as X`);
    if (own.status === 200 && key === "GET ") expect(own.body.userId).toBe("ux");
    // Query parameters and headers that would name Y (or B) are not the user.
    const route = ROUTES[key]!;
    const extra = `${route.query ? `${route.query}&` : "?"}userId=uy&user=uy&sub=uy&uid=uy&space=${f.b.slug}`;
    const naming = await asUser(f, key, x, {
      space: f.a.slug,
      query: extra,
      headers: { "X-User-Id": "uy", "X-Loyalty-User": "uy", "X-Forwarded-User": "uy", Forwarded: "for=uy" },
    });
    report.count(op);
    report.noLeak(naming, notY(f), `${label} as X naming Y`);
    report.status(naming, [route.ok, 400], `${label} as X naming Y`);
    if (naming.status === 200 && key === "GET ") expect(naming.body.userId).toBe("ux");
  });

  it("X's token of A is refused by B and by the default space; X's token of B is refused by A", async () => {
    const f = await fixture();
    const cases: Array<[string, string, string | undefined]> = [
      ["X's A token naming B", f.tokens.get(`${f.a.slug}:ux`)!, f.b.slug],
      ["X's A token naming no space (default)", f.tokens.get(`${f.a.slug}:ux`)!, undefined],
      ["X's B token naming A", f.tokens.get(`${f.b.slug}:ux`)!, f.a.slug],
      ["Y's B token naming A", f.tokens.get(`${f.b.slug}:uy`)!, f.a.slug],
    ];
    for (const [what, token, space] of cases) {
      const a = await asUser(f, key, token, { space });
      report.count(op);
      report.noLeak(a, { markers: [MARK_Y, MARK_X, MARK_A, MARK_B] }, `${label}: ${what}`);
      report.problem(a, 401, "token_invalid", `${label}: ${what}`);
    }
    // A's admin key is not a user token.
    const admin = await asUser(f, key, f.a.admin, { space: f.a.slug });
    report.count(op);
    report.problem(admin, 401, "token_invalid", `${label}: A's admin key as a user token`);
  });

  if (ROUTES[key]!.bOnly) {
    it("ids only B defines are 404 for X in A (and with B's header, 401)", async () => {
      const f = await fixture();
      const x = f.tokens.get(`${f.a.slug}:ux`)!;
      const a = await asUser(f, key, x, { space: f.a.slug, values: ROUTES[key]!.bOnly });
      report.count(op);
      report.noLeak(a, notY(f), `${label} with B's id`);
      report.problem(a, 404, "not_found", `${label} with B's id`);
      const b = await asUser(f, key, x, { space: f.b.slug, values: ROUTES[key]!.bOnly });
      report.count(op);
      report.problem(b, 401, "token_invalid", `${label} with B's id and B's header`);
    });
  }
});

describe("push subscriptions: X cannot see or remove Y's (or B's) endpoints", () => {
  it("PUT with Y's endpoint is X's new subscription; DELETE of Y's endpoint leaves Y's; userId in the body is refused", async () => {
    const f = await fixture();
    const x = f.tokens.get(`${f.a.slug}:ux`)!;
    const yEndpoint = f.endpoints.get(`${f.a.slug}:uy`)!;
    const bEndpoint = f.endpoints.get(`${f.b.slug}:ux`)!;
    const subs = (space: Space, user: string) =>
      env.USERS.getByName(JSON.stringify([space.id, user])).pushSubscriptions().then((s) => s.map((e) => e.endpoint).sort());
    const yBefore = await subs(f.a, "uy");
    const bBefore = await subs(f.b, "ux");
    expect(yBefore).toEqual([yEndpoint]);

    const withUser = { ...(await browserSubscription()), userId: "uy" };
    const refusedBody = await meCall("/push-subscriptions", x, { method: "PUT", space: f.a.slug, body: withUser });
    report.count("PUT /api/loyalty/me/push-subscriptions");
    report.problem(refusedBody, 400, "invalid_request", "PUT with userId in the body");

    const ySub = { ...(await browserSubscription()), endpoint: yEndpoint };
    const taken = await meCall("/push-subscriptions", x, { method: "PUT", space: f.a.slug, body: ySub });
    report.count("PUT /api/loyalty/me/push-subscriptions");
    report.status(taken, 201, "PUT of Y's endpoint by X: X's own new subscription");
    for (const endpoint of [yEndpoint, bEndpoint]) {
      for (const query of [`?endpoint=${encodeURIComponent(endpoint)}`, `?endpoint=${encodeURIComponent(endpoint)}&userId=uy`]) {
        const gone = await meCall(`/push-subscriptions${query}`, x, { method: "DELETE", space: f.a.slug });
        report.count("DELETE /api/loyalty/me/push-subscriptions");
        report.status(gone, 204, `DELETE ${query} by X`);
      }
    }
    report.unchanged(await subs(f.a, "uy"), yBefore, "Y's subscriptions");
    report.unchanged(await subs(f.b, "ux"), bBefore, "B's X's subscriptions");
    // X's own list: X's devices (Y's endpoint was X's for a moment, then removed by X).
    const xNow = await subs(f.a, "ux");
    expect(xNow).toContain(f.endpoints.get(`${f.a.slug}:ux`)!);
    expect(xNow).not.toContain(yEndpoint);
  });
});

describe("the same user id in two spaces: two users", () => {
  it("X's tokens of A and B read each space's own X (balances, attributes)", async () => {
    const f = await fixture();
    const inA = await meCall("/metrics/pts", f.tokens.get(`${f.a.slug}:ux`)!, { space: f.a.slug });
    const inB = await meCall("/metrics/pts", f.tokens.get(`${f.b.slug}:ux`)!, { space: f.b.slug });
    report.count("GET /api/loyalty/me/metrics/{id}", 2);
    expect(inA.body.balance).toBe(5 - 1);
    expect(inB.body.balance).toBe(100 - 1);
    const profile = await meCall("", f.tokens.get(`${f.b.slug}:ux`)!, { space: f.b.slug });
    expect(profile.body.attributes).toEqual({ mark: MARK_B });
    report.noLeak(profile, { markers: [MARK_X, MARK_Y, MARK_A, f.a.id] }, "B's X profile");
  });

  it("the catalogue's stock state is each space's own, even right after the other space's was cached", async () => {
    const f = await fixture();
    const stockOf = (a: Reply) => JSON.stringify(a.body.data.find((p: { product: string }) => p.product === "gift"));
    const inB = await meCall("/catalog", f.tokens.get(`${f.b.slug}:ux`)!, { space: f.b.slug });
    const inA = await meCall("/catalog", f.tokens.get(`${f.a.slug}:ux`)!, { space: f.a.slug });
    report.count("GET /api/loyalty/me/catalog", 2);
    expect(stockOf(inB)).toContain('"out"');
    expect(stockOf(inA)).not.toContain('"out"');
    report.noLeak(inA, notY(f), "A's catalogue");
  });

  it("erasing a user in B leaves A's user of that id and A's tokens alone, and the other way round", async () => {
    const f = await fixture();
    for (const [erased, kept] of [
      [f.b, f.a],
      [f.a, f.b],
    ] as const) {
      const user = `ue-${erased.slug.slice(-6)}`;
      for (const space of [f.a, f.b]) {
        expect((await adminCall(`/users/${user}/metrics/pts/adjust`, { method: "POST", key: space.admin, body: { amount: 9, reason: "erasure" } })).status).toBe(201);
      }
      const keptToken = await tokenFor(kept, user);
      const erasedToken = await tokenFor(erased, user);
      // Tokens carry iat in seconds; erasure refuses tokens of its own second too.
      await new Promise((r) => setTimeout(r, 1100));
      expect((await adminCall(`/users/${user}`, { method: "DELETE", key: erased.admin })).status).toBe(204);
      const still = await meCall("/metrics/pts", keptToken, { space: kept.slug });
      report.count("GET /api/loyalty/me/metrics/{id}");
      report.status(still, 200, "the other space's token after an erasure");
      expect(still.body.balance).toBe(9);
      const revoked = await meCall("/metrics/pts", erasedToken, { space: erased.slug });
      report.count("GET /api/loyalty/me/metrics/{id}");
      report.problem(revoked, 401, "token_revoked", "the erased space's token");
    }
  });
});

describe("userIdClaim: two spaces trusting one identity provider", () => {
  const ISSUER = "https://idp.isolation.example";
  let idp: IdpKey;
  let other: IdpKey;
  let c: Space;
  let d: Space;

  const ready = (async () => undefined)();
  async function setup(): Promise<void> {
    if (c) return;
    await ready;
    idp = await newIdpKey("ES256");
    other = await newIdpKey("ES256", idp.kid);
    [c, d] = await Promise.all([isoSpace(`${MARK_A}-c`), isoSpace(`${MARK_A}-d`)]);
    const auth = (space: Space, audience: string, userIdClaim?: string) =>
      adminCall(`/spaces/${space.slug}`, { method: "PATCH", body: { auth: { issuer: ISSUER, audience, jwks: { keys: [idp.publicJwk] }, ...(userIdClaim ? { userIdClaim } : {}) } } });
    expect((await auth(c, "aud-c", "uid")).status).toBe(200);
    expect((await auth(d, "aud-d")).status).toBe(200);
    // uy in C and in D, each marked.
    for (const [space, mark] of [
      [c, "isoMarkCharlie"],
      [d, "isoMarkDelta"],
    ] as const) {
      expect((await adminCall("/metrics/pts", { method: "PUT", key: space.admin, body: { name: "P", kind: "currency" } })).status).toBe(201);
      expect((await adminCall("/users/uy/metrics/pts/adjust", { method: "POST", key: space.admin, body: { amount: 7, reason: `r ${mark}` } })).status).toBe(201);
    }
  }

  const sign = (claims: Record<string, unknown>, key?: IdpKey) => signWith(key ?? idp, claims);

  it("a token for D (whatever its uid) is refused by C; a token for C is refused by D; A's tokens by both", async () => {
    await setup();
    const f = await fixture();
    const refusedIn: Array<[string, Space, string]> = [
      ["D's token with uid=uy on C", c, await sign(idpClaims({ issuer: ISSUER, audience: "aud-d" }, { sub: "ux", uid: "uy" }))],
      ["C's token with uid=uy on D", d, await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { sub: "uy", uid: "uy" }))],
      ["C's claims signed by another key with the IdP's kid, on C", c, await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { uid: "uy" }), other)],
      ["C's token without uid (sub=uy) on C: no fallback to sub", c, await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { sub: "uy" }))],
      ["C's token with uid as an array", c, await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { uid: ["uy"] }))],
      ["C's token with uid as an object", c, await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { uid: { sub: "uy" } }))],
      ["C's token with both audiences, on D (aud-c first)", d, await sign(idpClaims({ issuer: ISSUER, audience: "aud-x" }, { aud: ["aud-c", "aud-x"], sub: "uy" }))],
      ["A's own token for uy on C", c, f.tokens.get(`${f.a.slug}:uy`)!],
      ["A's own token for uy on D", d, f.tokens.get(`${f.a.slug}:uy`)!],
    ];
    for (const [what, space, token] of refusedIn) {
      const a = await meCall("/metrics/pts", token, { space: space.slug });
      report.count("GET /api/loyalty/me/metrics/{id}");
      report.noLeak(a, { markers: ["isoMarkCharlie", "isoMarkDelta", MARK_Y] }, what);
      report.problem(a, 401, "token_invalid", what);
    }
  });

  it("a valid token reads its own space's user of the claimed id only", async () => {
    await setup();
    const inC = await meCall("/metrics/pts/transactions", await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { sub: "ux", uid: "uy" })), { space: c.slug });
    report.count("GET /api/loyalty/me/metrics/{id}/transactions");
    report.status(inC, 200, "C's token uid=uy");
    expect(inC.text).toContain("isoMarkCharlie");
    report.noLeak(inC, { markers: ["isoMarkDelta", MARK_Y, MARK_B] }, "C's uy");
    const inD = await meCall("/metrics/pts/transactions", await sign(idpClaims({ issuer: ISSUER, audience: "aud-d" }, { sub: "uy", uid: "ux" })), { space: d.slug });
    report.count("GET /api/loyalty/me/metrics/{id}/transactions");
    report.status(inD, 200, "D's token sub=uy");
    expect(inD.text).toContain("isoMarkDelta");
    report.noLeak(inD, { markers: ["isoMarkCharlie", MARK_Y, MARK_B] }, "D's uy");
    // uid=ux in C: a user never seen in C (not C's or D's uy).
    const fresh = await meCall("/metrics/pts/transactions", await sign(idpClaims({ issuer: ISSUER, audience: "aud-c" }, { sub: "uy", uid: "ux" })), { space: c.slug });
    report.count("GET /api/loyalty/me/metrics/{id}/transactions");
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.body.data).toEqual([]);
  });
});

describe("the delivery log: two users' events of the same id are two deliveries", () => {
  it("a subscribed event of X and of Y with one event id: two rows, two webhook-ids, each its own user", async () => {
    // Event ids are unique per (space, user) (SPEC §5.1): a webhook-id derived without the
    // user made Y's delivery collide with X's (the log kept X's row, a receiver
    // deduplicating by webhook-id dropped Y's message).
    const space = await isoSpace(MARK_A);
    expect((await adminCall("/webhooks/hook", { method: "PUT", key: space.admin, body: { url: "https://hooks.example.com/iso", events: ["*"], enabled: false } })).status).toBe(201);
    const envelope = (userId: string) => ({
      v: 1,
      type: "delivery",
      key: `iso:${userId}`,
      body: {
        spaceId: space.id,
        userId,
        message: { kind: "webhook", webhook: "hook", eventId: "order-1#1", type: "loyalty.metric.changed", occurredAt: new Date().toISOString(), data: { user: userId } },
      },
    });
    const result = await runQueue("loyalty-deliveries", [{ body: envelope("ux") }, { body: envelope("uy") }]);
    expect(result.retryMessages).toEqual([]);
    const rows = (await env.DB.prepare("SELECT id, user_id, message FROM deliveries WHERE space_id = ? ORDER BY user_id").bind(space.id).all<{ id: string; user_id: string; message: string }>()).results;
    report.count("GET /api/loyalty/admin/webhooks/{id}/deliveries");
    report.unchanged(rows.map((r) => r.user_id), ["ux", "uy"], "one delivery row per user");
    expect(new Set(rows.map((r) => r.id)).size).toBe(2);
    for (const row of rows) expect(JSON.parse(row.message).userId).toBe(row.user_id);
    const list = await adminCall("/webhooks/hook/deliveries", { key: space.admin });
    expect(list.body.data.map((d: { userId: string }) => d.userId).sort()).toEqual(["ux", "uy"]);
  });
});

afterAll(() => report.print());
