// The conditions language of SPEC §5.3: its structure (a zod schema, 400 on violation)
// and the semantic validator used on every write (422). Evaluation lives in the engine;
// it reads paths with the same grammar (./condition-paths).
import { z } from "@hono/zod-openapi";
import { isLocalDate, parseConditionPath, parseInstant, type PathInfo, type PathType } from "./condition-paths";
import type { DefinitionInfo } from "./types";
import type { ValidationContext } from "./validation-context";

export { parseConditionPath, parseInstant, isLocalDate, type PathInfo, type PathType } from "./condition-paths";

export const OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "nin", "contains", "startsWith", "exists"] as const;
export type Operator = (typeof OPERATORS)[number];

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { path: string; op: Operator; value?: unknown };

export const MAX_CONDITION_DEPTH = 8;
export const MAX_CONDITION_NODES = 64;
export const MAX_CONDITION_PATH_LENGTH = 256;
/** `in` / `nin` lists (SPEC §5.3). */
export const MAX_LIST_VALUES = 1000;

const FORMS = ["all", "any", "not", "path"] as const;
const SHAPES = "a condition is { all: [...] }, { any: [...] }, { not: {...} } or { path, op, value }";

const childrenSchema = () => z.array(conditionSchema).min(1).max(MAX_CONDITION_NODES).optional();

/**
 * One strict object with every key optional plus an exactly-one-form rule, rather than a
 * union of four objects: a union can only say "no branch matched" at the node, while
 * this reports the offending key itself (`rule.all[1].op`, `rule.not.path`).
 */
const conditionNode = z
  .strictObject({
    get all(): z.ZodOptional<z.ZodArray<z.ZodType<Condition>>> {
      return childrenSchema();
    },
    get any(): z.ZodOptional<z.ZodArray<z.ZodType<Condition>>> {
      return childrenSchema();
    },
    get not(): z.ZodOptional<z.ZodType<Condition>> {
      return conditionSchema.optional();
    },
    path: z.string().min(1).max(MAX_CONDITION_PATH_LENGTH).optional(),
    op: z.enum(OPERATORS).optional(),
    value: z.unknown().optional(),
  })
  .superRefine((node, ctx) => {
    const forms = FORMS.filter((k) => node[k] !== undefined);
    const first = forms[0];
    if (first === undefined) {
      const leafish = node.op !== undefined || node.value !== undefined;
      ctx.addIssue({ code: "custom", path: leafish ? ["path"] : [], message: leafish ? "required" : SHAPES });
      return;
    }
    for (const extra of forms.slice(1)) {
      ctx.addIssue({ code: "custom", path: [extra], message: `not allowed next to '${first}': ${SHAPES}` });
    }
    if (first === "path") {
      if (node.op === undefined) ctx.addIssue({ code: "custom", path: ["op"], message: "required" });
      return;
    }
    for (const key of ["op", "value"] as const) {
      if (node[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `only a { path, op, value } condition has '${key}'` });
    }
  })
  .openapi("Condition", {
    description: `${SHAPES}. At most ${MAX_CONDITION_DEPTH} levels deep and ${MAX_CONDITION_NODES} nodes (SPEC §5.3).`,
  });

/** Structural schema (recursive, strict objects). Semantic rules are in validateCondition. */
// The cast is sound: the refinement above admits exactly the four shapes of Condition.
export const conditionSchema: z.ZodType<Condition> = conditionNode as unknown as z.ZodType<Condition>;

/** Where a condition is used: segment rules may not read `event.*` or `user.segments`. */
export type ConditionScope = "trigger" | "segment";

type Leaf = Extract<Condition, { path: string }>;

const isLeaf = (c: Condition): c is Leaf => "path" in c;
const childrenOf = (c: Condition): Condition[] => ("all" in c ? c.all : "any" in c ? c.any : "not" in c ? [c.not] : []);

/** Appends a segment to an error path; a base of "" means the condition is the body. */
const at = (base: string, suffix: string): string => (base ? `${base}${suffix}` : suffix.replace(/^\./, ""));

const ALL_OPS: readonly Operator[] = OPERATORS;
const ORDERED: readonly Operator[] = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "nin", "exists"];

