import { env } from "cloudflare:test";
import { jwtVerify } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { defineOrderPush, pushEffect } from "../helpers/push";
import { runQueue, type QueueResult } from "../helpers/queue";
import { until } from "../helpers/isolation";
import { call, createKey, type TestSpace } from "../helpers/harness";
import { ADMIN, ME, errorPaths, expectProblemReply, freshAdmin, meGet, reply, uniqueUser, type Admin, type Reply } from "../helpers/users-api";

// Web Push (SPEC §8.2, §8.3, §9, §6 push.send), end to end inside workerd: the real Worker,
// the user's Durable Object, D1 and the deliveries queue with its real consumer. The test
// plays the browser: it makes a P-256 "user agent" key pair and an auth secret, registers
// the subscription, catches what the Worker POSTs to the push service (a fetch spy), and
// decrypts it with its own RFC 8291 implementation (WebCrypto, not src's encryptPush),
// and checks the VAPID header (RFC 8292) with jose.

vi.setConfig({ testTimeout: 60_000 });

const DEFAULT_PUSH_HOSTS = ["fcm.googleapis.com", "*.push.services.mozilla.com", "*.notify.windows.com", "*.push.apple.com"];
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------
// base64url and bytes

function b64u(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64u(text: string): Uint8Array {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const randomId = () => b64u(crypto.getRandomValues(new Uint8Array(12)));

// ---------------------------------------------------------------------------------------
// The browser's side: a subscription and RFC 8291 decryption

interface Device {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  privateKey: CryptoKey;
  publicRaw: Uint8Array;
  authSecret: Uint8Array;
}

/** What PushManager.subscribe() would give an app: an endpoint and the UA's keys. */
async function device(endpoint = `https://fcm.googleapis.com/fcm/send/${randomId()}`): Promise<Device> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const publicRaw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const authSecret = crypto.getRandomValues(new Uint8Array(16));
  return { endpoint, keys: { p256dh: b64u(publicRaw), auth: b64u(authSecret) }, privateKey: pair.privateKey, publicRaw, authSecret };
}

const subscriptionOf = (d: Device) => ({ endpoint: d.endpoint, keys: d.keys });

async function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, bytes: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

interface Decrypted {
  salt: Uint8Array;
  rs: number;
  keyid: Uint8Array;
  text: string;
  json: any;
}

/** RFC 8188 / RFC 8291 decryption of a single-record aes128gcm message, as a user agent does. */
async function decrypt(d: Device, message: Uint8Array): Promise<Decrypted> {
  expect(message.byteLength).toBeGreaterThan(21);
  const salt = message.slice(0, 16);
  const rs = new DataView(message.buffer, message.byteOffset + 16, 4).getUint32(0);
  const idlen = message[20]!;
  expect(idlen, "keyid is the sender's uncompressed P-256 key").toBe(65);
  const keyid = message.slice(21, 21 + idlen);
  expect(keyid[0]).toBe(4);
  const record = message.slice(21 + idlen);
  expect(record.byteLength, "one record, no longer than rs").toBeLessThanOrEqual(rs);

  const asPublic = await crypto.subtle.importKey("raw", keyid, { name: "ECDH", namedCurve: "P-256" }, false, []);
  // workerd's types call the parameter `$public`; the runtime takes the standard `public`.
  const ecdh = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "ECDH", public: asPublic } as unknown as SubtleCryptoDeriveKeyAlgorithm, d.privateKey, 256),
  );
  const ikm = await hkdf(d.authSecret, ecdh, concat(encoder.encode("WebPush: info\0"), d.publicRaw, keyid), 32);
  const cek = await hkdf(salt, ikm, encoder.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, encoder.encode("Content-Encoding: nonce\0"), 12);
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const padded = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, record));
  // The last record: data, the delimiter 0x02, then any zero padding.
  let end = padded.byteLength - 1;
  while (end >= 0 && padded[end] === 0) end--;
  expect(padded[end], "last-record delimiter").toBe(2);
  const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(padded.slice(0, end));
  return { salt, rs, keyid, text, json: JSON.parse(text) };
}

/** Checks `Authorization: vapid t=<jwt>, k=<key>` (RFC 8292); answers k. */
async function verifyVapid(authorization: string | undefined, endpoint: string, contact: string): Promise<string> {
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(authorization ?? "");
  expect(m, `authorization header: ${authorization}`).not.toBeNull();
  const [, jwt, k] = m!;
  const raw = fromB64u(k!);
  expect(raw.byteLength).toBe(65);
  expect(raw[0]).toBe(4);
  const key = await crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const origin = new URL(endpoint).origin;
  const { payload, protectedHeader } = await jwtVerify(jwt!, key, { algorithms: ["ES256"], audience: origin, subject: contact });
  expect(protectedHeader.alg).toBe("ES256");
  expect(payload.aud).toBe(origin);
  expect(payload.sub).toBe(contact);
  const now = Math.floor(Date.now() / 1000);
  expect(payload.exp).toBeGreaterThan(now);
  expect(payload.exp!).toBeLessThanOrEqual(now + 24 * 3600);
  return k!;
}

// ---------------------------------------------------------------------------------------
// The push services: one fetch spy for the whole file (deliveries of one test may still be
// in flight when the next starts); each test tells its endpoints apart by their random path.

