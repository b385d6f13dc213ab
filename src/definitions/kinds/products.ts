import { z } from "@hono/zod-openapi";
import type { KindSpec } from "../types";
import { definitionIdSchema, descriptionSchema, imageUrlSchema, metadataSchema, metricValueSchema, nameSchema } from "./common";

// Products (SPEC §4.2): badges, rewards and items. Each field's shape is checked here
// (400); rules between fields and against other definitions live in validate() (422).

export const PRODUCT_TYPES = ["badge", "reward", "item"] as const;

// Not a named component: the generator would drop `null` from a nullable $ref.
export const productPriceSchema = z.strictObject({
  /** A currency metric (checked in validate: only currencies are spendable, §4.1). */
  metric: definitionIdSchema,
  amount: metricValueSchema.min(1),
});

export const productSchema = z
  .strictObject({
    type: z.enum(PRODUCT_TYPES),
    name: nameSchema,
    description: descriptionSchema,
    imageUrl: imageUrlSchema,
    price: productPriceSchema.nullable().default(null),
    /** Remaining global stock; null = unlimited. */
    stock: metricValueSchema.min(0).nullable().default(null),
    /** Omitted: 1 for badges (held once), null (unlimited) otherwise — set below. */
    perUserLimit: metricValueSchema.min(1).nullable().optional(),
    metadata: metadataSchema,
  })
  .openapi("ProductBody")
  // The default of perUserLimit depends on `type`, which a field default cannot see.
  // Stored bodies are complete, so the key is always present after parsing.
  .transform(({ perUserLimit, ...rest }) => ({
    ...rest,
    perUserLimit: perUserLimit === undefined ? (rest.type === "badge" ? 1 : null) : perUserLimit,
  }));

export type ProductBody = z.infer<typeof productSchema>;

export const productKind: KindSpec<ProductBody> = {
  kind: "products",
  prefix: "prd",
  name: "Product",
  archivable: true,
  schema: productSchema,
  validate(body, ctx, previous) {
    if (body.type === "badge") {
      // A badge is held once and never spent (§4.2): nothing else is accepted.
      if (body.perUserLimit !== 1) ctx.invalid("perUserLimit", "a badge is held at most once: perUserLimit must be 1");
      if (body.price !== null) ctx.invalid("price", "a badge cannot be bought: it has no price");
    }
    if (body.price !== null) {
      const metric = ctx.ref("metrics", body.price.metric, "price.metric");
      if (metric && metric.metricKind !== "currency") {
        ctx.invalid("price.metric", `the metric '${body.price.metric}' is a ${metric.metricKind ?? "non-currency"}: prices are paid in a currency`);
      }
    }
    if (previous && previous.body.type !== body.type) {
      ctx.frozen("type", "a product's type never changes (it would reinterpret what users hold)");
    }
  },
  info: (body) => ({ type: body.type }),
};
