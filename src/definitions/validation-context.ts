import { ApiError, type FieldError } from "../errors";
import type { DefinitionInfo, DefinitionKind } from "./types";

// Collects everything wrong with one write (or a whole programme document) before
// anything is stored: references that do not resolve (422 unknown_reference), rules a
// well-formed definition breaks (422 invalid_definition) and fields that may no longer
// change (409 frozen / campaign_frozen). Errors carry the JSON path inside the body.

export interface Reference {
  kind: DefinitionKind;
  id: string;
  /** Where in the referring body, e.g. `steps[1].effects[0].product`. */
  path: string;
}

type Problem = FieldError & {
  code: "unknown_reference" | "invalid_definition" | "frozen" | "campaign_frozen" | "invalid_transition";
};

/** Singular names for messages: "no metric 'pts' in this space". */
const SINGULAR: Record<DefinitionKind, string> = {
  metrics: "metric",
  products: "product",
  segments: "segment",
  ladders: "ladder",
  streaks: "streak",
  triggers: "trigger",
  campaigns: "campaign",
  webhooks: "webhook",
};

export class ValidationContext {
  readonly references: Reference[] = [];
  private readonly problems: Problem[] = [];

  /**
   * @param lookup every definition of the space as it would be after this write (so a
   *   programme document can reference what it creates itself).
   * @param pathPrefix prepended to every path (the programme document uses `campaigns[3].`).
   */
  constructor(
    private readonly lookup: (kind: DefinitionKind, id: string) => DefinitionInfo | undefined,
    private readonly pathPrefix = "",
  ) {}

  private at(path: string): string {
    if (!this.pathPrefix) return path;
    if (!path) return this.pathPrefix.replace(/\.$/, "");
    return path.startsWith("[") ? `${this.pathPrefix.replace(/\.$/, "")}${path}` : `${this.pathPrefix}${path}`;
  }

  /**
   * Records a reference and checks it resolves to a live (not archived) definition of
   * that kind. Returns what is known about the target, or undefined (error recorded).
   */
  ref(kind: DefinitionKind, id: string, path: string): DefinitionInfo | undefined {
    // Stored as the path inside the referring body, whatever the prefix of its errors.
    this.references.push({ kind, id, path });
    const target = this.lookup(kind, id);
    if (!target) {
      this.problem("unknown_reference", path, `no ${SINGULAR[kind]} '${id}' in this space`);
      return undefined;
    }
    if (target.archived) {
      this.problem("unknown_reference", path, `the ${SINGULAR[kind]} '${id}' is archived`);
      return undefined;
    }
    return target;
  }

  /** Looks a definition up without recording a reference (e.g. to read its facts). */
  peek(kind: DefinitionKind, id: string): DefinitionInfo | undefined {
    return this.lookup(kind, id);
  }

  /** A well-formed definition that cannot work: 422 invalid_definition. */
  invalid(path: string, message: string): void {
    this.problem("invalid_definition", path, message);
  }

  /** A field that may no longer change: 409 frozen (or campaign_frozen). */
  frozen(path: string, message: string, code: "frozen" | "campaign_frozen" = "frozen"): void {
    this.problem(code, path, message);
  }

  /** A status change that is not allowed (campaign lifecycle): 409 invalid_transition. */
  transition(path: string, message: string): void {
    this.problem("invalid_transition", path, message);
  }

  private problem(code: Problem["code"], path: string, message: string): void {
    this.problems.push({ code, path: this.at(path), message });
  }

  get ok(): boolean {
    return this.problems.length === 0;
  }

  /**
   * Throws the collected problems as one ApiError. Frozen fields win (409: the write can
   * never succeed as such), then unknown references, then other rule violations (422).
   */
  throwIfInvalid(): void {
    if (this.ok) return;
    const order: Problem["code"][] = ["campaign_frozen", "frozen", "invalid_transition", "unknown_reference", "invalid_definition"];
    const code = order.find((c) => this.problems.some((p) => p.code === c))!;
    const errors = this.problems.map(({ path, message }) => ({ path, message }));
    const first = this.problems.find((p) => p.code === code)!;
    throw new ApiError(code, first.path ? `${first.path}: ${first.message}` : first.message, errors);
  }
}
