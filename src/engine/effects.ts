import type { ComputedAmount, Effect } from "../definitions/effects";
import { resolvePath } from "./conditions";
import { MAX_EFFECTS, type Origin, type Run } from "./run";
import { grantProduct, redeemProduct } from "./rewards";
import { checkinEffect, freezeEffect } from "./streak-run";
import { renderJson, renderString, type Variables } from "./templates";
import type { AttributeValue, EffectStatus } from "./types";

// The effects of SPEC §6. An effect that cannot apply is reported with `skipped` or
// `failed` and a reason; the event's other effects still apply. Nothing here throws for
// an ordinary situation (no balance, already held, silent event).

type Report = { status: EffectStatus; reason?: string; [field: string]: unknown };

function variables(run: Run, origin: Origin): Variables {
  const campaign = origin.campaign ? run.programme.campaigns.get(origin.campaign) : undefined;
  return (name) => {
    const [root, second, third] = name.split(".");
    switch (root) {
      case "user":
        if (second === "id") return run.state.userId;
        if (second === "timezone") return run.state.timezone;
        if (second === "attributes" && third && Object.hasOwn(run.state.attributes, third)) return run.state.attributes[third];
        return undefined;
      case "event": {
        if (second === "id") return origin.event.id;
        if (second === "type") return origin.event.type;
        if (second === "occurredAt") return origin.event.occurredAt;
        const r = resolvePath(name, { programme: run.programme, state: run.state, zone: run.zone, event: origin.event });
        return r.found ? r.value : undefined;
      }
      case "campaign":
        return second === "id" ? origin.campaign : second === "name" ? campaign?.name : undefined;
      case "step":
        return second === "id" ? (origin.step ?? undefined) : undefined;
      case "effects":
      case "completion":
        // What this campaign's effects credited in this root event (the whole completion
        // by the time completion effects run).
        return second === "metric" && third && origin.campaign ? (run.creditedBy.get(origin.campaign)?.get(third) ?? 0) : undefined;
      default:
        return undefined;
    }
  };
}

/** SPEC §6: rounded to 1e-9, then by `round`, then bounded by `min` (default 0) and `max`. */
export function computeAmount(spec: ComputedAmount, value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  const exact = Math.round(value * (spec.multiply ?? 1) * 1e9) / 1e9;
  const round = spec.round ?? "floor";
  let amount = round === "ceil" ? Math.ceil(exact) : round === "nearest" ? Math.round(exact) : Math.floor(exact);
  amount = Math.max(amount, spec.min ?? 0);
  if (spec.max !== undefined && spec.max !== null) amount = Math.min(amount, spec.max);
  return Number.isSafeInteger(amount) ? amount : undefined;
}

function metricAdd(run: Run, effect: Extract<Effect, { type: "metric.add" }>, origin: Origin): Report {
  const metric = run.programme.metrics.get(effect.metric);
  if (!metric) return { status: "failed", reason: "unknown_metric", metric: effect.metric };
  let amount: number | undefined;
  if (typeof effect.amount === "number") amount = effect.amount;
  else {
    const r = resolvePath(effect.amount.path, { programme: run.programme, state: run.state, zone: run.zone, event: origin.event });
    amount = computeAmount(effect.amount, r.found ? r.value : undefined);
    if (amount === undefined) return { status: "skipped", reason: "no_amount", metric: effect.metric };
  }
  if (amount === 0) return { status: "skipped", reason: "zero_amount", metric: effect.metric, amount };
  if (amount < 0 && metric.kind === "counter") return { status: "skipped", reason: "counter_only_grows", metric: effect.metric, amount };
  const held = run.touchMetric(effect.metric, origin);
  if (amount > 0) {
    const room = metric.max === null ? amount : Math.max(0, metric.max - held.balance);
    const applied = Math.min(amount, room);
    if (applied === 0) return { status: "skipped", reason: "at_max", metric: effect.metric, amount, balance: held.balance };
    run.changeMetric(effect.metric, applied, "effect", origin, { requested: amount });
    return { status: "applied", metric: effect.metric, amount: applied, ...(applied !== amount ? { requested: amount } : {}), balance: held.balance };
  }
  const floor = run.floorOf(effect.metric);
  if (floor !== null && held.balance + amount < floor) {
    return { status: "failed", reason: "insufficient_balance", metric: effect.metric, amount, balance: held.balance };
  }
  run.changeMetric(effect.metric, amount, "effect", origin);
  return { status: "applied", metric: effect.metric, amount, balance: held.balance };
}

