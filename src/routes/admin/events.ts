import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { eventInputSchema, ingestEvent } from "../../events/ingest";
import { adminSecurity, errorResponses, jsonBody, jsonContent } from "../common";

// POST /api/loyalty/admin/events (SPEC §5.1): one event, applied synchronously in the
// user's Durable Object; the answer is its outcome.

const flag = z.enum(["true", "false"]).optional().transform((v) => v === "true");
const answerSchema = z
  .object({ eventId: z.string(), userId: z.string(), duplicate: z.boolean(), outcome: z.record(z.string(), z.unknown()).nullable() })
  .openapi("EventOutcome");

const ingestRoute = createRoute({
  method: "post",
  path: "/events",
  tags: ["Events"],
  security: adminSecurity,
  summary: "Ingest an event (idempotent by id)",
  description:
    "201 with the outcome; the same id and body again answers 200 `duplicate: true` with the stored outcome; the same id with another body is 409 `event_id_reused`. `dryRun=true` evaluates without committing; `explain=true` says why candidate steps did not count.",
  request: { query: z.object({ dryRun: flag, explain: flag }), body: jsonBody(eventInputSchema) },
  responses: { 201: jsonContent(answerSchema, "Applied"), 200: jsonContent(answerSchema, "Already applied"), ...errorResponses },
});

export function registerEventRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(ingestRoute, async (c) => {
    const { dryRun, explain } = c.req.valid("query");
    const answer = await ingestEvent(c.env, c.var.config, c.var.space, c.req.valid("json"), {
      dryRun,
      explain,
      idempotencyKey: c.req.header("idempotency-key"),
    });
    if ("error" in answer) throw answer.error;
    return c.json(answer.body as z.infer<typeof answerSchema>, answer.status);
  });
}
