import fc from "fast-check";
import { expect } from "vitest";
import { ERROR_CODES } from "../../src/errors";
import { bodyLimitFor } from "../../src/http/json-body";
import { base64url } from "../../src/lib/ids";
import { answer, call, callDirect, type Answer, type CallOptions } from "./harness";

// Schema-driven fuzzing of the whole HTTP surface (issue #10; SPEC §2, §10). The test files
// fetch the OpenAPI document the Worker serves, turn every operation into an `Operation`,
// and generate from its path, query and body schemas inputs that are certainly invalid:
// wrong types, missing required properties, strings beyond their limits, unicode edge
// cases, prototype keys, numbers beyond the safe range, NaN/Infinity/-0/1e400, duplicate
// keys, nesting 10,000 deep, invalid UTF-8, a wrong Content-Type, ~1 MB bodies, malformed
// path and query parameters (garbage cursors, limit=-1/1e9/abc); and from the conventions
// of SPEC §2 around them: a wrong method (405 with Allow), an X-Loyalty-Space that is no
// slug or names another space, a malformed Idempotency-Key.
// "Certainly invalid" is decided here, conservatively: a body is kept only if a lenient
// validator of the schema (every interpretation accepted, e.g. length in code units or
// code points, null deleting in a merge patch) refuses it, or the body parser's own rules
// do (syntax, UTF-8, __proto__/constructor/prototype, nesting > 64, non-finite numbers,
// lone surrogates). The only inputs that may succeed are `harmless` ones: unknown query
// parameters on GET routes and space headers on public GET routes, which a server may
// ignore; the files check that state is unchanged around every route's batch either way.

export const OPENAPI_PATH = "/api/loyalty/openapi.json";
/** The fixed seed of every run (issue 10); each route derives its own from it. */
export const SEED = 0x10ad_0010;
export const KIB = 1024;
export const MIB = 1024 * KIB;

// The document --------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonSchema = Record<string, any>;
export type Group = "admin" | "user" | "public";
export type PathPart = string | number;

export interface Param {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  /** `GET /api/loyalty/admin/users/{userId}`: method and path template as in the document. */
  key: string;
  method: string;
  path: string;
  group: Group;
  pathParams: Param[];
  queryParams: Param[];
  /** The JSON request body's schema and its media types, if the operation takes one. */
  body?: { schema: JsonSchema; mediaTypes: string[] };
  /** Every method the document declares for this path. */
  pathMethods: string[];
}

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

/** Replaces every `$ref` by its target (recursive schemas are cut off after a few hops). */
export function deref(node: unknown, root: unknown, hops = 0): any {
  if (Array.isArray(node)) return node.map((n) => deref(n, root, hops));
  if (node === null || typeof node !== "object") return node;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === "string") {
    if (hops >= 6) return {};
    let target: any = root;
    for (const part of ref.replace(/^#\//, "").split("/")) target = target?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return deref(target ?? {}, root, hops + 1);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = deref(v, root, hops);
  return out;
}

export function groupOf(path: string): Group {
  if (path.startsWith("/api/loyalty/admin/")) return "admin";
  if (path === "/api/loyalty/me" || path.startsWith("/api/loyalty/me/")) return "user";
  return "public";
}

/** The OpenAPI document as the Worker serves it, and its operations. */
export async function fetchOperations(): Promise<{ doc: any; operations: Operation[] }> {
  const res = await callDirect(OPENAPI_PATH, { key: null });
  expect(res.status, "GET /api/loyalty/openapi.json").toBe(200);
  const doc = (await res.json()) as any;
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const [method, raw] of Object.entries<any>(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const op = deref(raw, doc);
      const params: any[] = [...(deref(item.parameters ?? [], doc) as any[]), ...(op.parameters ?? [])];
      const toParam = (p: any): Param => ({ name: p.name, required: p.required === true, schema: p.schema ?? {} });
      const content: Record<string, any> | undefined = op.requestBody?.content;
      const mediaTypes = content ? Object.keys(content) : [];
      const json = content?.["application/json"] ?? (mediaTypes[0] ? content![mediaTypes[0]] : undefined);
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        group: groupOf(path),
        pathParams: params.filter((p) => p.in === "path").map(toParam),
        queryParams: params.filter((p) => p.in === "query").map(toParam),
        body: json ? { schema: json.schema ?? {}, mediaTypes } : undefined,
        pathMethods: Object.keys(item).filter((m) => HTTP_METHODS.includes(m)).map((m) => m.toUpperCase()),
      });
    }
  }
  return { doc, operations };
}

// A lenient validator: "may the server accept this value?" -----------------------

type JType = "string" | "number" | "integer" | "boolean" | "null" | "array" | "object";

export function jsonType(v: unknown): JType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v as JType;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The schema's alternatives: its anyOf/oneOf branches, or itself. */
function branches(s: JsonSchema): JsonSchema[] {
  const alts = s.anyOf ?? s.oneOf;
  if (Array.isArray(alts)) return alts.flatMap((a: JsonSchema) => branches({ ...s, anyOf: undefined, oneOf: undefined, ...a }));
  if (Array.isArray(s.allOf) && s.allOf.length > 0) return [Object.assign({}, ...s.allOf, { ...s, allOf: undefined })];
  return [s];
}

function branchTypes(b: JsonSchema): Set<JType> | "any" {
  if (b.type !== undefined) return new Set<JType>(Array.isArray(b.type) ? b.type : [b.type]);
  if (Array.isArray(b.enum)) return new Set(b.enum.map(jsonType));
  if ("const" in b) return new Set([jsonType(b.const)]);
  if (b.properties || b.required || b.additionalProperties !== undefined || b.propertyNames) return new Set<JType>(["object"]);
  if (b.items || b.minItems !== undefined || b.maxItems !== undefined) return new Set<JType>(["array"]);
  if (b.pattern || b.minLength !== undefined || b.maxLength !== undefined) return new Set<JType>(["string"]);
  if (b.minimum !== undefined || b.maximum !== undefined) return new Set<JType>(["number"]);
  return "any";
}

function typeAllowed(types: Set<JType> | "any", v: unknown): boolean {
  if (types === "any") return true;
  const t = jsonType(v);
  return types.has(t) || (t === "integer" && types.has("number"));
}

function regexes(pattern: string): RegExp[] {
  const out: RegExp[] = [];
  for (const flags of ["", "u"]) {
    try {
      out.push(new RegExp(pattern, flags));
    } catch {
      // not valid in this mode
    }
  }
  return out;
}

const codePoints = (s: string) => [...s].length;

function stringMayAccept(b: JsonSchema, v: string): boolean {
  if (Array.isArray(b.enum) && !b.enum.includes(v)) return false;
  if ("const" in b && b.const !== v) return false;
  if (typeof b.pattern === "string") {
    const res = regexes(b.pattern);
    if (res.length > 0 && !res.some((re) => re.test(v))) return false;
  }
  // Lengths: zod counts UTF-16 code units, JSON Schema code points; either may decide.
  const lengths = [v.length, codePoints(v)];
  if (typeof b.maxLength === "number" && lengths.every((n) => n > b.maxLength)) return false;
  if (typeof b.minLength === "number" && lengths.every((n) => n < b.minLength)) return false;
  return true;
}

