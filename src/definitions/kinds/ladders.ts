import { z } from "@hono/zod-openapi";
import type { KindSpec } from "../types";
import { definitionIdSchema, descriptionSchema, metricValueSchema, nameSchema } from "./common";

// Ladders (SPEC §4.4): levels reached by a metric's lifetime or balance.

export const LADDER_BASES = ["lifetime", "balance"] as const;
export const MAX_LADDER_LEVELS = 100;

export const ladderLevelSchema = z
  .strictObject({
    /** Conditions compare `user.ladders.<id>.level` with it, so it follows the id rules. */
    id: definitionIdSchema,
    name: nameSchema,
    threshold: metricValueSchema.min(0),
  })
  .openapi("LadderLevel");

export const ladderSchema = z
  .strictObject({
    name: nameSchema,
    description: descriptionSchema,
    metric: definitionIdSchema,
    /** lifetime (default): spending never demotes. */
    basis: z.enum(LADDER_BASES).default("lifetime"),
    demotion: z.boolean().default(false),
    levels: z.array(ladderLevelSchema).min(1).max(MAX_LADDER_LEVELS),
  })
  .openapi("LadderBody");

export type LadderBody = z.infer<typeof ladderSchema>;

export const ladderKind: KindSpec<LadderBody> = {
  kind: "ladders",
  prefix: "lad",
  name: "Ladder",
  archivable: true,
  schema: ladderSchema,
  validate(body, ctx, previous) {
    ctx.ref("metrics", body.metric, "metric");
    const seen = new Map<string, number>();
    body.levels.forEach((level, i) => {
      // Every value must map to a level, so the first one starts at 0.
      if (i === 0 && level.threshold !== 0) ctx.invalid("levels[0].threshold", "the first level's threshold is 0");
      const before = body.levels[i - 1];
      if (before && level.threshold <= before.threshold) {
        ctx.invalid(`levels[${i}].threshold`, `thresholds strictly increase (the level before is at ${before.threshold})`);
      }
      const first = seen.get(level.id);
      if (first !== undefined) ctx.invalid(`levels[${i}].id`, `the level id '${level.id}' is already used by levels[${first}]`);
      else seen.set(level.id, i);
    });
    if (previous) {
      // Both decide which value a user's level is read from: changing them would
      // silently re-rank every user.
      if (previous.body.metric !== body.metric) ctx.frozen("metric", "a ladder's metric never changes");
      if (previous.body.basis !== body.basis) ctx.frozen("basis", "a ladder's basis never changes");
    }
  },
  info: (body) => ({ levelIds: body.levels.map((l) => l.id) }),
};
