import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runQueue, type QueueResult } from "../helpers/queue";
import { deliveryIdOf } from "../../src/outbound/delivery-log";
import { MAX_QUEUE_DELAY_SECONDS, RETRY_SCHEDULE_SECONDS, retryDelaySeconds, verdictOf } from "../../src/outbound/schedule";
import { errorPaths, expectProblemReply, freshAdmin, uniqueUser, type Admin } from "../helpers/users-api";

// Webhook delivery (SPEC §8.1, §8.3, §6 webhook.send): Standard Webhooks signatures and
// rotation, the retry schedule and its verdicts, the URL policy on write and on send, the
// delivery log routes, replay and erasure. The worker's outbound fetch is intercepted with
// a spy on globalThis.fetch (the queue consumer runs in this isolate). Retry decisions are
// driven deterministically through the Worker's real `queue` export with batches built by
// the pool; a few tests let the real `loyalty-deliveries` consumer run end to end.

vi.setConfig({ testTimeout: 60_000 });

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

// ---------------------------------------------------------------------------------------
// Helpers

/** Polls `probe` until `done` or the deadline; the caller asserts on what it answers. */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 25_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: string;
}

type Responder = (seen: Seen, n: number) => Response | Promise<Response>;

let hostSerial = 0;
/** A URL prefix unique to one test, so late deliveries of other tests never count. */
function uniquePrefix(): string {
  return `https://hooks.example.com/t${Date.now().toString(36)}-${++hostSerial}/`;
}

/**
 * Intercepts the worker's outbound fetch for URLs under `prefix`: records each request and
 * answers with `respond` (which may throw, as a network error would). Anything else goes
 * to the real fetch.
 */
function intercept(prefix: string, respond: Responder = () => new Response("ok", { status: 200 })): Seen[] {
  const seen: Seen[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (!request.url.startsWith(prefix)) return real(input as RequestInfo, init);
    const s: Seen = { url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() };
    seen.push(s);
    return respond(s, seen.length);
  });
  return seen;
}

const encoder = new TextEncoder();

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** Verifies one `v1,<base64>` signature with WebCrypto, independently of src/outbound/signing.ts. */
async function verifies(secret: string, signature: string, seen: Seen): Promise<boolean> {
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
  expect(signature).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
  const keyBytes = fromBase64(secret.slice("whsec_".length));
  expect(keyBytes.byteLength).toBe(32);
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signed = `${seen.headers["webhook-id"]}.${seen.headers["webhook-timestamp"]}.${seen.body}`;
  return crypto.subtle.verify("HMAC", key, fromBase64(signature.slice("v1,".length)), encoder.encode(signed));
}

const signaturesOf = (seen: Seen): string[] => seen.headers["webhook-signature"]!.split(" ");

interface WebhookMessage {
  webhook: string;
  userId: string;
  eventId: string;
  type: string;
  occurredAt: string;
  data: unknown;
  seq?: number;
}

let messageSerial = 0;
/** A delivery message as the user's outbox sends it (src/user/user-state.ts). */
function deliveryEnvelope(admin: Admin, m: WebhookMessage) {
  const message = { kind: "webhook", webhook: m.webhook, eventId: m.eventId, type: m.type, occurredAt: m.occurredAt, data: m.data, ...(m.seq ? { seq: m.seq } : {}) };
  return { v: 1, type: "delivery", key: `${m.eventId}:${m.webhook}:${++messageSerial}`, body: { spaceId: admin.space.id, userId: m.userId, message } };
}

let eventSerial = 0;
/** A derived-event style message for endpoint `webhook` with a fresh event id. */
function messageFor(webhook: string, extra: Partial<WebhookMessage> = {}): WebhookMessage {
  return {
    webhook,
    userId: "u1",
    eventId: `evt-${Date.now().toString(36)}-${++eventSerial}#1`,
    type: "loyalty.metric.changed",
    occurredAt: "2026-01-15T10:00:00.000Z",
    data: { metric: "points", delta: 5, balance: 5, previousBalance: 0, lifetime: 5, previousLifetime: 0, reason: "test" },
    ...extra,
  };
}

/** The webhook-id (and delivery id) of a message: SPEC §8.1, derived from space, user, event and endpoint. */
function idOf(admin: Admin, m: WebhookMessage): Promise<string> {
  return deliveryIdOf(admin.space.id, m.userId, { kind: "webhook", ...m });
}

/** Delivers one message through the queue handler on `loyalty-deliveries`. */
async function deliverOnce(admin: Admin, m: WebhookMessage, attempts = 1): Promise<QueueResult> {
  return runQueue("loyalty-deliveries", [{ body: deliveryEnvelope(admin, m), attempts }]);
}

function expectAckedOnly(result: QueueResult): void {
  expect(result.outcome).toBe("ok");
  expect(result.retryBatch.retry).toBe(false);
  expect(result.explicitAcks).toHaveLength(1);
  expect(result.retryMessages).toEqual([]);
}

/** The one message of a batch was retried; answers its delay. */
function retriedDelay(result: QueueResult): number {
  expect(result.outcome).toBe("ok");
  expect(result.explicitAcks).toEqual([]);
  expect(result.retryMessages).toHaveLength(1);
  const delay = result.retryMessages[0]!.delaySeconds;
  expect(delay).toBeTypeOf("number");
  return delay!;
}

/** A space with one endpoint `crm` at `${prefix}in`. */
async function spaceWithEndpoint(prefix: string, body: Record<string, unknown> = {}): Promise<{ admin: Admin; secret: string; url: string }> {
  const admin = await freshAdmin();
  const url = `${prefix}in`;
  const hook = await admin.define("webhooks", "crm", { url, events: ["loyalty.metric.changed"], ...body });
  expect(hook.secret).toMatch(/^whsec_/);
  return { admin, secret: hook.secret, url };
}

/**
 * GET one delivery. Its `attempts` is the list of attempts (the list view's count is
 * replaced by it); for terse assertions the list moves to `attemptList` and `attempts`
 * becomes its length.
 */
async function deliveryOf(admin: Admin, webhook: string, id: string) {
  const a = await admin.get(`/webhooks/${webhook}/deliveries/${id}`);
  if (a.status === 200) {
    expect(Array.isArray(a.body.attempts), a.text).toBe(true);
    a.body = { ...a.body, attemptList: a.body.attempts, attempts: a.body.attempts.length };
  }
  return a;
}

