import { env } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { ROUTES, browserSubscription, matrixFixture } from "./admin-matrix";
import { KIND_FIXTURES } from "./definitions-api";
import {
  ADMIN,
  IsolationReport,
  MARK_A,
  MARK_B,
  ROOT_KEY,
  adminCall,
  isoSpace,
  jwtPayload,
  meCall,
  rootWrite,
  settle,
  spaceRows,
  tokenFor,
  userObject,
  type Foreign,
  type Reply,
  type Space,
} from "./isolation";

// The Admin API half of the isolation matrix (issue #10, case 1): space A's credentials
// (its admin key; the root key naming A) acting in A with the ids of space B's resources
// — definitions only B has, B's users, redemptions, webhooks and deliveries, jobs, API
// keys, push subscriptions, idempotency keys, event ids — and with ids both spaces have.
// Every answer is 404 (or an empty list, or A's own version), never B's data, and B's
// D1 rows and users' objects are exactly as they were.
//
// B is built once per file and then left alone (its queues settled), so "unchanged"
// compares every case with one snapshot: all of B's D1 rows after every case, the
// objects of the users a case names after that case, and B's own-key view (programme,
// keys, jobs, directory, user documents) at the end of the file.

export type Cred = "key" | "root";
export const CREDS: Cred[] = ["key", "root"];
/** Short tag of a credential, part of the ids a case of that credential uses. */
export const tagOf = (cred: Cred): string => (cred === "key" ? "k" : "r");

export const KINDS = KIND_FIXTURES.map((f) => f.kind);

export interface Fix {
  a: Space;
  b: Space;
  /** Ids made while building (redemptions, deliveries, jobs, keys), by name. */
  ids: Record<string, string>;
  /** Users that exist in B, with the redemption ids their objects are read with. */
  bUsers: Map<string, string[]>;
  s0?: { rows: Record<string, unknown[]>; objects: Map<string, unknown>; api: unknown };
}

