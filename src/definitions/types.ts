import type { z } from "@hono/zod-openapi";
import type { IdPrefix } from "../lib/ids";
import type { ValidationContext } from "./validation-context";

// The contract every definition kind implements (SPEC §4). One generic store, service
// and route factory serve all kinds; a kind only says what its body looks like, what it
// references, which rules it must obey and what may never change.

export const DEFINITION_KINDS = [
  "metrics",
  "products",
  "segments",
  "ladders",
  "streaks",
  "triggers",
  "campaigns",
  "webhooks",
] as const;
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];

/**
 * Definition ids (SPEC §2): no dots, so condition paths stay unambiguous. `constructor`
 * and `prototype` are refused: ids key the user's state objects, and these two name
 * properties every JavaScript object already has (SPEC §2: objects are plain data).
 */
export const DEFINITION_ID_PATTERN = /^(?!(?:constructor|prototype)$)[a-z0-9][a-z0-9_-]{0,63}$/;

/** A definition as stored: the operator's body plus server-managed fields. */
export interface StoredDefinition<Body = Record<string, unknown>> {
  spaceId: string;
  kind: DefinitionKind;
  id: string;
  body: Body;
  version: number;
  createdAt: number;
  updatedAt: number;
  /** Kinds users hold state in are archived by DELETE, never erased (SPEC §4). */
  archivedAt: number | null;
}

/**
 * What the validation context knows about every definition of the space without
 * loading whole bodies: enough to check references and kind-specific reference rules.
 */
export interface DefinitionInfo {
  kind: DefinitionKind;
  id: string;
  archived: boolean;
  /** metrics: `kind` (currency/counter/gauge) · segments/products: `type` · campaigns: `status` · triggers: `eventType`. */
  metricKind?: string;
  type?: string;
  status?: string;
  eventType?: string;
  /** ladders: the level ids (conditions compare `user.ladders.<id>.level` with them). */
  levelIds?: string[];
}

export interface KindSpec<Body extends Record<string, unknown> = Record<string, unknown>> {
  kind: DefinitionKind;
  /** Prefix of server-generated ids (`met_…`). */
  prefix: IdPrefix;
  /** OpenAPI component name, e.g. "Metric". */
  name: string;
  /** `true`: DELETE archives (id reserved forever). `false`: DELETE erases (id still never reused). */
  archivable: boolean;
  /**
   * The body an operator writes (without `id`, `version`, timestamps): a strict zod
   * object with defaults applied, so stored bodies are complete and comparable.
   */
  schema: z.ZodType<Body>;
  /**
   * Semantic rules after the schema passed: references (ctx.ref), kind rules
   * (ctx.invalid), frozen fields against `previous` (ctx.frozen). Must not throw for
   * ordinary invalid input: record errors in ctx. Pure: no I/O.
   */
  validate(body: Body, ctx: ValidationContext, previous: StoredDefinition<Body> | undefined): void;
  /** The small facts other definitions' validation needs (see DefinitionInfo). */
  info(body: Body): Omit<DefinitionInfo, "kind" | "id" | "archived">;
}
