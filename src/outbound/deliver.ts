import { z } from "zod";
import { configOf, type Config } from "../config";
import { open } from "../crypto/sealed";
import { dbOf } from "../db/client";
import type { SpaceRow } from "../db/schema";
import { writeDefinition, webhookSecretContext } from "../definitions/service";
import { findDefinition } from "../definitions/store";
import type { Env } from "../env";
import { log } from "../http/log";
import type { MessageHandler, QueueMessageEnvelope } from "../queue/consumer";
import { findSpaceById, openGatewaySecret, pushSettingsOf } from "../spaces/store";
import { userObjectName } from "../user/user-state";
import { deliveryIdOf, recordAttempt, recordDelivery, setDeliveryStatus } from "./delivery-log";
import { verdictOf, type AttemptVerdict } from "./schedule";
import { webhookHeaders } from "./signing";
import { checkOutboundUrl } from "./url-policy";
import { encryptPush, MAX_PUSH_PAYLOAD_BYTES, vapidAuthorization, type PushSubscription } from "./web-push";
import { vapidKeysOf } from "./vapid";

// The deliveries queue's consumer (SPEC §8): one message = one webhook POST or one push to
// one subscription. Each attempt is logged; the answer decides (schedule.ts): delivered,
// retried after a delay, gone (410: the endpoint is disabled, or 404/410: the push
// subscription removed) or exhausted (retried into the dead-letter queue, whose handler
// records the failure). Nothing here throws for an endpoint's fault.

const MAX_RESPONSE_BYTES = 64 * 1024;

const subscriptionSchema = z.object({ endpoint: z.string(), keys: z.object({ p256dh: z.string(), auth: z.string() }) });
const deliveryBody = z.object({
  spaceId: z.string().min(1),
  userId: z.string().min(1),
  /** The user's generation when the delivery was queued (0 = never erased). */
  generation: z.number().int().min(0).default(0),
  message: z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("webhook"),
      webhook: z.string(),
      eventId: z.string(),
      type: z.string(),
      occurredAt: z.string(),
      data: z.unknown(),
      seq: z.number().int().optional(),
    }),
    z.object({
      kind: z.literal("push"),
      eventId: z.string(),
      title: z.string(),
      body: z.string(),
      url: z.string().nullable(),
      data: z.unknown(),
      gateway: z.boolean().optional(),
    }),
  ]),
  subscription: subscriptionSchema.optional(),
});
type DeliveryBody = z.infer<typeof deliveryBody>;

/** What an attempt got back: a status (null = no answer) and the error text to log. */
interface Answer {
  status: number | null;
  retryAfter: string | null;
  error: string | null;
  latencyMs: number;
}

/** `timeoutMs`: config.deliveryTimeoutMs (SPEC §8.1's 15 s; a test may shorten it). */
async function post(url: string, headers: Record<string, string>, body: BodyInit, timeoutMs: number): Promise<Answer> {
  const started = Date.now();
  try {
    const response = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    const text = await readAtMost(response, MAX_RESPONSE_BYTES);
    const ok = response.status >= 200 && response.status < 300;
    const redirect = response.status >= 300 && response.status < 400;
    return {
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      error: ok ? null : redirect ? `redirect to ${response.headers.get("location") ?? "?"} (not followed)` : text || `HTTP ${response.status}`,
      latencyMs: Date.now() - started,
    };
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    return { status: null, retryAfter: null, error: timedOut ? `no answer within ${timeoutMs / 1000} s` : String(error), latencyMs: Date.now() - started };
  }
}

async function readAtMost(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])).slice(0, limit));
}

export const deliveryHandler: MessageHandler = async (envelope, env, attempts) => {
  const parsed = deliveryBody.safeParse(envelope.body);
  if (!parsed.success) {
    log(env, "error", "queue.delivery_poison", { key: envelope.key, issues: parsed.error.issues.length });
    return "ack";
  }
  const config = configOf(env);
  const space = await findSpaceById(dbOf(env.DB), parsed.data.spaceId);
  if (!space) return "ack"; // the space is gone: nothing to deliver for it
  const body = parsed.data;
  if (await erasedSince(env.DB, space.id, body.userId, body.generation)) return "ack";
  return body.message.kind === "webhook" ? deliverWebhook(env, config, space, body, attempts) : deliverPush(env, config, space, body, attempts);
};

