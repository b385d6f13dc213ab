import { z } from "@hono/zod-openapi";
import { ATTRIBUTE_KEY_PATTERN } from "../spaces/schemas";
import { isAttributeKey, isDataKey, MAX_DATA_PATH_KEYS } from "./condition-paths";
import { definitionIdSchema, metricValueSchema } from "./kinds/common";
import { validateJsonTemplate, validateTemplateString } from "./templates";
import type { ValidationContext } from "./validation-context";

// Effects (SPEC §6): what a completed step or campaign does. Structure here (strict
// objects, one per `type`); references and the rules a well-formed effect can still
// break are checked by validateEffect on every write.

/** Event types (SPEC §5.1): the same alphabet for ingested, emitted and matched types. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
/** Derived event types are reserved (SPEC §5.6): clients and `event.emit` never use them. */
export const RESERVED_EVENT_TYPE_PREFIX = "loyalty.";

export const eventTypeSchema = z
  .string()
  .regex(EVENT_TYPE_PATTERN, "an event type is 1-100 of A-Z, a-z, 0-9, _ . : -, starting with a letter or digit");

/**
 * A path into the event's data (`event.data.amount`, `event.data.order.total`): the
 * `event.data` grammar of conditions and templates (condition-paths.ts) — 1–8 keys of
 * 1–64 characters of A-Z, a-z, 0-9, `_` and `-`, never `__proto__`/`constructor`/`prototype`.
 */
export function isEventDataPath(path: string): boolean {
  const [root, second, ...keys] = path.split(".");
  return root === "event" && second === "data" && keys.length >= 1 && keys.length <= MAX_DATA_PATH_KEYS && keys.every(isDataKey);
}

export const eventDataPathSchema = z
  .string()
  .max(1024)
  .refine(isEventDataPath, `a path like event.data.amount (1-${MAX_DATA_PATH_KEYS} keys of A-Z, a-z, 0-9, _ and -)`);

/** Size bound of JSON templates (the size bound of event data, SPEC §5.1). */
const MAX_TEMPLATE_BYTES = 16 * 1024;
const withinTemplateSize = (v: unknown) => JSON.stringify(v ?? null).length <= MAX_TEMPLATE_BYTES;
const TOO_LARGE = "at most 16 KiB of JSON";

/** A JSON object (templates at its string leaves). */
const jsonObjectTemplateSchema = z.record(z.string(), z.unknown()).refine(withinTemplateSize, TOO_LARGE);

/** Any JSON value (templates at its string leaves). */
const jsonTemplateSchema = z
  .union(
    [z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())],
    { error: "a JSON value" },
  )
  .refine(withinTemplateSize, TOO_LARGE);

const quantitySchema = z.number().int().min(1).max(1000).default(1);

// metric.add ------------------------------------------------------------------------

export const ROUNDING_MODES = ["floor", "ceil", "nearest"] as const;

export const computedAmountSchema = z
  .strictObject({
    path: eventDataPathSchema,
    multiply: z
      .number()
      .refine((v) => v !== 0, "multiplying by 0 always gives 0")
      .default(1),
    round: z.enum(ROUNDING_MODES).default("floor"),
    /** Default 0: a negative field never debits unless `min` allows it (SPEC §6). */
    min: metricValueSchema.default(0),
    max: metricValueSchema.nullable().default(null),
  })
  .openapi("ComputedAmount");

/**
 * A union of a scalar and an object, told apart by the input's type. A plain union
 * reports any mistake inside the object as one "invalid input" at the field; here an
 * object input is checked against the object branch first, so errors point inside it
 * (`amount.multiply`, `steps[0].trigger.eventType`).
 */
export function scalarOrObject<S extends z.ZodType, O extends z.ZodType>(scalar: S, object: O, error: string) {
  return z.preprocess(
    (value, ctx) => {
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const result = object.safeParse(value);
        if (!result.success) for (const issue of result.error.issues) ctx.issues.push({ ...issue, input: value } as z.core.$ZodRawIssue);
      }
      return value;
    },
    z.union([scalar, object], { error }),
  );
}

