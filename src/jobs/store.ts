import { and, desc, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { jobs, type JobRow } from "../db/schema";
import { iso } from "../lib/time";

// Job records in D1 (SPEC §5.8). Progress moves by compare-and-set on `cursor`, so a page
// counts once however many copies of its message run.

export const MAX_ERRORS_KEPT = 20;

export type JobError = { userId: string | null; message: string };

export async function findJob(db: Db, spaceId: string, id: string): Promise<JobRow | undefined> {
  return db.select().from(jobs).where(and(eq(jobs.spaceId, spaceId), eq(jobs.id, id))).get();
}

/** Newest first (job ids are time-ordered). */
export async function listJobs(db: Db, spaceId: string, options: { before?: string; limit: number }): Promise<JobRow[]> {
  const filters = [eq(jobs.spaceId, spaceId)];
  if (options.before) filters.push(lt(jobs.id, options.before));
  return db.select().from(jobs).where(and(...filters)).orderBy(desc(jobs.id)).limit(options.limit).all();
}

export interface PageDone {
  /** The page's `after`: the update applies only while the job still waits for this page. */
  after: string;
  /** Last user id of the page (the next page's `after`). */
  last: string;
  processed: number;
  changed: number;
  errors: JobError[];
  finished: boolean;
}

/** Records a page; false if another copy of the page's message already did. */
export async function recordPage(db: Db, job: JobRow, page: PageDone, now: number): Promise<boolean> {
  const result = await db
    .update(jobs)
    .set({
      cursor: page.last,
      processed: job.processed + page.processed,
      changed: job.changed + page.changed,
      failed: job.failed + page.errors.length,
      errors: [...job.errors, ...page.errors].slice(0, MAX_ERRORS_KEPT),
      updatedAt: now,
      ...(page.finished ? { status: "finished", finishedAt: now } : {}),
    })
    .where(and(eq(jobs.id, job.id), eq(jobs.cursor, page.after), eq(jobs.status, "running")))
    .run();
  return result.meta.changes === 1;
}

export function jobView(row: JobRow) {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    reason: row.reason,
    notify: row.notify,
    total: row.total,
    processed: row.processed,
    changed: row.changed,
    failed: row.failed,
    errors: row.errors,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    finishedAt: row.finishedAt === null ? null : iso(row.finishedAt),
  };
}
