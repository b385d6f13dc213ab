import { createRoute, z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { findDefinition } from "../../definitions/store";
import { definitionIdSchema } from "../../definitions/kinds/common";
import { listDirectory, type DirectoryQuery, type DirectoryUser } from "../../directory/store";
import { ApiError } from "../../errors";
import { decodeCursor, encodeCursor } from "../../http/cursor";
import { findJob, jobView, listJobs } from "../../jobs/store";
import { startRecomputeJob } from "../../jobs/runner";
import { USER_ID_PATTERN } from "../../spaces/schemas";
import { adminSecurity, errorResponses, jsonContent, listQuerySchema, pageOf, pageSchema } from "../common";

// Audiences through the Admin API (SPEC §5.5, §5.8, §7): the user directory, a segment's
// members (both from the D1 index, eventually consistent) and background jobs.

const directoryUserSchema = z
  .object({ userId: z.string(), createdAt: z.string().nullable(), lastSeenAt: z.string().nullable(), segments: z.array(z.string()) })
  .openapi("DirectoryUser");
const jobSchema = z.record(z.string(), z.unknown()).openapi("Job", {
  description: "`{ id, type, status: running | finished | failed, reason, notify, total, processed, changed, failed, errors, createdAt, updatedAt, finishedAt }`",
});
const directoryQuery = listQuerySchema.extend({
  q: z.string().regex(USER_ID_PATTERN, "a user id prefix is 1-128 characters of [A-Za-z0-9_.:@|+-]").optional()
    .openapi({ description: "Only user ids starting with this (taken literally)" }),
  segment: definitionIdSchema.optional().openapi({ description: "Only members of this segment" }),
});
const membersQuery = listQuerySchema.extend({ q: directoryQuery.shape.q });

async function directoryAnswer(c: Context<AppEnv>, query: Omit<DirectoryQuery, "after"> & { cursor?: string }, list: string) {
  const space = c.get("space").id;
  const rows = await listDirectory(c.env.DB, space, { ...query, after: decodeCursor(query.cursor, list, space), limit: query.limit + 1 });
  return pageOf(rows, query.limit, (row: DirectoryUser) => row, (row) => encodeCursor(list, space, row.userId));
}

async function assertSegment(c: Context<AppEnv>, id: string, path: string): Promise<void> {
  if (!(await findDefinition(c.get("db"), c.get("space").id, "segments", id))) {
    throw new ApiError("not_found", `no segment '${id}' in this space`, [{ path, message: "no such segment" }]);
  }
}

/**
 * Starts the recompute a definition change needs (SPEC §5.8) and names the job in the
 * `Loyalty-Job` header; `notify=false` on the change makes it a silent backfill.
 */
export async function startRecomputeFor(c: Context<AppEnv>, definitions: string[], notify: boolean): Promise<string | null> {
  if (definitions.length === 0) return null;
  const job = await startRecomputeJob(c.env, c.get("space").id, definitions, notify);
  c.header("Loyalty-Job", job.id);
  return job.id;
}

/** `?notify=false`: the recompute a change starts sends no webhooks or pushes. */
export const notifyQuery = z.object({
  notify: z.enum(["true", "false"]).optional().transform((v) => v !== "false")
    .openapi({ description: "false: the background recompute this change starts sends no webhooks or pushes (a backfill)" }),
});

export function registerAudienceRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({ method: "get", path: "/users", tags: ["Users"], security: adminSecurity, summary: "The user directory",
      description: "Users by id, from the D1 directory (eventually consistent: updated within seconds of a change; `lastSeenAt` to the hour). `segment` lists that segment's members; `q` is a user-id prefix.",
      request: { query: directoryQuery }, responses: { 200: jsonContent(pageSchema(directoryUserSchema), "A page of users"), ...errorResponses } }),
    async (c) => {
      const query = c.req.valid("query");
      if (query.segment !== undefined) await assertSegment(c, query.segment, "query.segment");
      const list = `users:${query.segment ?? ""}:${query.q ?? ""}`;
      return c.json(await directoryAnswer(c, { limit: query.limit, cursor: query.cursor, prefix: query.q, segment: query.segment }, list), 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/segments/{id}/users", tags: ["Segments"], security: adminSecurity, summary: "A segment's members",
      description: "From the D1 segment-member index (eventually consistent).",
      request: { params: z.object({ id: definitionIdSchema }), query: membersQuery },
      responses: { 200: jsonContent(pageSchema(directoryUserSchema), "A page of members"), ...errorResponses } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const query = c.req.valid("query");
      await assertSegment(c, id, "path.id");
      return c.json(await directoryAnswer(c, { limit: query.limit, cursor: query.cursor, prefix: query.q, segment: id }, `users:${id}:${query.q ?? ""}`), 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/jobs", tags: ["Jobs"], security: adminSecurity, summary: "Background jobs, newest first",
      request: { query: listQuerySchema }, responses: { 200: jsonContent(pageSchema(jobSchema), "A page of jobs"), ...errorResponses } }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const space = c.get("space").id;
      const rows = await listJobs(c.get("db"), space, { before: decodeCursor(cursor, "jobs", space), limit: limit + 1 });
      return c.json(pageOf(rows, limit, jobView, (row) => encodeCursor("jobs", space, row.id)), 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/jobs/{id}", tags: ["Jobs"], security: adminSecurity, summary: "A background job's progress",
      request: { params: z.object({ id: z.string().max(64) }) }, responses: { 200: jsonContent(jobSchema, "The job"), ...errorResponses } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await findJob(c.get("db"), c.get("space").id, id);
      if (!row) throw new ApiError("not_found", `no job '${id}' in this space`);
      return c.json(jobView(row), 200);
    },
  );
}