/** `amount`: a non-zero literal, or computed from the event's data. */
export const metricAmountSchema = scalarOrObject(
  metricValueSchema.refine((v) => v !== 0, "an amount of 0 does nothing"),
  computedAmountSchema,
  "a non-zero integer, or { path, multiply, round, min, max }",
);

const metricAdd = z
  .strictObject({ type: z.literal("metric.add"), metric: definitionIdSchema, amount: metricAmountSchema })
  .openapi("MetricAddEffect");

const metricSet = z
  .strictObject({ type: z.literal("metric.set"), metric: definitionIdSchema, value: metricValueSchema })
  .openapi("MetricSetEffect");

// products, streaks, segments -------------------------------------------------------

/** The three product effects share one shape: `{ type, product, quantity }`. */
const productEffect = <T extends string>(type: T, component: string) =>
  z.strictObject({ type: z.literal(type), product: definitionIdSchema, quantity: quantitySchema }).openapi(component);
const productGrant = productEffect("product.grant", "ProductGrantEffect");
const productRevoke = productEffect("product.revoke", "ProductRevokeEffect");
const productRedeem = productEffect("product.redeem", "ProductRedeemEffect");

const streakCheckin = z
  .strictObject({ type: z.literal("streak.checkin"), streak: definitionIdSchema })
  .openapi("StreakCheckinEffect");
const streakFreeze = z
  .strictObject({
    type: z.literal("streak.freeze"),
    streak: definitionIdSchema,
    count: z.number().int().min(1).max(100).default(1),
  })
  .openapi("StreakFreezeEffect");

const segmentAdd = z
  .strictObject({ type: z.literal("segment.add"), segment: definitionIdSchema })
  .openapi("SegmentAddEffect");
const segmentRemove = z
  .strictObject({ type: z.literal("segment.remove"), segment: definitionIdSchema })
  .openapi("SegmentRemoveEffect");

// attributes, events, outbound ------------------------------------------------------

const attributeString = z.string().max(1024);

/** User attribute values (SPEC §5.4): scalars or string arrays. Strings may be templates. */
export const attributeValueSchema = z.union(
  [attributeString, z.number(), z.boolean(), z.null(), z.array(attributeString).max(50)],
  { error: "a string (≤ 1024), number, boolean, null or an array of at most 50 strings" },
);

const attributeSet = z
  .strictObject({
    type: z.literal("attribute.set"),
    key: z
      .string()
      .regex(ATTRIBUTE_KEY_PATTERN, "an attribute key is 1-64 of A-Z, a-z, 0-9 and _, not starting with a digit")
      .refine((k) => !ATTRIBUTE_KEY_PATTERN.test(k) || isAttributeKey(k), "__proto__, constructor and prototype are not valid attribute keys"),
    // A union member that accepts undefined would make the key optional: required explicitly.
    value: attributeValueSchema,
  })
  .openapi("AttributeSetEffect");

const eventEmit = z
  .strictObject({
    type: z.literal("event.emit"),
    // The reserved `loyalty.*` prefix is a rule (422 in validateEffect), not a shape.
    eventType: eventTypeSchema,
    data: jsonObjectTemplateSchema.default(() => ({})),
  })
  .openapi("EventEmitEffect");

const webhookSend = z
  .strictObject({ type: z.literal("webhook.send"), webhook: definitionIdSchema, payload: jsonTemplateSchema })
  .openapi("WebhookSendEffect");

const pushSend = z
  .strictObject({
    type: z.literal("push.send"),
    title: z.string().min(1).max(200),
    body: z.string().min(1).max(1000),
    url: z.string().min(1).max(2048).nullable().default(null),
    data: jsonObjectTemplateSchema.nullable().default(null),
  })
  .openapi("PushSendEffect");

export const EFFECT_TYPES = [
  "metric.add",
  "metric.set",
  "product.grant",
  "product.revoke",
  "product.redeem",
  "streak.checkin",
  "streak.freeze",
  "segment.add",
  "segment.remove",
  "attribute.set",
  "event.emit",
  "webhook.send",
  "push.send",
] as const;
export type EffectType = (typeof EFFECT_TYPES)[number];

