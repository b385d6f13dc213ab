import { z } from "@hono/zod-openapi";
import { isValidTimeZone } from "../../lib/time";
import type { KindSpec } from "../types";
import { descriptionSchema, metricValueSchema, nameSchema } from "./common";

// Streaks (SPEC §4.5): consecutive days or weeks, with freezes and a grace window.

export const STREAK_PERIODS = ["day", "week"] as const;
export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
export const TIMEZONE_MODES = ["user", "fixed"] as const;

export const timeZoneSchema = z.string().refine(isValidTimeZone, "an IANA time zone, e.g. Europe/London");

export const streakFreezesSchema = z
  .strictObject({
    /** Granted once when a user's streak state is created. */
    initial: metricValueSchema.min(0).default(0),
    /** Cap for the `streak.freeze` effect and redemptions. */
    max: metricValueSchema.min(0).default(0),
  })
  .openapi("StreakFreezes");

export const streakSchema = z
  .strictObject({
    name: nameSchema,
    description: descriptionSchema,
    period: z.enum(STREAK_PERIODS),
    /** Only matters for weekly streaks, but always stored so a body is complete. */
    weekStart: z.enum(WEEKDAYS).default("monday"),
    timezoneMode: z.enum(TIMEZONE_MODES).default("user"),
    /** `user` mode: fallback when the user has none. `fixed` mode: required (validate). */
    timezone: timeZoneSchema.nullable().default(null),
    freezes: streakFreezesSchema.default({ initial: 0, max: 0 }),
    /** How long after a period ends a late check-in is still awaited before settling. */
    graceMinutes: z.number().int().min(0).max(1440).default(60),
  })
  .openapi("StreakBody");

export type StreakBody = z.infer<typeof streakSchema>;

export const streakKind: KindSpec<StreakBody> = {
  kind: "streaks",
  prefix: "stk",
  name: "Streak",
  archivable: true,
  schema: streakSchema,
  validate(body, ctx, previous) {
    if (body.timezoneMode === "fixed" && body.timezone === null) {
      ctx.invalid("timezone", "a fixed-zone streak needs a timezone");
    }
    if (body.freezes.initial > body.freezes.max) {
      ctx.invalid("freezes.initial", "initial freezes cannot exceed freezes.max");
    }
    if (previous) {
      // These decide how instants map to period keys: changing them would re-cut every
      // user's history and break or extend streaks retroactively. The zone itself may
      // change (a user's zone change also applies from the next period, §4.5).
      for (const field of ["period", "weekStart", "timezoneMode"] as const) {
        if (previous.body[field] !== body[field]) ctx.frozen(field, `a streak's ${field} never changes`);
      }
    }
  },
  info: () => ({}),
};