function metricSet(run: Run, effect: Extract<Effect, { type: "metric.set" }>, origin: Origin): Report {
  const metric = run.programme.metrics.get(effect.metric);
  if (!metric) return { status: "failed", reason: "unknown_metric", metric: effect.metric };
  const held = run.touchMetric(effect.metric, origin);
  const floor = run.floorOf(effect.metric);
  if ((floor !== null && effect.value < floor) || (metric.max !== null && effect.value > metric.max)) {
    return { status: "failed", reason: "out_of_range", metric: effect.metric, value: effect.value };
  }
  const delta = effect.value - held.balance;
  if (delta === 0) return { status: "skipped", reason: "unchanged", metric: effect.metric, balance: held.balance };
  run.changeMetric(effect.metric, delta, "set", origin);
  return { status: "applied", metric: effect.metric, value: effect.value, balance: held.balance };
}

function productGrant(run: Run, productId: string, quantity: number, origin: Origin, via: string): Report {
  const granted = grantProduct(run, productId, quantity, origin, via);
  if ("refused" in granted) {
    const failed = granted.refused === "unknown_product" || granted.refused === "not_reserved";
    if (granted.refused === "already_held") return { status: "skipped", reason: granted.refused, product: productId };
    return { status: failed ? "failed" : "skipped", reason: granted.refused, product: productId, quantity };
  }
  return { status: "applied", product: productId, quantity: granted.quantity, ...(granted.codes.length > 0 ? { codes: granted.codes } : {}) };
}

function productRedeem(run: Run, productId: string, quantity: number, origin: Origin): Report {
  // One redemption per redeem effect of a root event: the id names the event and effect.
  const redemptionId = `rdm:${origin.event.id}:${run.redemptions.length + 1}`;
  const redeemed = redeemProduct(run, productId, quantity, origin, redemptionId);
  if ("refused" in redeemed) {
    const failed = redeemed.refused === "unknown_product" || redeemed.refused === "not_reserved";
    return { status: failed ? "failed" : "skipped", reason: redeemed.refused, product: productId, quantity };
  }
  return { status: "applied", product: productId, quantity, redemption: redeemed.redemption, price: redeemed.price, ...(redeemed.codes.length > 0 ? { codes: redeemed.codes } : {}) };
}

function productRevoke(run: Run, productId: string, quantity: number, origin: Origin): Report {
  const held = run.state.products[productId] ?? 0;
  const q = Math.min(held, quantity);
  if (q === 0) return { status: "skipped", reason: "not_held", product: productId };
  if (held - q === 0) delete run.state.products[productId];
  else run.state.products[productId] = held - q;
  run.emit("loyalty.product.revoked", { product: productId, quantity: q, via: "effect" }, origin.event.depth);
  run.stateChanged(`products.${productId}`, origin);
  return { status: "applied", product: productId, quantity: q };
}

function attributeSet(run: Run, effect: Extract<Effect, { type: "attribute.set" }>, origin: Origin): Report {
  const vars = variables(run, origin);
  const value = (typeof effect.value === "string" ? renderString(effect.value, vars)
    : Array.isArray(effect.value) ? effect.value.map((v) => renderString(v, vars)) : effect.value) as AttributeValue;
  const before = Object.hasOwn(run.state.attributes, effect.key) ? run.state.attributes[effect.key] : undefined;
  if (JSON.stringify(before) === JSON.stringify(value)) return { status: "skipped", reason: "unchanged", key: effect.key };
  Object.defineProperty(run.state.attributes, effect.key, { value, enumerable: true, writable: true, configurable: true });
  // A copy: later changes in the cascade must not rewrite what this event said.
  run.emit("loyalty.user.updated", { attributes: { ...run.state.attributes }, changed: [effect.key] }, origin.event.depth);
  run.stateChanged(`attributes.${effect.key}`, origin);
  return { status: "applied", key: effect.key };
}