/**
 * Whether the user was erased after this delivery was queued (SPEC §7: queued work of an
 * older generation is dropped): the directory row carries the current generation, and an
 * erasure writes it at once (a tombstone).
 */
async function erasedSince(d1: D1Database, spaceId: string, userId: string, generation: number): Promise<boolean> {
  const row = await d1
    .prepare(`SELECT generation FROM user_directory WHERE space_id = ?1 AND user_id = ?2`)
    .bind(spaceId, userId)
    .first<{ generation: number }>();
  return row !== null && row.generation > generation;
}

/** What the log says and the queue does after an attempt. */
async function conclude(env: Env, id: string, answer: Answer, verdict: AttemptVerdict): Promise<"ack" | { retryAfterSeconds: number }> {
  const now = Date.now();
  const status = verdict.kind === "delivered" ? "delivered" : verdict.kind === "gone" ? "failed" : "pending";
  await recordAttempt(env.DB, id, { statusCode: answer.status, latencyMs: answer.latencyMs, error: answer.error, status }, now);
  if (verdict.kind === "retry") return { retryAfterSeconds: verdict.delaySeconds };
  // Out of attempts: once more into the queue, which hands it to the dead-letter queue.
  if (verdict.kind === "exhausted") return { retryAfterSeconds: 1 };
  return "ack";
}

async function deliverWebhook(env: Env, config: Config, space: SpaceRow, body: DeliveryBody, attempts: number) {
  const message = body.message as Extract<DeliveryBody["message"], { kind: "webhook" }>;
  const id = await deliveryIdOf(space.id, body.userId, message);
  const now = Date.now();
  await recordDelivery(env.DB, { id, spaceId: space.id, kind: "webhook", endpointId: message.webhook, userId: body.userId, eventType: message.type, message: body }, now);
  const endpoint = await findDefinition(dbOf(env.DB), space.id, "webhooks", message.webhook);
  if (!endpoint || endpoint.body.enabled !== true) {
    // Logged as skipped: a replay after the endpoint is enabled again delivers it.
    await setDeliveryStatus(env.DB, id, "skipped", endpoint ? "the endpoint is disabled" : "the endpoint was deleted", now);
    return "ack";
  }
  const url = String(endpoint.body.url);
  const policy = checkOutboundUrl(url, { allowPrivate: config.allowPrivateTargets, spaceHostSuffix: config.spaceHostSuffix });
  const payload = JSON.stringify({ id, type: message.type, timestamp: message.occurredAt, space: space.id, userId: body.userId, eventId: message.eventId, data: message.data });
  const answer: Answer = policy.ok
    ? await post(url, await webhookHeaders(await secretsOf(endpoint, space.id, config, now), id, Math.floor(now / 1000), payload), payload, config.deliveryTimeoutMs)
    : { status: null, retryAfter: null, error: `refused by the outbound URL policy: ${policy.reason}`, latencyMs: 0 };
  const verdict = policy.ok ? verdictOf(answer.status, answer.retryAfter, attempts, { schedule: config.deliveryRetrySchedule }) : ({ kind: "gone" } as const);
  if (verdict.kind === "gone") await disableEndpoint(env, config, space, message.webhook, answer.error ?? `HTTP ${answer.status}`);
  else if (verdict.kind !== "delivered" && (await failingSince(env.DB, space.id, message.webhook)) < now - FAILING_DAYS_TO_DISABLE * 86_400_000) {
    await disableEndpoint(env, config, space, message.webhook, `failing continuously for ${FAILING_DAYS_TO_DISABLE} days`);
  }
  return conclude(env, id, answer, verdict);
}

/** The endpoint's live secrets, newest first: the previous one signs too until it expires. */
async function secretsOf(endpoint: { secret: string | null; previousSecret: string | null; previousSecretUntil: number | null; id: string }, spaceId: string, config: Config, now: number) {
  const context = webhookSecretContext(spaceId, endpoint.id);
  const secrets = endpoint.secret ? [await open(endpoint.secret, context, config.signingKeySecret)] : [];
  if (endpoint.previousSecret && (endpoint.previousSecretUntil ?? 0) > now) secrets.push(await open(endpoint.previousSecret, context, config.signingKeySecret));
  return secrets;
}

