import { z } from "@hono/zod-openapi";
import { isValidTimeZone } from "../lib/time";

// What an operator may write about a space (SPEC §3.1, §3.3). The same schemas validate
// POST bodies, PATCH results (after the merge patch) and generate the OpenAPI document.

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@|+-]{1,128}$/;

export const slugSchema = z
  .string()
  .regex(SLUG_PATTERN, "a slug is 1-63 lowercase letters, digits and inner hyphens")
  .openapi({ example: "fc-united" });

export const timezoneSchema = z
  .string()
  .refine(isValidTimeZone, "not a valid IANA time zone")
  .openapi({ example: "Europe/London" });

const publicJwkSchema = z
  .looseObject({
    kty: z.enum(["RSA", "EC", "OKP"], "only public RSA, EC or OKP keys are accepted"),
    kid: z.string().max(256).optional(),
    alg: z.string().max(32).optional(),
  })
  .refine((jwk) => !["d", "p", "q", "dp", "dq", "qi", "k"].some((part) => part in jwk), {
    message: "a JWKS must hold public keys only",
  });

const idpBase = {
  /**
   * Required with every IdP source: tokens must name this exact issuer and audience. The
   * spaces' own signer values are reserved, so no space can be configured to accept
   * another space's own tokens.
   */
  issuer: z
    .string()
    .min(1)
    .max(512)
    .refine((v) => !v.startsWith("urn:loyalty:"), "urn:loyalty:… issuers are reserved for the spaces' own tokens"),
  audience: z
    .string()
    .min(1)
    .max(512)
    .refine((v) => !v.startsWith("loyalty:"), "loyalty:… audiences are reserved for the spaces' own tokens"),
  userIdClaim: z.string().min(1).max(128).default("sub"),
};

/**
 * Exactly one token source besides the space's own signer. HS256 excludes the
 * asymmetric sources so no key can ever serve both HMAC and signatures (alg confusion).
 */
export const spaceAuthSchema = z
  .strictObject({
    ...idpBase,
    jwks: z.strictObject({ keys: z.array(publicJwkSchema).min(1).max(20) }).optional(),
    jwksUrl: z.string().max(2048).optional(),
    hs256Secret: z
      .string()
      .refine((s) => new TextEncoder().encode(s).byteLength >= 32, "must be at least 32 bytes")
      .refine((s) => s.length <= 512, "must be at most 512 characters")
      .optional(),
  })
  .superRefine((auth, ctx) => {
    const sources = ["jwks", "jwksUrl", "hs256Secret"].filter((k) => auth[k as keyof typeof auth] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: "custom",
        path: sources.length === 0 ? [] : [sources[1]!],
        message: "set exactly one of jwks, jwksUrl or hs256Secret",
      });
    }
  })
  .openapi("SpaceAuth");

export type SpaceAuthInput = z.infer<typeof spaceAuthSchema>;

const corsOriginSchema = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}, "an origin is scheme://host[:port] with nothing after it");

/** The major browsers' push services (SPEC §8.2 default); `*.` matches any subdomain. */
export const DEFAULT_PUSH_HOSTS = [
  "fcm.googleapis.com",
  "*.push.services.mozilla.com",
  "*.notify.windows.com",
  "*.push.apple.com",
];

const pushHostSchema = z
  .string()
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, "a host name, optionally starting with *.");

