import { describe, expect, it } from "vitest";
import {
  parseTemplate,
  soleVariable,
  templateVariables,
  validateJsonTemplate,
  validateTemplateString,
} from "../../src/definitions/templates";
import { fakeContext, outcomeOf } from "./fake-space";

// Templates (SPEC §6): syntax, the variable grammar and metric references, pure.

function checkString(template: string, path = "body") {
  const ctx = fakeContext();
  validateTemplateString(template, ctx, path);
  return { ctx, outcome: outcomeOf(ctx) };
}

describe("validateTemplateString: valid templates", () => {
  it.each([
    "",
    "no placeholders at all",
    "Hello {{user.id}}",
    "Hello {{ user.id }}!",
    "{{ \tuser.timezone\n }}",
    "{{user.attributes.first_name}} {{user.attributes._x}}",
    "{{event.id}} {{event.type}} {{event.occurredAt}}",
    "{{event.data.amount}} {{event.data.order.total}} {{event.data.a.b.c.d.e.f.g.h}} {{event.data.sku-2}}",
    "{{campaign.id}}: {{campaign.name}} / {{step.id}}",
    "You earned {{effects.metric.points}} points",
    "You earned {{completion.metric.points}} points",
    "{{user.id}}{{user.id}}",
    "a } b }} c { d",
    "JSON-ish { \"a\": 1 }",
  ])("%j", (template) => {
    expect(checkString(template).outcome).toBe("ok");
  });

  it("records metric references at the field's path", () => {
    const { ctx } = checkString("{{effects.metric.points}} / {{completion.metric.points}}", "steps[0].effects[1].body");
    expect(ctx.references).toEqual([
      { kind: "metrics", id: "points", path: "steps[0].effects[1].body" },
      { kind: "metrics", id: "points", path: "steps[0].effects[1].body" },
    ]);
  });
});

describe("validateTemplateString: invalid templates", () => {
  it.each<[string, string[]]>([
    ["Hello {{user.id", ["unclosed '{{' at character 6"]],
    ["{{user.id}} and {{", ["unclosed '{{' at character 16"]],
    ["{{}}", ["empty '{{ }}' at character 0"]],
    ["a {{   }} b", ["empty '{{ }}' at character 2"]],
    ["{{ {{user.id}} }}", ["braces inside '{{ … }}' at character 0"]],
    ["{{{user.id}}}", ["braces inside '{{ … }}' at character 0"]],
    ["{{user.id}x}}", ["braces inside '{{ … }}' at character 0"]],
    ["{{user.name}}", ["unknown template variable 'user.name'"]],
    ["{{user}}", ["unknown template variable 'user'"]],
    ["{{user.attributes}}", ["unknown template variable 'user.attributes'"]],
    ["{{user.attributes.a.b}}", ["unknown template variable 'user.attributes.a.b'"]],
    ["{{user.attributes.9x}}", ["unknown template variable 'user.attributes.9x'"]],
    ["{{user.attributes.constructor}}", ["unknown template variable 'user.attributes.constructor'"]],
    ["{{event.data}}", ["unknown template variable 'event.data'"]],
    ["{{event.data.a.b.c.d.e.f.g.h.i}}", ["unknown template variable 'event.data.a.b.c.d.e.f.g.h.i'"]],
    ["{{event.data.__proto__}}", ["unknown template variable 'event.data.__proto__'"]],
    ["{{event.data.a..b}}", ["unknown template variable 'event.data.a..b'"]],
    ["{{event.local.hour}}", ["unknown template variable 'event.local.hour'"]],
    ["{{campaign.status}}", ["unknown template variable 'campaign.status'"]],
    ["{{step.name}}", ["unknown template variable 'step.name'"]],
    ["{{effects.metric}}", ["unknown template variable 'effects.metric'"]],
    ["{{effects.metric.points.balance}}", ["unknown template variable 'effects.metric.points.balance'"]],
    ["{{effects.metrics.points}}", ["unknown template variable 'effects.metrics.points'"]],
    ["{{user.metrics.points.balance}}", ["unknown template variable 'user.metrics.points.balance'"]],
    ["{{user.id | upper}}", ["unknown template variable 'user.id | upper'"]],
    ["{{ user. id }}", ["unknown template variable 'user. id'"]],
    ["{{constructor}}", ["unknown template variable 'constructor'"]],
    ["{{a}} {{b}}", ["unknown template variable 'a'", "unknown template variable 'b'"]],
    ["{{a}} {{}} {{b", ["empty '{{ }}' at character 6", "unclosed '{{' at character 11", "unknown template variable 'a'"]],
  ])("%j", (template, messages) => {
    expect(checkString(template).outcome).toEqual({
      code: "invalid_definition",
      errors: messages.map((message) => ({ path: "body", message })),
    });
  });

  it.each<[string, string]>([
    ["{{effects.metric.pts}}", "no metric 'pts' in this space"],
    ["{{completion.metric.old}}", "the metric 'old' is archived"],
    ["{{ completion.metric.Points }}", "no metric 'Points' in this space"],
  ])("%j → unknown_reference", (template, message) => {
    expect(checkString(template, "effects[0].title").outcome).toEqual({
      code: "unknown_reference",
      errors: [{ path: "effects[0].title", message }],
    });
  });
});

