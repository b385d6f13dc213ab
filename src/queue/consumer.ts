import { z } from "zod";
import type { Env } from "../env";
import { ingestHandler } from "../events/async";
import { log } from "../http/log";

// Queue messages (SPEC §1.2): every message is parsed with zod here, carries a version
// and an idempotency key, and is acked or retried one by one. Handlers per message type
// arrive with the issues that produce them (deliveries, ingest, index, jobs); until a
// type has a handler, its messages are poison: recorded and acked, never retried forever.

export const messageEnvelope = z.object({
  v: z.literal(1),
  type: z.string().min(1).max(64),
  /** Deduplicates redeliveries: queues deliver at least once. */
  key: z.string().min(1).max(512),
  body: z.unknown(),
});
export type QueueMessageEnvelope = z.infer<typeof messageEnvelope>;

export type MessageHandler = (message: QueueMessageEnvelope, env: Env, attempts: number) => Promise<"ack" | { retryAfterSeconds: number }>;

/**
 * message type → handler. `delivery` (webhooks and pushes from the users' outboxes) is
 * acknowledged with a warning until outbound delivery lands (see the outbound issue).
 */
export const handlers: Record<string, MessageHandler> = {
  ingest: ingestHandler,
  delivery: async (message, env) => {
    log(env, "warn", "queue.delivery_not_implemented", { key: message.key });
    return "ack";
  },
};

export async function consumeBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const deadLetter = batch.queue.endsWith("-dlq");
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
    const handler = handlers[parsed.data.type];
    if (!handler) {
      log(env, "error", "queue.unknown_type", { queue: batch.queue, type: parsed.data.type, key: parsed.data.key });
      message.ack();
      continue;
    }
    try {
      const verdict = await handler(parsed.data, env, message.attempts);
      if (verdict === "ack") message.ack();
      else message.retry({ delaySeconds: verdict.retryAfterSeconds });
    } catch (error) {
      log(env, "error", "queue.handler_failed", { queue: batch.queue, type: parsed.data.type, error: String(error) });
      message.retry();
    }
  }
}