export interface Ctx {
  f: Fix;
  cred: Cred;
  /** k or r */
  t: string;
  r: IsolationReport;
  route: string;
  /** An Admin API request with this case's credential, acting in A; leak-checked and counted. */
  as(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  expect404(a: Reply, label?: string): void;
}

export interface AdminCase {
  /** As in admin-matrix.ts's ROUTES: `METHOD /template` relative to the Admin API. */
  op: string;
  label: string;
  creds: Cred[];
  /** B users whose objects this case compares after acting (besides all of B's D1 rows). */
  users?: (t: string) => string[];
  /** Builds what the case needs, in B (with B's own key) and in A; runs before B settles. */
  setup?: (f: Fix, t: string) => Promise<void>;
  run(x: Ctx): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Building blocks.

/** A definition body of `kind` carrying `mark` (webhooks disabled: no deliveries). */
export function defBody(kind: string, mark: string): Record<string, unknown> {
  const fx = matrixFixture(KIND_FIXTURES.find((k) => k.kind === kind)!);
  const body: Record<string, unknown> = { ...fx.body, description: `desc ${mark}` };
  if (typeof body.name === "string") body.name = `${body.name} ${mark}`;
  return body;
}

/** B's admin key in B. */
export async function inB(f: Fix, method: string, path: string, body?: unknown, statuses = [200, 201, 204], headers?: Record<string, string>): Promise<Reply> {
  const a = await adminCall(path, { method, key: f.b.admin, body, headers });
  expect(statuses, `B: ${method} ${path}: ${a.text}`).toContain(a.status);
  return a;
}

/** A's admin key in A (a setup step, not a checked case). */
export async function inA(f: Fix, method: string, path: string, body?: unknown, statuses = [200, 201, 204]): Promise<Reply> {
  const a = await adminCall(path, { method, key: f.a.admin, body });
  expect(statuses, `A: ${method} ${path}: ${a.text}`).toContain(a.status);
  return a;
}

/** A user of B with a marked profile and 100 points; registered for the object snapshots. */
export async function bUser(f: Fix, userId: string, extra: { points?: number; redeem?: boolean } = {}): Promise<void> {
  await inB(f, "PUT", `/users/${userId}`, { attributes: { mark: MARK_B, tier: "gold" }, locale: "en-GB" });
  await inB(f, "POST", `/users/${userId}/metrics/pts/adjust`, { amount: extra.points ?? 100, reason: `grant ${MARK_B}` });
  const redemptions: string[] = [];
  if (extra.redeem) {
    const a = await inB(f, "POST", `/users/${userId}/redemptions`, { product: "iso-reward" });
    f.ids[`rdm:${userId}`] = a.body.id;
    redemptions.push(a.body.id);
  }
  f.bUsers.set(userId, redemptions);
}

/** The same user id in A, with A's marks. */
export async function aUser(f: Fix, userId: string): Promise<void> {
  await inA(f, "PUT", `/users/${userId}`, { attributes: { mark: MARK_A, tier: "bronze" } });
  await inA(f, "POST", `/users/${userId}/metrics/pts/adjust`, { amount: 3, reason: `grant ${MARK_A}` });
}

/** A delivery row of `webhook` in `space`, as the deliveries consumer writes one. */
export async function insertDelivery(space: Space, webhook: string, mark: string): Promise<string> {
  const id = `msg_${crypto.randomUUID().replace(/-/g, "")}`;
  const now = Date.now();
  const message = {
    spaceId: space.id,
    userId: "bonly-read",
    message: { kind: "webhook", webhook, eventId: "bonly-ev-1#1", type: "loyalty.metric.changed", occurredAt: new Date(now).toISOString(), data: { mark } },
  };
  await env.DB.prepare(
    `INSERT INTO deliveries (id, space_id, kind, endpoint_id, user_id, event_type, message, status, attempts, last_error, created_at, updated_at)
     VALUES (?, ?, 'webhook', ?, 'bonly-read', 'loyalty.metric.changed', ?, 'failed', 1, ?, ?, ?)`,
  ).bind(id, space.id, webhook, JSON.stringify(message), `error ${mark}`, now, now).run();
  await env.DB.prepare(`INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, latency_ms, error) VALUES (?, 1, ?, 500, 12, ?)`)
    .bind(id, now, `error ${mark}`)
    .run();
  return id;
}

// Not B's slug: a request naming it may be answered with it (space_mismatch lists what each place named).
const foreignOf = (f: Fix): Foreign => ({ markers: [MARK_B, f.b.id, f.b.admin, f.b.read] });

// ---------------------------------------------------------------------------------------
// The cases, route by route.

const ids = (a: Reply): string[] => (a.body?.data ?? []).map((d: { id?: string; userId?: string }) => d.id ?? d.userId);

function definitionCases(): AdminCase[] {
  const out: AdminCase[] = [];
  for (const kind of KINDS) {
    const only = `bo-${kind}`;
    const both = `both-${kind}`;
    out.push(
      {
        op: `GET /${kind}`,
        label: `lists only A's ${kind} (live and archived), A's version of shared ids`,
        creds: CREDS,
        run: async (x) => {
          for (const query of ["?limit=100", "?limit=100&include=archived"]) {
            const a = await x.as("GET", `/${kind}${query}`);
            x.r.status(a, 200, `GET /${kind}${query}`);
            expect(ids(a)).not.toContain(only);
            const shared = a.body.data.find((d: { id: string }) => d.id === both);
            expect(JSON.stringify(shared), a.text).toContain(MARK_A);
          }
        },
      },
      {
        op: `POST /${kind}`,
        label: `creating an id that only B has creates A's own`,
        creds: CREDS,
        setup: async (f, t) => void (await inB(f, "POST", `/${kind}`, { id: `${only}-c-${t}`, ...defBody(kind, MARK_B) })),
        run: async (x) => {
          const id = `${only}-c-${x.t}`;
          const a = await x.as("POST", `/${kind}`, { id, ...defBody(kind, MARK_A) });
          x.r.status(a, 201, `POST /${kind} ${id}`);
          expect(a.body.version, a.text).toBe(1);
          const read = await x.as("GET", `/${kind}/${id}`);
          expect(read.text).toContain(MARK_A);
          // A second POST of the id is A's conflict, not B's.
          x.r.problem(await x.as("POST", `/${kind}`, { id, ...defBody(kind, MARK_A) }), 409, "already_exists", `POST /${kind} again`);
        },
      },
      {
        op: `GET /${kind}/{id}`,
        label: `B's id is 404; a shared id answers A's version`,
        creds: CREDS,
        run: async (x) => {
          x.expect404(await x.as("GET", `/${kind}/${only}`));
          const a = await x.as("GET", `/${kind}/${both}`);
          x.r.status(a, 200, `GET /${kind}/${both}`);
          expect(a.text).toContain(MARK_A);
        },
      },
      {
        op: `PUT /${kind}/{id}`,
        label: `PUT of B's id creates A's (201, If-None-Match: * too); a shared id replaces A's`,
        creds: CREDS,
        setup: async (f, t) => {
          await inB(f, "PUT", `/${kind}/${only}-u-${t}`, defBody(kind, MARK_B));
          await inB(f, "PUT", `/${kind}/${only}-n-${t}`, defBody(kind, MARK_B));
        },
        run: async (x) => {
          const created = await x.as("PUT", `/${kind}/${only}-u-${x.t}`, defBody(kind, MARK_A));
          x.r.status(created, 201, `PUT /${kind}/${only}-u-${x.t}`);
          expect(created.body.version).toBe(1);
          const createOnly = await x.as("PUT", `/${kind}/${only}-n-${x.t}`, defBody(kind, MARK_A), { "If-None-Match": "*" });
          x.r.status(createOnly, 201, `PUT If-None-Match: * /${kind}/${only}-n-${x.t}`);
          const replaced = await x.as("PUT", `/${kind}/${both}`, defBody(kind, MARK_A));
          x.r.status(replaced, 200, `PUT /${kind}/${both}`);
          expect(replaced.text).toContain(MARK_A);
        },
      },
      {
        op: `PATCH /${kind}/{id}`,
        label: `B's id is 404; a shared id patches A's`,
        creds: CREDS,
        run: async (x) => {
          x.expect404(await x.as("PATCH", `/${kind}/${only}`, { description: `patched ${MARK_A}` }));
          const a = await x.as("PATCH", `/${kind}/${both}`, { description: `patched ${MARK_A} ${x.t}` });
          x.r.status(a, 200, `PATCH /${kind}/${both}`);
          expect(a.body.description).toBe(`patched ${MARK_A} ${x.t}`);
        },
      },
      {
        op: `DELETE /${kind}/{id}`,
        label: `B's id is 404; a shared id deletes A's only`,
        creds: CREDS,
        setup: async (f, t) => {
          await inB(f, "PUT", `/${kind}/${both}-d-${t}`, defBody(kind, MARK_B));
          await inA(f, "PUT", `/${kind}/${both}-d-${t}`, defBody(kind, MARK_A));
        },
        run: async (x) => {
          x.expect404(await x.as("DELETE", `/${kind}/${only}`));
          x.r.status(await x.as("DELETE", `/${kind}/${both}-d-${x.t}`), 204, `DELETE /${kind}/${both}-d-${x.t}`);
          // Still live in B (B's rows are compared after the case, and B's key reads it).
          const inBNow = await adminCall(`/${kind}/${both}-d-${x.t}`, { key: x.f.b.admin });
          expect(inBNow.status).toBe(200);
          expect(inBNow.text).toContain(MARK_B);
        },
      },
    );
  }
  // Idempotency-Key: the stored answers are per space.
  out.push({
    op: "POST /segments",
    label: "an Idempotency-Key B used (same body) is a fresh request in A, not B's replay",
    creds: CREDS,
    setup: async (f, t) =>
      void (await inB(f, "POST", "/segments", { id: `idem-seg-${t}`, name: "Idem", type: "static" }, [201], { "Idempotency-Key": `iso-idem-${t}` })),
    run: async (x) => {
      const a = await x.as("POST", "/segments", { id: `idem-seg-${x.t}`, name: "Idem", type: "static" }, { "Idempotency-Key": `iso-idem-${x.t}` });
      x.r.status(a, 201, "POST /segments with B's Idempotency-Key");
      expect(a.headers.get("idempotent-replayed")).toBeNull();
      const again = await x.as("POST", "/segments", { id: `idem-seg-${x.t}`, name: "Idem", type: "static" }, { "Idempotency-Key": `iso-idem-${x.t}` });
      x.r.status(again, 201, "replayed in A");
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body).toEqual(a.body);
    },
  });
  out.push(
    {
      op: "GET /programme",
      label: "exports A's definitions only",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("GET", "/programme");
        x.r.status(a, 200, "GET /programme");
        for (const kind of KINDS) {
          const list = (a.body[kind] ?? []) as Array<{ id: string }>;
          expect(list.map((d) => d.id)).not.toContain(`bo-${kind}`);
          expect(JSON.stringify(list.find((d) => d.id === `both-${kind}`))).toContain(MARK_A);
        }
      },
    },
    {
      op: "PUT /programme",
      label: "a prune dry run lists A's only; a reference to B's definition is 422; shared ids write A's",
      creds: CREDS,
      run: async (x) => {
        const dry = await x.as("PUT", "/programme?dryRun=true&prune=true", {});
        x.r.status(dry, 200, "PUT /programme dry run prune");
        const named = [...dry.body.archived, ...dry.body.unchanged, ...dry.body.updated, ...dry.body.created].join(" ");
        for (const kind of KINDS) expect(named.split(" ")).not.toContain(`${kind}/bo-${kind}`);
        expect(named).not.toMatch(/(^| )[a-z]+\/bo-[a-z]+( |$)/);
        const refB = await x.as("PUT", "/programme", {
          campaigns: [{ id: `prog-${x.t}`, name: "Refs B", steps: [{ id: "s", name: "S", trigger: { eventType: "buy" }, effects: [{ type: "metric.add", metric: "bo-metrics", amount: 1 }] }] }],
        });
        x.r.problem(refB, 422, "unknown_reference", "PUT /programme referencing bo-metrics");
        const shared = await x.as("PUT", "/programme", { segments: [{ id: "both-segments", ...defBody("segments", `${MARK_A} prog ${x.t}`) }] });
        x.r.status(shared, 200, "PUT /programme both-segments");
        expect(shared.body.updated).toEqual(["segments/both-segments"]);
        expect((await x.as("GET", "/segments/both-segments")).text).toContain(`${MARK_A} prog ${x.t}`);
      },
    },
  );
  return out;
}