function numberMayAccept(b: JsonSchema, types: Set<JType> | "any", v: number): boolean {
  if (!Number.isFinite(v)) return false;
  if (types !== "any" && !types.has("number") && !(types.has("integer") && Number.isInteger(v))) return false;
  if (Array.isArray(b.enum) && !b.enum.includes(v)) return false;
  if (typeof b.minimum === "number" && v < b.minimum) return false;
  if (typeof b.maximum === "number" && v > b.maximum) return false;
  if (typeof b.exclusiveMinimum === "number" && v <= b.exclusiveMinimum) return false;
  if (typeof b.exclusiveMaximum === "number" && v >= b.exclusiveMaximum) return false;
  return true;
}

export interface AcceptOptions {
  /** The value is a JSON merge patch (RFC 7396) of what the schema describes. */
  mergePatch?: boolean;
}

/** False only if no reading of the schema accepts `v` (so the server must refuse it). */
export function mayAccept(s: JsonSchema, v: unknown, options: AcceptOptions = {}): boolean {
  return branches(s).some((b) => branchMayAccept(b, v, options));
}

function branchMayAccept(b: JsonSchema, v: unknown, options: AcceptOptions): boolean {
  const types = branchTypes(b);
  if (!typeAllowed(types, v)) return false;
  if (typeof v === "string") return stringMayAccept(b, v);
  if (typeof v === "number") return numberMayAccept(b, types, v);
  if (Array.isArray(b.enum) && !b.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v))) return false;
  if (Array.isArray(v)) {
    if (typeof b.maxItems === "number" && v.length > b.maxItems) return false;
    if (typeof b.minItems === "number" && v.length < b.minItems) return false;
    const items = b.items;
    if (isPlainObject(items)) return v.every((item) => mayAccept(items, item));
    return true;
  }
  if (isPlainObject(v)) {
    const props: Record<string, JsonSchema> = b.properties ?? {};
    if (!options.mergePatch) {
      for (const r of (b.required ?? []) as string[]) if (!(r in v)) return false;
    }
    for (const [k, child] of Object.entries(v)) {
      if (options.mergePatch && child === null) {
        // null deletes: refused only where the member is required.
        if (((b.required ?? []) as string[]).includes(k)) return false;
        continue;
      }
      const schema = Object.hasOwn(props, k) ? props[k] : b.additionalProperties;
      if (schema === false) return false;
      if (b.propertyNames && !mayAccept(b.propertyNames, k)) return false;
      // Nested objects of a merge patch are patches too (required members may come from the stored value).
      if (isPlainObject(schema) && !mayAccept(schema, child, { mergePatch: options.mergePatch && isPlainObject(child) })) return false;
    }
    return true;
  }
  return true;
}

