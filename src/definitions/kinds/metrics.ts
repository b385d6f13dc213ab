import { z } from "@hono/zod-openapi";
import type { KindSpec } from "../types";
import { descriptionSchema, metricValueSchema, nameSchema } from "./common";

// Metrics (SPEC §4.1): points, currencies, XP, counters, gauges. Integer values only.

export const METRIC_KINDS = ["currency", "counter", "gauge"] as const;

export const metricSchema = z
  .strictObject({
    name: nameSchema,
    description: descriptionSchema,
    kind: z.enum(METRIC_KINDS),
    initial: metricValueSchema.default(0),
    /** null: no lower bound, except currencies, which never go below 0 unless `min` says so. */
    min: metricValueSchema.nullable().default(null),
    max: metricValueSchema.nullable().default(null),
  })
  .openapi("MetricBody");

export type MetricBody = z.infer<typeof metricSchema>;

/** The effective lower bound: currencies default to 0 (SPEC §4.1). */
export function metricFloor(metric: Pick<MetricBody, "kind" | "min">): number | null {
  return metric.min ?? (metric.kind === "currency" ? 0 : null);
}

export const metricKind: KindSpec<MetricBody> = {
  kind: "metrics",
  prefix: "met",
  name: "Metric",
  archivable: true,
  schema: metricSchema,
  validate(body, ctx, previous) {
    const floor = metricFloor(body);
    if (floor !== null && body.max !== null && floor > body.max) ctx.invalid("max", "max is below the minimum");
    if (floor !== null && body.initial < floor) ctx.invalid("initial", `initial is below the minimum (${floor})`);
    if (body.max !== null && body.initial > body.max) ctx.invalid("initial", "initial is above max");
    if (previous && previous.body.kind !== body.kind) {
      ctx.frozen("kind", "a metric's kind never changes (it would reinterpret every balance)");
    }
  },
  info: (body) => ({ metricKind: body.kind }),
};