function spaceAndKeyCases(): AdminCase[] {
  const slugOutcome = (x: Ctx, a: Reply, label: string) =>
    x.cred === "key" ? x.r.problem(a, 403, "wrong_space", label) : x.r.problem(a, 400, "space_mismatch", label);
  return [
    {
      op: "POST /spaces",
      label: "A's admin key cannot create spaces",
      creds: ["key"],
      run: async (x) => x.r.problem(await x.as("POST", "/spaces", { slug: `iso-x-${x.t}-${Date.now()}`, name: "x" }), 403, "insufficient_scope", "POST /spaces"),
    },
    {
      op: "GET /spaces",
      label: "A's admin key cannot list spaces",
      creds: ["key"],
      run: async (x) => x.r.problem(await x.as("GET", "/spaces"), 403, "insufficient_scope", "GET /spaces"),
    },
    {
      op: "GET /spaces/{slug}",
      label: "B's slug in the path is refused; A's own slug answers A",
      creds: CREDS,
      run: async (x) => {
        slugOutcome(x, await x.as("GET", `/spaces/${x.f.b.slug}`), "GET /spaces/B");
        // B's slug spelled otherwise: never B's space (400, 403 or 404; the leak check runs on each).
        const b = x.f.b.slug;
        const encoded = [...b].map((ch) => `%${ch.charCodeAt(0).toString(16)}`).join("");
        for (const path of [`/spaces/${b}/`, `/spaces/${encoded}`, `//spaces/${b}`, `/spaces//${b}`, `/spaces/${b}%2F`, `/spaces/${b.toUpperCase()}`, `/x/../spaces/${b}`, `/spaces/${b}%00`, `/spaces/${b}?slug=${x.f.a.slug}`]) {
          x.r.status(await x.as("GET", path), [400, 403, 404], `GET ${path}`);
        }
        const own = await x.as("GET", `/spaces/${x.f.a.slug}`);
        x.r.status(own, 200, "GET /spaces/A");
        expect(own.body.id).toBe(x.f.a.id);
      },
    },
    {
      op: "PATCH /spaces/{slug}",
      label: "B's slug in the path is refused",
      creds: CREDS,
      run: async (x) => slugOutcome(x, await x.as("PATCH", `/spaces/${x.f.b.slug}`, { name: `taken ${MARK_A}` }), "PATCH /spaces/B"),
    },
    {
      op: "POST /spaces/{slug}/rotate-signing-key",
      label: "B's slug in the path is refused",
      creds: CREDS,
      run: async (x) => slugOutcome(x, await x.as("POST", `/spaces/${x.f.b.slug}/rotate-signing-key`), "rotate B"),
    },
    {
      op: "POST /api-keys",
      label: "a new key belongs to A and cannot act in B",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("POST", "/api-keys", { name: `iso ${MARK_A}`, scopes: ["admin"] });
        x.r.status(a, 201, "POST /api-keys");
        x.r.status(await x.as("GET", `/api-keys/${a.body.id}`), 200, "the new key in A");
        const inBWithIt = await adminCall("/api-keys", { key: a.body.secret, space: x.f.b.slug });
        x.r.problem(inBWithIt, 403, "wrong_space", "the new key naming B");
        x.r.noLeak(inBWithIt, foreignOf(x.f), "the new key naming B");
        x.r.status(await adminCall(`/api-keys/${a.body.id}`, { key: x.f.b.admin }), 404, "B's key reads A's new key id");
      },
    },
    {
      op: "GET /api-keys",
      label: "lists A's keys only",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("GET", "/api-keys?limit=100");
        x.r.status(a, 200, "GET /api-keys");
        expect(ids(a)).not.toContain(x.f.b.adminId);
        expect(ids(a)).not.toContain(x.f.b.readId);
        expect(ids(a)).toContain(x.f.a.adminId);
      },
    },
    {
      op: "GET /api-keys/{id}",
      label: "B's key ids are 404",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", `/api-keys/${x.f.b.adminId}`));
        x.expect404(await x.as("GET", `/api-keys/${x.f.b.readId}`));
      },
    },
    {
      op: "DELETE /api-keys/{id}",
      label: "revoking B's key id is 404 and B's key keeps working",
      creds: CREDS,
      setup: async (f, t) => {
        const a = await inB(f, "POST", "/api-keys", { name: `victim ${MARK_B}`, scopes: ["read"] });
        f.ids[`key:${t}`] = a.body.id;
        f.ids[`keysecret:${t}`] = a.body.secret;
      },
      run: async (x) => {
        x.expect404(await x.as("DELETE", `/api-keys/${x.f.ids[`key:${x.t}`]}`));
        x.expect404(await x.as("DELETE", `/api-keys/${x.f.b.readId}`));
        expect((await adminCall("/api-keys", { key: x.f.ids[`keysecret:${x.t}`]! })).status).toBe(200);
      },
    },
    {
      op: "POST /users/{userId}/token",
      label: "a token minted in A for B's user id is A's: refused by B, empty in A",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("POST", "/users/bonly-read/token", { ttlSeconds: 300 });
        x.r.status(a, 201, "POST /users/bonly-read/token");
        const payload = jwtPayload(a.body.token);
        expect(payload).toMatchObject({ sub: "bonly-read", aud: `loyalty:${x.f.a.id}` });
        const onB = await meCall("", a.body.token, { space: x.f.b.slug });
        x.r.problem(onB, 401, "token_invalid", "A's token on B's /me");
        x.r.noLeak(onB, foreignOf(x.f), "A's token on B's /me");
        const onA = await meCall("/metrics", a.body.token, { space: x.f.a.slug });
        x.r.status(onA, 200, "A's token on A's /me/metrics");
        x.r.noLeak(onA, foreignOf(x.f), "A's token on A's /me/metrics");
        expect(onA.body.data.every((m: { balance: number }) => m.balance === 0), onA.text).toBe(true);
      },
    },
  ];
}

