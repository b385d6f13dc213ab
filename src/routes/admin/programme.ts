import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/context";
import { etagOf } from "../../http/etag";
import { applyProgramme, exportProgramme } from "../../definitions/programme";
import { adminSecurity, errorResponses, jsonContent } from "../common";
import { notifyQuery, startRecomputeFor } from "./audiences";

// The programme document (SPEC §4.8): export and atomic apply.

const tags = ["Programme"];
const documentSchema = z.record(z.string(), z.array(z.record(z.string(), z.unknown()))).openapi("Programme", {
  description: "`{ metrics, products, segments, ladders, streaks, triggers, campaigns, webhooks }`, each a list of definitions with their ids",
});
const diffSchema = z
  .object({
    created: z.array(z.string()),
    updated: z.array(z.string()),
    unchanged: z.array(z.string()),
    archived: z.array(z.string()),
    recompute: z.array(z.string()).openapi({ description: "changed definitions that need every user recomputed" }),
    job: z.string().nullable().openapi({ description: "the background recompute job started for them (also in the Loyalty-Job header)" }),
    dryRun: z.boolean(),
    secrets: z.record(z.string(), z.string()).openapi({ description: "signing secrets of webhooks created by this apply (shown once)" }),
  })
  .openapi("ProgrammeDiff");
const flag = z.enum(["true", "false"]).optional().transform((v) => v === "true");

const exportRoute = createRoute({
  method: "get",
  path: "/programme",
  tags,
  security: adminSecurity,
  summary: "Export the space's programme",
  description: "Every live definition, each list sorted by id, without server fields or secrets. The ETag is the space's definitions version.",
  responses: { 200: jsonContent(documentSchema, "The programme document"), ...errorResponses },
});

const applyRoute = createRoute({
  method: "put",
  path: "/programme",
  tags,
  security: adminSecurity,
  summary: "Apply a programme document atomically",
  description:
    "Everything valid or nothing stored. Definitions absent from the document are left alone unless `prune=true` (archives them; fails for anything still referenced). `dryRun=true` answers the diff without storing. Honours If-Match.",
  request: {
    query: z.object({ prune: flag, dryRun: flag }).extend(notifyQuery.shape),
    body: { required: true, content: { "application/json": { schema: documentSchema } } },
  },
  responses: { 200: jsonContent(diffSchema, "What changed (or would change)"), ...errorResponses },
});

export function registerProgrammeRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(exportRoute, async (c) => {
    const { document, version } = await exportProgramme(c.var);
    c.header("ETag", etagOf(version));
    return c.json(document, 200);
  });

  app.openapi(applyRoute, async (c) => {
    const { prune, dryRun, notify } = c.req.valid("query");
    const { diff, version, secrets } = await applyProgramme(c.var, c.req.valid("json"), {
      prune,
      dryRun,
      ifMatch: c.req.header("if-match"),
    });
    c.header("ETag", etagOf(version));
    const job = dryRun ? null : await startRecomputeFor(c, diff.recompute, notify);
    return c.json({ ...diff, job, dryRun, secrets }, 200);
  });
}
