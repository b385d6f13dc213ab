import { conditionReads } from "../definitions/conditions";
import type { CampaignBody } from "../definitions/kinds/campaigns";
import type { LadderBody } from "../definitions/kinds/ladders";
import type { MetricBody } from "../definitions/kinds/metrics";
import type { ProductBody } from "../definitions/kinds/products";
import type { SegmentBody } from "../definitions/kinds/segments";
import type { StreakBody } from "../definitions/kinds/streaks";
import type { TriggerBody } from "../definitions/kinds/triggers";
import type { WebhookBody } from "../definitions/kinds/webhooks";
import type { DefinitionKind } from "../definitions/types";
import type { CompiledStep, Programme } from "./types";

// Definitions → an index built for evaluation (SPEC §5.9): candidate steps by event type
// (so an event costs what its matching campaigns cost, not what the whole programme
// costs), ladders by metric, dynamic segments by what they read, webhooks by event type.

export interface DefinitionInput {
  kind: DefinitionKind;
  id: string;
  body: Record<string, unknown>;
}

/** The state a condition path reads, as a key effects report when they change it. */
export function stateKeyOf(path: string): string | undefined {
  const [root, collection, name] = path.split(".");
  if (root !== "user" || !collection) return undefined;
  if (collection === "segments") return undefined; // segment rules may not read segments
  if (["timezone", "createdAt", "id"].includes(collection)) return collection;
  return name ? `${collection}.${name}` : undefined;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function compileProgramme(
  definitions: DefinitionInput[],
  options: { version: number; spaceTimezone: string; pushGateway?: boolean },
): Programme {
  const programme: Programme = {
    version: options.version,
    spaceTimezone: options.spaceTimezone,
    pushGateway: options.pushGateway ?? false,
    metrics: new Map(),
    products: new Map(),
    segments: new Map(),
    ladders: new Map(),
    streaks: new Map(),
    webhooks: new Map(),
    campaigns: new Map(),
    stepsByEventType: new Map(),
    laddersByMetric: new Map(),
    segmentsByKey: new Map(),
    webhooksByEventType: new Map(),
  };
  const triggers = new Map<string, TriggerBody>();
  for (const { kind, id, body } of definitions) {
    if (kind === "metrics") programme.metrics.set(id, body as unknown as MetricBody);
    else if (kind === "products") programme.products.set(id, body as unknown as ProductBody);
    else if (kind === "segments") programme.segments.set(id, body as unknown as SegmentBody);
    else if (kind === "ladders") programme.ladders.set(id, body as unknown as LadderBody);
    else if (kind === "streaks") programme.streaks.set(id, body as unknown as StreakBody);
    else if (kind === "webhooks") programme.webhooks.set(id, body as unknown as WebhookBody);
    else if (kind === "triggers") triggers.set(id, body as unknown as TriggerBody);
    else if (kind === "campaigns") programme.campaigns.set(id, body as unknown as CampaignBody);
  }

  // Higher priority first, ties by id (SPEC §4.7); steps in their declared order.
  const ordered = [...programme.campaigns.entries()]
    .filter(([, c]) => c.status === "active" || c.status === "paused")
    .sort(([a, x], [b, y]) => y.priority - x.priority || (a < b ? -1 : a > b ? 1 : 0));
  for (const [campaignId, campaign] of ordered) {
    campaign.steps.forEach((step, index) => {
      const match =
        typeof step.trigger === "string"
          ? (() => {
              const t = triggers.get(step.trigger);
              return t ? { eventType: t.eventType, conditions: t.conditions } : undefined;
            })()
          : { eventType: step.trigger.eventType, conditions: step.trigger.conditions };
      if (!match) return; // references are checked on write; an erased trigger cannot be referenced
      const compiled: CompiledStep = { campaignId, campaign, index, id: step.id, match };
      push(programme.stepsByEventType, match.eventType, compiled);
    });
  }

  for (const [id, ladder] of programme.ladders) push(programme.laddersByMetric, ladder.metric, id);
  for (const [id, segment] of programme.segments) {
    if (segment.type !== "dynamic" || !segment.rule) continue;
    for (const key of new Set(conditionReads(segment.rule).map(stateKeyOf).filter((k): k is string => k !== undefined))) {
      push(programme.segmentsByKey, key, id);
    }
  }
  for (const [id, webhook] of programme.webhooks) {
    if (!webhook.enabled) continue;
    for (const type of webhook.events) push(programme.webhooksByEventType, type, id);
  }
  return programme;
}