function eventCases(): AdminCase[] {
  const shared = (t: string) => `shared-${t}`;
  const ev = (id: string, userId: string) => ({ id, userId, type: "iso_ping", data: { n: 1 } });
  return [
    {
      op: "POST /events",
      label: "an event id B's user has used is new for A's user of that id (also dry run, async)",
      creds: CREDS,
      users: (t) => [shared(t)],
      run: async (x) => {
        const user = shared(x.t);
        const a = await x.as("POST", "/events", ev("sev-1", user));
        x.r.status(a, 201, "POST /events sev-1");
        expect(a.body.duplicate).toBe(false);
        const dry = await x.as("POST", "/events?dryRun=true", ev("sev-4", user));
        x.r.status(dry, 201, "POST /events?dryRun sev-4");
        expect(dry.body.duplicate).toBe(false);
        const queued = await x.as("POST", "/events?async=true", ev("sev-3", user));
        x.r.status(queued, 202, "POST /events?async sev-3");
        expect(queued.body.accepted).toEqual(["sev-3"]);
      },
    },
    {
      op: "POST /events/batch",
      label: "a batch reusing B's event ids applies them to A's users",
      creds: CREDS,
      users: (t) => [shared(t), `bbatch-${t}`],
      setup: async (f, t) => {
        await bUser(f, `bbatch-${t}`);
        await inB(f, "POST", "/events", ev("bb-ev", `bbatch-${t}`), [201]);
      },
      run: async (x) => {
        const a = await x.as("POST", "/events/batch", { events: [ev("sev-2", shared(x.t)), ev("bb-ev", `bbatch-${x.t}`)] });
        x.r.status(a, 200, "POST /events/batch");
        // Both ids were used in B, by users of the same ids: both are new in A.
        expect(a.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201]);
      },
    },
  ];
}

