import { z } from "@hono/zod-openapi";
import { DEFINITION_ID_PATTERN } from "../types";

// Field schemas shared by the kinds (SPEC §2, §4).

export const definitionIdSchema = z
  .string()
  .regex(DEFINITION_ID_PATTERN, "an id is 1-64 of a-z, 0-9, _ and -, starting with a letter or digit (not constructor or prototype)");

export const nameSchema = z.string().trim().min(1).max(200);
export const descriptionSchema = z.string().max(2000).nullable().default(null);
export const imageUrlSchema = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      return new URL(v).protocol === "https:";
    } catch {
      return false;
    }
  }, "an https URL")
  .nullable()
  .default(null);

/** Metric values are integers in the safe range (SPEC §4.1). */
export const metricValueSchema = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/** Operator metadata: plain JSON, small. */
export const metadataSchema = z
  .record(z.string().max(64), z.unknown())
  .refine((m) => Object.keys(m).length <= 50, "at most 50 keys")
  .refine((m) => JSON.stringify(m).length <= 8192, "at most 8 KiB")
  .default({});

/** Compares two JSON values structurally (bodies are plain data). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted: equal data gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}