describe("validateJsonTemplate", () => {
  function checkJson(template: unknown, path = "payload") {
    const ctx = fakeContext();
    validateJsonTemplate(template, ctx, path);
    const outcome = outcomeOf(ctx);
    return outcome === "ok" ? "ok" : [outcome.code, outcome.errors.map((e) => e.path)];
  }

  it.each<[string, unknown, string, unknown]>([
    ["scalars only", { n: 1, b: true, z: null }, "payload", "ok"],
    ["valid leaves everywhere", { user: "{{user.id}}", list: ["{{event.type}}", { x: "{{campaign.name}}" }] }, "payload", "ok"],
    ["a string at the top", "{{nope}}", "payload", ["invalid_definition", ["payload"]]],
    ["an array at the top", ["ok", "{{nope}}"], "payload", ["invalid_definition", ["payload[1]"]]],
    [
      "bad leaves in document order",
      { items: [{ name: "{{user.id}}" }, "{{bad}}"], n: 1, nested: { "a.b": "{{nope}}", deep: [[["{{x"]]] } },
      "payload",
      ["invalid_definition", ["payload.items[1]", 'payload.nested["a.b"]', "payload.nested.deep[0][0][0]"]],
    ],
    ["an unknown metric", { total: "{{completion.metric.pts}}" }, "steps[2].effects[0].data", ["unknown_reference", ["steps[2].effects[0].data.total"]]],
    ["an empty base path", { items: ["{{bad}}"] }, "", ["invalid_definition", ["items[0]"]]],
    ["keys are not templates", { "{{user.id}}": 1 }, "payload", "ok"],
  ])("%s", (_name, template, path, expected) => {
    expect(checkJson(template, path)).toEqual(expected);
  });
});

describe("rendering helpers", () => {
  it.each<[string, unknown[]]>([
    ["", []],
    ["plain", [{ text: "plain" }]],
    ["Hi {{ user.id }}!", [{ text: "Hi " }, { variable: "user.id" }, { text: "!" }]],
    ["{{a}}{{b}}", [{ variable: "a" }, { variable: "b" }]],
    ["x }} y", [{ text: "x }} y" }]],
  ])("parseTemplate(%j)", (template, parts) => {
    expect(parseTemplate(template)).toEqual(parts);
  });

  it("templateVariables lists distinct names in first-seen order", () => {
    expect(templateVariables("{{ user.id }} {{event.data.x}} {{user.id}}")).toEqual(["user.id", "event.data.x"]);
    expect(templateVariables("none")).toEqual([]);
  });

  it.each<[string, string | undefined]>([
    ["{{event.data.amount}}", "event.data.amount"],
    ["{{ event.data.amount }}", "event.data.amount"],
    [" {{event.data.amount}}", undefined],
    ["{{a}}{{b}}", undefined],
    ["{{a", undefined],
    ["plain", undefined],
  ])("soleVariable(%j)", (template, variable) => {
    expect(soleVariable(template)).toBe(variable);
  });
});