function userCases(): AdminCase[] {
  const shared = (t: string) => `shared-${t}`;
  return [
    {
      op: "GET /users/{userId}",
      label: "B's user is 404; a shared user id answers A's user",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", "/users/bonly-read"));
        const a = await x.as("GET", `/users/${shared(x.t)}`);
        x.r.status(a, 200, "GET shared user");
        expect(a.body.attributes).toEqual({ mark: MARK_A, tier: "bronze" });
      },
    },
    {
      op: "PUT /users/{userId}",
      label: "PUT of B's user id creates A's (201) with only what was sent",
      creds: CREDS,
      users: (t) => [`bput-${t}`],
      setup: async (f, t) => bUser(f, `bput-${t}`),
      run: async (x) => {
        const a = await x.as("PUT", `/users/bput-${x.t}`, { attributes: { tier: "silver" } });
        x.r.status(a, 201, "PUT B's user id");
        expect(a.body.attributes).toEqual({ tier: "silver" });
        expect(a.body.locale).toBeNull();
      },
    },
    {
      op: "PATCH /users/{userId}",
      label: "PATCH of B's user id merges into nothing of B's",
      creds: CREDS,
      users: (t) => [`bpatch-${t}`],
      setup: async (f, t) => bUser(f, `bpatch-${t}`),
      run: async (x) => {
        const a = await x.as("PATCH", `/users/bpatch-${x.t}`, { attributes: { extra: 1 } });
        x.r.status(a, [200, 201], "PATCH B's user id");
        expect(a.body.attributes).toEqual({ extra: 1 });
      },
    },
    {
      op: "DELETE /users/{userId}",
      label: "erasing B's user id in A leaves B's user, directory row and tokens alone",
      creds: CREDS,
      users: (t) => [`bdel-${t}`],
      setup: async (f, t) => bUser(f, `bdel-${t}`),
      run: async (x) => {
        const user = `bdel-${x.t}`;
        x.r.status(await x.as("DELETE", `/users/${user}`), 204, "DELETE B's user id");
        const token = await tokenFor(x.f.b, user);
        const mine = await meCall("/metrics", token, { space: x.f.b.slug });
        expect(mine.status, mine.text).toBe(200);
        expect(mine.body.data.find((m: { metric: string }) => m.metric === "pts").balance).toBe(100);
      },
    },
    {
      op: "POST /users/{userId}/metrics/{metric}/adjust",
      label: "adjusting B's user id starts from A's balance; B's Idempotency-Key is not replayed in A",
      creds: CREDS,
      users: (t) => [`badj-${t}`, `badjk-${t}`],
      setup: async (f, t) => {
        await bUser(f, `badj-${t}`);
        await bUser(f, `badjk-${t}`, { points: 50 });
        await inB(f, "POST", `/users/badjk-${t}/metrics/pts/adjust`, { amount: 100, reason: "idem" }, [201], { "Idempotency-Key": `iso-uidem-${t}` });
      },
      run: async (x) => {
        const a = await x.as("POST", `/users/badj-${x.t}/metrics/pts/adjust`, { amount: 7, reason: `adj ${MARK_A}` });
        x.r.status(a, 201, "adjust B's user id");
        expect(a.body.balance, a.text).toBe(7);
        const k = await x.as("POST", `/users/badjk-${x.t}/metrics/pts/adjust`, { amount: 100, reason: "idem" }, { "Idempotency-Key": `iso-uidem-${x.t}` });
        x.r.status(k, 201, "adjust with B's Idempotency-Key");
        expect(k.headers.get("idempotent-replayed")).toBeNull();
        expect(k.body.balance, k.text).toBe(100);
        x.expect404(await x.as("POST", `/users/badj-${x.t}/metrics/bo-metrics/adjust`, { amount: 1, reason: "x" }));
      },
    },
    {
      op: "GET /users/{userId}/metrics/{metric}/transactions",
      label: "B's user's ledger is empty in A; a shared user's ledger is A's",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("GET", "/users/bonly-read/metrics/pts/transactions?limit=100");
        x.r.status(a, 200, "ledger of B's user");
        expect(a.body.data).toEqual([]);
        const s = await x.as("GET", `/users/${shared(x.t)}/metrics/pts/transactions?limit=100`);
        x.r.status(s, 200, "ledger of a shared user");
        expect(s.body.data.map((e: { delta: number }) => e.delta)).toEqual([3]);
        const o = await x.as("GET", "/users/bonly-read/metrics/bo-metrics/transactions");
        x.r.status(o, [200, 404], "ledger of B's metric");
        if (o.status === 200) expect(o.body.data).toEqual([]);
      },
    },
    {
      op: "POST /users/{userId}/products",
      label: "granting to B's user id holds A's quantity only; B's product id is 404",
      creds: CREDS,
      users: (t) => [`bgrant-${t}`],
      setup: async (f, t) => {
        await bUser(f, `bgrant-${t}`);
        await inB(f, "POST", `/users/bgrant-${t}/products`, { product: "iso-item", quantity: 3 }, [201]);
      },
      run: async (x) => {
        const a = await x.as("POST", `/users/bgrant-${x.t}/products`, { product: "iso-item", quantity: 1 });
        x.r.status(a, 201, "grant to B's user id");
        expect(JSON.stringify(a.body)).not.toMatch(/"quantity":\s*4/);
        const user = await x.as("GET", `/users/bgrant-${x.t}`);
        expect(user.body.rewards.find((p: { product: string }) => p.product === "iso-item").quantity).toBe(1);
        x.r.status(await x.as("POST", `/users/bgrant-${x.t}/products`, { product: "bo-products", quantity: 1 }), [404, 422], "grant B's product");
      },
    },
    {
      op: "DELETE /users/{userId}/products/{product}",
      label: "revoking what B's user holds is 404 in A",
      creds: CREDS,
      users: () => ["bonly-read"],
      run: async (x) => {
        x.expect404(await x.as("DELETE", "/users/bonly-read/products/iso-item"));
        x.expect404(await x.as("DELETE", "/users/bonly-read/products/bo-products"));
      },
    },
    {
      op: "GET /users/{userId}/activity",
      label: "B's user's activity is empty in A",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("GET", "/users/bonly-read/activity?limit=100");
        x.r.status(a, 200, "activity of B's user");
        expect(a.body.data).toEqual([]);
        const s = await x.as("GET", `/users/${shared(x.t)}/activity?limit=100`);
        x.r.status(s, 200, "activity of a shared user");
        // B's own entries for that user id (admin operations have globally unique ids).
        const inB = (x.f.s0!.objects.get(shared(x.t)) as { activity: Array<{ eventId: string }> }).activity.map((e) => e.eventId);
        expect(inB.length).toBeGreaterThan(4);
        for (const id of inB.filter((e) => e.startsWith("adm_"))) expect(s.text).not.toContain(id);
      },
    },
    {
      op: "POST /users/{userId}/streaks/{id}/restore",
      label: "restoring for B's user, or B's streak, changes nothing of B's",
      creds: CREDS,
      users: () => ["bonly-read"],
      run: async (x) => {
        x.r.status(await x.as("POST", "/users/bonly-read/streaks/iso-streak/restore"), [404, 409], "restore B's user");
        x.expect404(await x.as("POST", "/users/bonly-read/streaks/bo-streaks/restore"));
      },
    },
    {
      op: "POST /users/{userId}/events/{eventId}/reverse",
      label: "B's user's event is 404 in A, also for the same user id with events of its own in A",
      creds: CREDS,
      users: (t) => [`brev-${t}`],
      setup: async (f, t) => {
        await bUser(f, `brev-${t}`);
        await inB(f, "POST", "/events", { id: `brev-ev-${t}`, userId: `brev-${t}`, type: "visit" });
      },
      run: async (x) => {
        x.expect404(await x.as("POST", `/users/brev-${x.t}/events/brev-ev-${x.t}/reverse`));
        x.r.status(await x.as("POST", "/events", { id: `arev-ev-${x.t}`, userId: `brev-${x.t}`, type: "visit" }), 201, "A's own event for that user id");
        x.expect404(await x.as("POST", `/users/brev-${x.t}/events/brev-ev-${x.t}/reverse`));
      },
    },
    {
      op: "PUT /users/{userId}/segments/{segmentId}",
      label: "B's segment is 404; a shared segment adds A's user",
      creds: CREDS,
      users: (t) => [`bseg-${t}`],
      setup: async (f, t) => bUser(f, `bseg-${t}`),
      run: async (x) => {
        x.expect404(await x.as("PUT", `/users/bseg-${x.t}/segments/bo-segments`));
        x.r.status(await x.as("PUT", `/users/bseg-${x.t}/segments/iso-static`), 200, "join A's iso-static");
      },
    },
    {
      op: "DELETE /users/{userId}/segments/{segmentId}",
      label: "removing B's member from a shared segment in A leaves B's membership",
      creds: CREDS,
      users: () => ["bonly-read"],
      run: async (x) => {
        x.r.status(await x.as("DELETE", "/users/bonly-read/segments/iso-static"), 204, "leave iso-static");
        x.expect404(await x.as("DELETE", "/users/bonly-read/segments/bo-segments"));
      },
    },
  ];
}

