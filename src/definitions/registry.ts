import type { Config } from "../config";
import { campaignKind } from "./kinds/campaigns";
import { ladderKind } from "./kinds/ladders";
import { metricKind } from "./kinds/metrics";
import { productKind } from "./kinds/products";
import { segmentKind } from "./kinds/segments";
import { streakKind } from "./kinds/streaks";
import { triggerKind } from "./kinds/triggers";
import { webhookKindFor } from "./kinds/webhooks";
import type { DefinitionKind, KindSpec } from "./types";

export type KindSpecs = Record<DefinitionKind, KindSpec>;

const cache = new WeakMap<Config, KindSpecs>();

/** Every kind's spec; webhooks depend on the deployment's outbound URL policy. */
export function kindSpecs(config: Config): KindSpecs {
  let specs = cache.get(config);
  if (!specs) {
    specs = {
      metrics: metricKind,
      products: productKind,
      segments: segmentKind,
      ladders: ladderKind,
      streaks: streakKind,
      triggers: triggerKind,
      campaigns: campaignKind,
      webhooks: webhookKindFor({ allowPrivate: config.allowPrivateTargets, spaceHostSuffix: config.spaceHostSuffix }),
    } as unknown as KindSpecs;
    cache.set(config, specs);
  }
  return specs;
}
