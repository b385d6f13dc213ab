// The engine's reserved event types (SPEC §5.6). Triggers may match them, webhooks
// subscribe to them, clients can never ingest them, and `event.emit` never produces them.

/** Every derived event type (SPEC §5.6): what triggers match and webhooks subscribe to. */
export const DERIVED_EVENT_TYPES = [
  "loyalty.user.created",
  "loyalty.user.updated",
  "loyalty.metric.changed",
  "loyalty.product.granted",
  "loyalty.product.revoked",
  "loyalty.reward.redeemed",
  "loyalty.redemption.cancelled",
  "loyalty.step.completed",
  "loyalty.campaign.completed",
  "loyalty.ladder.level_changed",
  "loyalty.streak.started",
  "loyalty.streak.extended",
  "loyalty.streak.freeze_used",
  "loyalty.streak.broken",
  "loyalty.streak.restored",
  "loyalty.segment.entered",
  "loyalty.segment.left",
  "loyalty.event.reversed",
] as const;
export type DerivedEventType = (typeof DERIVED_EVENT_TYPES)[number];
