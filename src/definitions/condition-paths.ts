import { ATTRIBUTE_KEY_PATTERN } from "../spaces/schemas";
import type { DefinitionKind } from "./types";

// The path grammar of the conditions language (SPEC §5.3) and the value formats it
// compares. Shared by the write-time validator and the engine's evaluator, so both read
// a path the same way. Pure: no context, no I/O.

/** Keys of event data (SPEC §5.1): no dots, so a path splits unambiguously. */
export const EVENT_DATA_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Event data nests at most 8 deep (SPEC §5.1), so a longer path can never resolve. */
export const MAX_DATA_PATH_KEYS = 8;
/** Lookups use own properties only (SPEC §2): these never name data. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export const isDataKey = (key: string): boolean => EVENT_DATA_KEY_PATTERN.test(key) && !UNSAFE_KEYS.has(key);
export const isAttributeKey = (key: string): boolean => ATTRIBUTE_KEY_PATTERN.test(key) && !UNSAFE_KEYS.has(key);

/**
 * What a path holds, which decides the operators and values that fit it:
 * `any` (operator data: every operator), `number`, `string`, `instant` (RFC 3339),
 * `date` (a local `YYYY-MM-DD`), `level` (a ladder's level id), `segments` (an array of ids).
 */
export type PathType = "any" | "number" | "string" | "instant" | "date" | "level" | "segments";

export interface PathInfo {
  /** The path as written. */
  path: string;
  /** `event.data`, `user.metrics`, `event.local.hour`…: the path without ids or keys. */
  family: string;
  type: PathType;
  /** Integer-valued paths with a closed range (local hour, weekday). */
  range?: { min: number; max: number };
  /** Can legitimately hold null (a user without a timezone). */
  nullable?: boolean;
  /** The definition an id in the path names (`user.metrics.<id>…`). */
  ref?: { kind: DefinitionKind; id: string };
  /** `balance`, `level`, `current`…: the field read from the referenced state. */
  field?: string;
  /** Keys after `event.data` / `user.attributes`. */
  keys?: string[];
}

const FIXED: Record<string, Omit<PathInfo, "path" | "family">> = {
  "event.type": { type: "string" },
  "event.occurredAt": { type: "instant" },
  "event.local.hour": { type: "number", range: { min: 0, max: 23 } },
  "event.local.weekday": { type: "number", range: { min: 1, max: 7 } },
  "event.local.date": { type: "date" },
  "user.id": { type: "string" },
  "user.timezone": { type: "string", nullable: true },
  "user.createdAt": { type: "instant" },
  "user.segments": { type: "segments" },
};

/** `user.<collection>.<id>[.<field>]`: the collection, the kind its ids name, its fields. */
const BY_ID: Record<string, { kind: DefinitionKind; fields: Record<string, PathType> | null }> = {
  metrics: { kind: "metrics", fields: { balance: "number", lifetime: "number" } },
  products: { kind: "products", fields: null },
  ladders: { kind: "ladders", fields: { level: "level", rank: "number" } },
  streaks: { kind: "streaks", fields: { current: "number", longest: "number" } },
  campaigns: { kind: "campaigns", fields: { completions: "number" } },
};

/** Parses a condition path; undefined when it is not in the grammar. */
export function parseConditionPath(path: string): PathInfo | undefined {
  const fixed = FIXED[path];
  if (fixed) return { path, family: path, ...fixed };
  const parts = path.split(".");
  const [root, second, ...rest] = parts;
  if (root === "event" && second === "data") {
    if (rest.length < 1 || rest.length > MAX_DATA_PATH_KEYS || !rest.every(isDataKey)) return undefined;
    return { path, family: "event.data", type: "any", keys: rest };
  }
  if (root !== "user" || second === undefined) return undefined;
  if (second === "attributes") {
    // Attribute values are scalars or string arrays (SPEC §5.4): nothing to descend into.
    if (rest.length !== 1 || !isAttributeKey(rest[0]!)) return undefined;
    return { path, family: "user.attributes", type: "any", keys: rest };
  }
  const collection = BY_ID[second];
  const [id, field, ...extra] = rest;
  if (!collection || !id || extra.length > 0) return undefined;
  const family = `user.${second}`;
  const ref = { kind: collection.kind, id };
  if (collection.fields === null) return field === undefined ? { path, family, type: "number", ref } : undefined;
  const type = field === undefined ? undefined : collection.fields[field];
  return type ? { path, family, type, ref, field } : undefined;
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(y: number, m: number, d: number): boolean {
  // Date.parse accepts 2026-02-30; a day past the month's end is a typo, not an instant.
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1];
  return days !== undefined && d >= 1 && d <= days;
}

/**
 * An RFC 3339 timestamp (any offset, 0–3 fraction digits: SPEC §2's format) as epoch
 * milliseconds; undefined when the string is not one. Conditions compare instants, so
 * `2026-11-25T11:00:00+01:00` equals `2026-11-25T10:00:00Z`.
 */
export function parseInstant(value: string): number | undefined {
  const m = INSTANT.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (!validDate(y, mo, d) || h > 23 || mi > 59 || s > 59) return undefined;
  let offset = 0;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[8] === "+" ? 1 : -1) * (oh * 60 + om) * 60_000;
  }
  const ms = m[7] ? Number(m[7].slice(1).padEnd(3, "0")) : 0;
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear takes the year as written.
  const t = new Date(Date.UTC(2000, 0, 1, h, mi, s, ms));
  t.setUTCFullYear(y, mo - 1, d);
  return t.getTime() - offset;
}

/** A calendar date `YYYY-MM-DD` (`event.local.date`): ordered as text, which is chronological. */
export function isLocalDate(value: string): boolean {
  const m = DATE.exec(value);
  return m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
}