/** A campaign whose one step fires on every `eventType` event and applies `effects`. */
function onEvery(eventType: string, effects: unknown[]) {
  return { name: `On ${eventType}`, status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "Each", trigger: { eventType }, effects }] };
}

const minuteAgo = () => new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString();

// ---------------------------------------------------------------------------------------

describe("signing (Standard Webhooks v1)", () => {
  it("a subscribed derived event is delivered signed, with the SPEC body; webhook-id is stable across retries", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix, (_s, n) => (n === 1 ? new Response("try again", { status: 500 }) : new Response("ok", { status: 200 })));
    const { admin, secret, url } = await spaceWithEndpoint(prefix);
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("campaigns", "earn", onEvery("buy", [{ type: "metric.add", metric: "points", amount: 5 }]));
    const userId = uniqueUser();
    const occurredAt = minuteAgo();
    await admin.apply({ id: "buy-1", userId, type: "buy", occurredAt });

    // First attempt, through the real deliveries queue: answered 500.
    await until(async () => seen.length, (n) => n >= 1);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    const first = seen[0]!;
    expect(first.url).toBe(url);
    expect(first.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(first.body);
    expect(Object.keys(body).sort()).toEqual(["data", "eventId", "id", "space", "timestamp", "type", "userId"]);
    expect(body).toEqual({
      id: first.headers["webhook-id"],
      type: "loyalty.metric.changed",
      timestamp: occurredAt,
      space: admin.space.id,
      userId,
      eventId: expect.stringMatching(/^buy-1#\d+$/),
      data: expect.objectContaining({ metric: "points", delta: 5, balance: 5, previousBalance: 0, lifetime: 5, previousLifetime: 0 }),
    });
    expect(body.id).toBe(await deliveryIdOf(admin.space.id, userId, { kind: "webhook", eventId: body.eventId, webhook: "crm", type: "loyalty.metric.changed" }));
    expect(body.id).toMatch(/^msg_[0-9a-f]{32}$/);
    const timestamp = Number(first.headers["webhook-timestamp"]);
    expect(String(timestamp)).toBe(first.headers["webhook-timestamp"]);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(120);
    expect(signaturesOf(first)).toHaveLength(1);
    expect(await verifies(secret, signaturesOf(first)[0]!, first)).toBe(true);
    // A tampered body does not verify.
    expect(await verifies(secret, signaturesOf(first)[0]!, { ...first, body: first.body.replace('"delta":5', '"delta":6') })).toBe(false);

    const logged = await until(() => deliveryOf(admin, "crm", body.id), (a) => a.body?.attempts === 1);
    expect(logged.body).toMatchObject({ id: body.id, status: "pending", attempts: 1, lastStatusCode: 500, lastError: "try again" });

    // Redelivery of the same message (attempt 2) through the queue handler: same webhook-id and body.
    const message = { webhook: "crm", userId, eventId: body.eventId, type: body.type, occurredAt: body.timestamp, data: body.data };
    expectAckedOnly(await deliverOnce(admin, message, 2));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const second = seen[1]!;
    expect(second.headers["webhook-id"]).toBe(body.id);
    expect(second.body).toBe(first.body);
    expect(await verifies(secret, signaturesOf(second)[0]!, second)).toBe(true);

    // The real queue's own retry (≈ 5 s later) carries the same webhook-id too.
    const all = await until(async () => seen.length, (n) => n >= 3);
    expect(all).toBe(3);
    expect(seen.map((s) => s.headers["webhook-id"])).toEqual([body.id, body.id, body.id]);
    const done = await until(() => deliveryOf(admin, "crm", body.id), (a) => a.body?.attempts === 3);
    expect(done.body).toMatchObject({ status: "delivered", attempts: 3, lastStatusCode: 200, lastError: null });
    expect(done.body.attemptList.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 200, 200]);
  });
});

describe("secret rotation", () => {
  it("the old secret also signs for 24 hours; rotate-secret refuses Idempotency-Key", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin, secret: oldSecret } = await spaceWithEndpoint(prefix);

    const refused = await admin.at("POST", "/webhooks/crm/rotate-secret", undefined, { "Idempotency-Key": "rotate-1" });
    expectProblemReply(refused, 400, "idempotency_not_supported");

    // The refused request rotated nothing: one signature, the original secret.
    expectAckedOnly(await deliverOnce(admin, messageFor("crm")));
    expect(seen).toHaveLength(1);
    expect(signaturesOf(seen[0]!)).toHaveLength(1);
    expect(await verifies(oldSecret, signaturesOf(seen[0]!)[0]!, seen[0]!)).toBe(true);

    const before = Date.now();
    const rotated = await admin.at("POST", "/webhooks/crm/rotate-secret");
    expect(rotated.status, rotated.text).toBe(200);
    expect(Object.keys(rotated.body).sort()).toEqual(["previousSecretExpiresAt", "secret"]);
    const newSecret: string = rotated.body.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    const expiresAt = Date.parse(rotated.body.previousSecretExpiresAt);
    expect(rotated.body.previousSecretExpiresAt).toBe(new Date(expiresAt).toISOString());
    expect(expiresAt - before).toBeGreaterThanOrEqual(24 * 3_600_000 - 5_000);
    expect(expiresAt - before).toBeLessThanOrEqual(24 * 3_600_000 + 5_000);
    // The secret is not in the endpoint's representation.
    const endpoint = await admin.get("/webhooks/crm");
    expect(endpoint.text).not.toContain(newSecret.slice(6));

    expectAckedOnly(await deliverOnce(admin, messageFor("crm")));
    expect(seen).toHaveLength(2);
    const both = signaturesOf(seen[1]!);
    expect(both).toHaveLength(2);
    expect(seen[1]!.headers["webhook-signature"]).toMatch(/^v1,\S+ v1,\S+$/);
    // Newest first: one verifies with the new secret, the other with the old one.
    expect(await verifies(newSecret, both[0]!, seen[1]!)).toBe(true);
    expect(await verifies(oldSecret, both[0]!, seen[1]!)).toBe(false);
    expect(await verifies(oldSecret, both[1]!, seen[1]!)).toBe(true);
    expect(await verifies(newSecret, both[1]!, seen[1]!)).toBe(false);

    // 24 hours later the old secret no longer signs.
    vi.setSystemTime(expiresAt + 60_000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt + 60_000);
    expectAckedOnly(await deliverOnce(admin, messageFor("crm")));
    expect(seen).toHaveLength(3);
    expect(Number(seen[2]!.headers["webhook-timestamp"])).toBe(Math.floor((expiresAt + 60_000) / 1000));
    const one = signaturesOf(seen[2]!);
    expect(one).toHaveLength(1);
    expect(await verifies(newSecret, one[0]!, seen[2]!)).toBe(true);
  });

  it("rotate-secret of an unknown endpoint is 404", async () => {
    const admin = await freshAdmin();
    expectProblemReply(await admin.at("POST", "/webhooks/nope/rotate-secret"), 404, "not_found");
  });
});

