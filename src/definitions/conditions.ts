// CONTRACT (implementation pending): the conditions language of SPEC §5.3 — structure,
// and the semantic validator used on every write. Evaluation lives in the engine.
import { z } from "@hono/zod-openapi";
import type { ValidationContext } from "./validation-context";

export const OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "nin", "contains", "startsWith", "exists"] as const;
export type Operator = (typeof OPERATORS)[number];

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { path: string; op: Operator; value?: unknown };

/** Structural schema (recursive, strict objects). Semantic rules are in validateCondition. */
export const conditionSchema: z.ZodType<Condition> = z.any() as unknown as z.ZodType<Condition>;

/** Where a condition is used: segment rules may not read `event.*` or `user.segments`. */
export type ConditionScope = "trigger" | "segment";

/**
 * Records every problem of `condition` in ctx with paths under `path` (e.g.
 * `steps[0].trigger.conditions.all[1].value`): operators and value types, depth ≤ 8,
 * ≤ 64 nodes, path grammar, ids named in paths (via ctx.ref), scope restrictions.
 */
export function validateCondition(_condition: Condition, _ctx: ValidationContext, _path: string, _scope: ConditionScope): void {}