/** SPEC §8.1: an endpoint failing continuously this long is disabled. */
const FAILING_DAYS_TO_DISABLE = 5;

/**
 * Since when the endpoint has failed without a success: the oldest delivery not
 * delivered after its latest success (Infinity when nothing is failing).
 */
async function failingSince(d1: D1Database, spaceId: string, endpointId: string): Promise<number> {
  const row = await d1
    .prepare(
      `SELECT MIN(created_at) AS since FROM deliveries
       WHERE space_id = ?1 AND endpoint_id = ?2 AND status IN ('pending', 'failed')
         AND created_at > COALESCE((SELECT MAX(updated_at) FROM deliveries WHERE space_id = ?1 AND endpoint_id = ?2 AND status = 'delivered'), 0)`,
    )
    .bind(spaceId, endpointId)
    .first<{ since: number | null }>();
  return row?.since ?? Number.POSITIVE_INFINITY;
}

/** 410 Gone (SPEC §8.1): the endpoint is disabled, as an operator would by PATCH. */
async function disableEndpoint(env: Env, config: Config, space: SpaceRow, webhookId: string, why: string): Promise<void> {
  try {
    await writeDefinition({ db: dbOf(env.DB), config, space }, "webhooks", { mode: "patch", id: webhookId, input: { enabled: false } });
    log(env, "warn", "webhook.disabled", { spaceId: space.id, webhook: webhookId, why });
  } catch (error) {
    log(env, "error", "webhook.disable_failed", { spaceId: space.id, webhook: webhookId, error: String(error) });
  }
}

/**
 * A push's delivery id (its webhook-id too): per subscription endpoint, or one for the
 * gateway whatever its URL, so a retry after the URL changed is still the same message
 * and the dead-letter queue finds the row the first attempt logged.
 */
function pushDeliveryIdOf(spaceId: string, body: DeliveryBody): Promise<string> {
  const message = body.message as Extract<DeliveryBody["message"], { kind: "push" }>;
  return deliveryIdOf(spaceId, body.userId, { kind: "push", eventId: message.eventId, endpoint: body.subscription?.endpoint ?? "gateway" });
}

async function deliverPush(env: Env, config: Config, space: SpaceRow, body: DeliveryBody, attempts: number) {
  const message = body.message as Extract<DeliveryBody["message"], { kind: "push" }>;
  const settings = pushSettingsOf(space);
  const id = await pushDeliveryIdOf(space.id, body);
  const now = Date.now();
  await recordDelivery(env.DB, { id, spaceId: space.id, kind: "push", endpointId: null, userId: body.userId, eventType: "push.send", message: body }, now);
  const notification = { title: message.title, body: message.body, url: message.url, data: message.data, eventId: message.eventId };

  if (!body.subscription) {
    if (!settings.gatewayUrl) {
      // The space left gateway mode after the push was queued: nothing to send it to.
      await setDeliveryStatus(env.DB, id, "skipped", "no subscription and no gateway", now);
      return "ack";
    }
    return deliverToGateway(env, config, space, body, id, settings.gatewayUrl, notification, attempts, now);
  }
  const subscription = body.subscription as PushSubscription;
  const policy = checkOutboundUrl(subscription.endpoint, { allowPrivate: config.allowPrivateTargets, spaceHostSuffix: config.spaceHostSuffix });
  if (!policy.ok || !hostAllowed(policy.url.hostname, settings.allowedHosts)) {
    await setDeliveryStatus(env.DB, id, "failed", "the subscription's endpoint is not allowed", now);
    return "ack";
  }
  const keys = await vapidKeysOf(env.DB, config, space.id);
  const encrypted = await encryptPush(subscription, fitted(notification));
  const answer = await post(
    subscription.endpoint,
    {
      "content-type": "application/octet-stream",
      "content-encoding": "aes128gcm",
      ttl: "86400",
      urgency: "normal",
      authorization: await vapidAuthorization(subscription.endpoint, keys, settings.contact, now),
    },
    encrypted,
    config.deliveryTimeoutMs,
  );
  const verdict = verdictOf(answer.status, answer.retryAfter, attempts, { goneStatuses: [404, 410], schedule: config.deliveryRetrySchedule });
  if (verdict.kind === "gone") {
    // The push service says this subscription is over: the user's object forgets it.
    await env.USERS.getByName(userObjectName(space.id, body.userId)).deletePushSubscription(subscription.endpoint);
  }
  return conclude(env, id, answer, verdict);
}

