import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Config } from "../config";
import { conditionSchema } from "../definitions/conditions";
import { kindSpecs } from "../definitions/registry";
import { DEFINITION_ID_PATTERN, DEFINITION_KINDS, type DefinitionKind } from "../definitions/types";

// The definition routes declare their bodies as JSON objects (the service validates them
// with the kind's schema after a PATCH is merged), so the generated document knew nothing
// of their fields. This writes each kind's schema (its input side, as the service applies
// it) into the document as a component, `MetricBody` … `WebhookBody`, and points the
// kind's POST and PUT bodies at it. Subschemas zod emits as $defs (the recursive
// conditions language) become components of their own.

type Json = Record<string, unknown>;
type OpenAPIDocument = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;
type Media = { schema?: unknown };
type Operation = { requestBody?: { content?: Record<string, Media> } };

const SINGULAR: Record<DefinitionKind, string> = {
  metrics: "Metric",
  products: "Product",
  segments: "Segment",
  ladders: "Ladder",
  streaks: "Streak",
  triggers: "Trigger",
  campaigns: "Campaign",
  webhooks: "Webhook",
};

const jsonSchemaOf = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json & { $defs?: Record<string, Json> };

/** Rewrites `#/$defs/x` references to the components they became. */
function relink(value: unknown, names: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => relink(v, names));
  if (value === null || typeof value !== "object") return value;
  const out: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = key === "$ref" && typeof inner === "string" && names.has(inner) ? `#/components/schemas/${names.get(inner)}` : relink(inner, names);
  }
  return out;
}

export function withDefinitionSchemas(document: OpenAPIDocument, config: Config): OpenAPIDocument {
  const schemas = ((document.components ??= {}).schemas ??= {}) as Record<string, unknown>;
  // A $defs entry is the conditions language when, with its references to itself written
  // `#` (as zod writes them for the condition schema on its own), it is that schema.
  const { $schema: _s, $defs: _d, ...conditionRoot } = jsonSchemaOf(conditionSchema);
  const conditionText = JSON.stringify(conditionRoot);
  const known = new Map<string, string>();
  const specs = kindSpecs(config);
  for (const kind of DEFINITION_KINDS) {
    const { $schema: _schema, $defs = {}, ...root } = jsonSchemaOf((specs[kind] as unknown as { schema: z.ZodType }).schema);
    const component = `${SINGULAR[kind]}Body`;
    const names = new Map<string, string>();
    for (const [def, body] of Object.entries($defs)) {
      const text = JSON.stringify(body);
      const isCondition = text.replaceAll(`"#/$defs/${def}"`, '"#"') === conditionText;
      const name = known.get(text) ?? (isCondition ? "Condition" : `${component}.${def}`);
      known.set(text, name);
      names.set(`#/$defs/${def}`, name);
    }
    for (const [def, body] of Object.entries($defs)) schemas[names.get(`#/$defs/${def}`)!] = relink(body, names);
    const properties = { ...(root.properties as Json | undefined), id: { type: "string", pattern: DEFINITION_ID_PATTERN.source } };
    schemas[component] = relink({ ...root, properties }, names);
    for (const path of [`/api/loyalty/admin/${kind}`, `/api/loyalty/admin/${kind}/{id}`]) {
      for (const method of ["post", "put"]) {
        const operation = (document.paths?.[path] as Record<string, Operation> | undefined)?.[method];
        const media = operation?.requestBody?.content?.["application/json"];
        if (media) media.schema = { $ref: `#/components/schemas/${component}` };
      }
    }
  }
  return document;
}
