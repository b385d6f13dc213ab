import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi, type MockInstance } from "vitest";
import type { Env } from "../../src/env";
import { deliveryIdOf } from "../../src/outbound/delivery-log";
import { armFault, disarmFault } from "../../src/testing/faults";
import type { UserState } from "../../src/user/user-state";
import { call, type TestSpace, uniqueSlug } from "../helpers/harness";
import { browserSubscription, defineOrderPush, pushEffect } from "../helpers/push";
import { runQueue, type QueueResult } from "../helpers/queue";
import { until } from "../helpers/isolation";
import { ADMIN, adminOf, errorPaths, expectProblemReply, freshAdmin, reply, uniqueUser, type Admin, type Reply } from "../helpers/users-api";

// Push gateway mode (SPEC §8.2, §8.3; docs/decisions.md "Outbound"): a space with
// `push.gatewayUrl` gets every push.send POSTed as JSON to its own push service, signed
// like a webhook (Standard Webhooks) with the write-only `push.gatewaySecret`. Settings go
// through the real Admin API; deliveries run end to end (the user's Durable Object, the
// real deliveries queue and its consumer) or through the Worker's `queue` export with a
// batch built by the pool when the retry decisions or the run order matter. Signatures are
// checked with the `standardwebhooks` package, which shares no code with src.

vi.setConfig({ testTimeout: 60_000 });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const DEFAULT_PUSH_HOSTS = ["fcm.googleapis.com", "*.push.services.mozilla.com", "*.notify.windows.com", "*.push.apple.com"];
const DEFAULT_CONTACT = "mailto:loyalty@example.com";
const CONTACT = "mailto:push-ops@loyalty.example";

// ---------------------------------------------------------------------------------------
// Secrets

function b64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** A Standard Webhooks secret over `bytes` random bytes. */
const newSecret = (bytes = 32) => `whsec_${b64(crypto.getRandomValues(new Uint8Array(bytes)))}`;

// ---------------------------------------------------------------------------------------
// The operator's gateway and the browsers' push services: one fetch spy for the whole file
// (a delivery of one test may still be in flight when the next starts). Each test has its
// own gateway URL, so nothing of another test is counted.

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

type Answer = Response | "network-error";
const OUTBOUND = /^https:\/\/(gw-[a-z0-9]+\.gateway\.example\.net|fcm\.googleapis\.com)\//;
const seen: Seen[] = [];
/** URL → what the n-th request (1-based) to it gets; default 200. */
const responders = new Map<string, (n: number) => Answer>();
let spy: MockInstance<typeof fetch>;

beforeAll(() => {
  const real = globalThis.fetch;
  spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (!OUTBOUND.test(request.url)) return real(input as RequestInfo, init);
    // Read as bytes: a Web Push body is binary (aes128gcm), a gateway body JSON.
    const body = new TextDecoder().decode(await request.arrayBuffer());
    const s: Seen = { url: request.url, method: request.method, headers: Object.fromEntries(request.headers), body };
    seen.push(s);
    const n = seen.filter((x) => x.url === s.url).length;
    const answer = responders.get(s.url)?.(n) ?? new Response("ok", { status: 200 });
    if (answer === "network-error") throw new TypeError("Network connection lost.");
    return answer;
  });
});
afterAll(() => spy.mockRestore());

let gatewaySerial = 0;
/** A gateway URL of its own (a public https host, as the URL policy of the tests requires). */
function gatewayUrl(): string {
  gatewaySerial += 1;
  return `https://gw-${Date.now().toString(36)}${gatewaySerial}.gateway.example.net/relay/push`;
}

const at = (url: string) => seen.filter((s) => s.url === url);
const waitFor = (url: string, count: number) => until(async () => at(url).length, (n) => n >= count).then(() => at(url));

/** Verifies with the `standardwebhooks` package; answers the parsed body (throws if it does not verify). */
const verifyWith = (secret: string, s: Seen): unknown => new Webhook(secret).verify(s.body, s.headers);