function segmentChange(run: Run, segmentId: string, add: boolean, origin: Origin): Report {
  const has = run.state.staticSegments.includes(segmentId);
  if (has === add) return { status: "skipped", reason: add ? "already_member" : "not_member", segment: segmentId };
  const wasMember = run.inSegment(segmentId);
  run.state.staticSegments = add ? [...run.state.staticSegments, segmentId].sort() : run.state.staticSegments.filter((s) => s !== segmentId);
  if (run.inSegment(segmentId) !== wasMember) run.segmentMembershipChanged(segmentId, !wasMember, origin);
  return { status: "applied", segment: segmentId };
}

function outbound(run: Run, result: ReturnType<Run["send"]>, fields: Record<string, unknown>): Report {
  if (result === "silent") return { status: "skipped", reason: "silent", ...fields };
  if (result === "limited") return { status: "skipped", reason: "cascade_limit", ...fields };
  if (result === "too_large") return { status: "failed", reason: "payload_too_large", ...fields };
  return { status: "applied", ...fields };
}

/** Applies one effect and reports it in the outcome. */
export function applyEffect(run: Run, effect: Effect, origin: Origin): void {
  const base = { campaign: origin.campaign ?? "", step: origin.step ?? null, type: effect.type };
  if (run.effectCount >= MAX_EFFECTS) {
    run.limit("effects");
    run.outcome.effects.push({ ...base, status: "skipped", reason: "cascade_limit" });
    return;
  }
  run.effectCount += 1;
  run.outcome.effects.push({ ...base, ...applyOne(run, effect, origin) });
}

function applyOne(run: Run, effect: Effect, origin: Origin): Report {
  switch (effect.type) {
    case "metric.add":
      return metricAdd(run, effect, origin);
    case "metric.set":
      return metricSet(run, effect, origin);
    case "product.grant":
      return productGrant(run, effect.product, effect.quantity, origin, "effect");
    case "product.revoke":
      return productRevoke(run, effect.product, effect.quantity, origin);
    case "product.redeem":
      return productRedeem(run, effect.product, effect.quantity, origin);
    case "attribute.set":
      return attributeSet(run, effect, origin);
    case "segment.add":
      return segmentChange(run, effect.segment, true, origin);
    case "segment.remove":
      return segmentChange(run, effect.segment, false, origin);
    case "event.emit": {
      const data = renderJson(effect.data, variables(run, origin)) as Record<string, unknown>;
      run.emit(effect.eventType, data, origin.event.depth);
      return { status: "applied", eventType: effect.eventType };
    }
    case "webhook.send": {
      const payload = renderJson(effect.payload, variables(run, origin));
      // A second webhook.send of one event to one endpoint needs a webhook-id of its own.
      const seq = run.outbox.filter((m) => m.kind === "webhook" && m.type === "webhook.send" && m.webhook === effect.webhook && m.eventId === origin.event.id).length;
      const sent = run.send({
        kind: "webhook",
        webhook: effect.webhook,
        eventId: origin.event.id,
        type: "webhook.send",
        occurredAt: origin.event.occurredAt,
        data: payload,
        ...(seq > 0 ? { seq } : {}),
      });
      return outbound(run, sent, { webhook: effect.webhook });
    }
    case "push.send": {
      const vars = variables(run, origin);
      const sent = run.send({
        kind: "push",
        eventId: origin.event.id,
        title: renderString(effect.title, vars),
        body: renderString(effect.body, vars),
        url: effect.url ? renderString(effect.url, vars) : null,
        data: effect.data ? renderJson(effect.data, vars) : null,
        ...(run.programme.pushGateway ? { gateway: true } : {}),
      });
      return outbound(run, sent, {});
    }
    case "streak.checkin":
      return checkinEffect(run, effect.streak, Date.parse(origin.event.occurredAt), origin.event.depth);
    case "streak.freeze":
      return freezeEffect(run, effect.streak, effect.count);
  }
}