interface Captured {
  endpoint: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

const PUSH_SERVICE = /^https:\/\/(fcm\.googleapis\.com|push\.example\.org|[a-z0-9-]+\.push\.services\.mozilla\.com|[a-z0-9-]+\.notify\.windows\.com|[a-z0-9-]+\.push\.apple\.com)\//;
const captured: Captured[] = [];
/** endpoint → what the push service answers (default 201 Created). */
const answers = new Map<string, number | Response | "network-error">();
let spy: MockInstance<typeof fetch>;

beforeAll(() => {
  const real = globalThis.fetch;
  spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (!PUSH_SERVICE.test(request.url)) return real(input as RequestInfo, init);
    captured.push({
      endpoint: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: new Uint8Array(await request.arrayBuffer()),
    });
    const answer = answers.get(request.url) ?? 201;
    if (answer === "network-error") throw new TypeError("Network connection lost.");
    if (answer instanceof Response) return answer.clone();
    return new Response(answer === 201 ? "" : `status ${answer}`, { status: answer });
  });
});
afterAll(() => spy.mockRestore());

const to = (...devices: Device[]) => captured.filter((c) => devices.some((d) => d.endpoint === c.endpoint));
const waitFor = (devices: Device[], count: number) =>
  until(async () => to(...devices).length, (n) => n >= count).then(() => to(...devices));

// ---------------------------------------------------------------------------------------
// API helpers

const u = (userId: string) => `/users/${encodeURIComponent(userId)}`;

async function meAt(space: TestSpace, token: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return reply(await call(`${ME}${path}`, { method, key: null, space: space.slug, body, headers: { Authorization: `Bearer ${token}` } }));
}

const mePut = (space: TestSpace, token: string, sub: unknown) => meAt(space, token, "PUT", "/push-subscriptions", sub);
const meDelete = (space: TestSpace, token: string, endpoint: string) =>
  meAt(space, token, "DELETE", `/push-subscriptions?endpoint=${encodeURIComponent(endpoint)}`);
const adminPut = (admin: Admin, userId: string, sub: unknown) => admin.at("PUT", `${u(userId)}/push-subscriptions`, sub);
const adminDelete = (admin: Admin, userId: string, endpoint: string) =>
  admin.at("DELETE", `${u(userId)}/push-subscriptions?endpoint=${encodeURIComponent(endpoint)}`);

async function subscribe(admin: Admin, userId: string, ...devices: Device[]): Promise<void> {
  for (const d of devices) {
    const a = await adminPut(admin, userId, subscriptionOf(d));
    expect(a.status, a.text).toBe(201);
    expect(a.body).toEqual({ endpoint: d.endpoint });
  }
}

const storedEndpoints = async (admin: Admin, userId: string) =>
  ((await admin.stub(userId).pushSubscriptions()) as Array<{ endpoint: string }>).map((s) => s.endpoint).sort();

const CONTACT = "mailto:push-ops@loyalty.example";

/** A space with a points metric and a campaign that credits 10 and pushes on every `order`. */
async function pushProgramme(push: Record<string, unknown> = {}, effect: Record<string, unknown> = {}): Promise<Admin> {
  const admin = await freshAdmin({ push: { contact: CONTACT } });
  await defineOrderPush(admin, effect);
  if (Object.keys(push).length > 0) {
    const patched = await reply(await call(`${ADMIN}/spaces/${admin.space.slug}`, { method: "PATCH", body: { push } }));
    expect(patched.status, patched.text).toBe(200);
  }
  return admin;
}

interface DeliveryRow {
  status: string;
  attempts: number;
  last_status_code: number | null;
  message: string;
  user_id: string;
}

async function pushDeliveries(spaceId: string): Promise<Array<DeliveryRow & { endpoint: string | undefined; eventId: string }>> {
  const { results } = await env.DB.prepare(`SELECT status, attempts, last_status_code, message, user_id FROM deliveries WHERE space_id = ? AND kind = 'push'`)
    .bind(spaceId)
    .all<DeliveryRow>();
  return results.map((r) => {
    const m = JSON.parse(r.message);
    return { ...r, endpoint: m.subscription?.endpoint, eventId: m.message.eventId };
  });
}

// ---------------------------------------------------------------------------------------
// Driving the deliveries queue's consumer directly (as test/queue/consumer.test.ts does)

const consume = (messages: Array<{ id: string; body: unknown; attempts: number }>) => runQueue("loyalty-deliveries", messages);

/** The message the user's object queues for one push to one subscription. */
function pushDelivery(space: TestSpace, userId: string, d: Device, eventId: string) {
  return {
    v: 1,
    type: "delivery",
    key: `test:${eventId}:${d.endpoint}`,
    body: {
      spaceId: space.id,
      userId,
      message: { kind: "push", eventId, title: "Direct", body: "driven by the test", url: null, data: null },
      subscription: subscriptionOf(d),
    },
  };
}

beforeEach(() => {
  answers.clear();
});

// =======================================================================================