/** Half of a surrogate pair alone: no Unicode text (JSON can spell it escaped). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The body parser's own rules (src/http/json-body.ts; SPEC §2): what it refuses whatever the schema. */
export function plainDataProblem(value: unknown): string | undefined {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v === "number" && !Number.isFinite(v)) return "non-finite number";
    if (typeof v === "string" && LONE_SURROGATE.test(v)) return "lone surrogate";
    if (v === null || typeof v !== "object") continue;
    if (depth >= 64) return "nesting";
    if (Array.isArray(v)) v.forEach((x) => stack.push({ v: x, depth: depth + 1 }));
    else {
      for (const k of Object.keys(v)) {
        if (k === "__proto__" || k === "constructor" || k === "prototype") return "forbidden key";
        if (LONE_SURROGATE.test(k)) return "lone surrogate key";
        stack.push({ v: (v as Record<string, unknown>)[k], depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** JSON.parse that keeps a `__proto__` member as an own property (as JSON.parse does). */
function parseOrUndefined(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

// Hostile values ------------------------------------------------------------------

/** Unicode edge cases (lone surrogates only exist escaped; JSON.stringify keeps them so). */
export const HOSTILE_STRINGS: string[] = [
  "\ud800", "\udfff\ud800", "a\ud83d", "\u0000", "a\u0000b", "\u202eevil", "\u200f", "\u200b", "\ufeff", "\ufffe", "\uffff",
  "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "e\u0301", "ＡＢＣ", "İı", "ß", "\u{10ffff}", "\u2028", "\u0085", "\u00a0", " ", "\t", "\n", "\r\n",
  "a b", "-a", "_a", "A", "Ab", "__proto__", "constructor", "prototype", "null", "undefined", "NaN", "<script>", "' OR 1=1 --",
  "%", "%25", "%00", "a/b", "a?b", "a#b", "a\\b", "..", "x".repeat(65), "x".repeat(129), "x".repeat(257), "x".repeat(2049),
];

/** Percent-encoded path segments a client can send that decode badly or to something hostile. */
export const RAW_SEGMENTS: string[] = [
  "%00", "a%00", "%ZZ", "%", "%C0%AF", "%C0%80", "%ED%A0%80", "%ED%BF%BF", "%FF", "%FE%FF", "%E2%82", "%F4%90%80%80",
  "a%2Fb", "%2F", "%5C", "%20", "%0A", "%0D%0A", "%3F", "%23", "%25", "%E2%80%AE", "%F0%9F%98%80", "A", "%C3%A9",
];

/** Values of every JSON type; a property gets those its schema refuses. */
const TYPED_VALUES: unknown[] = ["fuzz", "", 1.5, 7, 0, -1, true, false, null, ["fuzz"], [], { fuzz: 1 }, {}];

/** Number texts that JSON.stringify cannot write (non-finite, beyond double or safe range, odd forms). */
const RAW_NUMBERS: string[] = [
  "1e400", "-1e400", "9007199254740993", "-9007199254740993", "9007199254740992", "123456789012345678901234567890",
  "1e20", "-1e20", "-0", "0.0", "1e-400", "4.9e-324", "1.5", "0.1", "1.7976931348623157e308", "NaN", "Infinity", "-Infinity",
  "0x10", "+1", ".5", "1.", "01", "1e", "--1",
];

/** Keys a lookup that is not own-property-only would follow into a prototype. */
export const PROTO_KEYS = ["__proto__", "constructor", "prototype"];
const PROTO_VALUES = ['{"polluted":true}', '{"prototype":{"polluted":true}}', "null", '"x"', "[]", "1"];

/** Keys no strict schema has: plain, empty and unicode ones (error paths must still name them). */
const UNKNOWN_KEYS = ["zzFuzzUnknown", "", " ", "\u0000", "\ud800", "\u202e", "😀", "a.b", "a[0]", "$ref", "toString", "hasOwnProperty"];

/** Invalid UTF-8: a lone continuation, overlong forms, an encoded surrogate, a truncated sequence, > U+10FFFF. */
const BAD_BYTES: number[][] = [[0xff], [0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe, 0xff]];

/** Media types that are not JSON (null: no Content-Type at all). */
const WRONG_MEDIA_TYPES: Array<string | null> = [
  "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
  "application/json-patch+json", "application/jsonx", "json", "application/javascript", "*/*", null,
];

/** Broken JSON syntax (a body that is not JSON at all). */
const MALFORMED: string[] = [
  "{", "}", "{\"a\":", "{'a':1}", "{a:1}", "{\"a\":1,}", "[1,]", "{\"a\":1}x", "{\"a\":1}{}", "/* c */{}", "{\"a\":undefined}",
  "\ufeff\ufeff{}", "{\"a\":\"\n\"}", "{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "nul", "tru", "\"abc", "NaN", "Infinity",
  "[".repeat(10_000), "{\"a\":".repeat(10_000),
];

/** A JSON text nesting `n` levels, arrays or objects. */
export function nested(n: number, arrays: boolean): string {
  return arrays ? `${"[".repeat(n)}${"]".repeat(n)}` : `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
}

// Cases ---------------------------------------------------------------------------

export interface Case {
  /** The family of hostile input (the report counts them). */
  family: string;
  how: string;
  method: string;
  /** Path with its query string, percent-encoded as sent. */
  path: string;
  headers: Record<string, string>;
  /** The body as sent; with `contentType` (null: no Content-Type header). */
  body?: Uint8Array;
  contentType?: string | null;
  /** The body as a whole is what is wrong: an errors[].path of "" (the whole body) is right. */
  wholeBody?: boolean;
  /** When set, the answer's status must be one of these (and its code this one). */
  status?: number[];
  code?: string;
  /** Ignored input a server may accept (GET only): 2xx allowed, state must not change. */
  harmless?: boolean;
  /** Methods the answer's Allow header must list (a 405). */
  allow?: string[];
}

/** A valid request of an operation, the inputs are mutations of. */
export interface BaseRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  body?: unknown;
}

/** What a test file knows about an operation beyond its document entry. */
export interface FuzzTarget {
  op: Operation;
  base: BaseRequest;
  /** The body schema the server validates with, when the document's is looser (definitions). */
  bodySchema?: JsonSchema;
  /** The body is a JSON merge patch of what `bodySchema` describes. */
  mergePatch?: boolean;
  /** A space id that is not the request's (for cursors of another space). */
  foreignSpaceId: string;
  /** Another existing space's slug (for a header that names another space than the path or token). */
  foreignSpaceSlug?: string;
}

const encoder = new TextEncoder();

/** `{"a":{"b":X}}` with the node at `path` replaced by the raw JSON text `raw`. */
export function replacedText(base: unknown, path: PathPart[], raw: string): string {
  if (path.length === 0) return raw;
  const marker = `\u0001fuzz${Math.random().toString(36).slice(2)}\u0001`;
  const copy = structuredClone(base) as any;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]!] = marker;
  return JSON.stringify(copy).replace(JSON.stringify(marker), () => raw);
}

function nodeAt(value: unknown, path: PathPart[]): unknown {
  let node: any = value;
  for (const key of path) node = node?.[key];
  return node;
}

/** The object at `objPath` written with an extra member (first or last), so duplicate and __proto__ keys survive. */
export function withMember(base: unknown, objPath: PathPart[], key: string, raw: string, where: "first" | "last" = "first"): string {
  const obj = nodeAt(base, objPath) as Record<string, unknown>;
  const members = Object.entries(obj).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const extra = `${JSON.stringify(key)}:${raw}`;
  if (where === "first") members.unshift(extra);
  else members.push(extra);
  return replacedText(base, objPath, `{${members.join(",")}}`);
}

function withoutMember(base: unknown, objPath: PathPart[], key: string): string {
  const copy = structuredClone(base) as any;
  const obj = nodeAt(copy, objPath) as Record<string, unknown>;
  delete obj[key];
  return JSON.stringify(copy);
}

interface Node {
  path: PathPart[];
  schema: JsonSchema;
  value: unknown;
  present: boolean;
}

/** The first alternative of `s` that describes objects (or arrays). */
function objectBranch(s: JsonSchema): JsonSchema | undefined {
  return branches(s).find((b) => {
    const t = branchTypes(b);
    return t !== "any" && t.has("object");
  });
}
function arrayBranch(s: JsonSchema): JsonSchema | undefined {
  return branches(s).find((b) => {
    const t = branchTypes(b);
    return t !== "any" && t.has("array");
  });
}

/** Every property the schema and the valid body name, three levels deep (arrays: their first item). */
export function nodesOf(schema: JsonSchema, value: unknown, path: PathPart[] = [], depth = 0): Node[] {
  const out: Node[] = [];
  const obj = objectBranch(schema);
  if (obj && isPlainObject(value)) {
    const props: Record<string, JsonSchema> = obj.properties ?? {};
    const keys = [...new Set([...Object.keys(props), ...Object.keys(value)])];
    for (const k of keys) {
      const declared = Object.hasOwn(props, k);
      if (!declared && obj.additionalProperties === false) continue;
      const child = declared ? props[k]! : isPlainObject(obj.additionalProperties) ? obj.additionalProperties : {};
      const present = Object.hasOwn(value, k);
      out.push({ path: [...path, k], schema: child, value: value[k], present });
      if (present && depth < 3) out.push(...nodesOf(child, value[k], [...path, k], depth + 1));
    }
  }
  const arr = arrayBranch(schema);
  if (arr && Array.isArray(value) && value.length > 0 && depth < 3) {
    const items = isPlainObject(arr.items) ? arr.items : {};
    out.push({ path: [...path, 0], schema: items, value: value[0], present: true });
    out.push(...nodesOf(items, value[0], [...path, 0], depth + 1));
  }
  return out;
}

function buildPath(op: Operation, params: Record<string, string>): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => params[name]!);
}

function queryText(pairs: Array<[string, string]>, raw: string[] = []): string {
  const parts = [...pairs.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`), ...raw];
  return parts.length > 0 ? `?${parts.join("&")}` : "";
}

/** Percent-encodes a segment value; lone surrogates as their (invalid) UTF-8-style bytes. */
function encodeSegment(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const isHigh = c >= 0xd800 && c <= 0xdbff;
    const isLow = c >= 0xdc00 && c <= 0xdfff;
    if (isHigh && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += encodeURIComponent(value.slice(i, i + 2));
        i += 1;
        continue;
      }
    }
    if (isHigh || isLow) out += `%${(0xe0 | (c >> 12)).toString(16).toUpperCase()}%${(0x80 | ((c >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (c & 0x3f)).toString(16).toUpperCase()}`;
    else out += encodeURIComponent(value[i]!).replace(/\./g, "%2E");
  }
  return out;
}

function decodeLikeTheRouter(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Whether a parameter is an opaque id (no pattern or enum): any value is well-formed, unknown ones are 404. */
function opaque(schema: JsonSchema): boolean {
  return branches(schema).every((b) => b.pattern === undefined && b.enum === undefined && !("const" in b));
}

/** Query values arrive as text: numbers are coerced (zod's z.coerce.number is Number(text)). */
function queryMayAccept(schema: JsonSchema, text: string): boolean {
  const types = branches(schema).map(branchTypes);
  const numeric = types.some((t) => t !== "any" && (t.has("integer") || t.has("number")));
  if (numeric) return mayAccept(schema, Number(text));
  return mayAccept(schema, text);
}

/** Cursors that are no cursor of any list of this space (SPEC §2: a foreign cursor is 400). */
function garbageCursors(foreignSpaceId: string): string[] {
  const b64 = (text: string) => base64url(encoder.encode(text));
  return [
    "", "abc", "%%%", "x".repeat(1025), "eyJ2IjoxfQ", "AAAA", "____", "-", "=", "\ud800", "😀", "null",
    b64("{}"), b64("null"), b64("[1]"), b64("not json"), base64url(new Uint8Array([0xff, 0xfe, 0xc0, 0xaf])),
    b64(JSON.stringify({ v: 1, list: "api-keys", space: foreignSpaceId, after: "key_0" })),
    b64(JSON.stringify({ v: 1, list: "metrics", space: foreignSpaceId, after: "a" })),
    b64(JSON.stringify({ v: 2, list: "zz-fuzz", space: foreignSpaceId, after: "a" })),
    b64(JSON.stringify({ v: 1, list: "zz-fuzz-list", space: "spc_fuzz_nowhere", after: 5 })),
    b64(JSON.stringify({ __proto__: null, v: 1 })),
  ];
}

/**
 * Every hostile input of one operation. `examples` run every time: the first case of each
 * family, plus pinned ones (a wrong type for every top-level property, every missing
 * required member, maxLength + 1 two levels deep, limit=-1/1e9/abc, a garbage and a
 * foreign cursor, the first bad value of each path and query parameter). `arbitrary`
 * draws a family, then one of its cases, or a random value fast-check makes (kept only
 * when certainly invalid).
 */
export function casesFor(t: FuzzTarget): { examples: Case[]; arbitrary: fc.Arbitrary<Case> } {
  const { op, base } = t;
  const validSegments = Object.fromEntries(Object.entries(base.params).map(([k, v]) => [k, encodeURIComponent(v)]));
  const basePath = buildPath(op, validSegments);
  const baseQuery = Object.entries(base.query);
  const url = (path = basePath, query = queryText(baseQuery)) => `${path}${query}`;
  const takesBody = op.method === "POST" || op.method === "PUT" || op.method === "PATCH";
  const limit = bodyLimitFor(op.path.replace(/\{[^}]+\}/g, "x"));
  const bodySchema = t.bodySchema ?? op.body?.schema;
  const baseBody = takesBody && op.body ? (base.body ?? {}) : undefined;
  const baseText = baseBody === undefined ? undefined : JSON.stringify(baseBody);
  const mergePatch = t.mergePatch ?? false;

  const families = new Map<string, Case[]>();
  const pinned: Case[] = [];
  const randoms: Array<fc.Arbitrary<Case>> = [];
  /** Adds a case to its family; `pin`: also run it as a fixed example. */
  const add = (c: Case, pin = false) => {
    const list = families.get(c.family) ?? [];
    list.push(c);
    families.set(c.family, list);
    if (pin) pinned.push(c);
  };

  // A PATCH body goes as application/json and application/merge-patch+json in turn (both are
  // JSON to the parser, and both must reach the same validation).
  let patches = 0;
  const mediaType = () => (op.method === "PATCH" && op.body?.mediaTypes.includes("application/merge-patch+json") && patches++ % 2 === 1 ? "application/merge-patch+json" : "application/json");
  /** A case with the base request's path and query and this body. */
  const withBody = (family: string, how: string, text: string | Uint8Array, extra: Partial<Case> = {}): Case => {
    const body = typeof text === "string" ? encoder.encode(text) : text;
    const c: Case = { family, how, method: op.method, path: url(), headers: {}, body, contentType: mediaType(), ...extra };
    if (body.byteLength > limit && c.contentType !== undefined) {
      // Over the limit the size decides first (SPEC §2).
      c.status = [413];
      c.code = "payload_too_large";
    }
    return c;
  };

  /** Keeps a body case only if the server must refuse it; sets the expectations the parser's rules give. */
  const bodyCase = (family: string, how: string, text: string, extra: Partial<Case> = {}): Case | undefined => {
    const c = withBody(family, how, text, extra);
    if (c.status) return c;
    const parsed = parseOrUndefined(text);
    if (!parsed.ok) return { ...c, status: [400], code: "malformed_json", wholeBody: true };
    if (plainDataProblem(parsed.value)) return { ...c, status: [400], code: "invalid_request" };
    if (!bodySchema || mayAccept(bodySchema, parsed.value, { mergePatch })) return undefined;
    return { ...c, wholeBody: c.wholeBody ?? !isPlainObject(parsed.value) };
  };
  const addBody = (family: string, how: string, text: string, extra: Partial<Case> = {}, pin = false) => {
    const c = bodyCase(family, how, text, extra);
    if (c) add(c, pin);
    return c;
  };

  // Bodies ---------------------------------------------------------------------------
  if (takesBody) {
    const bodyText = baseText ?? "{}";
    const bodyValue = baseBody ?? {};
    // What the body parser refuses whatever the route: wrong media type, bad UTF-8, syntax.
    for (const media of WRONG_MEDIA_TYPES) {
      const c = withBody("content-type", `Content-Type: ${media ?? "(none)"}`, bodyText, { contentType: media });
      add(c.status ? c : { ...c, status: [415], code: "unsupported_media_type" });
    }
    if (op.method === "PATCH") {
      const c = withBody("content-type", "PUT's media type on PATCH: application/merge-patch+json is accepted, this is not", bodyText, { contentType: "application/merge-patch+json-x" });
      add(c.status ? c : { ...c, status: [415], code: "unsupported_media_type" });
    }
    const raw = encoder.encode(bodyText);
    const quote = Math.max(0, bodyText.indexOf('"'));
    for (const bad of BAD_BYTES) {
      const bytes = quote > 0
        ? new Uint8Array([...raw.slice(0, quote + 1), ...bad, ...raw.slice(quote + 1)])
        : new Uint8Array([...encoder.encode('{"'), ...bad, ...encoder.encode('":1}')]);
      const c = withBody("invalid-utf8", `bytes ${bad.map((b) => b.toString(16)).join(" ")} in the body`, bytes);
      add({ ...c, status: c.status ?? [400], code: c.code ?? "malformed_json", wholeBody: true });
    }
    for (const text of MALFORMED) addBody("malformed-json", `malformed: ${text.slice(0, 20)}`, text);
    addBody("malformed-json", "valid body, truncated", bodyText.slice(0, Math.max(1, bodyText.length - 1)));
    // The body as a whole: not an object, ~1 MB, nested 10,000 deep.
    for (const text of ["[]", "null", '"x"', "0", "true", "[{}]", JSON.stringify([bodyValue])]) addBody("whole-body", `body ${text.slice(0, 20)}`, text);
    addBody("huge", "~1 MB array body", `[${"0,".repeat(512 * KIB)}0]`);
    addBody("huge", "~1 MB unknown member", withMember(bodyValue, [], "zzFuzzPad", JSON.stringify("x".repeat(MIB))));
    addBody("huge", "~1 MB of spaces around the body", `${" ".repeat(MIB)}${"[]"}`);
    addBody("deep", "nested 10,000 deep (arrays, whole body)", nested(10_000, true));
    addBody("deep", "nested 10,000 deep (objects, whole body)", nested(10_000, false));
    addBody("deep", "nested 10,000 deep in a new member", withMember(bodyValue, [], "zzFuzzDeep", nested(10_000, true)));
    addBody("deep", "nested 65 deep in a new member", withMember(bodyValue, [], "zzFuzzDeep", nested(65, false)));
    // Keys of the prototype chain, at the top and inside every object of the body.
    const objects: Node[] = [{ path: [], schema: bodySchema ?? {}, value: bodyValue, present: true }];
    const nodes = bodySchema ? nodesOf(bodySchema, bodyValue) : [];
    objects.push(...nodes.filter((n) => n.present && isPlainObject(n.value)));
    for (const o of objects) {
      for (const key of PROTO_KEYS) {
        for (const v of PROTO_VALUES) addBody("prototype-key", `${key} in ${o.path.join(".") || "(body)"}`, withMember(bodyValue, o.path, key, v, "first"));
      }
    }
    // Numbers the parser cannot represent or that are beyond the schema's range, at every number and as new members.
    const numberNodes = nodes.filter((n) => branches(n.schema).some((b) => { const ty = branchTypes(b); return ty !== "any" && (ty.has("number") || ty.has("integer")); }));
    for (const n of numberNodes) {
      for (const text of RAW_NUMBERS) addBody("number", `${n.path.join(".")} = ${text}`, replacedText(bodyValue, n.path, text));
      for (const b of branches(n.schema)) {
        if (typeof b.minimum === "number") addBody("number", `${n.path.join(".")} below minimum`, replacedText(bodyValue, n.path, rawBelow(b.minimum)));
        if (typeof b.maximum === "number") addBody("number", `${n.path.join(".")} above maximum`, replacedText(bodyValue, n.path, rawAbove(b.maximum)));
      }
    }
    for (const text of ["1e400", "-1e400", "NaN", "Infinity"]) addBody("number", `new member = ${text}`, withMember(bodyValue, [], "zzFuzzNumber", text));
    // Wrong types, at every property the schema describes.
    for (const n of nodes) {
      let pin = n.path.length === 1; // every top-level property gets one wrong type every run
      for (const v of TYPED_VALUES) {
        if (mergePatch && v === null) continue; // null deletes in a merge patch
        if (mayAccept(n.schema, v)) continue;
        if (addBody("wrong-type", `${n.path.join(".")} = ${JSON.stringify(v)}`, replacedText(bodyValue, n.path, JSON.stringify(v)), {}, pin)) pin = false;
      }
    }
    // Missing required members (a merge patch sets them to null instead: RFC 7396 deletes them).
    for (const o of objects) {
      const obj = objectBranch(o.schema);
      for (const r of (obj?.required ?? []) as string[]) {
        if (!isPlainObject(o.value) || !Object.hasOwn(o.value, r)) continue;
        if (mergePatch) addBody("missing-required", `${[...o.path, r].join(".")}: null (merge patch deletes)`, replacedText(bodyValue, [...o.path, r], "null"), {}, true);
        else addBody("missing-required", `${[...o.path, r].join(".")} missing`, withoutMember(bodyValue, o.path, r), {}, true);
      }
      if (mergePatch && o.path.length === 0) {
        for (const r of (obj?.required ?? []) as string[]) addBody("missing-required", `${r}: null (merge patch deletes)`, withMember(bodyValue, [], r, "null", "last"));
      }
    }
    if (!mergePatch) addBody("missing-required", "empty object", "{}");
    // Unknown members of strict objects, with plain and unicode names; duplicate keys whose last value is wrong.
    for (const o of objects) {
      const obj = objectBranch(o.schema);
      if (obj?.additionalProperties === false) {
        for (const key of UNKNOWN_KEYS) addBody("unknown-key", `${JSON.stringify(key)} in ${o.path.join(".") || "(body)"}`, withMember(bodyValue, o.path, key, "1", "last"));
      }
      if (!isPlainObject(o.value)) continue;
      for (const k of Object.keys(o.value)) {
        const child = (obj?.properties ?? {})[k] ?? (isPlainObject(obj?.additionalProperties) ? obj!.additionalProperties : {});
        const wrong = TYPED_VALUES.find((v) => !(mergePatch && v === null) && !mayAccept(child, v));
        if (wrong === undefined) continue;
        // {"k": valid, "k": wrong}: the last one counts (JSON.parse), for the parser and the schema alike.
        addBody("duplicate-key", `${[...o.path, k].join(".")} twice, the last wrong`, withMember(bodyValue, o.path, k, JSON.stringify(wrong), "last"));
      }
    }
    // Strings: beyond maxLength, under minLength, unicode edge cases a pattern or enum refuses.
    const stringNodes = nodes.filter((n) => branches(n.schema).some((b) => { const ty = branchTypes(b); return ty !== "any" && ty.has("string"); }));
    for (const n of stringNodes) {
      for (const b of branches(n.schema)) {
        if (typeof b.maxLength === "number") addBody("huge-string", `${n.path.join(".")}: ${b.maxLength + 1} characters`, replacedText(bodyValue, n.path, JSON.stringify("x".repeat(b.maxLength + 1))), {}, n.path.length <= 2);
        if (typeof b.minLength === "number" && b.minLength > 0) addBody("huge-string", `${n.path.join(".")}: under minLength`, replacedText(bodyValue, n.path, JSON.stringify("x".repeat(b.minLength - 1))));
      }
      addBody("huge-string", `${n.path.join(".")}: 70 KiB`, replacedText(bodyValue, n.path, JSON.stringify("é".repeat(35 * KIB))));
      for (const s of HOSTILE_STRINGS) addBody("unicode", `${n.path.join(".")} = ${JSON.stringify(s).slice(0, 24)}`, replacedText(bodyValue, n.path, JSON.stringify(s)));
    }
    // Arrays: one item too many, too few, items of the wrong type or hostile strings.
    for (const n of nodes) {
      const arr = arrayBranch(n.schema);
      if (!arr) continue;
      const item = Array.isArray(n.value) && n.value.length > 0 ? n.value[0] : sampleOf(arr.items ?? {});
      if (typeof arr.maxItems === "number" && arr.maxItems < 20_000) addBody("array", `${n.path.join(".")}: ${arr.maxItems + 1} items`, replacedText(bodyValue, n.path, JSON.stringify(Array.from({ length: arr.maxItems + 1 }, () => item))));
      if (typeof arr.minItems === "number" && arr.minItems > 0) addBody("array", `${n.path.join(".")}: ${arr.minItems - 1} items`, replacedText(bodyValue, n.path, JSON.stringify(Array.from({ length: arr.minItems - 1 }, () => item))));
      for (const v of [...TYPED_VALUES, ...HOSTILE_STRINGS.slice(0, 12)]) {
        if (isPlainObject(arr.items) && !mayAccept(arr.items, v)) addBody("array", `${n.path.join(".")}: [${JSON.stringify(v).slice(0, 20)}]`, replacedText(bodyValue, n.path, JSON.stringify([v])));
      }
    }

    // Random hostile values at random properties: whatever fast-check makes, kept when certainly invalid.
    const targets = [{ path: [] as PathPart[] }, ...nodes];
    const rawValue = fc.oneof(
      { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? "null"), weight: 3 },
      { arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map((s) => JSON.stringify(s)), weight: 3 },
      { arbitrary: fc.constantFrom(...RAW_NUMBERS), weight: 2 },
      { arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String), weight: 1 },
      { arbitrary: fc.double().map((d) => (Number.isFinite(d) ? JSON.stringify(d) : "1e400")), weight: 1 },
      { arbitrary: fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()).map(([n, arrays]) => nested(n, arrays)), weight: 1 },
      { arbitrary: fc.constantFrom(...HOSTILE_STRINGS).map((s) => JSON.stringify(s)), weight: 2 },
      { arbitrary: fc.integer({ min: 1, max: 80 * KIB }).map((n) => JSON.stringify("x".repeat(n))), weight: 1 },
    );
    if (bodySchema) randoms.push(
      fc
        .tuple(fc.constantFrom(...targets), rawValue, fc.boolean())
        .map(([target, value, asMember]) => {
          const path = target.path;
          if (path.length === 0 || asMember) {
            const parent = path.length === 0 ? [] : path.slice(0, -1);
            const holder = nodeAt(bodyValue, parent);
            if (!isPlainObject(holder)) return bodyCase("random", `random value as the body`, value);
            return bodyCase("random", `random member in ${parent.join(".") || "(body)"}`, withMember(bodyValue, parent, `zz${value.length % 7}`, value, "last"));
          }
          return bodyCase("random", `${path.join(".")} = random ${value.slice(0, 30)}`, replacedText(bodyValue, path, value));
        })
        .filter((c): c is Case => c !== undefined),
    );
  }

  // Path parameters ------------------------------------------------------------------
  for (const p of op.pathParams) {
    const candidates: Array<{ segment: string; value: string }> = [
      ...HOSTILE_STRINGS.filter((s) => s !== ".." && s !== "" && s !== " " ).map((s) => ({ segment: encodeSegment(s), value: s })),
      ...RAW_SEGMENTS.map((segment) => ({ segment, value: decodeLikeTheRouter(segment) })),
      ...[65, 129, 1025, 10_000].map((n) => ({ segment: "x".repeat(n), value: "x".repeat(n) })),
    ];
    let pin = true;
    for (const { segment, value } of candidates) {
      // A well-formed value is kept only for opaque ids (server-made: key_…, job_…, rdm_…), where it is certainly unknown (404).
      if (mayAccept(p.schema, value) && !opaque(p.schema)) continue;
      const first = pin;
      pin = false;
      add({ family: "path-param", how: `path ${p.name} = ${segment.slice(0, 30)}`, method: op.method, path: url(buildPath(op, { ...validSegments, [p.name]: segment })), headers: {}, ...(takesBody && baseText !== undefined ? { body: encoder.encode(baseText), contentType: "application/json" } : {}) }, first);
    }
    randoms.push(
      fc
        .string({ unit: "binary", minLength: 1, maxLength: 80 })
        .filter((s) => !/^\.+$/.test(s) && !(mayAccept(p.schema, s) && !opaque(p.schema)))
        .map((s): Case => ({ family: "path-param", how: `path ${p.name} = random ${JSON.stringify(s).slice(0, 30)}`, method: op.method, path: url(buildPath(op, { ...validSegments, [p.name]: encodeSegment(s) })), headers: {}, ...(takesBody && baseText !== undefined ? { body: encoder.encode(baseText), contentType: "application/json" } : {}) })),
    );
  }

  // Query parameters -----------------------------------------------------------------
  const bodyOfBase = takesBody && baseText !== undefined ? { body: encoder.encode(baseText), contentType: "application/json" } : {};
  for (const p of op.queryParams) {
    const others = baseQuery.filter(([k]) => k !== p.name);
    const queryCase = (how: string, value: string | null, rawPiece?: string): Case => ({
      family: p.name === "cursor" ? "cursor" : "query-param",
      how,
      method: op.method,
      path: url(basePath, queryText(value === null ? others : [...others, [p.name, value]], rawPiece ? [rawPiece] : [])),
      headers: {},
      ...bodyOfBase,
    });
    if (p.required) add(queryCase(`query ${p.name} missing`, null), true);
    if (p.name === "cursor") {
      // Opaque cursors (SPEC §2): anything the server did not issue for this list and space is refused.
      garbageCursors(t.foreignSpaceId).forEach((cursor, i) => add(queryCase(`cursor ${cursor.slice(0, 30)}`, cursor), i === 1 || i === 17));
      for (const raw of ["%FF", "%ED%A0%80", "%C0%AF", "%00"]) add(queryCase(`cursor raw ${raw}`, null, `cursor=${raw}`));
      randoms.push(
        fc
          .oneof(fc.string({ unit: "binary", maxLength: 60 }), fc.base64String({ maxLength: 60 }), fc.jsonValue({ maxDepth: 2 }).map((v) => base64url(encoder.encode(JSON.stringify(v) ?? ""))))
          .map((cursor) => queryCase(`cursor random ${JSON.stringify(cursor).slice(0, 30)}`, cursor)),
      );
      continue;
    }
    const texts = ["-1", "0", "101", "1e9", "abc", "1.5", "", "NaN", "Infinity", "-0", "9007199254740993", "1e400", "0x10", " 5", "5 5", "１", "true", "TRUE", "yes", "null", "[]", "{}", "x".repeat(2049), ...HOSTILE_STRINGS];
    let pinnedOne = false;
    const numeric = branches(p.schema).some((b) => { const ty = branchTypes(b); return ty !== "any" && (ty.has("integer") || ty.has("number")); });
    for (const text of texts) {
      if (queryMayAccept(p.schema, text)) continue;
      // limit=-1, 1e9 and abc (and the first refused value of any other parameter) every run.
      const pin = (numeric && ["-1", "1e9", "abc"].includes(text)) || !pinnedOne;
      pinnedOne = true;
      add(queryCase(`query ${p.name}=${JSON.stringify(text).slice(0, 30)}`, text), pin);
    }
    for (const raw of ["%FF", "%ED%A0%80", "%C0%AF", "%"]) {
      if (queryMayAccept(p.schema, decodeLikeTheRouter(raw))) continue;
      add(queryCase(`query ${p.name} raw ${raw}`, null, `${encodeURIComponent(p.name)}=${raw}`));
    }
    // Random values only where most of them are wrong (a length-only string accepts nearly all).
    if (!opaque(p.schema) || branches(p.schema).some((b) => { const ty = branchTypes(b); return ty !== "any" && (ty.has("integer") || ty.has("number")); })) randoms.push(
      fc
        .oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.integer({ min: -1e12, max: 1e12 }).map(String), fc.double().map(String), fc.bigInt().map(String))
        .filter((text) => !queryMayAccept(p.schema, text))
        .map((text) => queryCase(`query ${p.name}=random ${JSON.stringify(text).slice(0, 30)}`, text)),
    );
  }

  // Headers and ignored input ----------------------------------------------------------
  // An X-Loyalty-Space that is no slug: refused by the admin and user groups (400 at header.x-loyalty-space).
  const spaceHeaders = ["Bad_Slug!", "UPPER", "-a", "a-", "a".repeat(64), "a b", "default,other", "../default", "%00", "a.b", "*", "Default"];
  for (const h of spaceHeaders) {
    // Public routes may not look at it (health, the document); the others refuse it.
    add({ family: "space-header", how: `X-Loyalty-Space: ${h}`, method: op.method, path: url(), headers: { "X-Loyalty-Space": h }, harmless: op.group === "public" && op.method === "GET", ...bodyOfBase });
  }
  // Another existing space in X-Loyalty-Space than the path's {slug} (400 space_mismatch) or
  // than the user token's (401): both name where the request acts, and disagree.
  if (t.foreignSpaceSlug && (op.pathParams.some((p) => p.name === "slug") || op.group === "user")) {
    add({ family: "space-mismatch", how: `X-Loyalty-Space: another space (${t.foreignSpaceSlug})`, method: op.method, path: url(), headers: { "X-Loyalty-Space": t.foreignSpaceSlug }, ...bodyOfBase });
  }
  // A method the path does not have: 405 with the path's methods in Allow (SPEC: a known path
  // with the wrong method), whatever the credential and body.
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
    if (op.pathMethods.includes(method) || method === op.method) continue;
    const withPayload = method !== "GET" && method !== "DELETE" && baseText !== undefined ? { body: encoder.encode(baseText), contentType: "application/json" } : {};
    add({ family: "wrong-method", how: `${method} on ${op.path}`, method, path: url(), headers: {}, status: [405], code: "method_not_allowed", allow: op.pathMethods, ...withPayload });
  }
  // A malformed Idempotency-Key on an Admin API POST (SPEC §2, §5.1: 1-255 printable ASCII):
  // refused where keys are kept or refused, and on POST /events it differs from the body's id.
  // POST /events/batch is idempotent by its events' ids and takes no key.
  if (op.group === "admin" && op.method === "POST" && !op.path.endsWith("/events/batch")) {
    for (const key of ["x".repeat(256), "a b", "\u007f"]) {
      add({ family: "idempotency-key", how: `Idempotency-Key: ${key.slice(0, 20)}`, method: op.method, path: url(), headers: { "Idempotency-Key": key }, status: [400], ...bodyOfBase });
    }
  }
  if (op.method === "GET") {
    // Unknown query parameters are ignored by every route (and a GET changes nothing): harmless.
    const declared = new Set(op.queryParams.map((p) => p.name));
    for (const [k, v] of [["zzfuzz", "1"], ["__proto__", "x"], ["constructor", "prototype"], ["limit[]", "1"], ["", "x"], ["\u0000", "\ud800"]] as Array<[string, string]>) {
      if (declared.has(k)) continue;
      add({ family: "unknown-query", how: `?${k}=${v}`, method: op.method, path: url(basePath, queryText([...baseQuery, [k, v]])), headers: {}, harmless: true });
    }
    randoms.push(
      fc
        .tuple(fc.string({ unit: "binary", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 40 }))
        .filter(([k]) => !declared.has(k))
        .map(([k, v]): Case => ({ family: "unknown-query", how: `?${JSON.stringify(k)}=${JSON.stringify(v)}`.slice(0, 60), method: op.method, path: url(basePath, queryText([...baseQuery, [k, v]])), headers: {}, harmless: true })),
    );
  }

  // One example of each family, the rest drawn at random: a family first (so that large
  // families do not crowd out small ones), then one of its cases; or a random value.
  const examples: Case[] = [];
  for (const [, list] of families) examples.push(printable(op, list[0]!));
  for (const c of pinned) if (!examples.some((e) => e.how === c.how && e.family === c.family)) examples.push(printable(op, c));
  const lists = [...families.values()];
  const arbitraries: Array<{ arbitrary: fc.Arbitrary<Case>; weight: number }> = [];
  if (lists.length > 0) arbitraries.push({ arbitrary: fc.constantFrom(...lists).chain((list) => fc.constantFrom(...list)), weight: 3 });
  for (const r of randoms) arbitraries.push({ arbitrary: r, weight: 1 });
  const arbitrary = (arbitraries.length > 0 ? fc.oneof(...arbitraries) : fc.constant(examples[0]!)).map((c) => printable(op, c));
  return { examples, arbitrary };
}

