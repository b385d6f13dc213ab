import { createECDH, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { importJWK, jwtVerify, decodeProtectedHeader } from "jose";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInstance, type Instance } from "./instance";

// Outbound delivery end to end (SPEC §8) against a real `npm start`, with receivers that
// share none of the service's code: webhooks are checked with the `standardwebhooks`
// package, Web Push bodies are decrypted with `http_ece` and VAPID JWTs verified with
// jose against the key the User API publishes. DELIVERY_RETRY_SCHEDULE shortens the
// retry delays to ~1 s so retries happen within the test.

// http_ece ships no type declarations: the one function used, typed here.
const ece = createRequire(import.meta.url)("http_ece") as {
  decrypt(buffer: Buffer, params: { version: "aes128gcm"; privateKey: ReturnType<typeof createECDH>; authSecret: Buffer }): Buffer;
};

const SUBSCRIBED = ["loyalty.metric.changed", "loyalty.campaign.completed"] as const;
const USERS = 10;
const EVENTS_PER_USER = 2;
const DEADLINE_MS = 90_000;

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, probe: () => boolean | Promise<boolean>, ms = DEADLINE_MS, every = 100): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function flatHeaders(request: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// ---- the webhook receiver --------------------------------------------------------------

interface WebhookAttempt {
  at: number;
  status: number;
  headers: Record<string, string>;
  body: string;
  verifyError: string | null;
}

class WebhookReceiver {
  secret = "";
  readonly attempts = new Map<string, WebhookAttempt[]>();
  /** First-seen order of webhook-ids: every third one fails its first two attempts. */
  readonly order: string[] = [];
  readonly flaky = new Set<string>();
  /** The dedupe: webhook-id → the payload processed once. */
  readonly processed = new Map<string, { type: string; eventId: string; userId: string; timestamp: string; data: unknown; id: string; space: string }>();
  duplicates = 0;
  unverified: WebhookAttempt[] = [];
  readonly server = createServer(async (request, response) => {
    const body = (await readBody(request)).toString("utf8");
    const headers = flatHeaders(request);
    const id = headers["webhook-id"] ?? "(none)";
    let verifyError: string | null = null;
    try {
      new Webhook(this.secret).verify(body, headers);
    } catch (error) {
      verifyError = String(error);
    }
    const seen = this.attempts.get(id) ?? [];
    if (seen.length === 0 && verifyError === null) {
      if (this.order.length % 3 === 0) this.flaky.add(id);
      this.order.push(id);
    }
    let status: number;
    if (verifyError !== null) status = 401;
    else if (this.flaky.has(id) && seen.length < 2) status = 500;
    else {
      status = 200;
      if (this.processed.has(id)) this.duplicates++;
      else this.processed.set(id, JSON.parse(body));
    }
    const attempt = { at: Date.now(), status, headers, body, verifyError };
    if (verifyError !== null) this.unverified.push(attempt);
    this.attempts.set(id, [...seen, attempt]);
    response.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "try again");
  });
}

// ---- the Web Push service ----------------------------------------------------------------

interface PushRequest {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

class PushService {
  readonly requests: PushRequest[] = [];
  /** Paths answering 410 Gone (the subscription expired). */
  readonly gone = new Set<string>();
  readonly server = createServer(async (request, response) => {
    const body = await readBody(request);
    const path = request.url ?? "/";
    this.requests.push({ at: Date.now(), path, headers: flatHeaders(request), body });
    response.writeHead(this.gone.has(path) ? 410 : 201).end();
  });
  at(path: string): PushRequest[] {
    return this.requests.filter((r) => r.path === path);
  }
}

/** A browser-like subscription: an ECDH P-256 key pair and 16 random auth bytes. */
function browserSubscription(endpoint: string) {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh,
    auth,
    json: { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } },
  };
}