describe("push.send delivered with Web Push", () => {
  it("a campaign's push.send reaches each of the user's 2 subscriptions, rendered, encrypted (RFC 8291) and VAPID-signed (RFC 8292) with the space's one key", async () => {
    const admin = await pushProgramme();
    const userId = uniqueUser("buyer");
    const token = await admin.token(userId);
    const config = await meGet(admin.space, token, "/push-config");
    expect(config.status, config.text).toBe(200);
    expect(config.body).toEqual({ vapidPublicKey: expect.any(String), allowedHosts: DEFAULT_PUSH_HOSTS });
    const vapidPublicKey: string = config.body.vapidPublicKey;

    const phone = await device();
    const laptop = await device(`https://updates.push.services.mozilla.com/wpush/v2/${randomId()}`);
    for (const d of [phone, laptop]) {
      const put = await mePut(admin.space, token, { ...subscriptionOf(d), expirationTime: null });
      expect(put.status, put.text).toBe(201);
      expect(put.body).toEqual({ endpoint: d.endpoint });
    }

    const outcome = await admin.apply({ id: "order-1", userId, type: "order", data: { order: "A-17", amount: 42 } });
    expect(pushEffect(outcome)).toEqual({ type: "push.send", campaign: "order-push", step: "order", status: "applied" });

    const first = await waitFor([phone, laptop], 2);
    expect(first.map((c) => c.endpoint).sort()).toEqual([phone.endpoint, laptop.endpoint].sort());
    const expected = {
      title: `Thanks ${userId}`,
      body: "+10 points from Order push",
      url: "https://shop.example/orders/A-17",
      data: { order: "A-17", amount: 42, note: `for ${userId}` },
      eventId: "order-1",
    };
    const keyids: string[] = [];
    const salts: string[] = [];
    for (const d of [phone, laptop]) {
      const seen = to(d);
      expect(seen).toHaveLength(1);
      const c = seen[0]!;
      expect(c.method).toBe("POST");
      expect(c.headers["content-encoding"]).toBe("aes128gcm");
      expect(c.headers["content-type"]).toBe("application/octet-stream");
      expect(c.headers["ttl"]).toMatch(/^[1-9]\d*$/);
      expect(Number(c.headers["ttl"])).toBeLessThanOrEqual(28 * 86_400);
      expect(c.body.byteLength).toBeLessThanOrEqual(4096);
      const plain = await decrypt(d, c.body);
      expect(plain.rs).toBe(4096);
      expect(plain.json).toEqual(expected);
      keyids.push(b64u(plain.keyid));
      salts.push(b64u(plain.salt));
      expect(await verifyVapid(c.headers["authorization"], d.endpoint, CONTACT)).toBe(vapidPublicKey);
    }
    // A fresh ephemeral key and salt per message (RFC 8291 §3.4).
    expect(new Set(keyids).size).toBe(2);
    expect(new Set(salts).size).toBe(2);
    expect(keyids).not.toContain(phone.keys.p256dh);

    // A second push: the same VAPID key pair signs again (one per space, not one per push).
    await admin.apply({ id: "order-2", userId, type: "order", data: { order: "B-2", amount: 7 } });
    const all = await waitFor([phone, laptop], 4);
    expect(all).toHaveLength(4);
    for (const d of [phone, laptop]) {
      const second = to(d)[1]!;
      expect((await decrypt(d, second.body)).json).toEqual({
        ...expected,
        url: "https://shop.example/orders/B-2",
        data: { order: "B-2", amount: 7, note: `for ${userId}` },
        eventId: "order-2",
      });
      expect(await verifyVapid(second.headers["authorization"], d.endpoint, CONTACT)).toBe(vapidPublicKey);
    }
    const again = await meGet(admin.space, token, "/push-config");
    expect(again.body.vapidPublicKey).toBe(vapidPublicKey);

    const log = await until(() => pushDeliveries(admin.space.id), (rows) => rows.filter((r) => r.status === "delivered").length === 4);
    expect(log.map((r) => [r.eventId, r.endpoint, r.status, r.attempts, r.last_status_code]).sort()).toEqual(
      [
        ["order-1", phone.endpoint, "delivered", 1, 201],
        ["order-1", laptop.endpoint, "delivered", 1, 201],
        ["order-2", phone.endpoint, "delivered", 1, 201],
        ["order-2", laptop.endpoint, "delivered", 1, 201],
      ].sort(),
    );
  });

  it("each space signs with its own VAPID key", async () => {
    const a = await freshAdmin();
    const b = await freshAdmin();
    const ka = (await meGet(a.space, await a.token("x"), "/push-config")).body.vapidPublicKey;
    const kb = (await meGet(b.space, await b.token("x"), "/push-config")).body.vapidPublicKey;
    expect(fromB64u(ka).byteLength).toBe(65);
    expect(fromB64u(kb).byteLength).toBe(65);
    expect(ka).not.toBe(kb);
  });
});

