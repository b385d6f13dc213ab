import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import worker from "../../src/index";
import type { Env } from "../../src/env";

// Drives the Worker's real `queue` export with a MessageBatch built by the pool, and says
// what it did to each message. getQueueResult (pool 0.15.1) reports acks and retries but
// drops `delaySeconds`, so the options each `retry()` received are recorded and merged
// back into `retryMessages`.

export interface QueueResult {
  outcome: string;
  ackAll: boolean;
  retryBatch: { retry: boolean; delaySeconds?: number };
  explicitAcks: string[];
  retryMessages: Array<{ msgId: string; delaySeconds?: number }>;
}

export interface QueueTestMessage {
  /** Generated when omitted. */
  id?: string;
  body: unknown;
  attempts?: number;
}

let serial = 0;

export async function runQueue(queue: string, messages: QueueTestMessage[], withEnv: Env = env as unknown as Env, timestamp = new Date()): Promise<QueueResult> {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id ?? `msg-${++serial}`, timestamp, attempts: m.attempts ?? 1, body: m.body })),
  );
  const retryOptions = new Map<string, QueueRetryOptions | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: QueueRetryOptions) => {
      retryOptions.set(message.id, options);
      retry();
    };
  }
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<Env>).queue!(batch, withEnv, ctx);
  const result = (await getQueueResult(batch, ctx)) as QueueResult;
  return {
    ...result,
    retryMessages: result.retryMessages.map((m) => {
      const delaySeconds = retryOptions.get(m.msgId)?.delaySeconds;
      return delaySeconds === undefined ? m : { ...m, delaySeconds };
    }),
  };
}
