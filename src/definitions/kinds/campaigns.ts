import { z } from "@hono/zod-openapi";
import { parseInstant } from "../condition-paths";
import { conditionSchema } from "../conditions";
import { effectSchema, eventDataPathSchema, eventTypeSchema, scalarOrObject, validateEffect } from "../effects";
import type { KindSpec } from "../types";
import type { ValidationContext } from "../validation-context";
import { definitionIdSchema, descriptionSchema, imageUrlSchema, nameSchema, sameJson } from "./common";
import { validateTriggerMatch } from "./triggers";

// Campaigns (SPEC §4.7): steps matched by triggers, effects on each step and on
// completion, a window, an audience, repeat rules and a one-way lifecycle.

// Timestamps (SPEC §2) ---------------------------------------------------------------

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp with any offset and 0–3
 * fraction digits (the parser conditions use), or null when it is not one, names a date
 * that does not exist, or falls outside years 0000–9999 in UTC (it could not be answered
 * as `YYYY-MM-DDTHH:mm:ss.sssZ`).
 */
export function parseTimestamp(text: string): number | null {
  const ms = parseInstant(text);
  if (ms === undefined || Number.isNaN(ms)) return null;
  const year = new Date(ms).getUTCFullYear();
  return year >= 0 && year <= 9999 ? ms : null;
}

/** Accepts RFC 3339 with any offset; stores UTC with milliseconds (`2026-11-25T10:00:00.000Z`). */
export const timestampSchema = z
  .string()
  .max(64)
  .refine((v) => parseTimestamp(v) !== null, "an RFC 3339 timestamp, e.g. 2026-11-25T10:00:00Z (0-3 fraction digits)")
  .transform((v) => new Date(parseTimestamp(v)!).toISOString())
  .openapi({ format: "date-time", example: "2026-11-25T10:00:00.000Z" });

// Schema ---------------------------------------------------------------------------

export const CAMPAIGN_STATUSES = ["draft", "active", "paused", "archived"] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const MAX_STEPS = 100;
export const MAX_EFFECTS = 20;
export const MAX_AUDIENCE_SEGMENTS = 20;

/** Lists of ids where a repeat is a mistake: each duplicate is reported at its index. */
function uniqueIds(label: string) {
  return (ids: string[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (seen.has(id)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${label} '${id}'` });
      seen.add(id);
    });
  };
}

const audienceIdsSchema = z
  .array(definitionIdSchema)
  .max(MAX_AUDIENCE_SEGMENTS)
  .superRefine(uniqueIds("segment"))
  .default(() => []);

export const audienceSchema = z
  .strictObject({ include: audienceIdsSchema, exclude: audienceIdsSchema })
  .default(() => ({ include: [], exclude: [] }));

/** A step's trigger declared in place: the same fields as a trigger definition's match. */
export const inlineTriggerSchema = z
  .strictObject({ eventType: eventTypeSchema, conditions: conditionSchema.nullable().default(null) })
  .openapi("InlineTrigger");

export const stepSchema = z
  .strictObject({
    id: definitionIdSchema,
    name: nameSchema,
    /** A trigger id, or `{ eventType, conditions? }` inline. */
    trigger: scalarOrObject(definitionIdSchema, inlineTriggerSchema, "a trigger id, or an inline trigger { eventType, conditions? }"),
    target: z.number().int().min(1).max(1_000_000).default(1),
    /** null: count matching events; a path: sum that numeric field of the event's data. */
    measure: eventDataPathSchema.nullable().default(null),
    effects: z.array(effectSchema).max(MAX_EFFECTS).default(() => []),
  })
  .openapi("CampaignStep");

export const repeatSchema = z
  .strictObject({
    /** Completions per period (null: unlimited). */
    limit: z.number().int().min(1).nullable().default(1),
    every: z.enum(["day", "week"]).nullable().default(null),
    /** Lifetime cap (null: none). */
    total: z.number().int().min(1).nullable().default(null),
  })
  .default(() => ({ limit: 1, every: null, total: null }));

export const campaignSchema = z
  .strictObject({
    name: nameSchema,
    description: descriptionSchema,
    imageUrl: imageUrlSchema,
    status: z.enum(CAMPAIGN_STATUSES).default("draft"),
    startsAt: timestampSchema.nullable().default(null),
    endsAt: timestampSchema.nullable().default(null),
    /** Default (null): `endsAt` + 7 days. */
    acceptLateUntil: timestampSchema.nullable().default(null),
    priority: z.number().int().min(-1000).max(1000).default(0),
    audience: audienceSchema,
    visibility: z.enum(["visible", "hidden"]).default("visible"),
    order: z.enum(["sequential", "any"]).default("sequential"),
    steps: z
      .array(stepSchema)
      .min(1)
      .max(MAX_STEPS)
      .superRefine((steps, ctx) => {
        const seen = new Set<string>();
        steps.forEach((step, i) => {
          if (seen.has(step.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicate step id '${step.id}'` });
          seen.add(step.id);
        });
      }),
    /** Completion effects: run when every step is complete. */
    effects: z.array(effectSchema).max(MAX_EFFECTS).default(() => []),
    repeat: repeatSchema,
  })
  .openapi("CampaignBody");

