import { z } from "@hono/zod-openapi";
import { conditionSchema, validateCondition } from "../conditions";
import { eventTypeSchema, RESERVED_EVENT_TYPE_PREFIX } from "../effects";
import type { KindSpec } from "../types";
import type { ValidationContext } from "../validation-context";
import { descriptionSchema, nameSchema, sameJson } from "./common";
import { DERIVED_EVENT_TYPES, type DerivedEventType } from "../derived-events";

// Triggers (SPEC §4.6): which events count. Operator event types and the engine's
// derived `loyalty.*` types (§5.6) can both be matched. Campaign steps reference a
// trigger by id or declare one inline (same eventType rules, same conditions).

/** The derived types of SPEC §5.6 (listed with webhooks): the only `loyalty.*` types a trigger can match. */
const DERIVED = new Set<string>(DERIVED_EVENT_TYPES);

export function isDerivedEventType(eventType: string): eventType is DerivedEventType {
  return DERIVED.has(eventType);
}

export const triggerSchema = z
  .strictObject({
    name: nameSchema,
    description: descriptionSchema,
    eventType: eventTypeSchema,
    conditions: conditionSchema.nullable().default(null),
  })
  .openapi("TriggerBody");

export type TriggerBody = z.infer<typeof triggerSchema>;

/** What a trigger matches, as declared by a trigger definition or inline in a campaign step. */
export interface TriggerMatch {
  eventType: string;
  conditions: TriggerBody["conditions"];
}

/**
 * Semantic rules shared by trigger definitions and inline step triggers, paths under
 * `path` (`""` for a trigger body, `steps[2].trigger` for an inline one).
 */
export function validateTriggerMatch(match: TriggerMatch, ctx: ValidationContext, path: string): void {
  const field = (name: string) => (path ? `${path}.${name}` : name);
  if (match.eventType.startsWith(RESERVED_EVENT_TYPE_PREFIX) && !isDerivedEventType(match.eventType)) {
    ctx.invalid(field("eventType"), `'${match.eventType}' is not a derived event type (loyalty.* types are reserved; see SPEC §5.6)`);
  }
  if (match.conditions !== null) validateCondition(match.conditions, ctx, field("conditions"), "trigger");
}

/**
 * Which of the fields frozen while a non-draft campaign uses the trigger (SPEC §4) differ
 * between two trigger bodies. The service checks the referrers and records ctx.frozen.
 */
export function triggerFrozenFieldsChanged(
  previous: Pick<TriggerBody, "eventType" | "conditions">,
  next: Pick<TriggerBody, "eventType" | "conditions">,
): Array<"eventType" | "conditions"> {
  const changed: Array<"eventType" | "conditions"> = [];
  if (previous.eventType !== next.eventType) changed.push("eventType");
  if (!sameJson(previous.conditions ?? null, next.conditions ?? null)) changed.push("conditions");
  return changed;
}

export const triggerKind: KindSpec<TriggerBody> = {
  kind: "triggers",
  prefix: "trg",
  name: "Trigger",
  archivable: false,
  schema: triggerSchema,
  validate(body, ctx) {
    validateTriggerMatch(body, ctx, "");
  },
  info: (body) => ({ eventType: body.eventType }),
};