describe("retry decisions (through the worker's queue handler)", () => {
  it.each([
    [1, 5],
    [2, 300],
    [3, 1800],
    [4, 7200],
    [7, 36_000],
  ])("a 500 at attempt %i is retried after ≈ %i s (±10 %%) and logged pending", async (attempts, base) => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix, () => new Response("boom", { status: 500 }));
    const { admin } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const delay = retriedDelay(await deliverOnce(admin, m, attempts));
    expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.9));
    expect(delay).toBeLessThanOrEqual(Math.ceil(base * 1.1));
    expect(seen).toHaveLength(1);
    const logged = await deliveryOf(admin, "crm", await idOf(admin, m));
    expect(logged.status, logged.text).toBe(200);
    expect(logged.body).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: 500, lastError: "boom" });
  });

  it("a network error (fetch throws) is retried and its text logged, with no status code", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix, () => {
      throw new TypeError("Network connection lost.");
    });
    const { admin } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const delay = retriedDelay(await deliverOnce(admin, m));
    expect(delay).toBeGreaterThanOrEqual(4);
    expect(delay).toBeLessThanOrEqual(6);
    expect(seen).toHaveLength(1);
    const logged = await deliveryOf(admin, "crm", await idOf(admin, m));
    expect(logged.body).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: null });
    expect(logged.body.lastError).toContain("Network connection lost.");
  });

  it("429 with Retry-After: 120 is retried after exactly 120 s", async () => {
    const prefix = uniquePrefix();
    intercept(prefix, () => new Response("slow down", { status: 429, headers: { "Retry-After": "120" } }));
    const { admin } = await spaceWithEndpoint(prefix);
    expect(retriedDelay(await deliverOnce(admin, messageFor("crm")))).toBe(120);
  });

  it("429 with a Retry-After over the queue's maximum is capped at 12 h", async () => {
    const prefix = uniquePrefix();
    intercept(prefix, () => new Response("later", { status: 429, headers: { "Retry-After": "999999" } }));
    const { admin } = await spaceWithEndpoint(prefix);
    expect(retriedDelay(await deliverOnce(admin, messageFor("crm")))).toBe(43_200);
  });

  it("503 with Retry-After as an HTTP date is retried at that date", async () => {
    const prefix = uniquePrefix();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 600_000);
    intercept(prefix, () => new Response("maintenance", { status: 503, headers: { "Retry-After": at.toUTCString() } }));
    const { admin } = await spaceWithEndpoint(prefix);
    const delay = retriedDelay(await deliverOnce(admin, messageFor("crm")));
    expect(delay).toBeGreaterThanOrEqual(590);
    expect(delay).toBeLessThanOrEqual(600);
  });

  it.each([301, 302, 307, 308])("a %i redirect is a failure: retried, the Location not fetched, the log says so", async (status) => {
    const prefix = uniquePrefix();
    const location = `${prefix}moved-elsewhere`;
    const seen = intercept(prefix, () => new Response(null, { status, headers: { Location: location } }));
    const { admin, url } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const delay = retriedDelay(await deliverOnce(admin, m));
    expect(delay).toBeGreaterThanOrEqual(4);
    expect(delay).toBeLessThanOrEqual(6);
    expect(seen.map((s) => s.url)).toEqual([url]);
    const logged = await deliveryOf(admin, "crm", await idOf(admin, m));
    expect(logged.body).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: status });
    expect(logged.body.lastError).toContain("redirect");
    expect(logged.body.lastError).toContain(location);
  });

  it("410 Gone acks, marks the delivery failed and disables the endpoint; later deliveries are skipped unfetched", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix, () => new Response("gone", { status: 410 }));
    const { admin } = await spaceWithEndpoint(prefix);
    const before = await admin.get("/webhooks/crm");
    expect(before.body.enabled).toBe(true);

    const m = messageFor("crm");
    expectAckedOnly(await deliverOnce(admin, m));
    expect(seen).toHaveLength(1);
    const endpoint = await admin.get("/webhooks/crm");
    expect(endpoint.status).toBe(200);
    expect(endpoint.body.enabled).toBe(false);
    expect(endpoint.body.version).toBe(before.body.version + 1);
    const gone = await deliveryOf(admin, "crm", await idOf(admin, m));
    expect(gone.body).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: 410, lastError: "gone" });

    const later = messageFor("crm");
    expectAckedOnly(await deliverOnce(admin, later));
    expect(seen).toHaveLength(1);
    const skipped = await deliveryOf(admin, "crm", await idOf(admin, later));
    expect(skipped.body).toMatchObject({ status: "skipped", attempts: 0, lastStatusCode: null, lastError: "the endpoint is disabled" });
    expect(skipped.body.attempts).toBe(0);
  });

  it("a failing attempt 8 is retried once more (into the DLQ); the DLQ's message marks the delivery failed", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const prefix = uniquePrefix();
    const seen = intercept(prefix, () => new Response("still down", { status: 500 }));
    const { admin } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const id = await idOf(admin, m);
    const envelope = deliveryEnvelope(admin, m);

    const last = await runQueue("loyalty-deliveries", [{ body: envelope, attempts: 8 }]);
    expect(retriedDelay(last)).toBe(1);
    expect(seen).toHaveLength(1);
    const pending = await deliveryOf(admin, "crm", id);
    expect(pending.body).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: 500 });

    const dead = await runQueue("loyalty-deliveries-dlq", [{ body: envelope, attempts: 1 }]);
    expectAckedOnly(dead);
    expect(seen).toHaveLength(1);
    const failed = await deliveryOf(admin, "crm", id);
    expect(failed.body).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: 500, lastError: "still down" });
  });

  it("a batch of deliveries to a slow and a fast endpoint: each decided on its own", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix, async (s) => {
      if (s.url.endsWith("/slow")) {
        await new Promise((r) => setTimeout(r, 300));
        return new Response("no", { status: 500 });
      }
      return new Response("ok", { status: 200 });
    });
    const admin = await freshAdmin();
    await admin.define("webhooks", "fast", { url: `${prefix}fast`, events: ["*"] });
    await admin.define("webhooks", "slow", { url: `${prefix}slow`, events: ["*"] });
    const fast = messageFor("fast");
    const slow = messageFor("slow");
    const result = await runQueue("loyalty-deliveries", [
      { id: "slow-1", body: deliveryEnvelope(admin, slow) },
      { id: "fast-1", body: deliveryEnvelope(admin, fast) },
    ]);
    expect(result.explicitAcks).toEqual(["fast-1"]);
    expect(result.retryMessages).toEqual([{ msgId: "slow-1", delaySeconds: 5 }]);
    expect(seen).toHaveLength(2);
    expect((await deliveryOf(admin, "fast", await idOf(admin, fast))).body.status).toBe("delivered");
    expect((await deliveryOf(admin, "slow", await idOf(admin, slow))).body.status).toBe("pending");
  });
});