export type CampaignBody = z.infer<typeof campaignSchema>;
export type CampaignStep = z.infer<typeof stepSchema>;

export function campaignStatusOf(body: Pick<CampaignBody, "status">): CampaignStatus {
  return body.status;
}

// Lifecycle -------------------------------------------------------------------------

/** SPEC §4.7: `draft → active ⇄ paused → archived`; a draft may also be archived directly. */
const TRANSITIONS: Record<CampaignStatus, readonly CampaignStatus[]> = {
  draft: ["active", "archived"],
  active: ["paused", "archived"],
  paused: ["active", "archived"],
  archived: [],
};

export function canTransition(from: CampaignStatus, to: CampaignStatus): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

/** What of a step is frozen once the campaign left draft: its identity and what counts toward it. */
function frozenPartOf(step: CampaignStep) {
  return { id: step.id, trigger: step.trigger, target: step.target, measure: step.measure };
}

function validateLifecycle(body: CampaignBody, previous: CampaignBody, ctx: ValidationContext): void {
  if (!canTransition(previous.status, body.status)) {
    const allowed = TRANSITIONS[previous.status];
    ctx.transition(
      "status",
      `a campaign cannot go from ${previous.status} to ${body.status}` +
        (allowed.length ? ` (from ${previous.status}: ${allowed.join(", ")})` : ` (${previous.status} is final)`),
    );
  }
  if (previous.status === "draft") return;
  const clone = "; clone the campaign instead";
  const frozen = (path: string, what: string) =>
    ctx.frozen(path, `${what} cannot change once the campaign left draft${clone}`, "campaign_frozen");

  if (body.steps.length !== previous.steps.length) {
    frozen("steps", "the steps");
  } else {
    body.steps.forEach((step, i) => {
      const before = frozenPartOf(previous.steps[i]!);
      const after = frozenPartOf(step);
      for (const field of ["id", "trigger", "target", "measure"] as const) {
        if (!sameJson(before[field], after[field])) frozen(`steps[${i}].${field}`, `a step's ${field}`);
      }
    });
  }
  if (body.order !== previous.order) frozen("order", "the order");
  if (!sameJson(body.repeat, previous.repeat)) frozen("repeat", "repeat");
}

// Kind ------------------------------------------------------------------------------

export const campaignKind: KindSpec<CampaignBody> = {
  kind: "campaigns",
  prefix: "cmp",
  name: "Campaign",
  archivable: true,
  schema: campaignSchema,
  validate(body, ctx, previous) {
    // Window. Stored timestamps are normalised ISO strings: compared as instants.
    const startsAt = body.startsAt === null ? null : Date.parse(body.startsAt);
    const endsAt = body.endsAt === null ? null : Date.parse(body.endsAt);
    const lateUntil = body.acceptLateUntil === null ? null : Date.parse(body.acceptLateUntil);
    if (startsAt !== null && endsAt !== null && endsAt <= startsAt) ctx.invalid("endsAt", "endsAt must be after startsAt");
    if (lateUntil !== null && endsAt !== null && lateUntil < endsAt) {
      ctx.invalid("acceptLateUntil", "acceptLateUntil must not be before endsAt");
    } else if (lateUntil !== null && endsAt === null && startsAt !== null && lateUntil <= startsAt) {
      ctx.invalid("acceptLateUntil", "acceptLateUntil must be after startsAt");
    }

    body.audience.include.forEach((id, i) => ctx.ref("segments", id, `audience.include[${i}]`));
    body.audience.exclude.forEach((id, i) => ctx.ref("segments", id, `audience.exclude[${i}]`));

    body.steps.forEach((step, i) => {
      if (typeof step.trigger === "string") ctx.ref("triggers", step.trigger, `steps[${i}].trigger`);
      else validateTriggerMatch(step.trigger, ctx, `steps[${i}].trigger`);
      step.effects.forEach((effect, j) => validateEffect(effect, ctx, `steps[${i}].effects[${j}]`));
    });
    body.effects.forEach((effect, j) => validateEffect(effect, ctx, `effects[${j}]`));

    if (previous) validateLifecycle(body, previous.body, ctx);
  },
  info: (body) => ({ status: body.status }),
};