/**
 * Gateway mode (SPEC §8.2): the notification as JSON, signed like a webhook (Standard
 * Webhooks, with the space's gateway secret), to the operator's own push service, which
 * relays it to FCM, APNs or Expo. Retried and logged like a webhook; the URL policy is
 * checked again on send (SPEC §8.3).
 */
async function deliverToGateway(
  env: Env,
  config: Config,
  space: SpaceRow,
  body: DeliveryBody,
  id: string,
  gatewayUrl: string,
  notification: { title: string; body: string; url: string | null; data: unknown; eventId: string },
  attempts: number,
  now: number,
) {
  const secret = await openGatewaySecret(space, config);
  const policy = checkOutboundUrl(gatewayUrl, { allowPrivate: config.allowPrivateTargets, spaceHostSuffix: config.spaceHostSuffix });
  if (!secret || !policy.ok) {
    await setDeliveryStatus(env.DB, id, "failed", secret ? `refused by the outbound URL policy: ${policy.ok ? "" : policy.reason}` : "the space has no gateway secret", now);
    return "ack";
  }
  const { eventId, ...shown } = notification;
  const payload = JSON.stringify({ id, type: "push", timestamp: new Date(now).toISOString(), space: space.id, userId: body.userId, eventId, notification: shown });
  const answer = await post(gatewayUrl, await webhookHeaders([secret], id, Math.floor(now / 1000), payload), payload, config.deliveryTimeoutMs);
  return conclude(env, id, answer, verdictOf(answer.status, answer.retryAfter, attempts, { schedule: config.deliveryRetrySchedule }));
}

/**
 * The payload as JSON within one record (SPEC §8.2: truncated at send): `data` goes
 * first, then the body is shortened, then the url and the title — whatever a template
 * rendered to, the message fits. Cuts fall on whole characters.
 */
export function fitted(notification: { title: string; body: string; url: string | null; data: unknown; eventId: string }): Uint8Array {
  const encoder = new TextEncoder();
  const size = (n: object) => encoder.encode(JSON.stringify(n)).byteLength;
  if (size(notification) <= MAX_PUSH_PAYLOAD_BYTES) return encoder.encode(JSON.stringify(notification));
  const lean = { ...notification, data: null as unknown };
  for (const field of ["body", "url", "title"] as const) {
    const value = lean[field];
    if (value === null || size(lean) <= MAX_PUSH_PAYLOAD_BYTES) continue;
    // The longest prefix (in characters) that fits: a binary search on its length.
    const chars = [...value];
    let low = 0;
    let high = chars.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (size({ ...lean, [field]: chars.slice(0, mid).join("") }) <= MAX_PUSH_PAYLOAD_BYTES) low = mid;
      else high = mid - 1;
    }
    lean[field] = chars.slice(0, low).join("");
  }
  return encoder.encode(JSON.stringify(lean));
}

export function hostAllowed(host: string, allowed: string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((pattern) => (pattern.startsWith("*.") ? h.endsWith(pattern.slice(1)) : h === pattern));
}

/** The dead-letter queue's record of a delivery that ran out of attempts (SPEC §8.1). */
export async function recordDeadDelivery(envelope: QueueMessageEnvelope, env: Env): Promise<void> {
  const parsed = deliveryBody.safeParse(envelope.body);
  if (!parsed.success) return;
  const { spaceId, userId, message } = parsed.data;
  const id = message.kind === "webhook" ? await deliveryIdOf(spaceId, userId, message) : await pushDeliveryIdOf(spaceId, parsed.data);
  await setDeliveryStatus(env.DB, id, "failed", null, Date.now());
}