export const effectSchema = z
  .discriminatedUnion("type", [
    metricAdd,
    metricSet,
    productGrant,
    productRevoke,
    productRedeem,
    streakCheckin,
    streakFreeze,
    segmentAdd,
    segmentRemove,
    attributeSet,
    eventEmit,
    webhookSend,
    pushSend,
  ])
  .openapi("Effect");

export type Effect = z.infer<typeof effectSchema>;
export type ComputedAmount = z.infer<typeof computedAmountSchema>;

/** Joins an effect's own path with a field: `steps[0].effects[1]` + `metric`. */
function at(path: string, field: string): string {
  if (!path) return field;
  return field.startsWith("[") ? `${path}${field}` : `${path}.${field}`;
}

/**
 * Records every problem of one (schema-valid) effect in ctx, with paths under `path`
 * (e.g. `steps[0].effects[1]`): references, kind rules of the target, templates.
 *
 * Not checked here: `product.redeem` needs a product with a price, but DefinitionInfo
 * does not carry the price; a redeem of a product without one fails at run time
 * (`not_redeemable`).
 */
export function validateEffect(effect: Effect, ctx: ValidationContext, path: string): void {
  switch (effect.type) {
    case "metric.add": {
      const metric = ctx.ref("metrics", effect.metric, at(path, "metric"));
      const amount = effect.amount;
      if (typeof amount === "number") {
        if (amount < 0 && metric?.metricKind === "counter") {
          ctx.invalid(at(path, "amount"), `the counter metric '${effect.metric}' only grows: negative amounts are refused`);
        }
      } else if (amount.max !== null && amount.min > amount.max) {
        ctx.invalid(at(path, "amount.max"), "max is below min");
      }
      return;
    }
    case "metric.set": {
      const metric = ctx.ref("metrics", effect.metric, at(path, "metric"));
      if (metric && metric.metricKind !== "gauge") {
        ctx.invalid(at(path, "metric"), `metric.set only applies to gauge metrics ('${effect.metric}' is a ${metric.metricKind ?? "non-gauge"} metric)`);
      }
      return;
    }
    case "product.grant":
    case "product.revoke":
    case "product.redeem": {
      const product = ctx.ref("products", effect.product, at(path, "product"));
      if (product?.type === "badge" && effect.quantity !== 1) {
        ctx.invalid(at(path, "quantity"), `'${effect.product}' is a badge: it is held once, so the quantity is 1`);
      }
      return;
    }
    case "streak.checkin":
    case "streak.freeze":
      ctx.ref("streaks", effect.streak, at(path, "streak"));
      return;
    case "segment.add":
    case "segment.remove": {
      const segment = ctx.ref("segments", effect.segment, at(path, "segment"));
      if (segment && segment.type !== "static") {
        ctx.invalid(at(path, "segment"), `${effect.type} only applies to static segments ('${effect.segment}' is ${segment.type ?? "not static"})`);
      }
      return;
    }
    case "attribute.set": {
      const value = effect.value;
      if (typeof value === "string") validateTemplateString(value, ctx, at(path, "value"));
      else if (Array.isArray(value)) value.forEach((v, i) => validateTemplateString(v, ctx, at(path, `value[${i}]`)));
      return;
    }
    case "event.emit":
      if (effect.eventType.startsWith(RESERVED_EVENT_TYPE_PREFIX)) {
        ctx.invalid(at(path, "eventType"), "loyalty.* event types are reserved for derived events");
      }
      validateJsonTemplate(effect.data, ctx, at(path, "data"));
      return;
    case "webhook.send":
      ctx.ref("webhooks", effect.webhook, at(path, "webhook"));
      validateJsonTemplate(effect.payload, ctx, at(path, "payload"));
      return;
    case "push.send":
      validateTemplateString(effect.title, ctx, at(path, "title"));
      validateTemplateString(effect.body, ctx, at(path, "body"));
      if (effect.url !== null) validateTemplateString(effect.url, ctx, at(path, "url"));
      if (effect.data !== null) validateJsonTemplate(effect.data, ctx, at(path, "data"));
      return;
  }
}