describe("the push service's answer", () => {
  it.each([410, 404])("%i removes that subscription (through the real queue); the next push reaches only the other one", async (status) => {
    const admin = await pushProgramme();
    const userId = uniqueUser("gone");
    const stale = await device();
    const live = await device(`https://cell.push.apple.com/3/device/${randomId()}`);
    await subscribe(admin, userId, stale, live);
    answers.set(stale.endpoint, status);

    await admin.apply({ id: "g-1", userId, type: "order", data: { order: "1", amount: 1 } });
    await waitFor([stale, live], 2);
    const remaining = await until(() => storedEndpoints(admin, userId), (e) => e.length === 1);
    expect(remaining).toEqual([live.endpoint]);
    const log = await until(() => pushDeliveries(admin.space.id), (rows) => rows.length === 2 && rows.every((r) => r.status !== "pending"));
    expect(log.map((r) => [r.endpoint, r.status, r.attempts, r.last_status_code]).sort()).toEqual(
      [
        [stale.endpoint, "failed", 1, status],
        [live.endpoint, "delivered", 1, 201],
      ].sort(),
    );

    await admin.apply({ id: "g-2", userId, type: "order", data: { order: "2", amount: 2 } });
    await waitFor([live], 2);
    await sleep(1500); // anything else for this user would have arrived with it
    expect(to(stale)).toHaveLength(1);
    expect(to(live)).toHaveLength(2);
    expect((await decrypt(live, to(live)[1]!.body)).json.eventId).toBe("g-2");
  });

  it.each([410, 404])("%i, driven through the queue handler: acked, no retry, the subscription removed", async (status) => {
    const admin = await freshAdmin();
    const userId = uniqueUser("gone-direct");
    const stale = await device();
    const other = await device();
    await subscribe(admin, userId, stale, other);
    answers.set(stale.endpoint, status);
    const result = await consume([{ id: "m-gone", body: pushDelivery(admin.space, userId, stale, "ev-gone"), attempts: 1 }]);
    expect(result.outcome).toBe("ok");
    expect(result.explicitAcks).toEqual(["m-gone"]);
    expect(result.retryMessages).toEqual([]);
    expect(to(stale)).toHaveLength(1);
    expect(await storedEndpoints(admin, userId)).toEqual([other.endpoint]);
  });

  it("500 is retried after ≈ 5 s, then ≈ 5 min, …, then handed to the dead-letter queue; the subscription is kept throughout", async () => {
    const admin = await freshAdmin({ push: { contact: CONTACT } });
    const userId = uniqueUser("flaky");
    const d = await device();
    await subscribe(admin, userId, d);
    answers.set(d.endpoint, 500);
    const body = pushDelivery(admin.space, userId, d, "ev-500");

    const first = await consume([{ id: "m-500", body, attempts: 1 }]);
    expect(first.outcome).toBe("ok");
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toEqual([{ msgId: "m-500", delaySeconds: 5 }]);
    expect(to(d)).toHaveLength(1);
    // A real attempt: encrypted and signed like any other.
    expect((await decrypt(d, to(d)[0]!.body)).json).toEqual({ title: "Direct", body: "driven by the test", url: null, data: null, eventId: "ev-500" });
    await verifyVapid(to(d)[0]!.headers["authorization"], d.endpoint, CONTACT);
    expect(await storedEndpoints(admin, userId)).toEqual([d.endpoint]);
    expect((await pushDeliveries(admin.space.id)).map((r) => [r.status, r.attempts, r.last_status_code])).toEqual([["pending", 1, 500]]);

    const second = await consume([{ id: "m-500", body, attempts: 2 }]);
    expect(second.retryMessages).toHaveLength(1);
    const delay = second.retryMessages[0]!.delaySeconds!;
    expect(delay).toBeGreaterThanOrEqual(270);
    expect(delay).toBeLessThanOrEqual(330);
    expect((await pushDeliveries(admin.space.id)).map((r) => [r.status, r.attempts, r.last_status_code])).toEqual([["pending", 2, 500]]);

    // Past the schedule's 7 delays: once more into the queue, which dead-letters it.
    const last = await consume([{ id: "m-500", body, attempts: 8 }]);
    expect(last.retryMessages).toEqual([{ msgId: "m-500", delaySeconds: 1 }]);
    expect(to(d)).toHaveLength(3);
    expect(await storedEndpoints(admin, userId)).toEqual([d.endpoint]);
  });

  it("no answer (a network error) and 429 with Retry-After are retried too, and keep the subscription", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser("busy");
    const down = await device();
    const busy = await device();
    await subscribe(admin, userId, down, busy);
    answers.set(down.endpoint, "network-error");
    answers.set(busy.endpoint, new Response("slow down", { status: 429, headers: { "Retry-After": "120" } }));
    const result = await consume([
      { id: "m-down", body: pushDelivery(admin.space, userId, down, "ev-x"), attempts: 1 },
      { id: "m-busy", body: pushDelivery(admin.space, userId, busy, "ev-x"), attempts: 1 },
    ]);
    expect(result.explicitAcks).toEqual([]);
    expect([...result.retryMessages].sort((a, b) => a.msgId.localeCompare(b.msgId))).toEqual([
      { msgId: "m-busy", delaySeconds: 120 },
      { msgId: "m-down", delaySeconds: 5 },
    ]);
    expect(await storedEndpoints(admin, userId)).toEqual([down.endpoint, busy.endpoint].sort());
  });
});

