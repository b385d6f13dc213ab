import { z } from "@hono/zod-openapi";
import { conditionSchema, validateCondition } from "../conditions";
import type { KindSpec } from "../types";
import { descriptionSchema, nameSchema } from "./common";

// Segments (SPEC §4.3): static (membership set explicitly) or dynamic (a rule on the
// user's state). The ≤ 100 dynamic segments per space limit needs the whole space, so
// the service enforces it, not this pure spec.

export const SEGMENT_TYPES = ["static", "dynamic"] as const;

export const segmentSchema = z
  .strictObject({
    name: nameSchema,
    description: descriptionSchema,
    type: z.enum(SEGMENT_TYPES),
    /** Required for dynamic segments, absent (null) for static ones: checked in validate. */
    // .nullable(), not a union with null: a union would hide the condition's precise
    // error paths (`rule.all[0].op`) behind one "Invalid input" at `rule`.
    rule: conditionSchema.nullable().default(null),
  })
  .openapi("SegmentBody");

export type SegmentBody = z.infer<typeof segmentSchema>;

export const segmentKind: KindSpec<SegmentBody> = {
  kind: "segments",
  prefix: "seg",
  name: "Segment",
  archivable: true,
  schema: segmentSchema,
  validate(body, ctx, previous) {
    if (body.type === "dynamic") {
      if (body.rule === null) ctx.invalid("rule", "a dynamic segment needs a rule");
      // Segment scope: no `event.*`, no `user.segments` (no cycles between segments).
      else validateCondition(body.rule, ctx, "rule", "segment");
    } else if (body.rule !== null) {
      // Silently ignoring it would let an operator believe the rule does something.
      ctx.invalid("rule", "a static segment has no rule (membership is set explicitly)");
    }
    if (previous && previous.body.type !== body.type) {
      ctx.frozen("type", "a segment's type never changes (it would reinterpret its members)");
    }
  },
  info: (body) => ({ type: body.type }),
};