function expectSignedBy(secret: string, s: Seen): void {
  expect(s.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
  expect(verifyWith(secret, s)).toEqual(JSON.parse(s.body));
}

function expectNotSignedBy(secret: string, s: Seen): void {
  expect(() => verifyWith(secret, s)).toThrow(/No matching signature found/);
}

// ---------------------------------------------------------------------------------------
// Spaces and their settings

const spacePath = (space: TestSpace) => `${ADMIN}/spaces/${space.slug}`;
const patchSpace = async (space: TestSpace, body: unknown): Promise<Reply> => reply(await call(spacePath(space), { method: "PATCH", body }));
const getSpace = async (space: TestSpace): Promise<Reply> => reply(await call(spacePath(space)));
const postSpace = async (body: Record<string, unknown>): Promise<Reply> => reply(await call(`${ADMIN}/spaces`, { body }));

/** The `spaces` row as D1 holds it. */
async function spaceRow(space: TestSpace): Promise<{ push: string | null; version: number }> {
  const row = await env.DB.prepare(`SELECT push, version FROM spaces WHERE id = ?`).bind(space.id).first<{ push: string | null; version: number }>();
  expect(row).not.toBeNull();
  return row!;
}

function expectInvalidAt(a: Reply, path: string): void {
  expectProblemReply(a, 400, "invalid_request");
  expect(errorPaths(a)).toEqual([path]);
}

/** Asserts the answer holds no trace of the secret (whole or its base64 part). */
function expectNoSecretIn(text: string, secret: string): void {
  expect(text).not.toContain(secret);
  expect(text).not.toContain(secret.slice("whsec_".length));
  expect(text).not.toContain('"gatewaySecret"');
}

/** A space created in gateway mode (POST /spaces with the push settings) with the order campaign. */
async function gatewaySpace(url = gatewayUrl(), secret = newSecret()): Promise<{ admin: Admin; url: string; secret: string }> {
  const created = await postSpace({ slug: uniqueSlug("gw"), name: "Gateway space", push: { contact: CONTACT, gatewayUrl: url, gatewaySecret: secret } });
  expect(created.status, created.text).toBe(201);
  const admin = adminOf({ id: created.body.id, slug: created.body.slug });
  await defineOrderPush(admin);
  return { admin, url, secret };
}

/** A Web Push subscription (fcm) for the user, registered through the Admin API. */
async function subscribe(admin: Admin, userId: string): Promise<string> {
  const endpoint = `https://fcm.googleapis.com/fcm/send/${crypto.randomUUID()}`;
  const a = await admin.at("PUT", `/users/${encodeURIComponent(userId)}/push-subscriptions`, await browserSubscription(endpoint));
  expect(a.status, a.text).toBe(201);
  return endpoint;
}

// ---------------------------------------------------------------------------------------
// The delivery log (D1)

interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  user_id: string;
  endpoint_id: string | null;
  event_type: string;
}

async function pushDeliveries(space: TestSpace): Promise<DeliveryRow[]> {
  const { results } = await env.DB.prepare(
    `SELECT id, status, attempts, last_status_code, last_error, user_id, endpoint_id, event_type FROM deliveries
     WHERE space_id = ? AND kind = 'push' ORDER BY created_at, id`,
  )
    .bind(space.id)
    .all<DeliveryRow>();
  return results.map((r) => ({ ...r }));
}

async function attemptCodes(id: string): Promise<Array<number | null>> {
  const { results } = await env.DB.prepare(`SELECT status_code FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt`).bind(id).all<{ status_code: number | null }>();
  return results.map((r) => r.status_code);
}

/** A gateway push's delivery id (its webhook-id): one per message, whatever the gateway's URL. */
const gatewayIdOf = (space: TestSpace, userId: string, eventId: string, _url?: string) => deliveryIdOf(space.id, userId, { kind: "push", eventId, endpoint: "gateway" });

// ---------------------------------------------------------------------------------------
// Driving the deliveries queue's consumer directly

let keySerial = 0;
/** The message a user's object queues for a gateway push (src/user/user-state.ts: one delivery, no subscription). */
function gatewayEnvelope(space: TestSpace, userId: string, eventId: string, notification: Partial<{ title: string; body: string; url: string | null; data: unknown }> = {}) {
  return {
    v: 1,
    type: "delivery",
    key: `test-gw:${eventId}:${++keySerial}`,
    body: {
      spaceId: space.id,
      userId,
      generation: 0,
      message: { kind: "push", eventId, title: "Direct", body: "driven by the test", url: null, data: null, gateway: true, ...notification },
    },
  };
}

const consume = (messages: Array<{ id: string; body: unknown; attempts: number }>, withEnv?: Env) => runQueue("loyalty-deliveries", messages, withEnv);

function expectAcked(result: QueueResult, id: string): void {
  expect(result.outcome).toBe("ok");
  expect(result.retryBatch.retry).toBe(false);
  expect(result.explicitAcks).toEqual([id]);
  expect(result.retryMessages).toEqual([]);
}

function expectRetried(result: QueueResult, id: string): number {
  expect(result.outcome).toBe("ok");
  expect(result.explicitAcks).toEqual([]);
  expect(result.retryMessages).toHaveLength(1);
  expect(result.retryMessages[0]!.msgId).toBe(id);
  return result.retryMessages[0]!.delaySeconds!;
}

/** Delivers one direct gateway push for a fresh event and answers what the gateway received. */
async function deliverDirect(admin: Admin, url: string): Promise<Seen> {
  const before = at(url).length;
  const eventId = `direct-${++keySerial}`;
  const id = `m-${eventId}`;
  expectAcked(await consume([{ id, body: gatewayEnvelope(admin.space, "u-direct", eventId), attempts: 1 }]), id);
  const got = at(url);
  expect(got).toHaveLength(before + 1);
  return got[got.length - 1]!;
}

// =======================================================================================

