import { z } from "zod";
import type { Env } from "../env";
import { directoryBatchHandler } from "../directory/queue";
import { ingestHandler } from "../events/async";
import { log } from "../http/log";
import { jobPageHandler } from "../jobs/runner";

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

/**
 * message type → handler. `delivery` (webhooks and pushes from the users' outboxes) is
 * acknowledged with a warning until outbound delivery lands (see the outbound issue).
 */
export const handlers: Record<string, MessageHandler> = {
  ingest: ingestHandler,
  "job.page": jobPageHandler,
  delivery: async (message, env) => {
    log(env, "warn", "queue.delivery_not_implemented", { key: message.key });
    return "ack";
  },
};

export const batchHandlers: Record<string, BatchHandler> = {
  directory: directoryBatchHandler,
};

const RETRY_BASE_SECONDS = 5;
const RETRY_MAX_SECONDS = 900;

/** Exponential backoff for transient failures: 5 s, 10 s, 20 s, … capped at 15 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_SECONDS);
}

export async function consumeBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const deadLetter = batch.queue.endsWith("-dlq");
  const grouped = new Map<string, Array<{ message: Message<unknown>; envelope: QueueMessageEnvelope }>>();
  for (const message of batch.messages) {
    const parsed = messageEnvelope.safeParse(message.body);
    if (!parsed.success) {
      log(env, "error", "queue.poison", { queue: batch.queue, messageId: message.id, issues: parsed.error.issues.length });
      message.ack();
      continue;
    }
    if (deadLetter) {
      log(env, "error", "queue.dead_letter", { queue: batch.queue, type: parsed.data.type, key: parsed.data.key });
      message.ack();
      continue;
    }
    if (batchHandlers[parsed.data.type]) {
      const group = grouped.get(parsed.data.type) ?? [];
      group.push({ message, envelope: parsed.data });
      grouped.set(parsed.data.type, group);
      continue;
    }
    await consumeOne(batch.queue, message, parsed.data, env);
  }
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
