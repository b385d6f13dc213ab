import { z } from "zod";
import type { Env } from "../env";
import { directoryBatchHandler } from "../directory/queue";
import { ingestHandler } from "../events/async";
import { log } from "../http/log";
import { jobPageHandler, requeueDeadPage } from "../jobs/runner";
import { deliveryHandler, recordDeadDelivery } from "../outbound/deliver";

// Queue messages (SPEC §1.2): every message is parsed with zod here, carries a version
// and an idempotency key, and is acked or retried. Most types are handled one message at
// a time; `directory` updates are handled a whole batch at once (one D1 batch for all).
// Malformed and unknown messages are poison: recorded (logged) and acked, never retried
// forever. A handler that throws is a transient failure: retried with exponential
// backoff, until the queue's max_retries hands the message to the dead-letter queue.

export const messageEnvelope = z.object({
  v: z.literal(1),
  type: z.string().min(1).max(64),
  /** Deduplicates redeliveries: queues deliver at least once. */
  key: z.string().min(1).max(512),
  body: z.unknown(),
});
export type QueueMessageEnvelope = z.infer<typeof messageEnvelope>;

export type MessageHandler = (message: QueueMessageEnvelope, env: Env, attempts: number) => Promise<"ack" | { retryAfterSeconds: number }>;
/** Handles many messages of one type together; throwing retries all of them. */
export type BatchHandler = (messages: QueueMessageEnvelope[], env: Env) => Promise<void>;

/** message type → handler. */
export const handlers: Record<string, MessageHandler> = {
  ingest: ingestHandler,
  "job.page": jobPageHandler,
  delivery: deliveryHandler,
};

/** What a dead-letter queue records besides the log line (SPEC §8.1: a failed delivery). */
const deadLetterRecorders: Record<string, (message: QueueMessageEnvelope, env: Env) => Promise<void>> = {
  delivery: recordDeadDelivery,
  "job.page": requeueDeadPage,
};

export const batchHandlers: Record<string, BatchHandler> = {
  directory: directoryBatchHandler,
};

/** Independent messages handled side by side: one slow endpoint must not hold up the batch. */
const CONCURRENT_TYPES = new Set(["delivery"]);

const RETRY_BASE_SECONDS = 5;
const RETRY_MAX_SECONDS = 900;

/** Exponential backoff for transient failures: 5 s, 10 s, 20 s, … capped at 15 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_SECONDS);
}

export async function consumeBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const deadLetter = batch.queue.endsWith("-dlq");
  const grouped = new Map<string, Array<{ message: Message<unknown>; envelope: QueueMessageEnvelope }>>();
  const concurrent: Array<Promise<void>> = [];
  for (const message of batch.messages) {
    const parsed = messageEnvelope.safeParse(message.body);
    if (!parsed.success) {
      log(env, "error", "queue.poison", { queue: batch.queue, messageId: message.id, issues: parsed.error.issues.length });
      message.ack();
      continue;
    }
    if (deadLetter) {
      log(env, "error", "queue.dead_letter", { queue: batch.queue, type: parsed.data.type, key: parsed.data.key });
      try {
        await deadLetterRecorders[parsed.data.type]?.(parsed.data, env);
      } catch (error) {
        log(env, "error", "queue.dead_letter_record_failed", { key: parsed.data.key, error: String(error) });
      }
      message.ack();
      continue;
    }
    if (batchHandlers[parsed.data.type]) {
      const group = grouped.get(parsed.data.type) ?? [];
      group.push({ message, envelope: parsed.data });
      grouped.set(parsed.data.type, group);
      continue;
    }
    if (CONCURRENT_TYPES.has(parsed.data.type)) concurrent.push(consumeOne(batch.queue, message, parsed.data, env));
    else await consumeOne(batch.queue, message, parsed.data, env);
  }
  await Promise.all(concurrent);
  for (const [type, group] of grouped) {
    try {
      await batchHandlers[type]!(group.map((g) => g.envelope), env);
      for (const { message } of group) message.ack();
    } catch (error) {
      log(env, "error", "queue.handler_failed", { queue: batch.queue, type, messages: group.length, error: String(error) });
      for (const { message } of group) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

async function consumeOne(queue: string, message: Message<unknown>, envelope: QueueMessageEnvelope, env: Env): Promise<void> {
  const handler = handlers[envelope.type];
  if (!handler) {
    log(env, "error", "queue.unknown_type", { queue, type: envelope.type, key: envelope.key });
    message.ack();
    return;
  }
  try {
    const verdict = await handler(envelope, env, message.attempts);
    if (verdict === "ack") message.ack();
    else message.retry({ delaySeconds: verdict.retryAfterSeconds });
  } catch (error) {
    log(env, "error", "queue.handler_failed", { queue, type: envelope.type, key: envelope.key, attempts: message.attempts, error: String(error) });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
