import { mergePatch } from "../lib/merge-patch";
import type { Run } from "./run";
import { cancelRedemption, grantProduct, redeemProduct, type RedeemRefusal, type RedemptionRecord } from "./rewards";
import { reverseEvent, type ReversalInput } from "./reversal";
import { restoreStreak, settleAllStreaks } from "./streak-run";
import type { AttributeValue, UserState } from "./types";

// What the Admin API does to one user (SPEC §7, §5.4): adjustments, grants, revocations
// and profile changes. Each runs inside a Run like an event does, so the derived events it
// causes (metric changed, product granted, user updated, ladder and segment changes) are
// evaluated by campaigns the same way. Refusals are returned, never thrown.

export type AdminOp =
  | { op: "adjust"; metric: string; amount: number; reason: string; keyId: string | null }
  | { op: "grant"; product: string; quantity: number }
  /** SPEC §7: price debited, stock and a code taken, product granted — all or nothing. */
  | { op: "redeem"; product: string; quantity: number; redemption: string }
  /** The object fills in `redemption` from its records (absent: no such redemption). */
  | { op: "cancelRedemption"; id: string; restock: boolean; redemption?: RedemptionRecord; cancelled?: boolean }
  | { op: "revoke"; product: string; quantity: number | null }
  | { op: "restoreStreak"; streak: string }
  /**
   * SPEC §7: takes back what an event and its cascade did. The object fills in `found`
   * (absent: the user never had that event) and answers a repeat from its records.
   */
  | { op: "reverse"; eventId: string; found?: ReversalInput }
  /** Static segment membership (SPEC §5.5): PUT adds, DELETE removes; both idempotent. */
  | { op: "segment"; segment: string; member: boolean }
  | {
      op: "profile";
      /** Replaces the attributes (PUT), or is merged into them as a JSON merge patch (PATCH). */
      attributes?: Record<string, AttributeValue | null>;
      merge?: boolean;
      timezone?: string | null;
      locale?: string | null;
    };

export type AdminRefusal = {
  refused:
    | "insufficient_balance"
    | "above_max"
    | "not_found"
    | "per_user_limit"
    | "frozen"
    | "invalid_request"
    | "invalid_transition"
    | "out_of_stock"
    | "out_of_codes"
    | "not_redeemable"
    | "conflict";
  detail: string;
  path: string;
};

/** SPEC §5.4: ≤ 50 attribute keys, ≤ 8 KiB in all. */
const MAX_ATTRIBUTES = 50;
const MAX_ATTRIBUTES_BYTES = 8192;

/**
 * `unchanged`: the operation found nothing to do, so the object stores nothing (no
 * activity entry, no last sight, and a user never seen is not created).
 */
export type AdminApplied = { refused?: undefined; result: Record<string, unknown>; unchanged?: boolean };

/** A user's zone may change once per 24 h through profile writes (SPEC §5.4). */
export const TIMEZONE_CHANGE_INTERVAL_MS = 86_400_000;

export function applyAdminOp(run: Run, op: AdminOp): AdminApplied | AdminRefusal {
  const origin = { event: run.root };
  switch (op.op) {
    case "adjust": {
      const metric = run.programme.metrics.get(op.metric);
      if (!metric) return { refused: "not_found", detail: `no metric '${op.metric}'`, path: "path.metric" };
      const held = run.touchMetric(op.metric, origin);
      const floor = run.floorOf(op.metric);
      if (op.amount < 0 && floor !== null && held.balance + op.amount < floor) {
        return { refused: "insufficient_balance", detail: `the balance is ${held.balance}; a debit of ${-op.amount} would cross ${floor}`, path: "amount" };
      }
      if (op.amount > 0 && metric.max !== null && held.balance + op.amount > metric.max) {
        return { refused: "above_max", detail: `the balance is ${held.balance}; a credit of ${op.amount} would cross the maximum ${metric.max}`, path: "amount" };
      }
      run.changeMetric(op.metric, op.amount, op.reason, origin, op.keyId ? { source: { adjustmentBy: op.keyId } } : {});
      return { result: { metric: op.metric, amount: op.amount, balance: held.balance, lifetime: held.lifetime } };
    }
    case "grant": {
      const held = run.state.products[op.product] ?? 0;
      const granted = grantProduct(run, op.product, op.quantity, origin, "admin");
      if ("refused" in granted) return takeRefusal(run, granted.refused, op.product, held);
      return { result: { product: op.product, quantity: held + granted.quantity, ...(granted.codes.length > 0 ? { codes: granted.codes } : {}) } };
    }
    case "redeem": {
      const redeemed = redeemProduct(run, op.product, op.quantity, origin, op.redemption);
      if ("refused" in redeemed) return takeRefusal(run, redeemed.refused, op.product, run.state.products[op.product] ?? 0);
      const { codes, ...rest } = redeemed;
      return { result: { id: rest.redemption, product: rest.product, quantity: rest.quantity, price: rest.price, ...(codes.length === 1 ? { code: codes[0] } : {}), ...(codes.length > 0 ? { codes } : {}), balance: rest.balance } };
    }
    case "cancelRedemption": {
      if (!op.redemption) return { refused: "not_found", detail: `no redemption '${op.id}' for this user`, path: "path.id" };
      if (op.cancelled) return { refused: "invalid_transition", detail: `the redemption '${op.id}' is already cancelled`, path: "path.id" };
      const { refunded, revoked } = cancelRedemption(run, op.redemption, origin);
      return { result: { id: op.id, status: "cancelled", refunded: { metric: op.redemption.price.metric, amount: refunded }, revoked, restocked: op.restock } };
    }
    case "revoke": {
      const held = run.state.products[op.product] ?? 0;
      if (held === 0) return { refused: "not_found", detail: `the user holds no '${op.product}'`, path: "path.product" };
      const quantity = Math.min(held, op.quantity ?? held);
      if (held === quantity) delete run.state.products[op.product];
      else run.state.products[op.product] = held - quantity;
      run.emit("loyalty.product.revoked", { product: op.product, quantity, via: "admin" }, 0);
      run.stateChanged(`products.${op.product}`, origin);
      return { result: { product: op.product, quantity: held - quantity } };
    }
    case "profile":
      return applyProfile(run, op);
    case "segment":
      return applyStaticSegment(run, op.segment, op.member);
    case "reverse": {
      if (!op.found) return { refused: "not_found", detail: `the user has no event '${op.eventId}'`, path: "path.eventId" };
      return { result: { ...reverseEvent(run, op.found) } };
    }
    case "restoreStreak": {
      if (!run.programme.streaks.has(op.streak)) return { refused: "not_found", detail: `no streak '${op.streak}'`, path: "path.id" };
      settleAllStreaks(run);
      if (!restoreStreak(run, op.streak)) {
        return { refused: "invalid_transition", detail: "only a broken streak can be restored", path: "path.id" };
      }
      const held = run.state.streaks![op.streak]!;
      return { result: { streak: op.streak, current: held.current, keptThrough: held.keptThrough } };
    }
  }
}

