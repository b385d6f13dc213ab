import { z } from "zod";
import { configOf } from "../config";
import { dbOf } from "../db/client";
import { eq } from "drizzle-orm";
import { jobs, type JobRow } from "../db/schema";
import { directoryPage, directorySize } from "../directory/store";
import type { Env } from "../env";
import { log } from "../http/log";
import { newId } from "../lib/ids";
import type { MessageHandler } from "../queue/consumer";
import { userObjectName, type RecomputeResult } from "../user/user-state";
import { findJob, recordPage, type JobError } from "./store";

// Background recomputes (SPEC §5.8). A job walks the space's user directory in pages of
// PAGE_SIZE through the jobs queue: each page message asks every user's Durable Object to
// recompute, sends the next page's message, then records its page by compare-and-set on
// the job's cursor. So a redelivered or duplicated page never counts twice (the objects
// remember the jobs they did and answer alike), a crash anywhere is repaired by
// redelivery, and a duplicate chain dies at its next page (the cursor moved on).

const PAGE_SIZE = 50;
/** Durable Object calls in flight per page. */
const CONCURRENCY = 10;
/** A user whose object keeps failing is recorded as an error after this many deliveries. */
const MAX_PAGE_ATTEMPTS = 3;
const EARLY_PAGE_RETRY_SECONDS = 2;

const pageBody = z.object({ spaceId: z.string().min(1), jobId: z.string().min(1), after: z.string() });

function pageMessage(spaceId: string, jobId: string, after: string) {
  return { body: { v: 1, type: "job.page", key: `${jobId}:${after}`, body: { spaceId, jobId, after } } };
}

/**
 * Records a recompute job over every user in the space's directory and queues its first
 * page; a space without users gets a job that is finished at once.
 */
export async function startRecomputeJob(env: Env, spaceId: string, definitions: string[], notify: boolean): Promise<JobRow> {
  const db = dbOf(env.DB);
  const now = Date.now();
  const total = await directorySize(env.DB, spaceId);
  const row: JobRow = {
    id: newId("job", now),
    spaceId,
    type: "recompute",
    reason: { definitions },
    notify,
    status: total === 0 ? "finished" : "running",
    total,
    processed: 0,
    changed: 0,
    failed: 0,
    errors: [],
    cursor: "",
    createdAt: now,
    updatedAt: now,
    finishedAt: total === 0 ? now : null,
  };
  await db.insert(jobs).values(row).run();
  if (total === 0) return row;
  try {
    await env.JOBS.send(pageMessage(spaceId, row.id, "").body);
  } catch (error) {
    // The definition change is stored; the job says it could not start.
    log(env, "error", "job.start_failed", { jobId: row.id, error: String(error) });
    const failed = { status: "failed", errors: [{ userId: null, message: "the job could not be queued" }], finishedAt: now };
    await db.update(jobs).set(failed).where(eq(jobs.id, row.id)).run();
    return { ...row, ...failed };
  }
  return row;
}

export const jobPageHandler: MessageHandler = async (message, env, attempts) => {
  const parsed = pageBody.safeParse(message.body);
  if (!parsed.success) {
    log(env, "error", "queue.job_poison", { key: message.key, issues: parsed.error.issues.length });
    return "ack";
  }
  const { spaceId, jobId, after } = parsed.data;
  const db = dbOf(env.DB);
  const job = await findJob(db, spaceId, jobId);
  // Gone, finished, or this page was recorded already (a redelivery or a duplicate).
  if (!job || job.status !== "running" || (job.cursor ?? "") > after) return "ack";
  // Ahead of the cursor: the page before it sent this one and has not recorded itself
  // yet. Later, not never — this message may be the only one carrying the rest of the job
  // (if that page never records, its redelivery sends this page again).
  // Growing waits (2, 4, 8, 16, 32 s) span a minute of the queue's retries.
  if (job.cursor !== after) return { retryAfterSeconds: Math.min(EARLY_PAGE_RETRY_SECONDS * 2 ** Math.max(0, attempts - 1), 60) };

  const userIds = await directoryPage(env.DB, spaceId, after, PAGE_SIZE);
  const results = await recomputeAll(env, spaceId, job, userIds);
  const failures = results.flatMap((r, i) => (r.kind === "error" ? [{ userId: userIds[i]!, message: r.message }] : []));
  // Transient failures: the whole page again (users already done answer as before).
  if (failures.length > 0 && attempts < MAX_PAGE_ATTEMPTS) throw new Error(`${failures.length} users failed to recompute`);

  const last = userIds[userIds.length - 1] ?? after;
  const finished = userIds.length < PAGE_SIZE;
  // Next page first: if recording fails, the redelivered message repeats this page and
  // sends it again, and the copy that does not win the cursor below stops there.
  if (!finished) await env.JOBS.send(pageMessage(spaceId, jobId, last).body);
  const errors: JobError[] = failures;
  await recordPage(
    db,
    job,
    { after, last, processed: userIds.length, changed: results.filter((r) => r.kind === "changed").length, errors, finished },
    Date.now(),
  );
  return "ack";
};

async function recomputeAll(env: Env, spaceId: string, job: JobRow, userIds: string[]): Promise<RecomputeResult[]> {
  const definitionsTtlMs = configOf(env).definitionsTtlMs;
  const results: RecomputeResult[] = [];
  for (let start = 0; start < userIds.length; start += CONCURRENCY) {
    const chunk = userIds.slice(start, start + CONCURRENCY);
    results.push(
      ...(await Promise.all(
        chunk.map(async (userId): Promise<RecomputeResult> => {
          try {
            const stub = env.USERS.getByName(userObjectName(spaceId, userId));
            return (await stub.recompute({ spaceId, userId, jobId: job.id, notify: job.notify, definitionsTtlMs })) as RecomputeResult;
          } catch (error) {
            return { kind: "error", message: String(error) };
          }
        }),
      )),
    );
  }
  return results;
}

/**
 * A page that ran out of queue retries (it kept arriving before the page before it had
 * recorded itself, or its handler kept failing) must not end the job: while the job runs
 * and has not passed this page, the page is queued again, 30 s later.
 */
export async function requeueDeadPage(message: { body: unknown; key: string }, env: Env): Promise<void> {
  const parsed = pageBody.safeParse(message.body);
  if (!parsed.success) return;
  const { spaceId, jobId, after } = parsed.data;
  const job = await findJob(dbOf(env.DB), spaceId, jobId);
  if (!job || job.status !== "running" || (job.cursor ?? "") > after) return;
  log(env, "warn", "job.page_requeued", { jobId, after });
  await env.JOBS.send(pageMessage(spaceId, jobId, after).body, { delaySeconds: 30 });
}