/** A Standard Webhooks secret: `whsec_` and padded base64 (its length is checked decoded). */
export const GATEWAY_SECRET_PATTERN = /^whsec_(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The number of bytes a GATEWAY_SECRET_PATTERN secret encodes. */
function gatewaySecretBytes(secret: string): number {
  const base64 = secret.slice("whsec_".length);
  return (base64.length / 4) * 3 - (base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0);
}

const pushFields = z.strictObject({
    /** Hosts push subscription endpoints may point at. */
    allowedHosts: z.array(pushHostSchema).min(1).max(50).default(DEFAULT_PUSH_HOSTS),
    /** The VAPID `sub` claim: how a push service reaches the operator. */
    contact: z
      .string()
      .max(256)
      .regex(/^(mailto:[^\s]+@[^\s]+|https:\/\/[^\s]+)$/, "a mailto: address or an https: URL")
      .default("mailto:loyalty@example.com"),
    /** Gateway mode: pushes are POSTed as signed JSON to the operator's own service. */
    gatewayUrl: z.string().max(2048).nullable().default(null),
    /** Signs gateway posts as webhooks are signed; sealed at rest, never returned. */
    gatewaySecret: z
      .string()
      .max(100)
      .refine(
        (s) => GATEWAY_SECRET_PATTERN.test(s) && gatewaySecretBytes(s) >= 24 && gatewaySecretBytes(s) <= 64,
        "whsec_ followed by the base64 of 24 to 64 random bytes",
      )
      .optional()
      .openapi({ description: "write-only: answers say gatewaySecretSet instead" }),
  });

export const pushSettingsSchema = pushFields
  .superRefine((push, ctx) => {
    if (push.gatewayUrl !== null && push.gatewaySecret === undefined) {
      ctx.addIssue({ code: "custom", path: ["gatewaySecret"], message: "required with gatewayUrl: gateway posts are signed with it" });
    }
  })
  .openapi("SpacePush");

export type PushSettingsInput = z.infer<typeof pushSettingsSchema>;

/** The push settings as the service uses and shows them: the secret only as whether it is set. */
export const pushSettingsViewSchema = pushFields.omit({ gatewaySecret: true });
export type PushSettings = z.infer<typeof pushSettingsViewSchema> & { gatewaySecretSet?: true };

export const spaceSettingsSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  timezone: timezoneSchema.default("UTC"),
  auth: spaceAuthSchema.nullable().default(null),
  publicAttributes: z.array(z.string().regex(ATTRIBUTE_KEY_PATTERN, "not an attribute key")).max(50).default([]),
  corsOrigins: z.array(corsOriginSchema).max(50).default([]),
  push: pushSettingsSchema.prefault({}),
});

export const createSpaceSchema = spaceSettingsSchema
  .extend({ slug: slugSchema })
  .openapi("CreateSpace");
export type CreateSpaceInput = z.infer<typeof createSpaceSchema>;

/** PATCH bodies are merge patches; the merged document is validated with spaceSettingsSchema. */
export const patchSpaceSchema = z
  .strictObject({
    id: z.string().optional(),
    slug: z.string().optional(),
    name: z.unknown().optional(),
    timezone: z.unknown().optional(),
    auth: z.unknown().optional(),
    publicAttributes: z.unknown().optional(),
    corsOrigins: z.unknown().optional(),
    push: z.unknown().optional(),
  })
  .openapi("SpacePatch", { description: "JSON merge patch (RFC 7396) of a space's settings" });

export const spaceAuthViewSchema = z
  .object({
    issuer: z.string(),
    audience: z.string(),
    userIdClaim: z.string(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    jwksUrl: z.string().optional(),
    hs256SecretSet: z.boolean().optional().openapi({ description: "the secret itself is never returned" }),
  })
  .openapi("SpaceAuthView");

export const spaceSchema = z
  .object({
    id: z.string().openapi({ example: "spc_01jd…" }),
    slug: z.string(),
    name: z.string(),
    timezone: z.string(),
    auth: spaceAuthViewSchema.nullable(),
    publicAttributes: z.array(z.string()),
    corsOrigins: z.array(z.string()),
    push: z.object({
      allowedHosts: z.array(z.string()),
      contact: z.string(),
      gatewayUrl: z.string().nullable(),
      gatewaySecretSet: z.boolean().optional().openapi({ description: "the secret itself is never returned" }),
    }),
    userTokenIssuer: z.string(),
    userTokenAudience: z.string(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Space");

export type SpaceView = z.infer<typeof spaceSchema>;
