import { describe, expect, it } from "vitest";
import { DEFINITION_KINDS } from "../../src/definitions/types";
import { call, json } from "../helpers/harness";

// The definition routes' bodies in the OpenAPI document (src/openapi/definitions.ts): each
// kind's POST and PUT body is its schema as a component, and the conditions language is
// one recursive component, so the reference and the typed client know the fields.

const SINGULAR = { metrics: "Metric", products: "Product", segments: "Segment", ladders: "Ladder", streaks: "Streak", triggers: "Trigger", campaigns: "Campaign", webhooks: "Webhook" };

describe("definition bodies in the OpenAPI document", () => {
  it("every kind's POST and PUT body is its {Kind}Body component; PATCH stays a merge patch", async () => {
    const document = await json(await call("/api/loyalty/openapi.json", { key: null }));
    for (const kind of DEFINITION_KINDS) {
      const component = `${SINGULAR[kind]}Body`;
      const schema = document.components.schemas[component];
      expect(schema, component).toMatchObject({ type: "object", properties: expect.objectContaining({ id: expect.any(Object) }) });
      for (const [path, method] of [[`/api/loyalty/admin/${kind}`, "post"], [`/api/loyalty/admin/${kind}/{id}`, "put"]] as const) {
        expect(document.paths[path][method].requestBody.content["application/json"].schema, `${method} ${path}`).toEqual({ $ref: `#/components/schemas/${component}` });
      }
      expect(document.paths[`/api/loyalty/admin/${kind}/{id}`].patch.requestBody.content).toHaveProperty("application/merge-patch+json");
    }
    expect(document.components.schemas.MetricBody.properties.kind).toEqual({ type: "string", enum: ["currency", "counter", "gauge"] });
  });

  it("the conditions language is one recursive component that segments and campaigns refer to", async () => {
    const document = await json(await call("/api/loyalty/openapi.json", { key: null }));
    const condition = document.components.schemas.Condition;
    expect(condition.properties.all.items).toEqual({ $ref: "#/components/schemas/Condition" });
    expect(JSON.stringify(document.components.schemas.SegmentBody)).toContain('"#/components/schemas/Condition"');
    expect(JSON.stringify(document.components.schemas.CampaignBody)).toContain('"#/components/schemas/Condition"');
    // No $defs left behind: every reference resolves inside the document.
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas[ref.slice("#/components/schemas/".length)], ref).toBeDefined();
    }
  });
});
