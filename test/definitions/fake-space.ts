import { expect } from "vitest";
import { ApiError, type FieldError } from "../../src/errors";
import type { DefinitionInfo, DefinitionKind } from "../../src/definitions/types";
import { ValidationContext } from "../../src/definitions/validation-context";

// A fake space for the pure validators: one definition of each kind conditions and
// templates can name, plus an archived metric (references to it must fail too).

export const DEFINITIONS: DefinitionInfo[] = [
  { kind: "metrics", id: "points", archived: false, metricKind: "currency" },
  { kind: "metrics", id: "old", archived: true, metricKind: "counter" },
  { kind: "products", id: "badge", archived: false, type: "badge" },
  { kind: "ladders", id: "tiers", archived: false, levelIds: ["bronze", "silver", "gold"] },
  { kind: "streaks", id: "daily", archived: false },
  { kind: "segments", id: "vip", archived: false, type: "static" },
  { kind: "segments", id: "fans", archived: false, type: "dynamic" },
  { kind: "campaigns", id: "welcome", archived: false, status: "active" },
];

export function fakeContext(): ValidationContext {
  const byKey = new Map(DEFINITIONS.map((d) => [`${d.kind}/${d.id}`, d]));
  return new ValidationContext((kind, id) => byKey.get(`${kind}/${id}`));
}

export interface Outcome {
  code: string;
  errors: FieldError[];
}

/** "ok", or the ApiError the context would throw: its code and every error. */
export function outcomeOf(ctx: ValidationContext): Outcome | "ok" {
  if (ctx.ok) return "ok";
  try {
    ctx.throwIfInvalid();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const error = e as ApiError;
    return { code: error.code, errors: error.errors };
  }
  throw new Error("ctx is not ok but throwIfInvalid did not throw");
}

/** The outcome reduced to what tables assert: the code and the error paths in order. */
export function pathsOf(ctx: ValidationContext): "ok" | [string, string[]] {
  const outcome = outcomeOf(ctx);
  return outcome === "ok" ? "ok" : [outcome.code, outcome.errors.map((e) => e.path)];
}

/** A context over any list of facts (each test file describes its own space). */
export function contextOver(infos: DefinitionInfo[], prefix = ""): ValidationContext {
  const byKey = new Map(infos.map((i) => [`${i.kind}/${i.id}`, i]));
  return new ValidationContext((kind: DefinitionKind, id: string) => byKey.get(`${kind}/${id}`), prefix);
}

/** Runs a validation and answers what ctx.throwIfInvalid() threw (null when valid). */
export function problemsIn(run: (ctx: ValidationContext) => void, ctx: ValidationContext): Outcome | null {
  run(ctx);
  const outcome = outcomeOf(ctx);
  return outcome === "ok" ? null : outcome;
}
