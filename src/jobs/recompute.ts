import { sameJson } from "../definitions/kinds/common";
import type { LadderBody } from "../definitions/kinds/ladders";
import type { SegmentBody } from "../definitions/kinds/segments";
import type { DefinitionKind } from "../definitions/types";

// Which definition changes need every user recomputed (SPEC §5.8): a dynamic segment whose
// rule is new or changed, and a ladder whose levels are new or reached differently. Other
// changes reach users with their next event (and nothing else stores derived membership).

export function needsRecompute(kind: DefinitionKind, previous: Record<string, unknown> | undefined, next: Record<string, unknown>): boolean {
  if (kind === "segments") {
    const [before, after] = [previous as SegmentBody | undefined, next as SegmentBody];
    return after.type === "dynamic" && !sameJson(before?.rule, after.rule);
  }
  if (kind === "ladders") {
    const reach = (l: LadderBody | undefined) =>
      l && { metric: l.metric, basis: l.basis, demotion: l.demotion, levels: l.levels.map((level) => [level.id, level.threshold]) };
    return !sameJson(reach(previous as LadderBody | undefined), reach(next as LadderBody));
  }
  return false;
}