describe("an endpoint failing continuously for 5 days (SPEC §8.1)", () => {
  it("is disabled by the first failure more than 5 days after its oldest undelivered message; a success in between resets the clock", async () => {
    const prefix = uniquePrefix();
    let healthy = false;
    intercept(prefix, () => new Response(healthy ? "ok" : "down", { status: healthy ? 200 : 500 }));
    const { admin } = await spaceWithEndpoint(prefix);
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
    retriedDelay(await deliverOnce(admin, messageFor("crm", { eventId: "e-old#1" })));
    // Four days on: failing, but not for five days yet.
    vi.setSystemTime(t0 + 4 * 86_400_000);
    retriedDelay(await deliverOnce(admin, messageFor("crm", { eventId: "e-4d#1" })));
    expect((await admin.get("/webhooks/crm")).body.enabled).toBe(true);
    // A success on day 4 resets the clock: day 6 is only two days into the new failures.
    healthy = true;
    expectAckedOnly(await deliverOnce(admin, messageFor("crm", { eventId: "e-ok#1" })));
    healthy = false;
    vi.setSystemTime(t0 + 4 * 86_400_000 + 1000);
    retriedDelay(await deliverOnce(admin, messageFor("crm", { eventId: "e-after#1" })));
    vi.setSystemTime(t0 + 6 * 86_400_000);
    retriedDelay(await deliverOnce(admin, messageFor("crm", { eventId: "e-6d#1" })));
    expect((await admin.get("/webhooks/crm")).body.enabled).toBe(true);
    // More than five days after the first failure since the success: disabled.
    vi.setSystemTime(t0 + 9 * 86_400_000 + 2000);
    await deliverOnce(admin, messageFor("crm", { eventId: "e-9d#1" }));
    expect((await admin.get("/webhooks/crm")).body.enabled).toBe(false);
  });
});

describe("schedule.ts (pure)", () => {
  it("the schedule is ≈ 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h", () => {
    expect(RETRY_SCHEDULE_SECONDS).toEqual([5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    expect(MAX_QUEUE_DELAY_SECONDS).toBe(43_200);
  });

  it.each([
    // attempt, random, expected
    [1, 0, 5],
    [1, 0.5, 5],
    [1, 0.999, 5],
    [2, 0, 270],
    [2, 0.5, 300],
    [2, 0.999999, 330],
    [3, 0, 1620],
    [3, 0.5, 1800],
    [3, 0.999999, 1980],
    [4, 0.5, 7200],
    [5, 0.5, 18_000],
    [6, 0, 32_400],
    [6, 0.999999, 39_600],
    [7, 0.5, 36_000],
  ])("retryDelaySeconds(%i, random=%d) = %i", (attempt, random, expected) => {
    expect(retryDelaySeconds(attempt, () => random)).toBe(expected);
  });

  it.each([0, 8, 9, 100])("retryDelaySeconds(%i) = null (no more attempts)", (attempt) => {
    expect(retryDelaySeconds(attempt, () => 0.5)).toBeNull();
  });

  it("retryDelaySeconds with Math.random stays within ±10 % for every attempt", () => {
    for (let attempt = 1; attempt <= 7; attempt++) {
      const base = RETRY_SCHEDULE_SECONDS[attempt - 1]!;
      for (let i = 0; i < 50; i++) {
        const d = retryDelaySeconds(attempt)!;
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.9));
        expect(d).toBeLessThanOrEqual(Math.ceil(base * 1.1));
      }
    }
  });

  it("a custom schedule (DELIVERY_RETRY_SCHEDULE) replaces the default, with the same jitter and end", () => {
    expect(retryDelaySeconds(1, () => 0.5, [2, 10])).toBe(2);
    expect(retryDelaySeconds(2, () => 0, [2, 10])).toBe(9);
    expect(retryDelaySeconds(3, () => 0.5, [2, 10])).toBeNull();
    expect(retryDelaySeconds(1, () => 0, [1])).toBe(1);
    expect(verdictOf(500, null, 2, { schedule: [2, 10], random: () => 0.5 })).toEqual({ kind: "retry", delaySeconds: 10 });
    expect(verdictOf(500, null, 3, { schedule: [2, 10], random: () => 0.5 })).toEqual({ kind: "exhausted" });
    expect(verdictOf(429, "120", 1, { schedule: [2, 10], random: () => 0.5 })).toEqual({ kind: "retry", delaySeconds: 120 });
  });

  const NOW = Date.parse("2026-03-01T12:00:00.000Z");
  const half = () => 0.5;
  it.each<[string, number | null, string | null, number, { goneStatuses?: number[] }, unknown]>([
    ["200", 200, null, 1, {}, { kind: "delivered" }],
    ["204", 204, null, 3, {}, { kind: "delivered" }],
    ["299", 299, null, 8, {}, { kind: "delivered" }],
    ["2xx even after the last attempt", 202, null, 9, {}, { kind: "delivered" }],
    ["410", 410, null, 1, {}, { kind: "gone" }],
    ["410 at the last attempt", 410, null, 8, {}, { kind: "gone" }],
    ["404 is not gone for webhooks", 404, null, 1, {}, { kind: "retry", delaySeconds: 5 }],
    ["404 is gone for pushes", 404, null, 1, { goneStatuses: [404, 410] }, { kind: "gone" }],
    ["500", 500, null, 1, {}, { kind: "retry", delaySeconds: 5 }],
    ["500 attempt 2", 500, null, 2, {}, { kind: "retry", delaySeconds: 300 }],
    ["500 ignores Retry-After", 500, "120", 1, {}, { kind: "retry", delaySeconds: 5 }],
    ["no answer", null, null, 3, {}, { kind: "retry", delaySeconds: 1800 }],
    ["301", 301, null, 1, {}, { kind: "retry", delaySeconds: 5 }],
    ["302", 302, null, 2, {}, { kind: "retry", delaySeconds: 300 }],
    ["400", 400, null, 1, {}, { kind: "retry", delaySeconds: 5 }],
    ["429 Retry-After seconds", 429, "120", 1, {}, { kind: "retry", delaySeconds: 120 }],
    ["429 Retry-After with spaces", 429, " 60 ", 4, {}, { kind: "retry", delaySeconds: 60 }],
    ["429 Retry-After capped", 429, "100000", 1, {}, { kind: "retry", delaySeconds: 43_200 }],
    ["429 Retry-After 0 is at least 1 s", 429, "0", 1, {}, { kind: "retry", delaySeconds: 1 }],
    ["429 without Retry-After", 429, null, 3, {}, { kind: "retry", delaySeconds: 1800 }],
    ["429 unparseable Retry-After", 429, "soon", 2, {}, { kind: "retry", delaySeconds: 300 }],
    ["503 Retry-After HTTP date", 503, "Sun, 01 Mar 2026 12:10:00 GMT", 1, {}, { kind: "retry", delaySeconds: 600 }],
    ["503 Retry-After date in the past", 503, "Sun, 01 Mar 2026 11:00:00 GMT", 1, {}, { kind: "retry", delaySeconds: 1 }],
    ["503 Retry-After date beyond 12 h", 503, "Tue, 03 Mar 2026 12:00:00 GMT", 1, {}, { kind: "retry", delaySeconds: 43_200 }],
    ["500 at attempt 8", 500, null, 8, {}, { kind: "exhausted" }],
    ["no answer at attempt 8", null, null, 8, {}, { kind: "exhausted" }],
    ["429 at attempt 8", 429, "120", 8, {}, { kind: "exhausted" }],
  ])("verdictOf: %s", (_name, status, retryAfter, attempt, options, expected) => {
    expect(verdictOf(status, retryAfter, attempt, { ...options, now: NOW, random: half })).toEqual(expected);
  });
});

