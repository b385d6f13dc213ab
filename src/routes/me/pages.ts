import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { decodeCursor, encodeCursor } from "../../http/cursor";
import { userStub } from "../../users/gateway";
import type { ActivityEntry, LedgerEntry } from "../../user/storage";

// Ledger and activity pages, shared by the Admin API and the User API: newest first,
// cursors bound to the space, the user and the list.

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(1024).optional(),
});

type PageQuery = z.infer<typeof pageQuery>;

function before(c: Context<AppEnv>, list: string, cursor: string | undefined): number | undefined {
  const after = decodeCursor(cursor, list, c.get("space").id);
  return after === undefined ? undefined : Number(after);
}

export async function ledgerPage(c: Context<AppEnv>, userId: string, metric: string, query: PageQuery) {
  const list = `ledger:${userId}:${metric}`;
  const rows = (await userStub(c, userId).ledger(metric, query.limit + 1, before(c, list, query.cursor))) as LedgerEntry[];
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return { data: page, nextCursor: rows.length > query.limit && last ? encodeCursor(list, c.get("space").id, String(last.seq)) : null };
}

export async function activityPage(c: Context<AppEnv>, userId: string, query: PageQuery) {
  const list = `activity:${userId}`;
  const rows = (await userStub(c, userId).activity(query.limit + 1, before(c, list, query.cursor))) as unknown as ActivityEntry[];
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return { data: page, nextCursor: rows.length > query.limit && last ? encodeCursor(list, c.get("space").id, String(last.seq)) : null };
}