describe("push gateway settings (PATCH/GET /admin/spaces/{slug})", () => {
  it("PATCH sets gatewayUrl and gatewaySecret: 200 with gatewaySecretSet, never the secret (answer, GET, D1 sealed); gatewayUrl without a secret is 400 at push.gatewaySecret", async () => {
    const admin = await freshAdmin();
    const url = gatewayUrl();
    const secret = newSecret();

    // Without the secret: refused, nothing changed.
    const bare = await patchSpace(admin.space, { push: { gatewayUrl: url } });
    expectInvalidAt(bare, "push.gatewaySecret");
    expect((await spaceRow(admin.space)).version).toBe(1);
    expect((await getSpace(admin.space)).body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: DEFAULT_CONTACT, gatewayUrl: null });

    const a = await patchSpace(admin.space, { push: { gatewayUrl: url, gatewaySecret: secret } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(2);
    expect(a.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: DEFAULT_CONTACT, gatewayUrl: url, gatewaySecretSet: true });
    expectNoSecretIn(a.text, secret);
    expect(a.headers.get("etag")).toBe('"2"');

    const read = await getSpace(admin.space);
    expect(read.status, read.text).toBe(200);
    expect(read.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: DEFAULT_CONTACT, gatewayUrl: url, gatewaySecretSet: true });
    expect(read.body.version).toBe(2);
    expectNoSecretIn(read.text, secret);

    // At rest: sealed with SIGNING_KEY_SECRET (vitest.config.ts sets k1), never in clear.
    const row = await spaceRow(admin.space);
    expect(row.push).not.toBeNull();
    expect(row.push).not.toContain(secret);
    expect(row.push).not.toContain(secret.slice("whsec_".length));
    const stored = JSON.parse(row.push!);
    expect(stored.gatewayUrl).toBe(url);
    expect(stored.gatewaySecret).toMatch(/^v1\.k1\./);

    // And it is the secret deliveries are signed with.
    expectSignedBy(secret, await deliverDirect(admin, url));
  });

  const malformed: Array<[string, unknown]> = [
    ["no whsec_ prefix", b64(new Uint8Array(32).fill(7))],
    ["another prefix", `whsec-${b64(new Uint8Array(32).fill(7))}`],
    ["16 bytes (too short)", `whsec_${b64(new Uint8Array(16).fill(7))}`],
    ["23 bytes (one short of 24)", `whsec_${b64(new Uint8Array(23).fill(7))}`],
    ["66 bytes (too long)", `whsec_${b64(new Uint8Array(66).fill(7))}`],
    ["not base64", `whsec_${"!".repeat(44)}`],
    ["base64url alphabet", `whsec_${"-_".repeat(22)}`],
    ["bad padding", `whsec_${b64(new Uint8Array(32).fill(7)).slice(0, -1)}==`],
    ["a space inside", `whsec_${b64(new Uint8Array(16).fill(7))} ${b64(new Uint8Array(16).fill(7))}`],
    ["just the prefix", "whsec_"],
    ["empty", ""],
    ["a number", 12345],
    ["an object", { secret: newSecret() }],
  ];

  it.each(malformed)("a malformed gatewaySecret (%s) is 400 at push.gatewaySecret on PATCH and on create; nothing stored", async (_name, bad) => {
    const admin = await freshAdmin();
    const url = gatewayUrl();
    expectInvalidAt(await patchSpace(admin.space, { push: { gatewayUrl: url, gatewaySecret: bad } }), "push.gatewaySecret");
    // Alone (without gatewayUrl) it is just as malformed.
    expectInvalidAt(await patchSpace(admin.space, { push: { gatewaySecret: bad } }), "push.gatewaySecret");
    expect(await spaceRow(admin.space)).toMatchObject({ version: 1 });
    expect(JSON.parse((await spaceRow(admin.space)).push ?? "{}")).not.toHaveProperty("gatewaySecret");
    expectInvalidAt(await postSpace({ slug: uniqueSlug("gw"), name: "x", push: { gatewayUrl: url, gatewaySecret: bad } }), "push.gatewaySecret");
  });

  it("secrets of 24, 32, 33, 50 and 64 bytes are accepted, and sign", async () => {
    for (const bytes of [24, 32, 33, 50, 64]) {
      const admin = await freshAdmin();
      const url = gatewayUrl();
      const secret = newSecret(bytes);
      const a = await patchSpace(admin.space, { push: { gatewayUrl: url, gatewaySecret: secret } });
      expect(a.status, `${bytes} bytes: ${a.text}`).toBe(200);
      expect(a.body.push.gatewaySecretSet).toBe(true);
      expectSignedBy(secret, await deliverDirect(admin, url));
    }
  });

  it("a secret of 65 bytes (one over the 24–64 bytes GATEWAY_SECRET_PATTERN documents) is 400 at push.gatewaySecret", async () => {
    const admin = await freshAdmin();
    const secret = newSecret(65);
    expect(secret.length).toBe("whsec_".length + 88);
    const a = await patchSpace(admin.space, { push: { gatewayUrl: gatewayUrl(), gatewaySecret: secret } });
    expectInvalidAt(a, "push.gatewaySecret");
  });

  it("the secret's life: an unrelated PATCH keeps it (same sealed value); no-op PATCHes keep the version; a new URL keeps it; replacing it signs with the new one only; null with a URL is 400; URL null keeps it; both null turn gateway mode off", async () => {
    const admin = await freshAdmin({ push: { contact: CONTACT } });
    const url = gatewayUrl();
    const first = newSecret();
    let a = await patchSpace(admin.space, { push: { gatewayUrl: url, gatewaySecret: first } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(2);
    const sealed = JSON.parse((await spaceRow(admin.space)).push!).gatewaySecret;

    // An unrelated change: the version moves, the secret stays (the very same sealed value).
    a = await patchSpace(admin.space, { name: "Renamed", push: { contact: "mailto:other@loyalty.example" } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(3);
    expect(a.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: "mailto:other@loyalty.example", gatewayUrl: url, gatewaySecretSet: true });
    expect(JSON.parse((await spaceRow(admin.space)).push!).gatewaySecret).toBe(sealed);
    let got = await deliverDirect(admin, url);
    expectSignedBy(first, got);

    // No-op patches: the version and ETag stay.
    for (const body of [{}, { push: {} }, { push: { gatewayUrl: url } }, { name: "Renamed", push: { contact: "mailto:other@loyalty.example", allowedHosts: DEFAULT_PUSH_HOSTS } }]) {
      a = await patchSpace(admin.space, body);
      expect(a.status, `${JSON.stringify(body)}: ${a.text}`).toBe(200);
      expect(a.body.version, JSON.stringify(body)).toBe(3);
      expect(a.headers.get("etag")).toBe('"3"');
      expect(a.body.push.gatewaySecretSet).toBe(true);
    }
    expect(await spaceRow(admin.space)).toMatchObject({ version: 3 });
    expect(JSON.parse((await spaceRow(admin.space)).push!).gatewaySecret).toBe(sealed);

    // A new gateway URL without mentioning the secret: kept, and it signs posts to the new URL.
    const moved = gatewayUrl();
    a = await patchSpace(admin.space, { push: { gatewayUrl: moved } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(4);
    expect(a.body.push).toMatchObject({ gatewayUrl: moved, gatewaySecretSet: true });
    const before = at(url).length;
    got = await deliverDirect(admin, moved);
    expectSignedBy(first, got);
    expect(at(url)).toHaveLength(before);

    // Replacing the secret: posts verify with the new one and not with the old.
    const second = newSecret();
    a = await patchSpace(admin.space, { push: { gatewaySecret: second } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(5);
    expect(a.body.push).toMatchObject({ gatewayUrl: moved, gatewaySecretSet: true });
    expectNoSecretIn(a.text, second);
    expect(JSON.parse((await spaceRow(admin.space)).push!).gatewaySecret).not.toBe(sealed);
    got = await deliverDirect(admin, moved);
    expectSignedBy(second, got);
    expectNotSignedBy(first, got);
    expect(got.headers["webhook-signature"]!.split(" ")).toHaveLength(1);

    // Removing the secret while the URL stays: refused, nothing changed.
    expectInvalidAt(await patchSpace(admin.space, { push: { gatewaySecret: null } }), "push.gatewaySecret");
    expect(await spaceRow(admin.space)).toMatchObject({ version: 5 });
    expectSignedBy(second, await deliverDirect(admin, moved));

    // Leaving gateway mode but keeping the secret: URL null, gatewaySecretSet still true.
    a = await patchSpace(admin.space, { push: { gatewayUrl: null } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(6);
    expect(a.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: "mailto:other@loyalty.example", gatewayUrl: null, gatewaySecretSet: true });
    // …so a URL alone turns it back on, signed with the kept secret.
    a = await patchSpace(admin.space, { push: { gatewayUrl: moved } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(7);
    expectSignedBy(second, await deliverDirect(admin, moved));

    // Both null: gateway mode off, no secret left (not in the answer, not in D1).
    a = await patchSpace(admin.space, { push: { gatewayUrl: null, gatewaySecret: null } });
    expect(a.status, a.text).toBe(200);
    expect(a.body.version).toBe(8);
    expect(a.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: "mailto:other@loyalty.example", gatewayUrl: null });
    expect((await getSpace(admin.space)).body.push).toEqual(a.body.push);
    expect(JSON.parse((await spaceRow(admin.space)).push!)).not.toHaveProperty("gatewaySecret");
    // The URL alone is now refused again.
    expectInvalidAt(await patchSpace(admin.space, { push: { gatewayUrl: moved } }), "push.gatewaySecret");
    expect(await spaceRow(admin.space)).toMatchObject({ version: 8 });
  });

  const refusedUrls: Array<[string, string]> = [
    ["http:", "http://gw-x.gateway.example.net/push"],
    ["a bad scheme", "ftp://gw-x.gateway.example.net/push"],
    ["credentials in the URL", "https://user:pass@gw-x.gateway.example.net/push"],
    ["a private IPv4 literal", "https://10.1.2.3/push"],
    ["loopback", "https://127.0.0.1/push"],
    ["metadata", "https://169.254.169.254/latest"],
    ["IPv4-mapped IPv6", "https://[::ffff:192.168.0.1]/push"],
    ["localhost", "https://localhost/push"],
    [".internal", "https://push.corp.internal/push"],
    ["a single-label host", "https://gateway/push"],
    ["not a URL", "gateway.example.net/push"],
  ];

  it.each(refusedUrls)("gatewayUrl refused by the URL policy (%s): 400 at push.gatewayUrl on PATCH and on create", async (_name, url) => {
    const admin = await freshAdmin();
    expectInvalidAt(await patchSpace(admin.space, { push: { gatewayUrl: url, gatewaySecret: newSecret() } }), "push.gatewayUrl");
    expect(await spaceRow(admin.space)).toMatchObject({ version: 1 });
    expectInvalidAt(await postSpace({ slug: uniqueSlug("gw"), name: "x", push: { gatewayUrl: url, gatewaySecret: newSecret() } }), "push.gatewayUrl");
  });

  it("POST /spaces with gateway settings: 201 with gatewaySecretSet, the secret sealed in D1, deliveries signed with it; without the secret 400", async () => {
    const url = gatewayUrl();
    const secret = newSecret();
    expectInvalidAt(await postSpace({ slug: uniqueSlug("gw"), name: "x", push: { gatewayUrl: url } }), "push.gatewaySecret");

    const created = await postSpace({ slug: uniqueSlug("gw"), name: "Gateway", push: { gatewayUrl: url, gatewaySecret: secret } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: DEFAULT_CONTACT, gatewayUrl: url, gatewaySecretSet: true });
    expect(created.body.version).toBe(1);
    expectNoSecretIn(created.text, secret);
    const admin = adminOf({ id: created.body.id, slug: created.body.slug });
    const read = await getSpace(admin.space);
    expect(read.body.push).toEqual(created.body.push);
    expectNoSecretIn(read.text, secret);
    const row = await spaceRow(admin.space);
    expect(row.push).not.toContain(secret.slice("whsec_".length));
    expect(JSON.parse(row.push!).gatewaySecret).toMatch(/^v1\.k1\./);
    expectSignedBy(secret, await deliverDirect(admin, url));

    // A secret without a URL is fine (kept for later); the answer only says it is set.
    const later = await postSpace({ slug: uniqueSlug("gw"), name: "Later", push: { gatewaySecret: newSecret() } });
    expect(later.status, later.text).toBe(201);
    expect(later.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: DEFAULT_CONTACT, gatewayUrl: null, gatewaySecretSet: true });
    // A space without one says nothing about it.
    const plain = await postSpace({ slug: uniqueSlug("gw"), name: "Plain" });
    expect(plain.body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: DEFAULT_CONTACT, gatewayUrl: null });
  });
});

describe("push.send in gateway mode", () => {
  it("one signed POST to the gateway (none to the user's Web Push subscription): the SPEC body, rendered; a 500 is retried by the queue with the same webhook-id, then delivered; logged", async () => {
    const { admin, url, secret } = await gatewaySpace();
    responders.set(url, (n) => (n === 1 ? new Response("relay down", { status: 500 }) : new Response(null, { status: 202 })));
    const userId = uniqueUser("gw-buyer");
    const endpoint = await subscribe(admin, userId);

    const outcome = await admin.apply({ id: "order-1", userId, type: "order", data: { order: "A-17", amount: 42 } });
    expect(pushEffect(outcome)).toEqual({ type: "push.send", campaign: "order-push", step: "order", status: "applied" });

    const [first] = await waitFor(url, 1);
    const id = await gatewayIdOf(admin.space, userId, "order-1", url);
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(first!.method).toBe("POST");
    expect(first!.headers["content-type"]).toBe("application/json");
    expect(first!.headers["webhook-id"]).toBe(id);
    const timestamp = Number(first!.headers["webhook-timestamp"]);
    expect(first!.headers["webhook-timestamp"]).toBe(String(timestamp));
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(120);
    const body = JSON.parse(first!.body);
    expect(Object.keys(body).sort()).toEqual(["eventId", "id", "notification", "space", "timestamp", "type", "userId"]);
    expect(body).toEqual({
      id,
      type: "push",
      timestamp: expect.any(String),
      space: admin.space.id,
      userId,
      eventId: "order-1",
      notification: {
        title: `Thanks ${userId}`,
        body: "+10 points from Order push",
        url: "https://shop.example/orders/A-17",
        data: { order: "A-17", amount: 42, note: `for ${userId}` },
      },
    });
    expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    expectSignedBy(secret, first!);
    expectNotSignedBy(newSecret(), first!);
    // A tampered body does not verify.
    expect(() => verifyWith(secret, { ...first!, body: first!.body.replace("A-17", "A-18") })).toThrow(/No matching signature found/);

    const pending = await until(() => pushDeliveries(admin.space), (rows) => rows[0]?.attempts === 1);
    expect(pending).toEqual([
      { id, status: "pending", attempts: 1, last_status_code: 500, last_error: "relay down", user_id: userId, endpoint_id: null, event_type: "push.send" },
    ]);

    // The real queue's retry (≈ 5 s later): same webhook-id and message, signed again.
    const both = await waitFor(url, 2);
    expect(both).toHaveLength(2);
    const second = both[1]!;
    expect(second.headers["webhook-id"]).toBe(id);
    const again = JSON.parse(second.body);
    expect({ ...again, timestamp: null }).toEqual({ ...body, timestamp: null });
    expectSignedBy(secret, second);

    const done = await until(() => pushDeliveries(admin.space), (rows) => rows[0]?.status === "delivered");
    expect(done).toEqual([{ id, status: "delivered", attempts: 2, last_status_code: 202, last_error: null, user_id: userId, endpoint_id: null, event_type: "push.send" }]);
    expect(await attemptCodes(id)).toEqual([500, 202]);
    await sleep(1000);
    expect(at(url)).toHaveLength(2);
    expect(at(endpoint), "no Web Push in gateway mode").toEqual([]);

    // The next event is a message of its own: its own webhook-id.
    await admin.apply({ id: "order-2", userId, type: "order", data: { order: "B-2", amount: 7 } });
    const third = (await waitFor(url, 3))[2]!;
    expect(third.headers["webhook-id"]).toBe(await gatewayIdOf(admin.space, userId, "order-2", url));
    expect(third.headers["webhook-id"]).not.toBe(id);
    expect(JSON.parse(third.body)).toMatchObject({ eventId: "order-2", notification: { url: "https://shop.example/orders/B-2", data: { order: "B-2", amount: 7, note: `for ${userId}` } } });
    expectSignedBy(secret, third);
    await until(() => pushDeliveries(admin.space), (rows) => rows.length === 2 && rows.every((r) => r.status === "delivered"));
    expect((await pushDeliveries(admin.space)).map((r) => [r.status, r.attempts])).toEqual([
      ["delivered", 2],
      ["delivered", 1],
    ]);
    expect(at(endpoint)).toEqual([]);
  });

  it("a user without subscriptions gets the gateway push too; two users' same event id are two messages (distinct webhook-ids)", async () => {
    const { admin, url, secret } = await gatewaySpace();
    const alice = uniqueUser("gw-alice");
    const bob = uniqueUser("gw-bob");
    await admin.apply({ id: "same", userId: alice, type: "order", data: { order: "1", amount: 1 } });
    await admin.apply({ id: "same", userId: bob, type: "order", data: { order: "2", amount: 2 } });
    const got = await waitFor(url, 2);
    await sleep(1000);
    expect(at(url)).toHaveLength(2);
    const byUser = Object.fromEntries(got.map((s) => [JSON.parse(s.body).userId, s]));
    expect(Object.keys(byUser).sort()).toEqual([alice, bob].sort());
    expect(byUser[alice]!.headers["webhook-id"]).toBe(await gatewayIdOf(admin.space, alice, "same", url));
    expect(byUser[bob]!.headers["webhook-id"]).toBe(await gatewayIdOf(admin.space, bob, "same", url));
    expect(byUser[alice]!.headers["webhook-id"]).not.toBe(byUser[bob]!.headers["webhook-id"]);
    for (const s of got) expectSignedBy(secret, s);
    const log = await until(() => pushDeliveries(admin.space), (rows) => rows.length === 2 && rows.every((r) => r.status === "delivered"));
    expect(log.map((r) => [r.user_id, r.status, r.attempts, r.last_status_code]).sort()).toEqual(
      [
        [alice, "delivered", 1, 200],
        [bob, "delivered", 1, 200],
      ].sort(),
    );
  });

  it("a silent event sends nothing to the gateway", async () => {
    const { admin, url } = await gatewaySpace();
    const userId = uniqueUser("gw-silent");
    const outcome = await admin.apply({ id: "quiet", userId, type: "order", data: { order: "q", amount: 1 }, silent: true });
    expect(pushEffect(outcome)).toEqual({ type: "push.send", campaign: "order-push", step: "order", status: "skipped", reason: "silent" });
    // A loud event afterwards is the barrier: the silent one would have come before it.
    await admin.apply({ id: "loud", userId, type: "order", data: { order: "l", amount: 1 } });
    await waitFor(url, 1);
    await sleep(1000);
    expect(at(url).map((s) => JSON.parse(s.body).eventId)).toEqual(["loud"]);
    const log = await until(() => pushDeliveries(admin.space), (rows) => rows[0]?.status === "delivered");
    expect(log.map((r) => [r.id, r.status])).toEqual([[await gatewayIdOf(admin.space, userId, "loud", url), "delivered"]]);
  });

  it("retries through the queue handler: 500 → ≈ 5 s, 429 Retry-After → its delay, no answer → ≈ 30 min, then 2xx delivers; one webhook-id throughout", async () => {
    const { admin, url, secret } = await gatewaySpace();
    const answers: Answer[] = [
      new Response("boom", { status: 500 }),
      new Response("slow down", { status: 429, headers: { "Retry-After": "120" } }),
      "network-error",
      new Response(null, { status: 204 }),
    ];
    responders.set(url, (n) => answers[n - 1] ?? new Response("ok", { status: 200 }));
    const userId = uniqueUser("gw-retry");
    const envelope = gatewayEnvelope(admin.space, userId, "ev-retry", { title: "T", body: "B", url: "https://shop.example/x", data: { k: [1, 2] } });
    const id = await gatewayIdOf(admin.space, userId, "ev-retry", url);
    const row = async () => (await pushDeliveries(admin.space)).map((r) => [r.id, r.status, r.attempts, r.last_status_code]);

    expect(expectRetried(await consume([{ id: "m-r", body: envelope, attempts: 1 }]), "m-r")).toBe(5);
    expect(await row()).toEqual([[id, "pending", 1, 500]]);
    expect(expectRetried(await consume([{ id: "m-r", body: envelope, attempts: 2 }]), "m-r")).toBe(120);
    expect(await row()).toEqual([[id, "pending", 2, 429]]);
    const delay = expectRetried(await consume([{ id: "m-r", body: envelope, attempts: 3 }]), "m-r");
    expect(delay).toBeGreaterThanOrEqual(1620);
    expect(delay).toBeLessThanOrEqual(1980);
    expect(await row()).toEqual([[id, "pending", 3, null]]);
    expectAcked(await consume([{ id: "m-r", body: envelope, attempts: 4 }]), "m-r");
    expect(await row()).toEqual([[id, "delivered", 4, 204]]);
    expect(await attemptCodes(id)).toEqual([500, 429, null, 204]);

    const got = at(url);
    expect(got).toHaveLength(4);
    expect(got.map((s) => s.headers["webhook-id"])).toEqual([id, id, id, id]);
    for (const s of got) {
      expectSignedBy(secret, s);
      expect(JSON.parse(s.body)).toEqual({
        id,
        type: "push",
        timestamp: expect.any(String),
        space: admin.space.id,
        userId,
        eventId: "ev-retry",
        notification: { title: "T", body: "B", url: "https://shop.example/x", data: { k: [1, 2] } },
      });
    }
  });

  it("the retry schedule comes from the config (DELIVERY_RETRY_SCHEDULE), as for webhooks", async () => {
    const { admin, url } = await gatewaySpace();
    responders.set(url, () => new Response("nope", { status: 502 }));
    const shortened = { ...env, DELIVERY_RETRY_SCHEDULE: "2,3" } as unknown as Env;
    const envelope = gatewayEnvelope(admin.space, uniqueUser("gw-schedule"), "ev-schedule");
    expect(expectRetried(await consume([{ id: "m-s1", body: envelope, attempts: 1 }], shortened), "m-s1")).toBe(2);
    expect(expectRetried(await consume([{ id: "m-s2", body: envelope, attempts: 2 }], shortened), "m-s2")).toBe(3);
    // Past the shortened schedule: once more into the queue, which dead-letters it.
    expect(expectRetried(await consume([{ id: "m-s3", body: envelope, attempts: 3 }], shortened), "m-s3")).toBe(1);
    expect(at(url)).toHaveLength(3);
    expect((await pushDeliveries(admin.space)).map((r) => [r.status, r.attempts, r.last_status_code])).toEqual([["pending", 3, 502]]);
  });

  it("out of attempts: attempt 8 goes once more into the queue (→ dead-letter queue), whose consumer marks the gateway delivery failed", async () => {
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    onTestFinished(() => quiet.mockRestore());
    const { admin, url } = await gatewaySpace();
    responders.set(url, () => new Response("still down", { status: 503 }));
    const userId = uniqueUser("gw-dead");
    const envelope = gatewayEnvelope(admin.space, userId, "ev-dead");
    const id = await gatewayIdOf(admin.space, userId, "ev-dead", url);

    expect(expectRetried(await consume([{ id: "m-d", body: envelope, attempts: 8 }]), "m-d")).toBe(1);
    expect((await pushDeliveries(admin.space)).map((r) => [r.id, r.status, r.attempts, r.last_status_code])).toEqual([[id, "pending", 1, 503]]);

    const dead = await runQueue("loyalty-deliveries-dlq", [{ id: "m-d", body: envelope, attempts: 1 }]);
    expect(dead.explicitAcks).toEqual(["m-d"]);
    expect(at(url)).toHaveLength(1);
    expect((await pushDeliveries(admin.space)).map((r) => [r.id, r.status, r.attempts, r.last_status_code, r.last_error])).toEqual([
      [id, "failed", 1, 503, "still down"],
    ]);
  });

  it("refused by the URL policy on send (the deployment's SPACE_HOST_SUFFIX now covers the gateway): failed, not retried, nothing POSTed", async () => {
    const { admin, url } = await gatewaySpace();
    const userId = uniqueUser("gw-policy");
    const withSuffix = { ...env, SPACE_HOST_SUFFIX: "gateway.example.net" } as unknown as Env;
    const result = await consume([{ id: "m-p", body: gatewayEnvelope(admin.space, userId, "ev-policy"), attempts: 1 }], withSuffix);
    expectAcked(result, "m-p");
    expect(at(url)).toEqual([]);
    const id = await gatewayIdOf(admin.space, userId, "ev-policy", url);
    expect(await pushDeliveries(admin.space)).toEqual([
      {
        id,
        status: "failed",
        attempts: 0,
        last_status_code: null,
        last_error: "refused by the outbound URL policy: The URL must not point at this deployment's own hosts.",
        user_id: userId,
        endpoint_id: null,
        event_type: "push.send",
      },
    ]);
  });

  it("a gateway space without a secret (a row from before gateway secrets existed): failed, not retried, nothing POSTed", async () => {
    const { admin, url } = await gatewaySpace();
    await env.DB.prepare(`UPDATE spaces SET push = json_remove(push, '$.gatewaySecret') WHERE id = ?`).bind(admin.space.id).run();
    expect((await getSpace(admin.space)).body.push).toEqual({ allowedHosts: DEFAULT_PUSH_HOSTS, contact: CONTACT, gatewayUrl: url });
    const userId = uniqueUser("gw-nosecret");
    expectAcked(await consume([{ id: "m-s", body: gatewayEnvelope(admin.space, userId, "ev-nosecret"), attempts: 1 }]), "m-s");
    expect(at(url)).toEqual([]);
    expect((await pushDeliveries(admin.space)).map((r) => [r.id, r.status, r.attempts, r.last_error])).toEqual([
      [await gatewayIdOf(admin.space, userId, "ev-nosecret", url), "failed", 0, "the space has no gateway secret"],
    ]);
  });
});

describe("the space leaves gateway mode between queueing and delivery", () => {
  it("the queued gateway push is logged skipped and sent nowhere (neither the old gateway nor the user's Web Push subscription)", async () => {
    const { admin, url } = await gatewaySpace();
    const userId = uniqueUser("gw-leave");
    const endpoint = await subscribe(admin, userId);
    const stub = admin.stub(userId);
    // The deliveries queue refuses the object's send: the push waits in its outbox.
    await runInDurableObject(stub, (_i: UserState, state) => armFault(state.storage.sql, "queue.deliveries"));
    await admin.apply({ id: "queued", userId, type: "order", data: { order: "Q", amount: 3 } });
    const outbox = await runInDurableObject(stub, (_i: UserState, state) =>
      state.storage.sql
        .exec<{ message: string }>(`SELECT message FROM outbox WHERE queue = 'deliveries' ORDER BY id`)
        .toArray()
        .map((r) => JSON.parse(r.message)),
    );
    expect(outbox).toEqual([
      {
        kind: "push",
        eventId: "queued",
        title: `Thanks ${userId}`,
        body: "+10 points from Order push",
        url: "https://shop.example/orders/Q",
        data: { order: "Q", amount: 3, note: `for ${userId}` },
        gateway: true,
      },
    ]);

    const off = await patchSpace(admin.space, { push: { gatewayUrl: null, gatewaySecret: null } });
    expect(off.status, off.text).toBe(200);
    expect(off.body.push.gatewayUrl).toBeNull();

    await runInDurableObject(stub, (_i: UserState, state) => disarmFault(state.storage.sql, "queue.deliveries"));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const log = await until(() => pushDeliveries(admin.space), (rows) => rows.length === 1 && rows[0]!.status !== "pending");
    expect(log).toEqual([
      {
        id: await deliveryIdOf(admin.space.id, userId, { kind: "push", eventId: "queued", endpoint: "gateway" }),
        status: "skipped",
        attempts: 0,
        last_status_code: null,
        last_error: "no subscription and no gateway",
        user_id: userId,
        endpoint_id: null,
        event_type: "push.send",
      },
    ]);
    await sleep(1000);
    expect(at(url)).toEqual([]);
    expect(at(endpoint)).toEqual([]);

    // Out of gateway mode, the next push is Web Push to the subscription, and nothing to the old gateway.
    await admin.apply({ id: "after", userId, type: "order", data: { order: "A", amount: 1 } });
    await waitFor(endpoint, 1);
    await sleep(500);
    expect(at(endpoint)).toHaveLength(1);
    expect(at(endpoint)[0]!.headers["content-encoding"]).toBe("aes128gcm");
    expect(at(url)).toEqual([]);
  });

  it("driven through the queue handler: skipped, acked, nothing POSTed", async () => {
    const { admin, url } = await gatewaySpace();
    const userId = uniqueUser("gw-left");
    const envelope = gatewayEnvelope(admin.space, userId, "ev-left");
    expect((await patchSpace(admin.space, { push: { gatewayUrl: null } })).status).toBe(200);
    expectAcked(await consume([{ id: "m-l", body: envelope, attempts: 1 }]), "m-l");
    expect(at(url)).toEqual([]);
    expect((await pushDeliveries(admin.space)).map((r) => [r.status, r.attempts, r.last_error])).toEqual([["skipped", 0, "no subscription and no gateway"]]);
  });
});

describe("isolation between spaces", () => {
  it("each space's push goes to its own gateway only, signed with its own secret; a space without a gateway uses Web Push", async () => {
    const a = await gatewaySpace();
    const b = await gatewaySpace();
    const c = await freshAdmin({ push: { contact: CONTACT } });
    await defineOrderPush(c);
    const userId = uniqueUser("gw-iso"); // the same user id in all three spaces
    const endpoint = await subscribe(c, userId);

    await a.admin.apply({ id: "iso-1", userId, type: "order", data: { order: "in-a", amount: 1 } });
    await b.admin.apply({ id: "iso-1", userId, type: "order", data: { order: "in-b", amount: 2 } });
    await c.apply({ id: "iso-1", userId, type: "order", data: { order: "in-c", amount: 3 } });
    await Promise.all([waitFor(a.url, 1), waitFor(b.url, 1), waitFor(endpoint, 1)]);
    await sleep(1000);

    const toA = at(a.url);
    const toB = at(b.url);
    expect(toA).toHaveLength(1);
    expect(toB).toHaveLength(1);
    expect(at(endpoint)).toHaveLength(1);
    expect(JSON.parse(toA[0]!.body)).toMatchObject({ space: a.admin.space.id, userId, eventId: "iso-1", notification: { url: "https://shop.example/orders/in-a" } });
    expect(JSON.parse(toB[0]!.body)).toMatchObject({ space: b.admin.space.id, userId, eventId: "iso-1", notification: { url: "https://shop.example/orders/in-b" } });
    expectSignedBy(a.secret, toA[0]!);
    expectNotSignedBy(b.secret, toA[0]!);
    expectSignedBy(b.secret, toB[0]!);
    expectNotSignedBy(a.secret, toB[0]!);
    expect(toA[0]!.headers["webhook-id"]).not.toBe(toB[0]!.headers["webhook-id"]);

    expect((await until(() => pushDeliveries(a.admin.space), (r) => r[0]?.status === "delivered")).map((r) => [r.user_id, r.status])).toEqual([[userId, "delivered"]]);
    expect((await until(() => pushDeliveries(b.admin.space), (r) => r[0]?.status === "delivered")).map((r) => [r.user_id, r.status])).toEqual([[userId, "delivered"]]);
    const inC = await until(() => pushDeliveries(c.space), (r) => r[0]?.status === "delivered");
    expect(inC.map((r) => [r.status, r.last_status_code])).toEqual([["delivered", 200]]);
  });
});