describe("outbound URL policy (SSRF)", () => {
  it.each([
    "http://127.0.0.1/hook",
    "http://hooks.example.com/hook",
    "https://10.0.0.1/hook",
    "https://192.168.1.10/hook",
    "https://172.16.0.1/hook",
    "https://localhost/hook",
    "https://api.localhost/hook",
    "https://crm.internal/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://2130706433/hook",
    "https://0x7f.1/hook",
    "ftp://hooks.example.com/hook",
  ])("an endpoint at %s is refused on create, with the error at `url`", async (url) => {
    const admin = await freshAdmin();
    const created = await admin.at("POST", "/webhooks", { url, events: ["*"] });
    expect(created.status, created.text).toBe(422);
    expectProblemReply(created, 422, "invalid_definition");
    expect(errorPaths(created)).toEqual(["url"]);
    const list = await admin.get("/webhooks");
    expect(list.body.data).toEqual([]);
  });

  it("a public https endpoint is accepted; it cannot be moved to a private URL later", async () => {
    const admin = await freshAdmin();
    const created = await admin.at("POST", "/webhooks", { url: "https://hooks.example.com/ok", events: ["*"] });
    expect(created.status, created.text).toBe(201);
    const id: string = created.body.id;
    expect(id).toMatch(/^whk_/);
    expect(created.body.secret).toMatch(/^whsec_/);
    for (const url of ["https://127.0.0.1/x", "http://hooks.example.com/x", "https://metadata.google.internal/x"]) {
      const patched = await admin.at("PATCH", `/webhooks/${id}`, { url });
      expectProblemReply(patched, 422, "invalid_definition");
      expect(errorPaths(patched)).toEqual(["url"]);
      const replaced = await admin.at("PUT", `/webhooks/${id}`, { url, events: ["*"] });
      expectProblemReply(replaced, 422, "invalid_definition");
    }
    expect((await admin.get(`/webhooks/${id}`)).body.url).toBe("https://hooks.example.com/ok");
  });

  it("POST /webhooks refuses an Idempotency-Key (it answers a secret)", async () => {
    const admin = await freshAdmin();
    const a = await admin.at("POST", "/webhooks", { url: "https://hooks.example.com/ok", events: ["*"] }, { "Idempotency-Key": "k-1" });
    expectProblemReply(a, 400, "idempotency_not_supported");
  });

  it("a delivery for a disabled endpoint is logged skipped and nothing is fetched", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix);
    const patched = await admin.at("PATCH", "/webhooks/crm", { enabled: false });
    expect(patched.status, patched.text).toBe(200);
    const m = messageFor("crm");
    expectAckedOnly(await deliverOnce(admin, m));
    expect(seen).toHaveLength(0);
    const logged = await deliveryOf(admin, "crm", await idOf(admin, m));
    expect(logged.body).toMatchObject({ status: "skipped", attempts: 0, lastError: "the endpoint is disabled" });
    expect(logged.body.attempts).toBe(0);
    const list = await admin.get("/webhooks/crm/deliveries?status=skipped");
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([await idOf(admin, m)]);
  });

  it("a delivery for a deleted endpoint is logged skipped and nothing is fetched", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix);
    const deleted = await admin.at("DELETE", "/webhooks/crm");
    expect(deleted.status, deleted.text).toBe(204);
    const m = messageFor("crm");
    expectAckedOnly(await deliverOnce(admin, m));
    expect(seen).toHaveLength(0);
    const row = await env.DB.prepare("SELECT status, attempts, last_error FROM deliveries WHERE id = ?").bind(await idOf(admin, m)).first();
    expect(row).toEqual({ status: "skipped", attempts: 0, last_error: "the endpoint was deleted" });
  });

  it("a delivery for an unknown space is acked and nothing is fetched", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix);
    const envelope = deliveryEnvelope(admin, messageFor("crm"));
    const result = await runQueue("loyalty-deliveries", [{ body: { ...envelope, body: { ...envelope.body, spaceId: "spc_does_not_exist" } } }]);
    expectAckedOnly(result);
    expect(seen).toHaveLength(0);
  });
});

