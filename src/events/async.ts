import { z } from "zod";
import { configOf } from "../config";
import type { Env } from "../env";
import { log } from "../http/log";
import type { MessageHandler, QueueMessageEnvelope } from "../queue/consumer";
import { applyUserEvents, type PreparedEvent } from "./ingest";

// Asynchronous ingestion (SPEC §5.1 `?async=true`): validated events go to the `ingest`
// queue, one message per user carrying that user's events in order (split to stay under
// the queue's message size). The consumer applies them through the same idempotent path,
// so a redelivered message changes nothing twice.

const MAX_MESSAGE_BYTES = 96 * 1024;

const preparedSchema = z.object({
  spaceId: z.string(),
  userId: z.string(),
  event: z.object({
    id: z.string(),
    type: z.string(),
    occurredAt: z.string(),
    data: z.record(z.string(), z.unknown()),
    silent: z.boolean(),
  }),
  idHash: z.string(),
  bodyHash: z.string(),
});
const ingestBody = z.object({ events: z.array(preparedSchema).min(1) });

export async function enqueueEvents(env: Env, events: PreparedEvent[]): Promise<void> {
  const byUser = new Map<string, PreparedEvent[]>();
  for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
  const messages: Array<{ body: QueueMessageEnvelope }> = [];
  for (const [userId, list] of byUser) {
    let chunk: PreparedEvent[] = [];
    let size = 0;
    const flush = () => {
      if (chunk.length === 0) return;
      messages.push({
        body: { v: 1, type: "ingest", key: `${chunk[0]!.spaceId}:${userId}:${chunk[0]!.event.id}:${chunk.length}`, body: { events: chunk } },
      });
      chunk = [];
      size = 0;
    };
    for (const e of list) {
      const bytes = JSON.stringify(e).length;
      if (size + bytes > MAX_MESSAGE_BYTES) flush();
      chunk.push(e);
      size += bytes;
    }
    flush();
  }
  // sendBatch takes at most 100 messages.
  for (let i = 0; i < messages.length; i += 100) await env.INGEST.sendBatch(messages.slice(i, i + 100));
}

/** The `ingest` queue's handler. */
export const ingestHandler: MessageHandler = async (message, env) => {
  const parsed = ingestBody.safeParse(message.body);
  if (!parsed.success) {
    // A malformed body can never succeed: record it and drop it rather than retry forever.
    log(env, "error", "queue.ingest_poison", { key: message.key, issues: parsed.error.issues.length });
    return "ack";
  }
  const results = await applyUserEvents(env, configOf(env), parsed.data.events, { dryRun: false, explain: false, async: true });
  // Evaluation errors left nothing stored: retry the message (applied events answer duplicate).
  return results.some((r) => r.kind === "error") ? { retryAfterSeconds: 30 } : "ack";
};
