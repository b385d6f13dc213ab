import { ApiError } from "../errors";
import { base64url, fromBase64url } from "../lib/ids";

// Opaque list cursors (SPEC §2): they carry the list they belong to, the space they were
// issued in and the last key seen. A cursor from another list or space is refused with
// 400 rather than silently reinterpreted; queries are scoped to the caller's space
// anyway, so a forged cursor can never reach another tenant's rows.

interface CursorBody {
  v: 1;
  list: string;
  space: string;
  after: string;
}

export function encodeCursor(list: string, space: string, after: string): string {
  const body: CursorBody = { v: 1, list, space, after };
  return base64url(new TextEncoder().encode(JSON.stringify(body)));
}

export function decodeCursor(cursor: string | undefined, list: string, space: string): string | undefined {
  if (cursor === undefined) return undefined;
  const invalid = new ApiError("invalid_cursor", "query.cursor: not a cursor of this list", [
    { path: "query.cursor", message: "not a cursor of this list" },
  ]);
  let body: unknown;
  try {
    if (cursor.length > 1024) throw invalid;
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64url(cursor)));
  } catch {
    throw invalid;
  }
  const b = body as Partial<CursorBody> | null;
  if (!b || b.v !== 1 || b.list !== list || b.space !== space || typeof b.after !== "string") throw invalid;
  return b.after;
}
