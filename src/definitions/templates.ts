// CONTRACT (implementation pending): templates of SPEC §6 — `{{user.id}}`,
// `{{user.attributes.x}}`, `{{event.data.x}}`, `{{campaign.name}}`,
// `{{effects.metric.<id>}}`, `{{completion.metric.<id>}}`. Validation on write; the
// engine renders them (no code execution).
import type { ValidationContext } from "./validation-context";

/** A string template: every `{{…}}` well-formed and naming a known variable (metric ids via ctx.ref). */
export function validateTemplateString(_template: string, _ctx: ValidationContext, _path: string): void {}

/** A JSON template: every string leaf validated as a string template, at its own path. */
export function validateJsonTemplate(_template: unknown, _ctx: ValidationContext, _path: string): void {}