describe("push subscription routes", () => {
  it("/me PUT: 201 added, 200 replaced; an 11th endpoint is 409 limit_reached; DELETE ?endpoint= is 204, twice", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser("me");
    const token = await admin.token(userId);
    const first = await device();
    let a = await mePut(admin.space, token, subscriptionOf(first));
    expect(a.status, a.text).toBe(201);
    expect(a.body).toEqual({ endpoint: first.endpoint });

    // Same endpoint, new keys (the browser re-subscribed): replaced.
    const renewed = { ...(await device(first.endpoint)) };
    a = await mePut(admin.space, token, subscriptionOf(renewed));
    expect(a.status, a.text).toBe(200);
    expect(a.body).toEqual({ endpoint: first.endpoint });
    expect(await admin.stub(userId).pushSubscriptions()).toEqual([subscriptionOf(renewed)]);

    const more: Device[] = [];
    for (let i = 0; i < 9; i++) more.push(await device());
    for (const d of more) expect((await mePut(admin.space, token, subscriptionOf(d))).status).toBe(201);
    expect(await storedEndpoints(admin, userId)).toHaveLength(10);

    const eleventh = await device();
    a = await mePut(admin.space, token, subscriptionOf(eleventh));
    expectProblemReply(a, 409, "limit_reached");
    expect(errorPaths(a)).toEqual(["endpoint"]);
    // At the limit, replacing one of the 10 is still fine.
    expect((await mePut(admin.space, token, subscriptionOf(more[0]!))).status).toBe(200);
    expect(await storedEndpoints(admin, userId)).toHaveLength(10);

    a = await meDelete(admin.space, token, more[0]!.endpoint);
    expect(a.status, a.text).toBe(204);
    expect(a.text).toBe("");
    a = await meDelete(admin.space, token, more[0]!.endpoint);
    expect(a.status, a.text).toBe(204);
    expect(await storedEndpoints(admin, userId)).toHaveLength(9);
    expect(await storedEndpoints(admin, userId)).not.toContain(more[0]!.endpoint);
    expect((await mePut(admin.space, token, subscriptionOf(eleventh))).status).toBe(201);

    // DELETE needs the endpoint.
    a = await meAt(admin.space, token, "DELETE", "/push-subscriptions");
    expect(a.status, a.text).toBe(400);
  });

  const p256 = async () => (await device()).keys.p256dh;
  const badKeys: Array<[string, string, () => Promise<{ p256dh: string; auth: string }>]> = [
    ["p256dh of 64 bytes", "keys.p256dh", async () => ({ p256dh: b64u(fromB64u(await p256()).slice(0, 64)), auth: b64u(new Uint8Array(16)) })],
    ["p256dh of 66 bytes", "keys.p256dh", async () => ({ p256dh: b64u(concat(fromB64u(await p256()), new Uint8Array(1))), auth: b64u(new Uint8Array(16)) })],
    ["p256dh not starting with 0x04", "keys.p256dh", async () => ({ p256dh: b64u(concat(new Uint8Array([3]), fromB64u(await p256()).slice(1))), auth: b64u(new Uint8Array(16)) })],
    ["p256dh in standard base64 (+ and /)", "keys.p256dh", async () => ({ p256dh: "BP+/" + (await p256()).slice(4), auth: b64u(new Uint8Array(16)) })],
    // SPEC §10: nothing malformed reaches storage. 65 bytes with 0x04 that are no point on
    // P-256 could never encrypt: every push to it would throw and be retried to the DLQ.
    ["p256dh of 65 bytes that is not a point on P-256", "keys.p256dh", async () => ({ p256dh: b64u(concat(new Uint8Array([4]), new Uint8Array(64).fill(7))), auth: b64u(new Uint8Array(16)) })],
    ["p256dh empty", "keys.p256dh", async () => ({ p256dh: "", auth: b64u(new Uint8Array(16)) })],
    ["auth of 15 bytes", "keys.auth", async () => ({ p256dh: await p256(), auth: b64u(new Uint8Array(15)) })],
    ["auth of 17 bytes", "keys.auth", async () => ({ p256dh: await p256(), auth: b64u(new Uint8Array(17)) })],
    ["auth not base64url", "keys.auth", async () => ({ p256dh: await p256(), auth: "not*base64url!!!!!!!!!" })],
  ];

  it.each(badKeys)("%s → 400 at %s (User API and Admin API), nothing stored", async (_name, path, keysOf) => {
    const admin = await freshAdmin();
    const userId = uniqueUser("badkeys");
    const token = await admin.token(userId);
    const sub = { endpoint: `https://fcm.googleapis.com/fcm/send/${randomId()}`, keys: await keysOf() };
    for (const a of [await mePut(admin.space, token, sub), await adminPut(admin, userId, sub)]) {
      expectProblemReply(a, 400, "invalid_request");
      expect([...new Set(errorPaths(a))]).toEqual([path]);
    }
    expect(await storedEndpoints(admin, userId)).toEqual([]);
  });

  it("a padded base64url key is accepted; missing keys and unknown fields are 400", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser("shape");
    const token = await admin.token(userId);
    const d = await device();
    const padded = { endpoint: d.endpoint, keys: { p256dh: d.keys.p256dh + "=", auth: d.keys.auth + "==" } };
    expect((await mePut(admin.space, token, padded)).status).toBe(201);
    let a = await mePut(admin.space, token, { endpoint: d.endpoint, keys: { p256dh: d.keys.p256dh } });
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["keys.auth"]);
    a = await mePut(admin.space, token, { endpoint: d.endpoint });
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["keys"]);
    a = await mePut(admin.space, token, { ...subscriptionOf(d), userId: "someone-else" });
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["userId"]);
  });

  const badEndpoints: Array<[string, string]> = [
    ["http:", "http://fcm.googleapis.com/fcm/send/abc"],
    ["a private IPv4 literal", "https://10.0.0.7/push"],
    ["loopback", "https://127.0.0.1/push"],
    ["metadata", "https://169.254.169.254/latest"],
    ["IPv6 loopback", "https://[::1]/push"],
    ["IPv4-mapped IPv6", "https://[::ffff:10.0.0.1]/push"],
    ["localhost", "https://localhost/push"],
    ["a host outside allowedHosts", "https://push.evil.example/abc"],
    ["an allowed host as a prefix only", "https://fcm.googleapis.com.evil.example/abc"],
    ["a wildcard's bare apex", "https://push.services.mozilla.com/abc"],
    ["a wildcard's suffix without a dot", "https://evilpush.services.mozilla.com/abc"],
    ["not a URL", "fcm.googleapis.com/fcm/send/abc"],
  ];

  it.each(badEndpoints)("endpoint: %s → 400 at endpoint (User API and Admin API)", async (_name, endpoint) => {
    const admin = await freshAdmin();
    const userId = uniqueUser("badurl");
    const token = await admin.token(userId);
    const sub = subscriptionOf(await device(endpoint));
    for (const a of [await mePut(admin.space, token, sub), await adminPut(admin, userId, sub)]) {
      expectProblemReply(a, 400, "invalid_request");
      expect(errorPaths(a)).toEqual(["endpoint"]);
    }
    expect(await storedEndpoints(admin, userId)).toEqual([]);
  });

  it("the default hosts and their *. subdomains are accepted", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser("hosts");
    const token = await admin.token(userId);
    for (const endpoint of [
      `https://fcm.googleapis.com/fcm/send/${randomId()}`,
      `https://updates.push.services.mozilla.com/wpush/v2/${randomId()}`,
      `https://wns2-par02p.notify.windows.com/w/?token=${randomId()}`,
      `https://web.push.apple.com/${randomId()}`,
      `https://FCM.GoogleApis.com/fcm/send/${randomId()}`,
    ]) {
      const a = await mePut(admin.space, token, subscriptionOf(await device(endpoint)));
      expect(a.status, `${endpoint}: ${a.text}`).toBe(201);
    }
  });

  it("after PATCHing push.allowedHosts to [push.example.org], fcm is refused there and push.example.org accepted; an older fcm subscription is not sent to", async () => {
    const admin = await pushProgramme();
    const userId = uniqueUser("custom-host");
    const token = await admin.token(userId);
    const before = await device();
    expect((await mePut(admin.space, token, subscriptionOf(before))).status).toBe(201);

    const patched = await reply(await call(`${ADMIN}/spaces/${admin.space.slug}`, { method: "PATCH", body: { push: { allowedHosts: ["push.example.org"] } } }));
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.push).toEqual({ allowedHosts: ["push.example.org"], contact: CONTACT, gatewayUrl: null });
    expect((await meGet(admin.space, token, "/push-config")).body.allowedHosts).toEqual(["push.example.org"]);

    let a = await mePut(admin.space, token, subscriptionOf(await device()));
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["endpoint"]);
    a = await adminPut(admin, userId, subscriptionOf(await device()));
    expectProblemReply(a, 400, "invalid_request");
    expect(errorPaths(a)).toEqual(["endpoint"]);
    a = await mePut(admin.space, token, subscriptionOf(await device(`https://sub.push.example.org/${randomId()}`)));
    expect(a.status, "no wildcard: a subdomain is not the host").toBe(400);

    const custom = await device(`https://push.example.org/x/${randomId()}`);
    a = await mePut(admin.space, token, subscriptionOf(custom));
    expect(a.status, a.text).toBe(201);
    expect(await storedEndpoints(admin, userId)).toEqual([before.endpoint, custom.endpoint].sort());

    // Checked again on send: the fcm subscription from before the change gets nothing.
    await admin.apply({ id: "after-patch", userId, type: "order", data: { order: "9", amount: 9 } });
    const got = await waitFor([custom], 1);
    expect((await decrypt(custom, got[0]!.body)).json.eventId).toBe("after-patch");
    await verifyVapid(got[0]!.headers["authorization"], custom.endpoint, CONTACT);
    const log = await until(() => pushDeliveries(admin.space.id), (rows) => rows.length === 2 && rows.every((r) => r.status !== "pending"));
    await sleep(500);
    expect(to(before)).toEqual([]);
    expect(log.map((r) => [r.endpoint, r.status]).sort()).toEqual(
      [
        [before.endpoint, "failed"],
        [custom.endpoint, "delivered"],
      ].sort(),
    );
  });

  it("Admin API PUT/DELETE under /admin/users/{id}/push-subscriptions: 201, 200, 409 limit_reached, 204 twice; users:write may, read may not", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser("adm");
    const d = await device();
    let a = await adminPut(admin, userId, subscriptionOf(d));
    expect(a.status, a.text).toBe(201);
    expect(a.body).toEqual({ endpoint: d.endpoint });
    a = await adminPut(admin, userId, subscriptionOf(d));
    expect(a.status, a.text).toBe(200);
    for (let i = 0; i < 9; i++) expect((await adminPut(admin, userId, subscriptionOf(await device()))).status).toBe(201);
    a = await adminPut(admin, userId, subscriptionOf(await device()));
    expectProblemReply(a, 409, "limit_reached");
    expect(errorPaths(a)).toEqual(["endpoint"]);
    expect(await storedEndpoints(admin, userId)).toHaveLength(10);

    a = await adminDelete(admin, userId, d.endpoint);
    expect(a.status, a.text).toBe(204);
    a = await adminDelete(admin, userId, d.endpoint);
    expect(a.status, a.text).toBe(204);
    expect(await storedEndpoints(admin, userId)).toHaveLength(9);

    // The one user's subscriptions only: the same endpoint for another user is separate.
    const other = uniqueUser("adm-other");
    expect((await adminPut(admin, other, subscriptionOf(d))).status).toBe(201);
    expect(await storedEndpoints(admin, other)).toEqual([d.endpoint]);
    expect(await storedEndpoints(admin, userId)).not.toContain(d.endpoint);

    const writer = await createKey(admin.space, ["users:write"]);
    const reader = await createKey(admin.space, ["read"]);
    const as = (key: string, method: string, path: string, body?: unknown) =>
      call(`${ADMIN}${path}`, { method, key, space: admin.space.slug, body }).then(reply);
    const e = await device();
    expect((await as(writer.secret, "PUT", `${u(userId)}/push-subscriptions`, subscriptionOf(e))).status).toBe(201);
    expect((await as(writer.secret, "DELETE", `${u(userId)}/push-subscriptions?endpoint=${encodeURIComponent(e.endpoint)}`)).status).toBe(204);
    expectProblemReply(await as(reader.secret, "PUT", `${u(userId)}/push-subscriptions`, subscriptionOf(e)), 403, "insufficient_scope");
    expectProblemReply(await as(reader.secret, "DELETE", `${u(userId)}/push-subscriptions?endpoint=${encodeURIComponent(d.endpoint)}`), 403, "insufficient_scope");
  });

  it("subscribing (User API or Admin API) does not create the user and touches no loyalty state", async () => {
    const admin = await pushProgramme();
    const viaMe = uniqueUser("ghost-me");
    const viaAdmin = uniqueUser("ghost-admin");
    const token = await admin.token(viaMe);
    expect((await mePut(admin.space, token, subscriptionOf(await device()))).status).toBe(201);
    await subscribe(admin, viaAdmin, await device());
    for (const userId of [viaMe, viaAdmin]) {
      expectProblemReply(await admin.user(userId), 404, "not_found");
      expect(await admin.stub(userId).getState()).toBeNull();
      expect(await admin.stub(userId).outboxSize()).toBe(0);
      expect(await storedEndpoints(admin, userId)).toHaveLength(1);
    }
    const list = await admin.get(`/users?q=ghost-`);
    expect(list.status, list.text).toBe(200);
    expect(list.body.data).toEqual([]);
    const mine = await meGet(admin.space, token, "/metrics");
    expect(mine.status).toBe(200);
    expect(mine.body.data).toEqual([{ metric: "points", name: "Points", kind: "currency", balance: 0, lifetime: 0 }]);
    expect((await meGet(admin.space, token, "/activity")).body.data).toEqual([]);
    // Removing is just as quiet.
    expect((await adminDelete(admin, viaAdmin, "https://fcm.googleapis.com/fcm/send/none")).status).toBe(204);
    expectProblemReply(await admin.user(viaAdmin), 404, "not_found");
  });
});