/** fast-check prints a failing case with this (not its ~1 MB body). */
function printable(op: Operation, c: Case): Case {
  if (Object.hasOwn(c, fc.toStringMethod)) return c;
  return Object.assign(Object.create(null) as object, c, { [fc.toStringMethod]: () => describeCase(op, c) }) as Case;
}

/** A number text just below `min` (beyond the safe range where `min` is its edge). */
function rawBelow(min: number): string {
  if (min <= -Number.MAX_SAFE_INTEGER) return "-9007199254740993";
  return Number.isInteger(min) ? String(min - 1) : String(min - 0.5);
}
function rawAbove(max: number): string {
  if (max >= Number.MAX_SAFE_INTEGER) return "9007199254740993";
  return Number.isInteger(max) ? String(max + 1) : String(max + 0.5);
}

/** A small value the schema accepts, for routes a test file has no valid request of. */
export function sampleOf(schema: JsonSchema, depth = 0): unknown {
  const b = branches(schema)[0] ?? {};
  if (b.default !== undefined) return b.default;
  if (Array.isArray(b.enum) && b.enum.length > 0) return b.enum[0];
  if ("const" in b) return b.const;
  if (b.example !== undefined) return b.example;
  const types = branchTypes(b);
  const type = types === "any" ? "string" : [...types].find((ty) => ty !== "null") ?? "null";
  switch (type) {
    case "string":
      return "fuzz".padEnd(b.minLength ?? 0, "z");
    case "integer":
    case "number":
      return typeof b.minimum === "number" ? b.minimum : 1;
    case "boolean":
      return false;
    case "array":
      return depth > 4 ? [] : Array.from({ length: b.minItems ?? 0 }, () => sampleOf(b.items ?? {}, depth + 1));
    case "object": {
      const out: Record<string, unknown> = {};
      if (depth > 4) return out;
      for (const r of (b.required ?? []) as string[]) out[r] = sampleOf(b.properties?.[r] ?? {}, depth + 1);
      return out;
    }
    default:
      return null;
  }
}