describe("outbound delivery (webhooks and Web Push) against npm start", () => {
  let instance: Instance;
  const receiver = new WebhookReceiver();
  const pushService = new PushService();
  let receiverPort = 0;
  let pushPort = 0;
  const started = Date.now();

  async function api(method: string, path: string, body?: unknown, token?: string, contentType = "application/json"): Promise<Answer> {
    const response = await fetch(`${instance.baseUrl}/api/loyalty${path}`, {
      method,
      headers: { authorization: `Bearer ${token ?? instance.rootKey}`, ...(body === undefined ? {} : { "content-type": contentType }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: response.status, body: parsed };
  }

  function expectStatus(answer: Answer, ...statuses: number[]): Answer {
    if (!statuses.includes(answer.status)) throw new Error(`expected ${statuses.join("/")}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer;
  }

  /** A definition change is live within DEFINITIONS_TTL_MS: probe with a dry run (commits nothing). */
  async function untilCampaignLive(campaign: string, type: string): Promise<void> {
    let n = 0;
    await until(`campaign ${campaign} to be live`, async () => {
      const probe = await api("POST", "/admin/events?dryRun=true", { id: `probe-${campaign}-${n++}`, userId: "probe", type, data: { orderId: "p", amount: 1, n: 1 } });
      return probe.status === 201 && (probe.body.outcome?.campaignsCompleted ?? []).some((c: { campaign: string }) => c.campaign === campaign);
    }, 15_000, 250);
  }

  beforeAll(async () => {
    receiverPort = await listen(receiver.server);
    pushPort = await listen(pushService.server);
    instance = await startInstance(90_000, { DELIVERY_RETRY_SCHEDULE: "1,1,1,1,1,1,1" });
    console.log(`[outbound e2e] npm start healthy after ${Date.now() - started} ms`);
  }, 120_000);

  afterAll(async () => {
    await instance?.stop();
    await close(receiver.server);
    await close(pushService.server);
    console.log(`[outbound e2e] total ${Date.now() - started} ms`);
  });

  it("delivers every subscribed event and webhook.send, signed (Standard Webhooks), retrying failures with the same webhook-id", async () => {
    const t0 = Date.now();
    const created = expectStatus(
      await api("POST", "/admin/webhooks", { id: "receiver", url: `http://127.0.0.1:${receiverPort}/hooks`, events: [...SUBSCRIBED], description: "e2e receiver" }),
      201,
    );
    expect(created.body.secret).toMatch(/^whsec_/);
    receiver.secret = created.body.secret;
    expectStatus(await api("PUT", "/admin/metrics/points", { name: "Points", kind: "currency" }), 200, 201);
    expectStatus(
      await api("PUT", "/admin/campaigns/orders", {
        name: "Orders",
        status: "active",
        repeat: { limit: null },
        steps: [
          {
            id: "order",
            name: "Place an order",
            trigger: { eventType: "order" },
            effects: [
              { type: "metric.add", metric: "points", amount: 10 },
              { type: "webhook.send", webhook: "receiver", payload: { kind: "order", user: "{{user.id}}", order: "{{event.data.orderId}}", amount: "{{event.data.amount}}" } },
            ],
          },
        ],
      }),
      200,
      201,
    );
    await untilCampaignLive("orders", "order");

    // 10 users × 2 events; what each must produce is read from its outcome.
    const events = Array.from({ length: USERS }, (_, u) =>
      Array.from({ length: EVENTS_PER_USER }, (_, e) => ({ id: `order-${u}-${e}`, userId: `wh_user_${u}`, type: "order", data: { orderId: `o-${u}-${e}`, amount: 5 + e } })),
    );
    const answers = await Promise.all(
      events.map(async (mine) => {
        const out: Answer[] = [];
        for (const event of mine) out.push(await api("POST", "/admin/events", event)); // one user's events in order
        return out;
      }),
    );
    const expected = new Map<string, { userId: string; eventId: string; type: string; data?: unknown }>();
    answers.flat().forEach((answer, i) => {
      const event = events.flat()[i]!;
      expectStatus(answer, 201);
      expect(answer.body.outcome.campaignsCompleted).toEqual([{ campaign: "orders", completions: expect.any(Number) }]);
      for (const derived of answer.body.outcome.derivedEvents as Array<{ id: string; type: string }>) {
        if ((SUBSCRIBED as readonly string[]).includes(derived.type)) expected.set(`${derived.id}|${derived.type}`, { userId: event.userId, eventId: derived.id, type: derived.type });
      }
      const sends = (answer.body.outcome.effects as Array<{ type: string; status: string }>).filter((e) => e.type === "webhook.send");
      expect(sends).toEqual([expect.objectContaining({ status: "applied" })]);
      expected.set(`${event.id}|webhook.send`, {
        userId: event.userId,
        eventId: event.id,
        type: "webhook.send",
        data: { kind: "order", user: event.userId, order: event.data.orderId, amount: event.data.amount },
      });
    });
    // Per event: one metric.changed, one campaign.completed, one webhook.send.
    expect(expected.size).toBe(USERS * EVENTS_PER_USER * 3);

    await until(`${expected.size} webhook messages processed (now ${receiver.processed.size})`, () => receiver.processed.size >= expected.size);
    const tAll = Date.now();

    expect(receiver.unverified.map((a) => a.verifyError)).toEqual([]);
    const byKey = new Map([...receiver.processed.values()].map((p) => [`${p.eventId}|${p.type}`, p]));
    expect([...byKey.keys()].sort()).toEqual([...expected.keys()].sort());
    const spaceId = [...receiver.processed.values()][0]!.space;
    for (const [key, want] of expected) {
      const got = byKey.get(key)!;
      expect(got, key).toMatchObject({ type: want.type, userId: want.userId, eventId: want.eventId, space: spaceId });
      expect(typeof got.timestamp).toBe("string");
      if (want.data !== undefined) expect(got.data, key).toEqual(want.data);
      if (want.type === "loyalty.metric.changed") expect(got.data).toMatchObject({ metric: "points", delta: 10 });
      if (want.type === "loyalty.campaign.completed") expect(got.data).toMatchObject({ campaign: "orders" });
    }

    // Every webhook-id was processed exactly once; the body's id is the webhook-id.
    expect(receiver.processed.size).toBe(expected.size);
    for (const [id, payload] of receiver.processed) expect(payload.id).toBe(id);
    expect(receiver.flaky.size).toBe(Math.ceil(expected.size / 3));

    // The flaky ones: 500, 500, then 200 — later, with the same webhook-id, each signed anew.
    for (const id of receiver.flaky) {
      const attempts = receiver.attempts.get(id)!;
      expect(attempts.map((a) => a.status), id).toEqual([500, 500, 200]);
      expect(new Set(attempts.map((a) => a.headers["webhook-id"]))).toEqual(new Set([id]));
      expect(new Set(attempts.map((a) => a.body)).size, "the same body on every attempt").toBe(1);
      // ~1 s apart (DELIVERY_RETRY_SCHEDULE=1,…), not immediately re-sent.
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(500);
      expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(500);
      expect(Number(attempts[2]!.headers["webhook-timestamp"])).toBeGreaterThanOrEqual(Number(attempts[0]!.headers["webhook-timestamp"]));
    }
    for (const id of receiver.order.filter((id) => !receiver.flaky.has(id))) {
      expect(receiver.attempts.get(id)!.every((a) => a.status === 200), id).toBe(true);
    }

    // The admin delivery log: all delivered, 3 attempts for the flaky ones, 1 otherwise.
    let log: Array<{ id: string; status: string; attempts: number; lastStatusCode: number | null; eventType: string; userId: string }> = [];
    await until(
      "the delivery log to show every delivery delivered",
      async () => {
        log = [];
        let cursor: string | null = null;
        do {
          const page: Answer = expectStatus(await api("GET", `/admin/webhooks/receiver/deliveries?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), 200);
          log.push(...page.body.data);
          cursor = page.body.nextCursor;
        } while (cursor);
        return log.length === expected.size && log.every((d) => d.status === "delivered");
      },
      20_000,
      250,
    );
    expect(new Set(log.map((d) => d.id))).toEqual(new Set(receiver.processed.keys()));
    for (const delivery of log) {
      expect(delivery, delivery.id).toMatchObject({
        status: "delivered",
        attempts: receiver.flaky.has(delivery.id) ? 3 : 1,
        lastStatusCode: 200,
        eventType: receiver.processed.get(delivery.id)!.type,
        userId: receiver.processed.get(delivery.id)!.userId,
      });
    }
    const oneFlaky = [...receiver.flaky][0]!;
    const detail = expectStatus(await api("GET", `/admin/webhooks/receiver/deliveries/${oneFlaky}`), 200).body;
    expect(detail.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
    console.log(
      `[outbound e2e] webhooks: ${expected.size} messages (${receiver.flaky.size} flaky) all received in ${tAll - t0} ms; ` +
        `${[...receiver.attempts.values()].flat().length} requests, ${receiver.duplicates} duplicate deliveries deduped`,
    );
  });

  it("sends Web Push encrypted (RFC 8291) with a VAPID JWT (RFC 8292), and forgets a subscription answered 410", async () => {
    const t0 = Date.now();
    const contact = "mailto:ops@loyalty.example";
    const patched = expectStatus(
      await api("PATCH", "/admin/spaces/default", { push: { allowedHosts: ["127.0.0.1"], contact } }, undefined, "application/merge-patch+json"),
      200,
    );
    expect(patched.body.push).toMatchObject({ allowedHosts: ["127.0.0.1"], contact });

    // A browser subscribes with the space's VAPID key, through the User API.
    const token = expectStatus(await api("POST", "/admin/users/push_user_1/token", { ttlSeconds: 600 }), 201).body.token as string;
    const config = expectStatus(await api("GET", "/me/push-config", undefined, token), 200).body as { vapidPublicKey: string; allowedHosts: string[] };
    expect(config.allowedHosts).toEqual(["127.0.0.1"]);
    const vapidRaw = Buffer.from(config.vapidPublicKey, "base64url");
    expect(vapidRaw.byteLength).toBe(65);
    const browser = browserSubscription(`http://127.0.0.1:${pushPort}/push/abc`);
    let put: Answer | undefined;
    await until("the push subscription to be accepted", async () => (put = await api("PUT", "/me/push-subscriptions", browser.json, token)).status !== 400, 10_000, 250);
    expectStatus(put!, 201);

    // A second user (registered by the operator) with one live and one expired subscription.
    const kept = browserSubscription(`http://127.0.0.1:${pushPort}/push/keep`);
    const expired = browserSubscription(`http://127.0.0.1:${pushPort}/push/gone`);
    pushService.gone.add("/push/gone");
    expectStatus(await api("PUT", "/admin/users/push_user_2/push-subscriptions", kept.json), 201);
    expectStatus(await api("PUT", "/admin/users/push_user_2/push-subscriptions", expired.json), 201);

    expectStatus(
      await api("PUT", "/admin/campaigns/pings", {
        name: "Pings",
        status: "active",
        repeat: { limit: null },
        steps: [
          {
            id: "ping",
            name: "Ping",
            trigger: { eventType: "ping" },
            effects: [{ type: "push.send", title: "Hello {{user.id}}", body: "Ping number {{event.data.n}}", url: "https://app.example/pings", data: { n: "{{event.data.n}}", user: "{{user.id}}" } }],
          },
        ],
      }),
      200,
      201,
    );
    await untilCampaignLive("pings", "ping");

    const sent = expectStatus(await api("POST", "/admin/events", { id: "ping-1", userId: "push_user_1", type: "ping", data: { n: 7 } }), 201);
    expect(sent.body.outcome.effects).toEqual([expect.objectContaining({ type: "push.send", status: "applied" })]);
    await until("the push to /push/abc", () => pushService.at("/push/abc").length >= 1, 30_000);
    const tPush = Date.now();

    const request = pushService.at("/push/abc")[0]!;
    expect(request.headers).toMatchObject({ "content-encoding": "aes128gcm", "content-type": "application/octet-stream" });
    expect(Number(request.headers.ttl)).toBeGreaterThan(0);
    const notification = JSON.parse(ece.decrypt(request.body, { version: "aes128gcm", privateKey: browser.ecdh, authSecret: browser.auth }).toString("utf8"));
    expect(notification).toEqual({ title: "Hello push_user_1", body: "Ping number 7", url: "https://app.example/pings", data: { n: 7, user: "push_user_1" }, eventId: "ping-1" });

    // VAPID: `vapid t=<JWT>, k=<the space's public key>`; the JWT verifies with the key
    // published at /me/push-config, for this push service's origin, from the space's contact.
    const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(request.headers.authorization ?? "");
    expect(match, request.headers.authorization).not.toBeNull();
    const [, jwt, k] = match!;
    expect(k).toBe(config.vapidPublicKey);
    expect(decodeProtectedHeader(jwt!)).toMatchObject({ alg: "ES256" });
    const vapidKey = await importJWK(
      { kty: "EC", crv: "P-256", x: vapidRaw.subarray(1, 33).toString("base64url"), y: vapidRaw.subarray(33, 65).toString("base64url") },
      "ES256",
    );
    const { payload } = await jwtVerify(jwt!, vapidKey, { algorithms: ["ES256"], audience: `http://127.0.0.1:${pushPort}`, subject: contact });
    const now = Math.floor(Date.now() / 1000);
    expect(payload.exp).toBeGreaterThan(now);
    expect(payload.exp! - now).toBeLessThanOrEqual(24 * 3600); // RFC 8292 §2: at most 24 hours

    // 410 Gone: that subscription is removed; the user's other one still gets pushes.
    expectStatus(await api("POST", "/admin/events", { id: "ping-2a", userId: "push_user_2", type: "ping", data: { n: 1 } }), 201);
    await until("the first push to both of push_user_2's subscriptions", () => pushService.at("/push/keep").length >= 1 && pushService.at("/push/gone").length >= 1, 30_000);
    const first = JSON.parse(ece.decrypt(pushService.at("/push/gone")[0]!.body, { version: "aes128gcm", privateKey: expired.ecdh, authSecret: expired.auth }).toString("utf8"));
    expect(first).toMatchObject({ eventId: "ping-2a", body: "Ping number 1" });
    await sleep(1500); // the 410's removal follows the answer within milliseconds
    expectStatus(await api("POST", "/admin/events", { id: "ping-2b", userId: "push_user_2", type: "ping", data: { n: 2 } }), 201);
    await until("the second push to /push/keep", () => pushService.at("/push/keep").length >= 2, 30_000);
    await sleep(2000); // both deliveries of one event go out together: give a stray one time to show
    expect(pushService.at("/push/gone")).toHaveLength(1);
    const second = JSON.parse(ece.decrypt(pushService.at("/push/keep")[1]!.body, { version: "aes128gcm", privateKey: kept.ecdh, authSecret: kept.auth }).toString("utf8"));
    expect(second).toMatchObject({ eventId: "ping-2b", body: "Ping number 2", title: "Hello push_user_2" });
    // Registering it again creates it (201), so it really was gone (200 = replaced).
    expectStatus(await api("PUT", "/admin/users/push_user_2/push-subscriptions", expired.json), 201);
    console.log(`[outbound e2e] push: first push received ${tPush - t0} ms after setup began; 410 case done at ${Date.now() - t0} ms`);
  });
});