/** Which operators make sense on what a path holds (anything else is always false). */
const OPS_BY_TYPE: Record<PathType, readonly Operator[]> = {
  any: ALL_OPS,
  number: ORDERED,
  instant: ORDERED,
  date: [...ORDERED, "startsWith"],
  string: ["eq", "ne", "in", "nin", "contains", "startsWith", "exists"],
  level: ["eq", "ne", "in", "nin", "exists"],
  segments: ["contains", "in", "nin", "exists"],
};

const DESCRIBED: Record<PathType, string> = {
  any: "any value",
  number: "a number",
  instant: "a timestamp",
  date: "a local date (YYYY-MM-DD)",
  string: "a string",
  level: "a level id (compare `.rank` to order levels)",
  segments: "a list of segment ids",
};

const ANY_PATH: PathInfo = { path: "", family: "", type: "any" };

type Scalar = string | number | boolean | null;
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));

/**
 * Records every problem of `condition` in ctx with paths under `path` (e.g.
 * `steps[0].trigger.conditions.all[1].value`): operators and value types, depth ≤ 8,
 * ≤ 64 nodes, path grammar, ids named in paths (via ctx.ref), scope restrictions.
 */
export function validateCondition(condition: Condition, ctx: ValidationContext, path: string, scope: ConditionScope): void {
  const nodes = countNodes(condition);
  if (nodes > MAX_CONDITION_NODES) {
    ctx.invalid(path, `a condition has at most ${MAX_CONDITION_NODES} nodes; this one has ${nodes}`);
  }
  let tooDeep = false;
  const walk = (node: Condition, where: string, depth: number): void => {
    if (depth > MAX_CONDITION_DEPTH) {
      // One error is enough: every deeper node has the same problem.
      if (!tooDeep) ctx.invalid(where, `conditions nest at most ${MAX_CONDITION_DEPTH} levels deep`);
      tooDeep = true;
      return;
    }
    if ("all" in node) node.all.forEach((c, i) => walk(c, at(where, `.all[${i}]`), depth + 1));
    else if ("any" in node) node.any.forEach((c, i) => walk(c, at(where, `.any[${i}]`), depth + 1));
    else if ("not" in node) walk(node.not, at(where, ".not"), depth + 1);
    else validateLeaf(node, ctx, where, scope);
  };
  walk(condition, path, 1);
}

function countNodes(condition: Condition): number {
  let count = 0;
  const stack = [condition];
  while (stack.length > 0) {
    count += 1;
    stack.push(...childrenOf(stack.pop()!));
  }
  return count;
}

function validateLeaf(leaf: Leaf, ctx: ValidationContext, where: string, scope: ConditionScope): void {
  const { op, value } = leaf;
  const pathAt = at(where, ".path");
  const valueAt = at(where, ".value");
  let info = parseConditionPath(leaf.path);
  if (!info) {
    ctx.invalid(pathAt, `unknown path '${leaf.path}'`);
  } else if (scope === "segment" && (info.family.startsWith("event.") || info.type === "segments")) {
    ctx.invalid(pathAt, `a segment rule cannot read '${leaf.path}' (no event.* and no user.segments: segments are evaluated without an event and may not depend on each other)`);
    info = undefined;
  }
  const target = info?.ref ? ctx.ref(info.ref.kind, info.ref.id, pathAt) : undefined;
  if (value === undefined) {
    ctx.invalid(valueAt, op === "exists" ? "required: true or false" : `required: '${op}' compares the path with a value`);
    return;
  }
  if (!shapeFits(op, value, valueAt, ctx)) return;
  // An unknown or refused path was reported already; its values are still checked as for operator data.
  const fit = info ?? ANY_PATH;
  if (!OPS_BY_TYPE[fit.type].includes(op)) {
    ctx.invalid(at(where, ".op"), `'${op}' does not apply to ${leaf.path}, which holds ${DESCRIBED[fit.type]}`);
    return;
  }
  const items: Array<[unknown, string]> = Array.isArray(value)
    ? value.map((v, i) => [v, `${valueAt}[${i}]`])
    : op === "exists"
      ? []
      : [[value, valueAt]];
  let allFit = true;
  for (const [item, itemAt] of items) {
    const problem = itemProblem(item, op, fit, target);
    if (problem) {
      ctx.invalid(itemAt, problem);
      allFit = false;
    } else if (fit.type === "segments") {
      ctx.ref("segments", item as string, itemAt);
    }
  }
  if (op === "between" && allFit) {
    const [lo, hi] = (value as unknown[]).map((v) => (typeof v === "string" && fit.type !== "date" ? parseInstant(v)! : v)) as [number | string, number | string];
    if (lo > hi) ctx.invalid(valueAt, "between needs [lo, hi] with lo ≤ hi");
  }
}

