import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { ApiError, problemOf } from "../../errors";
import { validationError } from "../../http/validation";
import { enqueueEvents } from "../../events/async";
import { answerOf, applyUserEvents, eventAnswerJson, eventInputSchema, prepareEvent, type PreparedEvent } from "../../events/ingest";
import { adminSecurity, errorResponses, jsonRequestBody, jsonContent } from "../common";

// Event ingestion (SPEC §5.1): one event or a batch, applied synchronously in each user's
// Durable Object (the answer is the outcome), or accepted for the ingest queue with
// `async=true`.

const flag = z.enum(["true", "false"]).optional().transform((v) => v === "true");
const query = z.object({ dryRun: flag, explain: flag, async: flag });
const anyObject = z.record(z.string(), z.unknown());
const MAX_BATCH = 500;
/** Users of one batch applied at the same time (a Worker has 6 simultaneous connections). */
const USER_PARALLELISM = 6;

const answerSchema = z
  .object({ eventId: z.string(), userId: z.string(), duplicate: z.boolean(), outcome: anyObject.nullable() })
  .openapi("EventOutcome");
const acceptedSchema = z
  .object({ accepted: z.array(z.string()), rejected: z.array(z.object({ index: z.number(), error: anyObject })) })
  .openapi("EventsAccepted");
const batchSchema = z.strictObject({ events: z.array(z.unknown()).min(1).max(MAX_BATCH) }).openapi("EventBatch");

const ingestRoute = createRoute({
  method: "post",
  path: "/events",
  tags: ["Events"],
  security: adminSecurity,
  summary: "Ingest an event (idempotent by id)",
  description:
    "201 with the outcome; the same id and body again answers 200 `duplicate: true` with the stored outcome; the same id with another body is 409 `event_id_reused`. `dryRun=true` evaluates without committing; `explain=true` says why candidate steps did not count; `async=true` answers 202 and applies it through the ingest queue.",
  request: { query, body: jsonRequestBody(eventInputSchema) },
  responses: {
    201: jsonContent(answerSchema, "Applied"),
    200: jsonContent(answerSchema, "Already applied"),
    202: jsonContent(acceptedSchema, "Accepted for asynchronous processing"),
    ...errorResponses,
  },
});

const batchRoute = createRoute({
  method: "post",
  path: "/events/batch",
  tags: ["Events"],
  security: adminSecurity,
  summary: "Ingest up to 500 events",
  description:
    "Each event is validated and applied on its own; one user's events are applied in array order, users in parallel. Answers 200 with a result per event (status 201, 200 or 4xx with a problem), or 202 with `async=true`.",
  request: { query, body: jsonRequestBody(batchSchema) },
  responses: {
    200: jsonContent(z.object({ results: z.array(anyObject) }).openapi("EventBatchResults"), "One result per event"),
    202: jsonContent(acceptedSchema, "Accepted for asynchronous processing"),
    ...errorResponses,
  },
});

type Item = { index: number; prepared?: PreparedEvent; error?: ApiError };

async function prepareItems(c: Context<AppEnv>, events: unknown[]): Promise<Item[]> {
  return Promise.all(
    events.map(async (raw, index): Promise<Item> => {
      const parsed = eventInputSchema.safeParse(raw);
      if (!parsed.success) return { index, error: validationError(parsed.error) };
      try {
        return { index, prepared: await prepareEvent(c.get("space"), parsed.data, undefined) };
      } catch (error) {
        if (error instanceof ApiError) return { index, error };
        throw error;
      }
    }),
  );
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function bounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function byUser(items: Item[]): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    if (!item.prepared) continue;
    const list = groups.get(item.prepared.userId) ?? [];
    list.push(item);
    groups.set(item.prepared.userId, list);
  }
  return groups;
}

export function registerEventRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(ingestRoute, async (c) => {
    const { dryRun, explain, async } = c.req.valid("query");
    const prepared = await prepareEvent(c.get("space"), c.req.valid("json"), c.req.header("idempotency-key"));
    if (async) {
      await enqueueEvents(c.env, [prepared]);
      return c.json({ accepted: [prepared.event.id], rejected: [] }, 202);
    }
    const [result] = await applyUserEvents(c.env, c.get("config"), [prepared], { dryRun, explain });
    const answer = answerOf(prepared, result!);
    if ("error" in answer) throw answer.error;
    // The outcome's text goes out as the user's object wrote it (see IngestResult). The
    // text is answerSchema's JSON, which the route's typing cannot see in a string.
    return c.body(eventAnswerJson(answer.body), answer.status, { "Content-Type": "application/json" }) as never;
  });

  app.openapi(batchRoute, async (c) => {
    const { dryRun, explain, async } = c.req.valid("query");
    const items = await prepareItems(c, c.req.valid("json").events);
    const problem = (error: ApiError) => problemOf(error, c.get("requestId"));
    const rejected = items.filter((i) => i.error).map((i) => ({ index: i.index, error: problem(i.error!) }));
    if (async) {
      const accepted = items.filter((i) => i.prepared).map((i) => i.prepared!);
      await enqueueEvents(c.env, accepted);
      return c.json({ accepted: accepted.map((p) => p.event.id), rejected }, 202);
    }
    const results: Array<Record<string, unknown>> = items.map((i) =>
      i.error ? { index: i.index, eventId: null, status: i.error.status, error: problem(i.error) } : { index: i.index },
    );
    await bounded([...byUser(items).values()], USER_PARALLELISM, async (group) => {
      const answers = await applyUserEvents(c.env, c.get("config"), group.map((i) => i.prepared!), { dryRun, explain });
      group.forEach((item, n) => {
        const answer = answerOf(item.prepared!, answers[n]!);
        results[item.index] =
          "error" in answer
            ? { index: item.index, eventId: item.prepared!.event.id, status: answer.status, error: problem(answer.error) }
            : {
                index: item.index,
                eventId: answer.body.eventId,
                status: answer.status,
                outcome: answer.body.outcomeJson === null ? null : JSON.parse(answer.body.outcomeJson),
                duplicate: answer.body.duplicate,
              };
      });
    });
    return c.json({ results }, 200);
  });
}