/** The path parameters of `concrete` (a path a valid request uses) by the operation's template; and its query. */
export function baseFromPath(op: Operation, concrete: string, body?: unknown): BaseRequest {
  const [pathname, search = ""] = concrete.split("?") as [string, string?];
  const names: string[] = [];
  const pattern = new RegExp(`^${op.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{([^}]+)\\?\}/g, (_, n: string) => { names.push(n); return "([^/]+)"; })}$`);
  const m = pattern.exec(pathname);
  if (!m) throw new Error(`${concrete} is not a path of ${op.key}`);
  const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
  const query = Object.fromEntries(new URLSearchParams(search));
  return { params, query, body };
}

// Sending and checking --------------------------------------------------------------

export interface Credentials {
  key: string | null;
  /** The X-Loyalty-Space header (unless a case sends its own). */
  space?: string;
  headers?: Record<string, string>;
}

/** Sends a case in-process (callDirect) or through SELF.fetch; reads the whole answer. */
export async function send(c: Case, credentials: Credentials, via: "direct" | "self" = "direct"): Promise<Answer> {
  const headers: Record<string, string> = { ...credentials.headers, ...c.headers };
  if (c.body !== undefined && c.contentType) headers["Content-Type"] = c.contentType;
  const ownSpace = Object.keys(c.headers).some((h) => h.toLowerCase() === "x-loyalty-space");
  const options: CallOptions = {
    method: c.method,
    key: credentials.key,
    space: ownSpace ? undefined : credentials.space,
    headers,
    rawBody: c.body as BodyInit | undefined,
  };
  const res = via === "self" ? await call(c.path, options) : await callDirect(c.path, options);
  return answer(res);
}