function audienceCases(): AdminCase[] {
  return [
    {
      op: "GET /users",
      label: "the directory lists A's users only (by prefix and segment too)",
      creds: CREDS,
      run: async (x) => {
        for (const query of ["?limit=100", "?q=bonly-read", "?segment=iso-static&limit=100", "?q=b&limit=100"]) {
          const a = await x.as("GET", `/users${query}`);
          x.r.status(a, 200, `GET /users${query}`);
          expect(ids(a)).not.toContain("bonly-read");
        }
        x.r.status(await x.as("GET", "/users?segment=bo-segments"), 404, "directory of B's segment");
      },
    },
    {
      op: "GET /segments/{id}/users",
      label: "B's segment is 404; a shared segment lists A's members",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", "/segments/bo-segments/users"));
        const a = await x.as("GET", "/segments/iso-static/users?limit=100");
        x.r.status(a, 200, "members of iso-static");
        expect(ids(a)).not.toContain("bonly-read");
      },
    },
    {
      op: "GET /jobs",
      label: "lists A's jobs only",
      creds: CREDS,
      run: async (x) => {
        const a = await x.as("GET", "/jobs?limit=100");
        x.r.status(a, 200, "GET /jobs");
        expect(ids(a)).not.toContain(x.f.ids["job:b"]);
        expect(ids(a)).toContain(x.f.ids["job:a"]);
      },
    },
    {
      op: "GET /jobs/{id}",
      label: "B's job id is 404",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", `/jobs/${x.f.ids["job:b"]}`));
        x.r.status(await x.as("GET", `/jobs/${x.f.ids["job:a"]}`), 200, "A's own job");
      },
    },
  ];
}

function rewardCases(): AdminCase[] {
  const shared = (t: string) => `shared-${t}`;
  return [
    {
      op: "POST /users/{userId}/redemptions",
      label: "redeeming for B's funded user id spends A's balance (none); B's reward is 404",
      creds: CREDS,
      users: (t) => [`brdm-${t}`],
      setup: async (f, t) => bUser(f, `brdm-${t}`),
      run: async (x) => {
        x.r.problem(await x.as("POST", `/users/brdm-${x.t}/redemptions`, { product: "iso-reward" }), 409, "insufficient_balance", "redeem for B's user");
        x.r.status(await x.as("POST", `/users/brdm-${x.t}/redemptions`, { product: "bo-products" }), [404, 422], "redeem B's product");
      },
    },
    {
      op: "GET /users/{userId}/redemptions/{id}",
      label: "B's redemption ids are 404 (B's user id and a shared user id)",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", `/users/bonly-read/redemptions/${x.f.ids["rdm:bonly-read"]}`));
        x.expect404(await x.as("GET", `/users/${shared(x.t)}/redemptions/${x.f.ids[`rdm:${shared(x.t)}`]}`));
      },
    },
    {
      op: "POST /users/{userId}/redemptions/{id}/cancel",
      label: "cancelling B's redemption is 404; B's stays completed",
      creds: CREDS,
      users: (t) => ["bonly-read", shared(t)],
      run: async (x) => {
        x.expect404(await x.as("POST", `/users/bonly-read/redemptions/${x.f.ids["rdm:bonly-read"]}/cancel`, { restock: true }));
        x.expect404(await x.as("POST", `/users/${shared(x.t)}/redemptions/${x.f.ids[`rdm:${shared(x.t)}`]}/cancel`, { restock: true }));
      },
    },
    {
      op: "POST /products/{id}/codes",
      label: "B's reward is 404; a code B's pool holds is new to A's pool",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("POST", "/products/bo-products/codes", { codes: [`x-${x.t}`] }));
        const a = await x.as("POST", "/products/iso-coded/codes", { codes: [`shared-code-${x.t}`] });
        x.r.status(a, 200, "codes for iso-coded");
        expect(a.body).toMatchObject({ product: "iso-coded", added: 1 });
      },
    },
  ];
}