/** What an operator needs whatever the path (SPEC §5.3); records the problem. */
function shapeFits(op: Operator, value: unknown, valueAt: string, ctx: ValidationContext): boolean {
  const fail = (message: string) => (ctx.invalid(valueAt, message), false);
  switch (op) {
    case "exists":
      return typeof value === "boolean" || fail("exists takes true or false");
    case "eq":
    case "ne":
      return isScalar(value) || fail(`${op} compares with a string, number, boolean or null`);
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return typeof value === "number" || typeof value === "string" || fail(`${op} compares with a number or a timestamp`);
    case "between": {
      const ok = Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "number" || typeof v === "string");
      if (!ok) return fail("between takes [lo, hi]: two numbers or two timestamps");
      return typeof value[0] === typeof value[1] || fail("between takes two numbers or two timestamps, not one of each");
    }
    case "in":
    case "nin":
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LIST_VALUES) {
        return fail(`${op} takes a list of 1 to ${MAX_LIST_VALUES} values`);
      }
      // Element problems are reported one by one, each at its own index, by itemProblem.
      return true;
    case "contains":
      return (isScalar(value) && value !== null) || fail("contains takes a string, number or boolean");
    case "startsWith":
      return (typeof value === "string" && value.length > 0) || fail("startsWith takes a non-empty string");
  }
}

/** Why one value (or list element) cannot be compared with what the path holds. */
function itemProblem(item: unknown, op: Operator, info: PathInfo, target: DefinitionInfo | undefined): string | undefined {
  if ((op === "in" || op === "nin") && !isScalar(item)) return "list values are strings, numbers, booleans or null";
  if (op === "startsWith") return undefined; // a prefix of any text form, checked by shapeFits
  if (item === null) {
    return info.type === "any" || info.nullable ? undefined : `${info.path} holds ${DESCRIBED[info.type]}, never null`;
  }
  const ordering = op === "gt" || op === "gte" || op === "lt" || op === "lte" || op === "between";
  switch (info.type) {
    case "any":
      if (ordering && typeof item === "string" && parseInstant(item) === undefined) {
        return `'${item}' is not an RFC 3339 timestamp: ${op} compares numbers or timestamps`;
      }
      return undefined;
    case "number":
      if (typeof item !== "number") return `${info.path} holds a number`;
      if (info.range && (!Number.isInteger(item) || item < info.range.min || item > info.range.max)) {
        return `${info.path} is an integer from ${info.range.min} to ${info.range.max}`;
      }
      return undefined;
    case "instant":
      return typeof item === "string" && parseInstant(item) !== undefined
        ? undefined
        : `${info.path} is a timestamp: compare with an RFC 3339 timestamp such as 2026-11-25T10:00:00Z`;
    case "date":
      return typeof item === "string" && isLocalDate(item) ? undefined : `${info.path} is a local date: compare with YYYY-MM-DD`;
    case "string":
      return typeof item === "string" ? undefined : `${info.path} holds a string`;
    case "level":
      if (typeof item !== "string") return `${info.path} holds a level id`;
      if (target?.levelIds && !target.levelIds.includes(item)) {
        return `the ladder '${target.id}' has no level '${item}' (levels: ${target.levelIds.join(", ")})`;
      }
      return undefined;
    case "segments":
      return typeof item === "string" ? undefined : "segment ids are strings";
  }
}

/**
 * The distinct paths a condition reads, in first-seen order (`user.metrics.points.lifetime`,
 * `event.data.amount`…). The engine keys its segment dependency index on the `user.*` ones.
 */
export function conditionReads(condition: Condition): string[] {
  const reads = new Set<string>();
  const visit = (node: Condition): void => {
    if (isLeaf(node)) reads.add(node.path);
    else childrenOf(node).forEach(visit);
  };
  visit(condition);
  return [...reads];
}