export function describeCase(op: Operation, c: Case, a?: Answer): string {
  return `${op.key} [${c.family}] ${c.how} → ${c.method} ${c.path.slice(0, 200)}${a ? ` → ${a.status} ${a.text.slice(0, 400)}` : ""}`;
}

/** The contract of SPEC §2 and §10 for one answer to a hostile input. */
export function checkAnswer(op: Operation, c: Case, a: Answer): void {
  const context = describeCase(op, c, a);
  expect(a.status, context).toBeLessThan(500);
  if (c.harmless && a.status < 400) return;
  expect(a.status, `${context}: a certainly invalid input was accepted`).toBeGreaterThanOrEqual(400);
  if (c.status) expect(c.status, context).toContain(a.status);
  expect(a.headers.get("content-type"), context).toBe("application/problem+json");
  expect(a.body, context).toMatchObject({ type: "about:blank", status: a.status, code: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(ERROR_CODES[a.body.code as keyof typeof ERROR_CODES], `${context}: code not in the closed list with this status`).toBe(a.status);
  expect(a.body.requestId, context).toBe(a.headers.get("x-request-id"));
  if (c.code) expect(a.body.code, context).toBe(c.code);
  if (c.allow) {
    const allow = (a.headers.get("allow") ?? "").split(",").map((m) => m.trim());
    for (const method of c.allow) expect(allow, `${context}: Allow`).toContain(method);
  }
  if (a.status === 400 || a.status === 422) {
    expect(Array.isArray(a.body.errors) && a.body.errors.length > 0, `${context}: no errors[]`).toBe(true);
    for (const error of a.body.errors) {
      expect(error, context).toMatchObject({ path: expect.any(String), message: expect.any(String) });
      // "" names the whole body: right only when the body as a whole is what is wrong.
      if (!c.wholeBody) expect(error.path, `${context}: an error without a path`).not.toBe("");
    }
  }
}

// The report ----------------------------------------------------------------------

interface RouteStats {
  route: string;
  inputs: number;
  statuses: Record<string, number>;
  fiveHundreds: number;
  families: Record<string, number>;
}

export class FuzzReport {
  private readonly routes = new Map<string, RouteStats>();
  private readonly started = Date.now();
  /** Time spent sending inputs and taking snapshots (ms). */
  sendMs = 0;
  snapshotMs = 0;
  constructor(readonly file: string) {}

  record(op: Operation, c: Case, status: number): void {
    const stats = this.routes.get(op.key) ?? { route: op.key, inputs: 0, statuses: {}, fiveHundreds: 0, families: {} };
    stats.inputs += 1;
    stats.statuses[String(status)] = (stats.statuses[String(status)] ?? 0) + 1;
    stats.families[c.family] = (stats.families[c.family] ?? 0) + 1;
    if (status >= 500) stats.fiveHundreds += 1;
    this.routes.set(op.key, stats);
  }

  fuzzed(): Set<string> {
    return new Set(this.routes.keys());
  }

  /** One line for the log: `FUZZ-REPORT {json}`. */
  line(extra: Record<string, unknown> = {}): string {
    const routes = [...this.routes.values()];
    const statuses: Record<string, number> = {};
    for (const r of routes) for (const [s, n] of Object.entries(r.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
    const families: Record<string, number> = {};
    for (const r of routes) for (const [f, n] of Object.entries(r.families)) families[f] = (families[f] ?? 0) + n;
    const summary = {
      file: this.file,
      seed: SEED,
      routes: routes.length,
      inputs: routes.reduce((n, r) => n + r.inputs, 0),
      fiveHundreds: routes.reduce((n, r) => n + r.fiveHundreds, 0),
      statuses,
      ms: Date.now() - this.started,
      sendMs: Math.round(this.sendMs),
      snapshotMs: Math.round(this.snapshotMs),
      families,
      ...extra,
      perRoute: routes.map(({ route, inputs, statuses: s, fiveHundreds }) => ({ route, inputs, statuses: s, fiveHundreds })),
    };
    return `FUZZ-REPORT ${JSON.stringify(summary)}`;
  }
}

/** A seed per route, fixed: the run's seed mixed with the route's key. */
export function seedFor(key: string): number {
  let h = SEED;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h | 0;
}

export interface FuzzRun {
  target: FuzzTarget;
  credentials: Credentials;
  report: FuzzReport;
  /** Random runs on top of the fixed examples. */
  numRuns: number;
  /** Observable state the whole batch must leave as it was. */
  snapshot: () => Promise<unknown>;
}

/** Runs one operation's batch: fixed examples and `numRuns` random cases, then compares the state. */
export async function fuzzOperation(run: FuzzRun): Promise<void> {
  const { target, credentials, report } = run;
  const { examples, arbitrary } = casesFor(target);
  let t = Date.now();
  const before = await run.snapshot();
  report.snapshotMs += Date.now() - t;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      const t0 = Date.now();
      const a = await send(c, credentials);
      report.sendMs += Date.now() - t0;
      report.record(target.op, c, a.status);
      checkAnswer(target.op, c, a);
    }),
    { seed: seedFor(target.op.key), numRuns: examples.length + run.numRuns, examples: examples.map((c) => [c]), endOnFailure: true },
  );
  t = Date.now();
  const after = await run.snapshot();
  report.snapshotMs += Date.now() - t;
  expect(after, `${target.op.key}: the batch of hostile inputs changed state`).toEqual(before);
}