function outboundCases(): AdminCase[] {
  return [
    {
      op: "GET /webhooks/{id}/deliveries",
      label: "B's endpoint is 404; a shared endpoint lists A's deliveries only",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", "/webhooks/bo-webhooks/deliveries"));
        for (const query of ["?limit=100", "?status=failed", "?status=pending"]) {
          const a = await x.as("GET", `/webhooks/iso-hook/deliveries${query}`);
          x.r.status(a, 200, `deliveries of iso-hook${query}`);
          expect(ids(a)).not.toContain(x.f.ids["dlv:iso-hook"]);
        }
      },
    },
    {
      op: "GET /webhooks/{id}/deliveries/{deliveryId}",
      label: "B's delivery ids are 404",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("GET", `/webhooks/iso-hook/deliveries/${x.f.ids["dlv:iso-hook"]}`));
        x.expect404(await x.as("GET", `/webhooks/bo-webhooks/deliveries/${x.f.ids["dlv:bo-webhooks"]}`));
        x.expect404(await x.as("GET", `/webhooks/iso-hook/deliveries/${x.f.ids["dlv:bo-webhooks"]}`));
      },
    },
    {
      op: "POST /webhooks/{id}/deliveries/{deliveryId}/retry",
      label: "replaying B's deliveries is 404; B's rows keep their status",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("POST", `/webhooks/iso-hook/deliveries/${x.f.ids["dlv:iso-hook"]}/retry`));
        x.expect404(await x.as("POST", `/webhooks/bo-webhooks/deliveries/${x.f.ids["dlv:bo-webhooks"]}/retry`));
      },
    },
    {
      op: "POST /webhooks/{id}/rotate-secret",
      label: "B's endpoint is 404; a shared endpoint rotates A's secret only",
      creds: CREDS,
      run: async (x) => {
        x.expect404(await x.as("POST", "/webhooks/bo-webhooks/rotate-secret"));
        const a = await x.as("POST", "/webhooks/iso-hook/rotate-secret");
        x.r.status(a, 200, "rotate iso-hook");
        expect(a.body.secret).toMatch(/^whsec_/);
      },
    },
    {
      op: "PUT /users/{userId}/push-subscriptions",
      label: "B's user's endpoint registered in A is A's new subscription (201), B's untouched",
      creds: CREDS,
      users: (t) => [`bpush-${t}`],
      setup: async (f, t) => {
        await bUser(f, `bpush-${t}`);
        const sub = await browserSubscription();
        f.ids[`push:${t}`] = JSON.stringify(sub);
        await inB(f, "PUT", `/users/bpush-${t}/push-subscriptions`, sub, [201]);
      },
      run: async (x) => {
        const sub = JSON.parse(x.f.ids[`push:${x.t}`]!);
        const a = await x.as("PUT", `/users/bpush-${x.t}/push-subscriptions`, sub);
        x.r.status(a, 201, "subscribe B's user id with B's endpoint");
        const inAObj = await env.USERS.getByName(JSON.stringify([x.f.a.id, `bpush-${x.t}`])).pushSubscriptions();
        expect(inAObj.map((s) => s.endpoint)).toEqual([sub.endpoint]);
      },
    },
    {
      op: "DELETE /users/{userId}/push-subscriptions",
      label: "removing B's user's endpoint in A leaves B's subscription",
      creds: CREDS,
      users: (t) => [`bpushdel-${t}`],
      setup: async (f, t) => {
        await bUser(f, `bpushdel-${t}`);
        const sub = await browserSubscription();
        f.ids[`pushdel:${t}`] = sub.endpoint;
        await inB(f, "PUT", `/users/bpushdel-${t}/push-subscriptions`, sub, [201]);
      },
      run: async (x) => {
        const endpoint = x.f.ids[`pushdel:${x.t}`]!;
        x.r.status(await x.as("DELETE", `/users/bpushdel-${x.t}/push-subscriptions?endpoint=${encodeURIComponent(endpoint)}`), 204, "unsubscribe B's endpoint in A");
        const inBObj = await env.USERS.getByName(JSON.stringify([x.f.b.id, `bpushdel-${x.t}`])).pushSubscriptions();
        expect(inBObj.map((s) => s.endpoint)).toEqual([endpoint]);
      },
    },
  ];
}

/** Every case of the Admin API isolation matrix. */
export function adminCases(): AdminCase[] {
  return [...spaceAndKeyCases(), ...definitionCases(), ...eventCases(), ...userCases(), ...audienceCases(), ...rewardCases(), ...outboundCases()];
}

/** The ops of ROUTES (admin-matrix.ts): the matrix must have a case for each. */
export const ROUTE_OPS = ROUTES.map((r) => `${r.method} ${r.template}`);

// ---------------------------------------------------------------------------------------
// The fixture.

async function buildCommon(f: Fix): Promise<void> {
  for (const [space, mark] of [
    [f.a, MARK_A],
    [f.b, MARK_B],
  ] as const) {
    const w = (method: string, path: string, body?: unknown) => adminCall(path, { method, key: space.admin, body }).then((a) => {
      expect([200, 201], `${space.slug} ${method} ${path}: ${a.text}`).toContain(a.status);
      return a;
    });
    await w("PUT", "/metrics/pts", { name: `Points ${mark}`, kind: "currency", description: mark });
    await w("PUT", "/metrics/xp", { name: `XP ${mark}`, kind: "counter", description: mark });
    await w("PUT", "/products/iso-item", { type: "item", name: `Item ${mark}` });
    await w("PUT", "/products/iso-reward", { type: "reward", name: `Reward ${mark}`, price: { metric: "pts", amount: 1 }, stock: 100 });
    await w("PUT", "/products/iso-coded", { type: "reward", name: `Coded ${mark}`, price: { metric: "pts", amount: 1 } });
    await w("PUT", "/segments/iso-static", { name: `Static ${mark}`, type: "static" });
    await w("PUT", "/streaks/iso-streak", { name: `Streak ${mark}`, period: "day" });
    await w("PUT", "/webhooks/iso-hook", { url: "https://hooks.example.com/iso", events: ["*"], enabled: false, description: mark });
    for (const kind of KINDS) await w("PUT", `/${kind}/both-${kind}`, defBody(kind, mark));
    const dyn = await w("PUT", `/segments/${space === f.a ? "a" : "bo"}-dyn`, {
      name: `Dynamic ${mark}`,
      type: "dynamic",
      rule: { path: "user.attributes.tier", op: "eq", value: "gold" },
    });
    f.ids[space === f.a ? "job:a" : "job:b"] = dyn.headers.get("loyalty-job") ?? "";
  }
  for (const kind of KINDS) await inB(f, "PUT", `/${kind}/bo-${kind}`, defBody(kind, MARK_B));
  await inB(f, "POST", "/products/iso-coded/codes", { codes: ["shared-code-k", "shared-code-r", `code-${MARK_B}`] });

  // B's reference user, and users both spaces have.
  await bUser(f, "bonly-read", { redeem: true });
  await inB(f, "POST", "/users/bonly-read/products", { product: "iso-item", quantity: 2 }, [201]);
  await inB(f, "PUT", "/users/bonly-read/segments/iso-static", undefined, [200]);
  await inB(f, "POST", "/events", { id: `bonly-ev-${MARK_B}`, userId: "bonly-read", type: "iso_ping", data: { mark: MARK_B } }, [201]);
  const sub = await browserSubscription();
  await inB(f, "PUT", "/users/bonly-read/push-subscriptions", sub, [201]);
  for (const t of ["k", "r"]) {
    const user = `shared-${t}`;
    await bUser(f, user, { redeem: true });
    for (const id of ["sev-1", "sev-2", "sev-3", "sev-4", `bev-${MARK_B}`]) {
      await inB(f, "POST", "/events", { id, userId: user, type: "iso_ping", data: { n: 1 } }, [201]);
    }
    await aUser(f, user);
  }
  f.ids["dlv:iso-hook"] = await insertDelivery(f.b, "iso-hook", MARK_B);
  f.ids["dlv:bo-webhooks"] = await insertDelivery(f.b, "bo-webhooks", MARK_B);
}