/** A refused take as the Admin API answers it (SPEC §7's codes). */
function takeRefusal(run: Run, refused: RedeemRefusal, productId: string, held: number): AdminRefusal {
  const product = run.programme.products.get(productId);
  switch (refused) {
    case "unknown_product":
      return { refused: "not_found", detail: `no product '${productId}'`, path: "product" };
    case "already_held":
    case "per_user_limit":
      return { refused: "per_user_limit", detail: `the user holds ${held}; the limit is ${product?.perUserLimit ?? 1}`, path: "quantity" };
    case "insufficient_balance": {
      const metric = product?.price?.metric ?? "";
      return { refused: "insufficient_balance", detail: `the ${metric} balance is ${run.state.metrics[metric]?.balance ?? 0}; the price is ${(product?.price?.amount ?? 0)} each`, path: "quantity" };
    }
    case "not_redeemable":
      return { refused: "not_redeemable", detail: `'${productId}' has no price: it cannot be redeemed`, path: "product" };
    case "out_of_stock":
      return { refused: "out_of_stock", detail: `'${productId}' has not enough stock left`, path: "quantity" };
    case "out_of_codes":
      return { refused: "out_of_codes", detail: `'${productId}' has not enough codes left`, path: "quantity" };
    case "not_reserved":
      return { refused: "conflict", detail: "the reservation was not made; retry", path: "" };
  }
}

function applyProfile(run: Run, op: Extract<AdminOp, { op: "profile" }>): AdminApplied | AdminRefusal {
  const state: UserState = run.state;
  const origin = { event: run.root };
  if (op.timezone !== undefined && op.timezone !== state.timezone) {
    const last = state.timezoneChangedAt ? Date.parse(state.timezoneChangedAt) : undefined;
    if (last !== undefined && run.now - last < TIMEZONE_CHANGE_INTERVAL_MS) {
      return { refused: "frozen", detail: "the time zone can change once per 24 hours", path: "timezone" };
    }
    state.timezone = op.timezone;
    state.timezoneChangedAt = new Date(run.now).toISOString();
    run.stateChanged("timezone", origin);
  }
  if (op.locale !== undefined) state.locale = op.locale;
  if (op.attributes !== undefined) {
    const before = state.attributes;
    const next = (op.merge ? mergePatch(before, op.attributes) : op.attributes) as Record<string, AttributeValue>;
    if (Object.keys(next).length > MAX_ATTRIBUTES) {
      return { refused: "invalid_request", detail: `at most ${MAX_ATTRIBUTES} attributes`, path: "attributes" };
    }
    if (new TextEncoder().encode(JSON.stringify(next)).byteLength > MAX_ATTRIBUTES_BYTES) {
      return { refused: "invalid_request", detail: "attributes are larger than 8 KiB", path: "attributes" };
    }
    const keys = new Set([...Object.keys(before), ...Object.keys(next)]);
    const changed = [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(next[k])).sort();
    if (changed.length > 0) {
      state.attributes = next;
      run.emit("loyalty.user.updated", { attributes: { ...state.attributes }, changed }, 0);
      for (const key of changed) run.stateChanged(`attributes.${key}`, origin);
    }
  }
  return { result: {} };
}

function applyStaticSegment(run: Run, segmentId: string, member: boolean): AdminApplied | AdminRefusal {
  const segment = run.programme.segments.get(segmentId);
  if (!segment) return { refused: "not_found", detail: `no segment '${segmentId}'`, path: "path.segmentId" };
  if (segment.type !== "static") {
    return { refused: "invalid_request", detail: `'${segmentId}' is dynamic: its rule decides membership`, path: "path.segmentId" };
  }
  const result = { segment: segmentId, member };
  if (run.state.staticSegments.includes(segmentId) === member) return { result, unchanged: true };
  const before = run.inSegment(segmentId);
  run.state.staticSegments = member ? [...run.state.staticSegments, segmentId].sort() : run.state.staticSegments.filter((s) => s !== segmentId);
  if (run.inSegment(segmentId) !== before) run.segmentMembershipChanged(segmentId, member, { event: run.root });
  return { result };
}