describe("when nothing is pushed", () => {
  it("a silent event sends no push", async () => {
    const admin = await pushProgramme();
    const userId = uniqueUser("silent");
    const d = await device();
    await subscribe(admin, userId, d);
    const outcome = await admin.apply({ id: "quiet", userId, type: "order", data: { order: "q", amount: 1 }, silent: true });
    expect(pushEffect(outcome)).toEqual({ type: "push.send", campaign: "order-push", step: "order", status: "skipped", reason: "silent" });
    expect(await admin.stub(userId).outboxSize()).toBe(0);
    // A loud event afterwards is the barrier: the silent one would have come before it.
    await admin.apply({ id: "loud", userId, type: "order", data: { order: "l", amount: 1 } });
    await waitFor([d], 1);
    await sleep(1000);
    const got = to(d);
    expect(got).toHaveLength(1);
    expect((await decrypt(d, got[0]!.body)).json.eventId).toBe("loud");
    expect((await pushDeliveries(admin.space.id)).map((r) => r.eventId)).toEqual(["loud"]);
  });

  it("a user without subscriptions: nothing is fetched, the outbox empties and the push is not kept for later", async () => {
    const admin = await pushProgramme();
    const userId = uniqueUser("nosub");
    const before = captured.length;
    const outcome = await admin.apply({ id: "nobody", userId, type: "order", data: { order: "n", amount: 1 } });
    expect(pushEffect(outcome)).toEqual({ type: "push.send", campaign: "order-push", step: "order", status: "applied" });
    expect(await until(() => admin.stub(userId).outboxSize(), (n) => n === 0)).toBe(0);
    await sleep(1500);
    expect(await admin.stub(userId).outboxSize()).toBe(0);
    expect(await pushDeliveries(admin.space.id)).toEqual([]);
    expect(captured.slice(before)).toEqual([]);

    // Subscribing now does not bring the old push back: the next event's push is the only one.
    const d = await device();
    await subscribe(admin, userId, d);
    await admin.apply({ id: "somebody", userId, type: "order", data: { order: "s", amount: 1 } });
    await waitFor([d], 1);
    await sleep(1000);
    expect(to(d)).toHaveLength(1);
    expect((await decrypt(d, to(d)[0]!.body)).json.eventId).toBe("somebody");
  });
});

