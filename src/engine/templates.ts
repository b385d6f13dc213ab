import { parseTemplate, soleVariable } from "../definitions/templates";

// Rendering of templates (SPEC §6): text is interpolated, never evaluated. In a JSON
// template a leaf that is exactly one `{{x}}` keeps x's JSON type; other string leaves
// become text. A variable with no value renders as "" in text and null as a sole leaf.

export type Variables = (name: string) => unknown;

function asText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function renderString(template: string, vars: Variables): string {
  if (!template.includes("{{")) return template;
  return parseTemplate(template)
    .map((part) => ("text" in part ? part.text : asText(vars(part.variable))))
    .join("");
}

export function renderJson(template: unknown, vars: Variables): unknown {
  if (typeof template === "string") {
    const sole = soleVariable(template);
    if (sole !== undefined) return vars(sole) ?? null;
    return renderString(template, vars);
  }
  if (Array.isArray(template)) return template.map((item) => renderJson(item, vars));
  if (template !== null && typeof template === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(template)) {
      Object.defineProperty(out, key, { value: renderJson(value, vars), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return template;
}
