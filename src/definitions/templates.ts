// Templates of SPEC §6 — `{{user.id}}`, `{{user.attributes.x}}`, `{{event.data.x}}`,
// `{{campaign.name}}`, `{{effects.metric.<id>}}`, `{{completion.metric.<id>}}`.
// Validation on write; the engine renders them from parseTemplate's parts. A template is
// text and variable names only: no filters, no expressions, nothing executes.
import { formatPath } from "../http/paths";
import { isAttributeKey, isDataKey, MAX_DATA_PATH_KEYS } from "./condition-paths";
import type { ValidationContext } from "./validation-context";

export type TemplatePart = { text: string } | { variable: string };

interface Parsed {
  parts: TemplatePart[];
  errors: string[];
}

const OPEN = "{{";
const CLOSE = "}}";

/** Variables that are just a name: no id or key inside. */
const FIXED_VARIABLES = new Set([
  "user.id",
  "user.timezone",
  "event.id",
  "event.type",
  "event.occurredAt",
  "campaign.id",
  "campaign.name",
  "step.id",
]);

/**
 * Splits a template into literal text and `{{ variable }}` parts (spaces inside the
 * braces are trimmed). Problems (an unclosed `{{`, an empty `{{ }}`, braces inside a
 * placeholder) are collected, not thrown: the validator reports them all.
 */
function parse(template: string): Parsed {
  const parts: TemplatePart[] = [];
  const errors: string[] = [];
  let text = "";
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf(OPEN, i);
    if (open < 0) {
      text += template.slice(i);
      break;
    }
    text += template.slice(i, open);
    const close = template.indexOf(CLOSE, open + OPEN.length);
    if (close < 0) {
      errors.push(`unclosed '{{' at character ${open}`);
      text += template.slice(open);
      break;
    }
    const expression = template.slice(open + OPEN.length, close).trim();
    if (expression === "") errors.push(`empty '{{ }}' at character ${open}`);
    else if (/[{}]/.test(expression)) errors.push(`braces inside '{{ … }}' at character ${open}`);
    else {
      if (text) parts.push({ text });
      text = "";
      parts.push({ variable: expression });
    }
    i = close + CLOSE.length;
  }
  if (text) parts.push({ text });
  return { parts, errors };
}

/** The template as text and variables, in order: what the engine renders. */
export function parseTemplate(template: string): TemplatePart[] {
  return parse(template).parts;
}

/** The distinct variables a template names, in first-seen order. */
export function templateVariables(template: string): string[] {
  const names = parse(template).parts.flatMap((p) => ("variable" in p ? [p.variable] : []));
  return [...new Set(names)];
}

/**
 * The variable when the whole string is one placeholder (`"{{event.data.amount}}"`): a
 * JSON template leaf like that keeps the value's JSON type instead of becoming text (SPEC §6).
 */
export function soleVariable(template: string): string | undefined {
  const { parts, errors } = parse(template);
  const only = parts[0];
  return errors.length === 0 && parts.length === 1 && only && "variable" in only ? only.variable : undefined;
}

/** Checks one variable name against the grammar; metric ids are references. */
function validateVariable(name: string, ctx: ValidationContext, path: string): void {
  if (FIXED_VARIABLES.has(name)) return;
  const [root, second, ...rest] = name.split(".");
  if (root === "user" && second === "attributes" && rest.length === 1 && isAttributeKey(rest[0]!)) return;
  if (root === "event" && second === "data" && rest.length >= 1 && rest.length <= MAX_DATA_PATH_KEYS && rest.every(isDataKey)) return;
  if ((root === "effects" || root === "completion") && second === "metric" && rest.length === 1 && rest[0]) {
    ctx.ref("metrics", rest[0], path);
    return;
  }
  ctx.invalid(path, `unknown template variable '${name}'`);
}

/** A string template: every `{{…}}` well-formed and naming a known variable (metric ids via ctx.ref). */
export function validateTemplateString(template: string, ctx: ValidationContext, path: string): void {
  const { parts, errors } = parse(template);
  for (const error of errors) ctx.invalid(path, error);
  for (const part of parts) if ("variable" in part) validateVariable(part.variable, ctx, path);
}

/** A JSON template: every string leaf validated as a string template, at its own path. */
export function validateJsonTemplate(template: unknown, ctx: ValidationContext, path: string): void {
  // Iterative: a template nests as deep as its body allows, and keys stay in document order.
  const stack: Array<{ value: unknown; at: Array<string | number> }> = [{ value: template, at: [] }];
  while (stack.length > 0) {
    const { value, at } = stack.pop()!;
    if (typeof value === "string") validateTemplateString(value, ctx, formatPath(at, path));
    else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], at: [...at, i] });
    } else if (value !== null && typeof value === "object") {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], at: [...at, entries[i]![0]] });
    }
  }
}
