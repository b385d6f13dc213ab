import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof dbOf>;

export function dbOf(d1: D1Database) {
  return drizzle(d1, { schema });
}

/** D1 reports constraint violations only in the message text (wrapped by drizzle). */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (String((e as Error).message ?? e).includes("UNIQUE constraint failed")) return true;
  }
  return false;
}