describe("delivery log routes", () => {
  it("lists newest first, filters by status, pages with a cursor bound to the list", async () => {
    const prefix = uniquePrefix();
    // Even n (in the payload) delivered, odd n failing with 500.
    const seen = intercept(prefix, (s) => new Response(JSON.parse(s.body).data.n % 2 === 0 ? "ok" : "no", { status: JSON.parse(s.body).data.n % 2 === 0 ? 200 : 500 }));
    const { admin } = await spaceWithEndpoint(prefix);
    const base = Date.now() - 600_000;
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      vi.setSystemTime(base + n * 1000);
      const m = messageFor("crm", { data: { n } });
      ids.push(await idOf(admin, m));
      await deliverOnce(admin, m);
    }
    vi.useRealTimers();
    expect(seen).toHaveLength(5);
    const newestFirst = [...ids].reverse();

    const all = await admin.get("/webhooks/crm/deliveries");
    expect(all.status).toBe(200);
    expect(all.body.data.map((d: { id: string }) => d.id)).toEqual(newestFirst);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.data[0]).toEqual({
      id: ids[4],
      kind: "webhook",
      endpoint: "crm",
      userId: "u1",
      eventType: "loyalty.metric.changed",
      status: "delivered",
      attempts: 1,
      lastStatusCode: 200,
      lastError: null,
      lastLatencyMs: expect.any(Number),
      createdAt: new Date(base + 4000).toISOString(),
      updatedAt: new Date(base + 4000).toISOString(),
    });

    // Pages of 2 following nextCursor.
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page = await admin.get(`/webhooks/crm/deliveries?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status, page.text).toBe(200);
      pages.push(page.body.data.map((d: { id: string }) => d.id));
      cursor = page.body.nextCursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);

    const delivered = await admin.get("/webhooks/crm/deliveries?status=delivered");
    expect(delivered.body.data.map((d: { id: string }) => d.id)).toEqual([ids[4], ids[2], ids[0]]);
    const pending = await admin.get("/webhooks/crm/deliveries?status=pending");
    expect(pending.body.data.map((d: { id: string }) => d.id)).toEqual([ids[3], ids[1]]);
    expect(pending.body.data.every((d: { lastStatusCode: number }) => d.lastStatusCode === 500)).toBe(true);
    expect((await admin.get("/webhooks/crm/deliveries?status=failed")).body).toEqual({ data: [], nextCursor: null });
    expectProblemReply(await admin.get("/webhooks/crm/deliveries?status=bogus"), 400, "invalid_request");

    // Filtered and paged.
    const firstDelivered = await admin.get("/webhooks/crm/deliveries?status=delivered&limit=2");
    expect(firstDelivered.body.data.map((d: { id: string }) => d.id)).toEqual([ids[4], ids[2]]);
    const next = await admin.get(`/webhooks/crm/deliveries?status=delivered&limit=2&cursor=${encodeURIComponent(firstDelivered.body.nextCursor)}`);
    expect(next.body).toMatchObject({ data: [{ id: ids[0] }], nextCursor: null });
    // A cursor of another list (another status filter) is refused.
    expectProblemReply(await admin.get(`/webhooks/crm/deliveries?cursor=${encodeURIComponent(firstDelivered.body.nextCursor)}`), 400, "invalid_cursor");

    // Another space: its own endpoint id does not see these, an unknown endpoint is 404.
    const other = await freshAdmin();
    expectProblemReply(await other.get("/webhooks/crm/deliveries"), 404, "not_found");
    await other.define("webhooks", "crm", { url: `${prefix}other`, events: ["*"] });
    expect((await other.get("/webhooks/crm/deliveries")).body).toEqual({ data: [], nextCursor: null });
    expectProblemReply(await other.get(`/webhooks/crm/deliveries/${ids[0]}`), 404, "not_found");
    expectProblemReply(await other.at("POST", `/webhooks/crm/deliveries/${ids[0]}/retry`), 404, "not_found");
    expectProblemReply(await other.get(`/webhooks/crm/deliveries?cursor=${encodeURIComponent(firstDelivered.body.nextCursor)}&status=delivered`), 400, "invalid_cursor");
  });

  it("GET one delivery shows its attempts; a 5 KB error body is cut to 1024 characters", async () => {
    const prefix = uniquePrefix();
    const errorBody = Array.from({ length: 5 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    intercept(prefix, (_s, n) => (n === 1 ? new Response(errorBody, { status: 502 }) : new Response("ok", { status: 200 })));
    const { admin } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const id = await idOf(admin, m);
    retriedDelay(await deliverOnce(admin, m, 1));
    const afterFirst = await deliveryOf(admin, "crm", id);
    expect(afterFirst.body).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: 502, lastError: errorBody.slice(0, 1024) });
    expect(afterFirst.body.lastError).toHaveLength(1024);
    expectAckedOnly(await deliverOnce(admin, m, 2));

    const one = await deliveryOf(admin, "crm", id);
    expect(one.status, one.text).toBe(200);
    expect(one.body).toMatchObject({ id, kind: "webhook", endpoint: "crm", userId: "u1", eventType: "loyalty.metric.changed", status: "delivered", attempts: 2, lastStatusCode: 200, lastError: null });
    expect(one.body.attemptList).toEqual([
      { attempt: 1, at: expect.any(String), statusCode: 502, latencyMs: expect.any(Number), error: errorBody.slice(0, 1024) },
      { attempt: 2, at: expect.any(String), statusCode: 200, latencyMs: expect.any(Number), error: null },
    ]);
    const list = await admin.get("/webhooks/crm/deliveries");
    expect(list.body.data).toMatchObject([{ id, status: "delivered", attempts: 2 }]);
  });

  it("GET one delivery lists each attempt with status code, latency and error", async () => {
    const prefix = uniquePrefix();
    const errorBody = "x".repeat(3000) + "y".repeat(2120);
    intercept(prefix, (_s, n) => (n === 1 ? new Response(errorBody, { status: 502 }) : n === 2 ? Promise.reject(new TypeError("connection reset")) : new Response("ok", { status: 201 })));
    const { admin } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const id = await idOf(admin, m);
    retriedDelay(await deliverOnce(admin, m, 1));
    retriedDelay(await deliverOnce(admin, m, 2));
    expectAckedOnly(await deliverOnce(admin, m, 3));
    const one = await deliveryOf(admin, "crm", id);
    expect(one.status, one.text).toBe(200);
    const list = one.body.attemptList;
    expect(list).toHaveLength(3);
    expect(list.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2, 3]);
    expect(list.map((a: { statusCode: number | null }) => a.statusCode)).toEqual([502, null, 201]);
    expect(list[0].error).toBe("x".repeat(1024));
    expect(list[0].error).toHaveLength(1024);
    expect(list[1].error).toContain("connection reset");
    expect(list[2].error).toBeNull();
    for (const a of list) {
      expect(a.latencyMs).toBeTypeOf("number");
      expect(a.latencyMs).toBeGreaterThanOrEqual(0);
      expect(new Date(a.at).toISOString()).toBe(a.at);
    }
  });

  it("POST retry re-delivers with the same webhook-id and the status becomes delivered", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const prefix = uniquePrefix();
    let healthy = false;
    const seen = intercept(prefix, () => (healthy ? new Response("ok", { status: 200 }) : new Response("down", { status: 500 })));
    const { admin, secret } = await spaceWithEndpoint(prefix);
    const m = messageFor("crm");
    const id = await idOf(admin, m);
    const envelope = deliveryEnvelope(admin, m);
    expect(retriedDelay(await runQueue("loyalty-deliveries", [{ body: envelope, attempts: 8 }]))).toBe(1);
    expectAckedOnly(await runQueue("loyalty-deliveries-dlq", [{ body: envelope }]));
    expect((await deliveryOf(admin, "crm", id)).body.status).toBe("failed");
    expect(seen).toHaveLength(1);

    healthy = true;
    const retried = await admin.at("POST", `/webhooks/crm/deliveries/${id}/retry`);
    expect(retried.status, retried.text).toBe(202);
    expect(retried.body).toEqual({ id, status: "pending" });

    // The real deliveries queue takes it from here.
    await until(async () => seen.length, (n) => n >= 2);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.headers["webhook-id"]).toBe(id);
    expect(seen[1]!.body).toBe(seen[0]!.body);
    expect(await verifies(secret, signaturesOf(seen[1]!)[0]!, seen[1]!)).toBe(true);
    const done = await until(() => deliveryOf(admin, "crm", id), (a) => a.body?.status === "delivered");
    expect(done.body).toMatchObject({ status: "delivered", attempts: 2, lastStatusCode: 200, lastError: null });
  });

  it("a delivery skipped for a disabled endpoint is replayed once the endpoint is enabled again", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix, { enabled: false });
    const m = messageFor("crm");
    const id = await idOf(admin, m);
    expectAckedOnly(await deliverOnce(admin, m));
    expect((await deliveryOf(admin, "crm", id)).body.status).toBe("skipped");
    expect((await admin.at("PATCH", "/webhooks/crm", { enabled: true })).status).toBe(200);
    expect((await admin.at("POST", `/webhooks/crm/deliveries/${id}/retry`)).status).toBe(202);
    await until(async () => seen.length, (n) => n >= 1);
    expect(seen.map((s) => s.headers["webhook-id"])).toEqual([id]);
    const done = await until(() => deliveryOf(admin, "crm", id), (a) => a.body?.status === "delivered");
    expect(done.body).toMatchObject({ status: "delivered", attempts: 1, lastStatusCode: 200 });
  });

  it("retry and GET of an unknown delivery, or one of another endpoint, are 404", async () => {
    const prefix = uniquePrefix();
    intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix);
    await admin.define("webhooks", "erp", { url: `${prefix}erp`, events: ["*"] });
    const m = messageFor("crm");
    const id = await idOf(admin, m);
    expectAckedOnly(await deliverOnce(admin, m));
    expectProblemReply(await admin.at("POST", "/webhooks/crm/deliveries/msg_00000000000000000000000000000000/retry"), 404, "not_found");
    expectProblemReply(await admin.get("/webhooks/crm/deliveries/msg_00000000000000000000000000000000"), 404, "not_found");
    expectProblemReply(await admin.at("POST", `/webhooks/erp/deliveries/${id}/retry`), 404, "not_found");
    expectProblemReply(await admin.get(`/webhooks/erp/deliveries/${id}`), 404, "not_found");
    expectProblemReply(await admin.get("/webhooks/nope/deliveries"), 404, "not_found");
  });
});

describe("webhook.send effect (SPEC §6)", () => {
  it("is delivered even though the endpoint's events do not list it, with the rendered payload", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin, secret, url } = await spaceWithEndpoint(prefix, { events: ["loyalty.segment.entered"] });
    await admin.define(
      "campaigns",
      "notify",
      onEvery("order", [{ type: "webhook.send", webhook: "crm", payload: { user: "{{user.id}}", total: "{{event.data.total}}", note: "order of {{event.data.total}}", fixed: [1, true] } }]),
    );
    const userId = uniqueUser();
    const occurredAt = minuteAgo();
    const outcome = await admin.apply({ id: "order-1", userId, type: "order", occurredAt, data: { total: 42.5 } });
    expect(outcome.effects).toEqual(expect.arrayContaining([expect.objectContaining({ type: "webhook.send", status: "applied", webhook: "crm" })]));

    await until(async () => seen.length, (n) => n >= 1);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe(url);
    const body = JSON.parse(seen[0]!.body);
    const id = await deliveryIdOf(admin.space.id, userId, { kind: "webhook", eventId: "order-1", webhook: "crm", type: "webhook.send" });
    expect(body).toEqual({
      id,
      type: "webhook.send",
      timestamp: occurredAt,
      space: admin.space.id,
      userId,
      eventId: "order-1",
      data: { user: userId, total: 42.5, note: "order of 42.5", fixed: [1, true] },
    });
    expect(seen[0]!.headers["webhook-id"]).toBe(id);
    expect(await verifies(secret, signaturesOf(seen[0]!)[0]!, seen[0]!)).toBe(true);
    const logged = await until(() => deliveryOf(admin, "crm", id), (a) => a.body?.status === "delivered");
    expect(logged.body).toMatchObject({ status: "delivered", eventType: "webhook.send", userId, attempts: 1 });
  });

  it("two webhook.send effects to one endpoint in one event get two different webhook-ids", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix, { events: ["loyalty.segment.entered"] });
    await admin.define(
      "campaigns",
      "notify-twice",
      onEvery("order", [
        { type: "webhook.send", webhook: "crm", payload: { n: 1 } },
        { type: "webhook.send", webhook: "crm", payload: { n: 2 } },
      ]),
    );
    const userId = uniqueUser();
    await admin.apply({ id: "order-2", userId, type: "order" });
    await until(async () => seen.length, (n) => n >= 2);
    // Nothing else (the campaign's own derived events are not subscribed).
    await until(() => admin.get("/webhooks/crm/deliveries?status=delivered"), (a) => a.body?.data?.length >= 2);
    expect(seen).toHaveLength(2);
    const bodies = seen.map((s) => JSON.parse(s.body)).sort((a, b) => a.data.n - b.data.n);
    expect(bodies.map((b) => b.data)).toEqual([{ n: 1 }, { n: 2 }]);
    const ids = await Promise.all([0, 1].map((seq) => deliveryIdOf(admin.space.id, userId, { kind: "webhook", eventId: "order-2", webhook: "crm", type: "webhook.send", seq })));
    expect(ids[0]).not.toBe(ids[1]);
    expect(bodies.map((b) => b.id)).toEqual(ids);
    expect(seen.map((s) => s.headers["webhook-id"]).sort()).toEqual([...ids].sort());
    const list = await admin.get("/webhooks/crm/deliveries");
    expect(list.body.data.map((d: { id: string }) => d.id).sort()).toEqual([...ids].sort());
    expect(list.body.data.every((d: { status: string }) => d.status === "delivered")).toBe(true);
  });

  it("two users' events with the same id (ids are unique per user) are two deliveries with two webhook-ids", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix, { events: ["loyalty.segment.entered"] });
    await admin.define("campaigns", "notify", onEvery("checkin", [{ type: "webhook.send", webhook: "crm", payload: { user: "{{user.id}}" } }]));
    const users = [uniqueUser(), uniqueUser()];
    for (const userId of users) await admin.apply({ id: "checkin-2026-11-26", userId, type: "checkin" });
    await until(() => admin.get("/webhooks/crm/deliveries?status=delivered"), (a) => a.body?.data?.length >= 2);
    expect(seen.map((s) => JSON.parse(s.body).data.user).sort()).toEqual([...users].sort());
    const ids = new Set(seen.map((s) => s.headers["webhook-id"]));
    expect(ids.size).toBe(2);
    const logged = (await admin.get("/webhooks/crm/deliveries")).body.data;
    expect(logged.map((d: { userId: string }) => d.userId).sort()).toEqual([...users].sort());
  });
});

describe("erasure (SPEC §7)", () => {
  it("erasing a user drops their delivery payloads: replay answers 409, the outcome stays", async () => {
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix);
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    const userId = uniqueUser();
    const other = uniqueUser();
    expect((await admin.adjust(userId, "points", { amount: 5, reason: "r" })).status).toBe(201);
    expect((await admin.adjust(other, "points", { amount: 7, reason: "r" })).status).toBe(201);
    const logged = await until(() => admin.get("/webhooks/crm/deliveries?status=delivered"), (a) => a.body?.data?.length >= 2);
    expect(logged.body.data).toHaveLength(2);
    expect(seen).toHaveLength(2);
    const mine = logged.body.data.find((d: { userId: string }) => d.userId === userId);
    const theirs = logged.body.data.find((d: { userId: string }) => d.userId === other);

    expect((await admin.deleteUser(userId)).status).toBe(204);
    const refused = await admin.at("POST", `/webhooks/crm/deliveries/${mine.id}/retry`);
    expectProblemReply(refused, 409, "conflict");
    const kept = await deliveryOf(admin, "crm", mine.id);
    expect(kept.body).toMatchObject({ id: mine.id, status: "delivered", userId, attempts: 1 });
    const row = await env.DB.prepare("SELECT message FROM deliveries WHERE id = ?").bind(mine.id).first<{ message: string | null }>();
    expect(row).toEqual({ message: null });

    // Another user's delivery can still be replayed.
    const replay = await admin.at("POST", `/webhooks/crm/deliveries/${theirs.id}/retry`);
    expect(replay.status, replay.text).toBe(202);
    await until(async () => seen.length, (n) => n >= 3);
    expect(seen.map((s) => s.headers["webhook-id"])).toEqual(expect.arrayContaining([theirs.id]));
    expect(seen[2]!.headers["webhook-id"]).toBe(theirs.id);
  });

  it("a delivery still in the queue when its user is erased is dropped: nothing sent, no payload stored again", async () => {
    // SPEC §7: erasure records a new generation, and "queued work of an older generation
    // is dropped". The outbox's delivery message for a user who is then erased can still be
    // (re)delivered by the queue (at least once); it must not send the erased user's data.
    const prefix = uniquePrefix();
    const seen = intercept(prefix);
    const { admin } = await spaceWithEndpoint(prefix);
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    const userId = uniqueUser();
    expect((await admin.adjust(userId, "points", { amount: 5, reason: "r" })).status).toBe(201);
    await until(async () => seen.length, (n) => n >= 1);
    expect(seen).toHaveLength(1);
    const body = JSON.parse(seen[0]!.body);
    await until(() => deliveryOf(admin, "crm", body.id), (a) => a.body?.status === "delivered");
    // The very message the user's outbox queued (the queue may hand it over again).
    const queued = deliveryEnvelope(admin, { webhook: "crm", userId, eventId: body.eventId, type: body.type, occurredAt: body.timestamp, data: body.data });

    expect((await admin.deleteUser(userId)).status).toBe(204);
    expectAckedOnly(await runQueue("loyalty-deliveries", [{ body: queued, attempts: 1 }]));
    expect(seen).toHaveLength(1);
    const row = await env.DB.prepare("SELECT message FROM deliveries WHERE id = ?").bind(body.id).first<{ message: string | null }>();
    expect(row).toEqual({ message: null });
  });
});
