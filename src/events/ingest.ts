import { z } from "@hono/zod-openapi";
import type { Config } from "../config";
import type { SpaceRow } from "../db/schema";
import { canonicalJson } from "../definitions/kinds/common";
import { EVENT_TYPE_PATTERN, RESERVED_EVENT_TYPE_PREFIX } from "../definitions/effects";
import { parseTimestamp } from "../definitions/kinds/campaigns";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { hash16 } from "../crypto/hash";
import { USER_ID_PATTERN } from "../spaces/schemas";
import { userObjectName, type IngestRequest, type IngestResult } from "../user/user-state";

// Event ingestion (SPEC §5.1): validate and normalise a client's event, fingerprint its
// body as sent, and apply it in the user's Durable Object, which answers the outcome.

const MAX_DATA_BYTES = 16 * 1024;
const MAX_DATA_DEPTH = 8;
const MAX_DATA_KEYS = 256;
const MAX_FUTURE_MS = 5 * 60_000;

export const EVENT_ID_PATTERN = USER_ID_PATTERN;

export const eventInputSchema = z
  .strictObject({
    id: z.string().regex(EVENT_ID_PATTERN, "an event id is 1-128 characters of [A-Za-z0-9_.:@|+-]").optional(),
    userId: z.string().regex(USER_ID_PATTERN, "a user id is 1-128 characters of [A-Za-z0-9_.:@|+-]"),
    type: z
      .string()
      .regex(EVENT_TYPE_PATTERN, "an event type is 1-100 of A-Z, a-z, 0-9, _ . : -, starting with a letter or digit")
      .refine((t) => !t.startsWith(RESERVED_EVENT_TYPE_PREFIX), "loyalty.* event types are reserved for the engine"),
    occurredAt: z
      .string()
      .refine((v) => parseTimestamp(v) !== null, "an RFC 3339 timestamp, e.g. 2026-11-25T10:00:00Z (0-3 fraction digits)")
      .optional(),
    data: z
      .record(z.string(), z.unknown())
      .superRefine((data, ctx) => {
        const problem = dataProblem(data);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    silent: z.boolean().optional(),
  })
  .openapi("Event");

export type EventInput = z.infer<typeof eventInputSchema>;

/** SPEC §5.1: data ≤ 16 KiB, nesting ≤ 8, ≤ 256 keys in all. */
function dataProblem(data: Record<string, unknown>): string | undefined {
  if (new TextEncoder().encode(JSON.stringify(data)).byteLength > MAX_DATA_BYTES) return "data is larger than 16 KiB";
  let keys = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value: data, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_DATA_DEPTH) return `data nests deeper than ${MAX_DATA_DEPTH} levels`;
    const children = Array.isArray(value) ? value : Object.values(value);
    if (!Array.isArray(value)) keys += Object.keys(value).length;
    if (keys > MAX_DATA_KEYS) return `data has more than ${MAX_DATA_KEYS} keys`;
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
  return undefined;
}

export interface IngestOptions {
  dryRun: boolean;
  explain: boolean;
  async?: boolean;
}

/** An event checked, normalised and fingerprinted, ready for its user's object. */
export type PreparedEvent = Omit<IngestRequest, "dryRun" | "explain" | "definitionsTtlMs" | "async">;

/** An applied or duplicate event's answer; the outcome is the object's JSON text (see IngestResult). */
export interface EventAnswer {
  eventId: string;
  userId: string;
  duplicate: boolean;
  outcomeJson: string | null;
}

export type IngestAnswer = { status: 201 | 200; body: EventAnswer } | { status: 409 | 503; error: ApiError };

/** The answer's JSON text, `{ eventId, userId, duplicate, outcome }`, with the outcome's text as the object wrote it. */
export function eventAnswerJson(a: EventAnswer): string {
  return `{"eventId":${JSON.stringify(a.eventId)},"userId":${JSON.stringify(a.userId)},"duplicate":${a.duplicate},"outcome":${a.outcomeJson ?? "null"}}`;
}

/**
 * Validates what the schema cannot (the id may come from `Idempotency-Key`; occurredAt
 * at most 5 minutes ahead) and fingerprints the body as sent. Throws ApiError (400).
 */
export async function prepareEvent(space: SpaceRow, input: EventInput, idempotencyKey: string | undefined, now = Date.now()): Promise<PreparedEvent> {
  const id = input.id ?? idempotencyKey;
  if (input.id !== undefined && idempotencyKey !== undefined && input.id !== idempotencyKey) {
    throw new ApiError("invalid_request", "id: differs from the Idempotency-Key header", [{ path: "id", message: "differs from Idempotency-Key" }]);
  }
  if (id === undefined || !EVENT_ID_PATTERN.test(id)) {
    throw new ApiError("invalid_request", "id: an event id is required (or the Idempotency-Key header)", [
      { path: "id", message: "required: a retried event must not count twice" },
    ]);
  }
  const occurredMs = input.occurredAt !== undefined ? parseTimestamp(input.occurredAt)! : now;
  if (occurredMs > now + MAX_FUTURE_MS) {
    throw new ApiError("invalid_request", "occurredAt: more than 5 minutes in the future", [{ path: "occurredAt", message: "in the future" }]);
  }
  // "Same body" = the client's { type, occurredAt, data, silent } as sent, before defaults.
  const sent = { type: input.type, occurredAt: input.occurredAt, data: input.data, silent: input.silent };
  const [idHash, bodyHash] = await Promise.all([hash16(id), hash16(canonicalJson(sent))]);
  return {
    spaceId: space.id,
    userId: input.userId,
    event: { id, type: input.type, occurredAt: new Date(occurredMs).toISOString(), data: input.data ?? {}, silent: input.silent ?? false },
    idHash,
    bodyHash,
  };
}

export function answerOf(prepared: PreparedEvent, result: IngestResult): IngestAnswer {
  const { id } = prepared.event;
  switch (result.kind) {
    case "applied":
      return { status: 201, body: { eventId: id, userId: prepared.userId, duplicate: false, outcomeJson: result.outcomeJson } };
    case "duplicate":
      return { status: 200, body: { eventId: id, userId: prepared.userId, duplicate: true, outcomeJson: result.outcomeJson } };
    case "id_reused":
      return {
        status: 409,
        error: new ApiError("event_id_reused", `event '${id}' was already used with a different body`, [{ path: "id", message: "already used with another body" }]),
      };
    default:
      // Rolled back whole (SPEC §5.2), so the same event may simply be sent again.
      return { status: 503, error: new ApiError("unavailable", "the event could not be evaluated and nothing was stored; send it again", [], { "Retry-After": "1" }) };
  }
}

/** Applies one user's events in order, in one call to that user's object. */
export async function applyUserEvents(env: Env, config: Config, prepared: PreparedEvent[], options: IngestOptions): Promise<IngestResult[]> {
  const first = prepared[0];
  if (!first) return [];
  const stub = env.USERS.getByName(userObjectName(first.spaceId, first.userId));
  const requests: IngestRequest[] = prepared.map((p) => ({ ...p, ...options, definitionsTtlMs: config.definitionsTtlMs }));
  // RPC typing cannot see through `unknown` fields of the outcome; the shape is IngestResult.
  return (await stub.ingestBatch(requests)) as unknown as IngestResult[];
}
