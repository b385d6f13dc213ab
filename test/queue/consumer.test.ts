import { afterEach, describe, expect, it, vi } from "vitest";
import { handlers, type MessageHandler, type QueueMessageEnvelope } from "../../src/queue/consumer";
import { runQueue, type QueueResult, type QueueTestMessage } from "../helpers/queue";

// The queue consumer (SPEC §1.2): every message is parsed with zod, then acked or retried
// one by one. Driven through the Worker's real `queue` export with a MessageBatch built
// by the pool, whose ack/retry state getQueueResult reads back.

const temporaryTypes: string[] = [];
let counter = 0;

/** Registers a handler under a fresh type for this test only. */
function register(handler: MessageHandler): string {
  const type = `test.handler.${++counter}`;
  handlers[type] = handler;
  temporaryTypes.push(type);
  return type;
}

function envelope(type: string, body: unknown = {}, key = `key-${++counter}`): QueueMessageEnvelope {
  return { v: 1, type, key, body };
}

/** One batch through the Worker's `queue` export (test/helpers/queue.ts); fixed timestamp. */
const deliver = (queue: string, messages: QueueTestMessage[]) => runQueue(queue, messages, undefined, new Date(1_700_000_000_000));

function expectAcked(result: QueueResult, ids: string[]): void {
  expect(result.outcome).toBe("ok");
  expect(result.ackAll).toBe(false);
  expect(result.retryBatch.retry).toBe(false);
  expect([...result.explicitAcks].sort()).toEqual([...ids].sort());
  expect(result.retryMessages).toEqual([]);
}

afterEach(() => {
  for (const type of temporaryTypes.splice(0)) delete handlers[type];
  vi.restoreAllMocks();
});

describe("queue consumer", () => {
  it.each<[string, unknown]>([
    ["a string", "hello"],
    ["null", null],
    ["an empty object", {}],
    ["version 2", { v: 2, type: "x", key: "k", body: {} }],
    ["no key", { v: 1, type: "x", body: {} }],
    ["an empty key", { v: 1, type: "x", key: "", body: {} }],
    ["an empty type", { v: 1, type: "", key: "k", body: {} }],
    ["a type too long", { v: 1, type: "t".repeat(65), key: "k", body: {} }],
    ["a key too long", { v: 1, type: "x", key: "k".repeat(513), body: {} }],
  ])("a malformed message (%s) is acked and logged, not retried", async (_name, body) => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const result = await deliver("loyalty-ingest", [{ id: "m-poison", body }]);
    expectAcked(result, ["m-poison"]);
    expect(errors.mock.calls.flat().join("\n")).toContain("queue.poison");
  });

  it("a malformed message does not reach a handler even if its type is registered", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const handler = vi.fn<MessageHandler>(async () => "ack");
    const type = register(handler);
    const result = await deliver("loyalty-jobs", [{ id: "m1", body: { v: 2, type, key: "k", body: {} } }]);
    expectAcked(result, ["m1"]);
    expect(handler).not.toHaveBeenCalled();
  });

  it("an unknown message type is acked and logged", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const result = await deliver("loyalty-index", [{ id: "m-unknown", body: envelope("no.such.type") }]);
    expectAcked(result, ["m-unknown"]);
    expect(errors.mock.calls.flat().join("\n")).toContain("queue.unknown_type");
  });

  it("a handler answering ack acks, and sees the parsed envelope, env and attempts", async () => {
    const handler = vi.fn<MessageHandler>(async () => "ack");
    const type = register(handler);
    const message = envelope(type, { userId: "u1", n: 3 }, "idem-1");
    const result = await deliver("loyalty-ingest", [{ id: "m-ok", body: message, attempts: 3 }]);
    expectAcked(result, ["m-ok"]);
    expect(handler).toHaveBeenCalledTimes(1);
    const [seen, seenEnv, attempts] = handler.mock.calls[0]!;
    expect(seen).toEqual(message);
    expect(seenEnv.DB).toBeDefined();
    expect(attempts).toBe(3);
  });

  it("a handler answering retryAfterSeconds retries that message with that delay", async () => {
    const type = register(async () => ({ retryAfterSeconds: 30 }));
    const result = await deliver("loyalty-deliveries", [{ id: "m-later", body: envelope(type) }]);
    expect(result.outcome).toBe("ok");
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "m-later", delaySeconds: 30 }]);
    expect(result.retryBatch.retry).toBe(false);
  });

  it.each([
    [1, 5],
    [2, 10],
    [3, 20],
    [5, 80],
    [8, 640],
    [9, 900],
    [20, 900],
  ])("a handler that throws on attempt %i is retried after %i s (exponential backoff, capped) and logged", async (attempts, delay) => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const type = register(async () => {
      throw new Error("downstream unavailable");
    });
    const result = await deliver("loyalty-jobs", [{ id: "m-throws", body: envelope(type), attempts }]);
    expect(result.outcome).toBe("ok");
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "m-throws", delaySeconds: delay }]);
    expect(errors.mock.calls.flat().join("\n")).toContain("queue.handler_failed");
  });

  it("messages are handled one by one: a mixed batch acks and retries each on its own", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ok = register(async () => "ack");
    const later = register(async () => ({ retryAfterSeconds: 7 }));
    const broken = register(async () => {
      throw new Error("boom");
    });
    const result = await deliver("loyalty-ingest", [
      { id: "a", body: envelope(ok) },
      { id: "b", body: envelope(broken) },
      { id: "c", body: "poison" },
      { id: "d", body: envelope(later) },
      { id: "e", body: envelope("unknown.type") },
      { id: "f", body: envelope(ok) },
    ]);
    expect(result.outcome).toBe("ok");
    expect([...result.explicitAcks].sort()).toEqual(["a", "c", "e", "f"]);
    expect([...result.retryMessages].sort((x, y) => x.msgId.localeCompare(y.msgId))).toEqual([
      { msgId: "b" },
      { msgId: "d", delaySeconds: 7 },
    ].map((m) => expect.objectContaining(m)));
    expect(result.retryMessages).toHaveLength(2);
  });

  it.each(["loyalty-dlq", "loyalty-deliveries-dlq"])(
    "messages on %s are acked and recorded, never handed to the handler",
    async (queue) => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const handler = vi.fn<MessageHandler>(async () => ({ retryAfterSeconds: 5 }));
      const type = register(handler);
      const result = await deliver(queue, [
        { id: "dead-1", body: envelope(type, {}, "dead-key-1"), attempts: 9 },
        { id: "dead-2", body: envelope("no.such.type", {}, "dead-key-2") },
        { id: "dead-3", body: 42 },
      ]);
      expectAcked(result, ["dead-1", "dead-2", "dead-3"]);
      expect(handler).not.toHaveBeenCalled();
      const logged = errors.mock.calls.flat().join("\n");
      expect(logged).toContain("queue.dead_letter");
      expect(logged).toContain("dead-key-1");
      expect(logged).toContain("dead-key-2");
      expect(logged).toContain(queue);
    },
  );
});
