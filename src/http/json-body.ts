import type { MiddlewareHandler } from "hono";
import { ApiError, invalidAt } from "../errors";
import { readAtMost } from "../lib/streams";
import { formatPath } from "./paths";

// Every JSON body is read here once, before any route sees it: size limit (413), media
// type (415), strict UTF-8 and JSON syntax (400 malformed_json), and the plain-data rules
// of SPEC §2 (no __proto__/constructor/prototype keys, bounded nesting, finite numbers,
// well-formed Unicode even where JSON escapes spell a lone surrogate). The text is then
// left in Hono's body cache, so the zod validators parse exactly what was checked.

const KIB = 1024;
export const DEFAULT_BODY_LIMIT = 64 * KIB;
export const LARGE_BODY_LIMIT = 5 * KIB * KIB;

/** Batch ingestion, the programme document and code uploads may be large (SPEC §2). */
const LARGE_BODY_ROUTES = [
  /^\/api\/loyalty\/admin\/events\/batch$/,
  /^\/api\/loyalty\/admin\/programme$/,
  /^\/api\/loyalty\/admin\/products\/[^/]+\/codes$/,
];

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
/** Far deeper than any valid body (conditions nest ≤ 8); keeps scans and zod cheap. */
const MAX_NESTING = 64;
/**
 * Half of a surrogate pair without the other half. JSON may spell one (`"\ud800"`), but it
 * is no Unicode text: UTF-8 cannot encode it (the same bytes sent raw are malformed_json
 * above) and storage would silently turn it into U+FFFD.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function bodyLimitFor(path: string): number {
  return LARGE_BODY_ROUTES.some((re) => re.test(path)) ? LARGE_BODY_LIMIT : DEFAULT_BODY_LIMIT;
}

function isJsonMediaType(contentType: string, method: string): boolean {
  const media = contentType.split(";")[0]!.trim().toLowerCase();
  return media === "application/json" || (method === "PATCH" && media === "application/merge-patch+json");
}

function tooLarge(limit: number): ApiError {
  return new ApiError("payload_too_large", `request body exceeds ${limit} bytes`);
}

/** Walks the parsed value without recursion (a hostile body may nest thousands deep). */
export function assertPlainData(value: unknown): void {
  const stack: Array<{ value: unknown; path: Array<string | number>; depth: number }> = [
    { value, path: [], depth: 0 },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    // `1e400` parses to Infinity, which JSON.stringify would store as null.
    if (typeof item.value === "number" && !Number.isFinite(item.value)) {
      throw invalidAt(formatPath(item.path), "a number too large to represent");
    }
    if (typeof item.value === "string" && LONE_SURROGATE.test(item.value)) {
      throw invalidAt(formatPath(item.path), "not well-formed Unicode (half of a surrogate pair)");
    }
    if (item.value === null || typeof item.value !== "object") continue;
    if (item.depth >= MAX_NESTING) {
      throw invalidAt(formatPath(item.path), `nesting deeper than ${MAX_NESTING} levels`);
    }
    if (Array.isArray(item.value)) {
      item.value.forEach((v, i) => stack.push({ value: v, path: [...item.path, i], depth: item.depth + 1 }));
      continue;
    }
    for (const key of Object.keys(item.value)) {
      const path = [...item.path, key];
      if (FORBIDDEN_KEYS.has(key)) throw invalidAt(formatPath(path), `the key '${key}' is not allowed`);
      if (LONE_SURROGATE.test(key)) throw invalidAt(formatPath(path), "a key that is not well-formed Unicode (half of a surrogate pair)");
      stack.push({ value: (item.value as Record<string, unknown>)[key], path, depth: item.depth + 1 });
    }
  }
}

export const jsonBody: MiddlewareHandler = async (c, next) => {
  const method = c.req.method;
  if (method !== "POST" && method !== "PUT" && method !== "PATCH") return next();

  const limit = bodyLimitFor(c.req.path);
  const declared = Number(c.req.header("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);

  const raw = c.req.raw.body ? await readAtMost(c.req.raw.body, limit) : new Uint8Array();
  if (raw === null) throw tooLarge(limit);
  let text = "{}"; // no body at all = an empty object: optional-body actions need none
  if (raw.byteLength > 0) {
    const contentType = c.req.header("content-type") ?? "";
    if (!isJsonMediaType(contentType, method)) {
      throw new ApiError(
        "unsupported_media_type",
        method === "PATCH"
          ? "send application/json or application/merge-patch+json"
          : "send application/json",
      );
    }
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw);
    } catch {
      throw new ApiError("malformed_json", "the body is not valid UTF-8", [{ path: "", message: "not valid UTF-8" }]);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      // The path is the whole body (""); the message carries the parser's position.
      const message = (e as Error).message;
      throw new ApiError("malformed_json", `the body is not valid JSON: ${message}`, [{ path: "", message }]);
    }
    assertPlainData(parsed);
  }
  // Hono keeps promises in its body cache (typed as values).
  (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
  return next();
};