/** B's own-key view: what "B unchanged" means to B's operator. */
async function bView(f: Fix): Promise<unknown> {
  const get = async (path: string) => {
    const a = await adminCall(path, { key: f.b.admin });
    return { status: a.status, etag: a.headers.get("etag"), body: a.body };
  };
  const users: Record<string, unknown> = {};
  for (const u of [...f.bUsers.keys()].sort()) users[u] = await get(`/users/${u}`);
  return {
    space: await get(`/spaces/${f.b.slug}`),
    programme: await get("/programme"),
    keys: await get("/api-keys?limit=100"),
    jobs: await get("/jobs?limit=100"),
    directory: await get("/users?limit=100"),
    deliveries: await get("/webhooks/iso-hook/deliveries?limit=100"),
    users,
  };
}

async function objectsOf(f: Fix, users: Iterable<string>): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const u of users) out.set(u, await userObject(f.b.id, u, ["pts", "xp"], f.bUsers.get(u) ?? []));
  return out;
}

let fixturePromise: Promise<Fix> | undefined;

function fixture(cases: AdminCase[]): Promise<Fix> {
  fixturePromise ??= (async () => {
    const f: Fix = { a: await isoSpace(MARK_A), b: await isoSpace(MARK_B), ids: {}, bUsers: new Map() };
    await buildCommon(f);
    for (const c of cases) for (const cred of c.creds) await c.setup?.(f, tagOf(cred));
    const rows = await settle(f.b.id, f.bUsers.size);
    f.s0 = { rows, objects: await objectsOf(f, f.bUsers.keys()), api: await bView(f) };
    return f;
  })();
  return fixturePromise;
}

/**
 * Defines the matrix's tests for the cases `pick` selects (the files run halves side by
 * side) and, at the end, the check of all of B and the ISOLATION-REPORT line.
 */
export function defineAdminIsolation(file: string, pick: (c: AdminCase, index: number) => boolean): IsolationReport {
  const report = new IsolationReport(file);
  const cases = adminCases().filter(pick);

  for (const c of cases) {
    describe(`${c.op}: ${c.label}`, () => {
      for (const cred of c.creds) {
        it(cred === "key" ? "A's admin key" : "the root key naming A", async () => {
          const f = await fixture(cases);
          const foreign = foreignOf(f);
          const t = tagOf(cred);
          const route = `${c.op}`;
          const x: Ctx = {
            f,
            cred,
            t,
            r: report,
            route,
            as: async (method, path, body, headers) => {
              const a = await adminCall(path, {
                method,
                key: cred === "key" ? f.a.admin : ROOT_KEY,
                space: cred === "root" ? f.a.slug : undefined,
                body,
                headers,
              });
              report.count(route);
              report.noLeak(a, foreign, `${cred}: ${method} ${path}`);
              expect(a.status, `${method} ${path}: ${a.text}`).not.toBe(500);
              return a;
            },
            expect404: (a, label = route) => report.problem(a, 404, "not_found", label),
          };
          await c.run(x);
          report.unchanged(await spaceRows(f.b.id), f.s0!.rows, `${c.op} (${cred}): B's D1 rows`);
          const users = c.users?.(t) ?? [];
          if (users.length > 0) {
            const now = await objectsOf(f, users);
            for (const u of users) report.unchanged(now.get(u), f.s0!.objects.get(u), `${c.op} (${cred}): B's user ${u}`);
          }
        });
      }
    });
  }

  describe("control: the leak check can see B's data", () => {
    it("B's own key reads B's marked resources (so their absence from A's answers means something)", async () => {
      const f = await fixture(cases);
      const foreign = foreignOf(f);
      for (const path of [
        "/users/bonly-read",
        "/metrics/bo-metrics",
        "/programme",
        `/webhooks/bo-webhooks/deliveries/${f.ids["dlv:bo-webhooks"]}`,
        "/users/bonly-read/metrics/pts/transactions",
        "/users/bonly-read/activity",
        `/users/shared-k/activity`,
      ]) {
        const a = await adminCall(path, { key: f.b.admin });
        expect(a.status, a.text).toBe(200);
        expect(foreign.markers.some((m) => a.text.includes(m)), `${path}: ${a.text}`).toBe(true);
      }
      expect((await adminCall(`/users/bonly-read/redemptions/${f.ids["rdm:bonly-read"]}`, { key: f.b.admin })).status).toBe(200);
      expect((await adminCall(`/jobs/${f.ids["job:b"]}`, { key: f.b.admin })).status).toBe(200);
      expect((await adminCall(`/api-keys/${f.b.readId}`, { key: f.b.admin })).status).toBe(200);
    });
  });

  describe("space B after the whole matrix", () => {
    it("every D1 row, every user's object and B's own-key view are as before", async () => {
      const f = await fixture(cases);
      report.unchanged(await spaceRows(f.b.id), f.s0!.rows, "B's D1 rows");
      const now = await objectsOf(f, f.bUsers.keys());
      for (const u of f.bUsers.keys()) report.unchanged(now.get(u), f.s0!.objects.get(u), `B's user ${u}`);
      report.unchanged(await bView(f), f.s0!.api, "B's own-key view");
    });
  });

  afterAll(() => report.print({ routesInFile: new Set(cases.map((c) => c.op)).size }));
  return report;
}