describe("GET /me/push-config and revoked tokens", () => {
  it("works for a user never seen (200, the space's key and hosts) and does not create the user", async () => {
    const admin = await freshAdmin();
    const userId = uniqueUser("never");
    const token = await admin.token(userId);
    const a = await meGet(admin.space, token, "/push-config");
    expect(a.status, a.text).toBe(200);
    expect(Object.keys(a.body).sort()).toEqual(["allowedHosts", "vapidPublicKey"]);
    expect(a.body.allowedHosts).toEqual(DEFAULT_PUSH_HOSTS);
    expect(a.body.vapidPublicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    const raw = fromB64u(a.body.vapidPublicKey);
    expect(raw.byteLength).toBe(65);
    expect(raw[0]).toBe(4);
    // A browser can subscribe with it: a valid P-256 point.
    await crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    expect(a.headers.get("cache-control")).toBe("private, no-store");
    expectProblemReply(await admin.user(userId), 404, "not_found");
    expect(await admin.stub(userId).getState()).toBeNull();
    expect((await meGet(admin.space, token, "/push-config")).body.vapidPublicKey).toBe(a.body.vapidPublicKey);

    // No token, a garbage token: 401.
    const none = await reply(await call(`${ME}/push-config`, { key: null, space: admin.space.slug }));
    expect(none.status).toBe(401);
    expect((await meGet(admin.space, "not.a.jwt", "/push-config")).status).toBe(401);
    // An admin key is not a user token.
    expect((await reply(await call(`${ME}/push-config`, { space: admin.space.slug }))).status).toBe(401);
  });

  it("a token from before the user's erasure is 401 token_revoked on push-config and both subscription routes; the erasure removed the subscriptions", async () => {
    const admin = await pushProgramme();
    const userId = uniqueUser("erased");
    const old = await admin.token(userId);
    const d = await device();
    expect((await mePut(admin.space, old, subscriptionOf(d))).status).toBe(201);
    await admin.apply({ id: "pre", userId, type: "order", data: { order: "p", amount: 1 } });
    await waitFor([d], 1);

    expect((await admin.deleteUser(userId)).status).toBe(204);
    expect(await storedEndpoints(admin, userId)).toEqual([]);
    for (const a of [
      await meGet(admin.space, old, "/push-config"),
      await mePut(admin.space, old, subscriptionOf(await device())),
      await meDelete(admin.space, old, d.endpoint),
    ]) {
      expectProblemReply(a, 401, "token_revoked");
    }
    expect(await storedEndpoints(admin, userId)).toEqual([]);

    // The user comes back (a new event): nothing goes to the erased subscription.
    await admin.apply({ id: "post", userId, type: "order", data: { order: "q", amount: 1 } });
    expect(await until(() => admin.stub(userId).outboxSize(), (n) => n === 0)).toBe(0);
    await sleep(1500);
    expect(to(d)).toHaveLength(1);

    await sleep(1100); // iat has second granularity
    const fresh = await admin.token(userId);
    expect((await meGet(admin.space, fresh, "/push-config")).status).toBe(200);
  });
});

describe("payload size", () => {
  it("a 6 KB body is cut so the encrypted message fits 4096 bytes; the title, url and eventId are kept", async () => {
    const admin = await pushProgramme({}, { title: "Your order {{event.data.order}}", body: "{{event.data.text}}", data: null });
    const userId = uniqueUser("long");
    const d = await device();
    await subscribe(admin, userId, d);
    const text = Array.from({ length: 6000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    await admin.apply({ id: "long-1", userId, type: "order", data: { order: "L-1", text, amount: 1 } });
    const [got] = await waitFor([d], 1);
    expect(got!.body.byteLength).toBeLessThanOrEqual(4096);
    const plain = await decrypt(d, got!.body);
    expect(plain.json.title).toBe("Your order L-1");
    expect(plain.json.url).toBe("https://shop.example/orders/L-1");
    expect(plain.json.eventId).toBe("long-1");
    expect(plain.json.body.length).toBeGreaterThan(3000);
    expect(plain.json.body.length).toBeLessThan(text.length);
    expect(text.startsWith(plain.json.body)).toBe(true);
  });

  it("a body of multi-byte characters is cut on a character boundary and fits", async () => {
    const admin = await pushProgramme({}, { title: "Grüße 🎉", body: "{{event.data.text}}", data: null });
    const userId = uniqueUser("utf8");
    const d = await device();
    await subscribe(admin, userId, d);
    const text = "€🎉é".repeat(800); // 3 + 4 + 2 bytes, 7200 bytes in all
    await admin.apply({ id: "utf8-1", userId, type: "order", data: { order: "U", text, amount: 1 } });
    const [got] = await waitFor([d], 1);
    expect(got!.body.byteLength).toBeLessThanOrEqual(4096);
    const plain = await decrypt(d, got!.body);
    expect(plain.json.title).toBe("Grüße 🎉");
    expect(plain.json.body.length).toBeGreaterThan(0);
    expect(text.startsWith(plain.json.body)).toBe(true);
    // No half of a surrogate pair left at the cut.
    expect(/[\uD800-\uDBFF]$/.test(plain.json.body), "ends in a lone high surrogate").toBe(false);
  });

  it("large data is dropped before the body is cut", async () => {
    const admin = await pushProgramme({}, { title: "Data", body: "short body", data: { blob: "{{event.data.blob}}" } });
    const userId = uniqueUser("data");
    const d = await device();
    await subscribe(admin, userId, d);
    await admin.apply({ id: "data-1", userId, type: "order", data: { order: "D", blob: "x".repeat(5000), amount: 1 } });
    const [got] = await waitFor([d], 1);
    expect(got!.body.byteLength).toBeLessThanOrEqual(4096);
    expect((await decrypt(d, got!.body)).json).toEqual({ title: "Data", body: "short body", url: "https://shop.example/orders/D", data: null, eventId: "data-1" });
  });

  it("a title rendered longer than a push message can hold still yields a message within 4096 bytes", async () => {
    const admin = await pushProgramme({}, { title: "{{event.data.headline}}", body: "b", data: null });
    const userId = uniqueUser("headline");
    const d = await device();
    await subscribe(admin, userId, d);
    const headline = "H".repeat(5000);
    await admin.apply({ id: "headline-1", userId, type: "order", data: { order: "T", headline, amount: 1 } });
    const [got] = await waitFor([d], 1);
    expect(got!.body.byteLength, "RFC 8030/8291: a push message is at most 4096 bytes").toBeLessThanOrEqual(4096);
    const plain = await decrypt(d, got!.body);
    expect(headline.startsWith(plain.json.title)).toBe(true);
    expect(plain.json.eventId).toBe("headline-1");
  });
});

