import { z } from "@hono/zod-openapi";
import { checkOutboundUrl, MAX_OUTBOUND_URL_LENGTH, type UrlPolicyOptions } from "../../outbound/url-policy";
import { DERIVED_EVENT_TYPES } from "../derived-events";
import type { KindSpec } from "../types";
import { descriptionSchema } from "./common";

// Webhook endpoints (SPEC §8.1): the records only; delivery is a later issue. The
// signing secret is generated and sealed by the service, never part of the body.


export const webhookSchema = z
  .strictObject({
    /** The outbound URL policy is checked in validate (it depends on the deployment). */
    url: z.string().max(MAX_OUTBOUND_URL_LENGTH),
    /** `*` = every derived event; explicit `webhook.send` effects are delivered regardless. */
    events: z.array(z.enum([...DERIVED_EVENT_TYPES, "*"])).min(1).max(100),
    enabled: z.boolean().default(true),
    description: descriptionSchema,
  })
  .openapi("WebhookBody");

export type WebhookBody = z.infer<typeof webhookSchema>;

/**
 * The webhook kind under one deployment's URL policy (ALLOW_PRIVATE_WEBHOOK_TARGETS,
 * SPACE_HOST_SUFFIX): validate() has no access to the config, so the policy is bound here.
 */
export function webhookKindFor(policy: UrlPolicyOptions): KindSpec<WebhookBody> {
  return {
    kind: "webhooks",
    prefix: "whk",
    name: "Webhook",
    archivable: false,
    schema: webhookSchema,
    validate(body, ctx) {
      const url = checkOutboundUrl(body.url, policy);
      if (!url.ok) ctx.invalid("url", url.reason);
      const seen = new Set<string>();
      body.events.forEach((type, i) => {
        // A duplicate is harmless but almost always a copy-paste slip: say so.
        if (seen.has(type)) ctx.invalid(`events[${i}]`, `'${type}' is listed twice`);
        seen.add(type);
      });
    },
    info: () => ({}),
  };
}

/** The strict production policy; the service uses webhookKindFor with the deployment's config. */
export const webhookKind = webhookKindFor({ allowPrivate: false });
