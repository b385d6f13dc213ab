import { parseConditionPath, parseInstant, type Condition, type PathInfo } from "../definitions/conditions";
import { periodOf, settle, settlementPeriod, streakZone } from "./streaks";
import { localParts } from "./time";
import type { EngineEvent, Programme, UserState } from "./types";

// Evaluation of the conditions language (SPEC §5.3): no type coercion ("50" is not ≥ 50),
// a missing path makes every comparison false (`exists` tests presence), lookups use own
// properties only. The grammar is shared with the write-time validator.

export interface ConditionScope {
  programme: Programme;
  state: UserState;
  /** The user's zone for `event.local.*` (profile, else space, else UTC). */
  zone: string;
  event?: EngineEvent;
  /** Processing time: what streaks are settled as of when there is no event (segment rules). */
  now?: number;
}

type Resolved = { found: true; value: unknown } | { found: false };
const MISSING: Resolved = { found: false };
const found = (value: unknown): Resolved => ({ found: true, value });

const parsedPaths = new Map<string, PathInfo | undefined>();
function parsed(path: string): PathInfo | undefined {
  if (!parsedPaths.has(path)) parsedPaths.set(path, parseConditionPath(path));
  return parsedPaths.get(path);
}

function own(value: unknown, key: string): Resolved {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.hasOwn(value, key)
    ? found((value as Record<string, unknown>)[key])
    : MISSING;
}

export function userSegments(state: UserState): string[] {
  return [...new Set([...state.staticSegments, ...state.dynamicSegments])];
}

/** The level a ladder gives for its metric's current value (a user never seen holds the first level). */
function ladderRank(scope: ConditionScope, ladderId: string): { level: string; rank: number } | undefined {
  const ladder = scope.programme.ladders.get(ladderId);
  if (!ladder) return undefined;
  const held = scope.state.ladders[ladderId];
  const rank = Math.max(0, ladder.levels.findIndex((l) => l.id === held));
  return { level: ladder.levels[rank]!.id, rank };
}

export function resolvePath(path: string, scope: ConditionScope): Resolved {
  const info = parsed(path);
  if (!info) return MISSING;
  const { state, event } = scope;
  switch (info.family) {
    case "event.type":
      return event ? found(event.type) : MISSING;
    case "event.occurredAt":
      return event ? found(event.occurredAt) : MISSING;
    case "event.local.hour":
    case "event.local.weekday":
    case "event.local.date": {
      if (!event) return MISSING;
      const local = localParts(Date.parse(event.occurredAt), scope.zone);
      return found(info.family === "event.local.hour" ? local.hour : info.family === "event.local.weekday" ? local.weekday : local.date);
    }
    case "event.data": {
      let current: Resolved = event ? found(event.data) : MISSING;
      for (const key of info.keys!) if (current.found) current = own(current.value, key);
      return current;
    }
    case "user.id":
      return found(state.userId);
    case "user.timezone":
      return found(state.timezone);
    case "user.createdAt":
      return state.createdAt ? found(state.createdAt) : MISSING;
    case "user.attributes":
      return own(state.attributes, info.keys![0]!);
    case "user.segments":
      return found(userSegments(state));
  }
  const id = info.ref?.id;
  if (!id) return MISSING;
  switch (info.family) {
    case "user.metrics": {
      const metric = scope.programme.metrics.get(id);
      if (!metric) return MISSING;
      const held = state.metrics[id] ?? { balance: metric.initial, lifetime: Math.max(metric.initial, 0) };
      return found(info.field === "lifetime" ? held.lifetime : held.balance);
    }
    case "user.products":
      return found(state.products[id] ?? 0);
    case "user.ladders": {
      const held = ladderRank(scope, id);
      if (!held) return MISSING;
      return found(info.field === "rank" ? held.rank : held.level);
    }
    case "user.campaigns":
      return found(state.campaigns[id]?.completions ?? 0);
    case "user.streaks": {
      const streak = scope.programme.streaks.get(id);
      if (!streak) return MISSING;
      const held = state.streaks?.[id];
      if (!held) return found(0);
      // Settled as of the event (the start of its period), or as of now for segment rules.
      const copy = structuredClone(held);
      const zone = streakZone(streak, state.timezone, scope.programme.spaceTimezone);
      if (scope.event) settle(id, streak, copy, periodOf(streak, copy, Date.parse(scope.event.occurredAt), zone).key);
      else if (scope.now !== undefined) settle(id, streak, copy, settlementPeriod(streak, copy, scope.now, zone));
      return found(info.field === "longest" ? copy.longest : copy.current);
    }
    default:
      return MISSING;
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Orders two values of one kind: numbers, local dates, or instants. NaN = not comparable. */
function order(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") {
    if (DATE.test(a) && DATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
    const x = parseInstant(a);
    const y = parseInstant(b);
    if (x !== undefined && y !== undefined) return x - y;
  }
  return Number.NaN;
}

/** eq / ne: the same value; two timestamps are the same instant whatever their offsets (SPEC §5.3). */
function sameScalar(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "string" || typeof b !== "string") return false;
  const x = parseInstant(a);
  return x !== undefined && x === parseInstant(b);
}

export function compare(op: string, actual: Resolved, value: unknown): boolean {
  if (op === "exists") return value === true ? actual.found && actual.value !== undefined : !actual.found;
  if (!actual.found) return false;
  const v = actual.value;
  switch (op) {
    case "eq":
      return sameScalar(v, value);
    case "ne":
      return !sameScalar(v, value);
    case "gt":
      return order(v, value) > 0;
    case "gte":
      return order(v, value) >= 0;
    case "lt":
      return order(v, value) < 0;
    case "lte":
      return order(v, value) <= 0;
    case "between": {
      const [lo, hi] = value as [unknown, unknown];
      return order(v, lo) >= 0 && order(v, hi) <= 0;
    }
    case "in":
      return Array.isArray(v) ? v.some((x) => (value as unknown[]).includes(x)) : (value as unknown[]).includes(v);
    case "nin":
      return Array.isArray(v) ? !v.some((x) => (value as unknown[]).includes(x)) : !(value as unknown[]).includes(v);
    case "contains":
      if (Array.isArray(v)) return v.includes(value);
      return typeof v === "string" && typeof value === "string" && v.includes(value);
    case "startsWith":
      return typeof v === "string" && typeof value === "string" && v.startsWith(value);
    default:
      return false;
  }
}

export function evaluateCondition(condition: Condition, scope: ConditionScope): boolean {
  return explainFailure(condition, scope) === undefined;
}

export interface ConditionFailure {
  path: string;
  op: string;
  actual: unknown;
}

/** undefined when the condition holds; else the first leaf that made it fail. */
export function explainFailure(condition: Condition, scope: ConditionScope): ConditionFailure | undefined {
  if ("all" in condition) {
    for (const child of condition.all) {
      const failure = explainFailure(child, scope);
      if (failure) return failure;
    }
    return undefined;
  }
  if ("any" in condition) {
    let first: ConditionFailure | undefined;
    for (const child of condition.any) {
      const failure = explainFailure(child, scope);
      if (!failure) return undefined;
      first ??= failure;
    }
    return first;
  }
  if ("not" in condition) {
    return explainFailure(condition.not, scope) ? undefined : { path: "(not)", op: "not", actual: true };
  }
  const actual = resolvePath(condition.path, scope);
  return compare(condition.op, actual, condition.value)
    ? undefined
    : { path: condition.path, op: condition.op, actual: actual.found ? actual.value : null };
}
