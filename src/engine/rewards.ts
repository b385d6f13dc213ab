import type { Origin, Run } from "./run";

// Products leaving the programme's hands (SPEC §4.2, §6, §7): grants (effects, the Admin
// API, redemptions) and redemptions. Stock and codes are D1's: a take of a stocked product
// or a reward is backed by a reservation (see Run.reservationFor), so what the engine
// grants here was reserved, and what it declines is released by the caller.

export type TakeRefusal = "unknown_product" | "already_held" | "per_user_limit" | "out_of_stock" | "out_of_codes" | "not_reserved";
export type RedeemRefusal = TakeRefusal | "not_redeemable" | "insufficient_balance";

export interface Granted {
  quantity: number;
  codes: string[];
}

/** Gives `quantity` of a product (a badge once), with its codes; emits loyalty.product.granted. */
export function grantProduct(run: Run, productId: string, quantity: number, origin: Origin, via: string): Granted | { refused: TakeRefusal } {
  const product = run.programme.products.get(productId);
  if (!product) return { refused: "unknown_product" };
  const held = run.state.products[productId] ?? 0;
  if (product.type === "badge" && held >= 1) return { refused: "already_held" };
  const q = product.type === "badge" ? 1 : quantity;
  if (product.perUserLimit !== null && held + q > product.perUserLimit) return { refused: "per_user_limit" };
  let codes: string[] = [];
  if (run.needsReservation(productId)) {
    const { key, answer } = run.reservationFor(origin, productId, q);
    if (!answer) return { refused: "not_reserved" };
    if ("refused" in answer) return { refused: answer.refused };
    codes = answer.codes;
    if (run.reservations) run.used.push(key);
  }
  run.state.products[productId] = held + q;
  if (codes.length > 0) {
    run.state.codes ??= {};
    run.state.codes[productId] = [...(run.state.codes[productId] ?? []), ...codes];
  }
  run.emit("loyalty.product.granted", { product: productId, quantity: q, ...codeFields(codes), via }, origin.event.depth);
  run.stateChanged(`products.${productId}`, origin);
  return { quantity: q, codes };
}

/** `code` when one code was allocated, `codes` whenever any were (SPEC §5.6 says `code?`). */
export function codeFields(codes: string[]): Record<string, unknown> {
  if (codes.length === 0) return {};
  return codes.length === 1 ? { code: codes[0], codes } : { codes };
}

export interface Redeemed extends Granted {
  redemption: string;
  product: string;
  price: { metric: string; amount: number };
  balance: number;
}

/**
 * Spends the price and grants the product, all or nothing (SPEC §7): nothing is checked
 * after something changed, so a refusal leaves the state as it was.
 */
export function redeemProduct(run: Run, productId: string, quantity: number, origin: Origin, redemptionId: string): Redeemed | { refused: RedeemRefusal } {
  const product = run.programme.products.get(productId);
  if (!product) return { refused: "unknown_product" };
  if (product.price === null || product.type === "badge") return { refused: "not_redeemable" };
  const cost = product.price.amount * quantity;
  const metric = product.price.metric;
  const held = run.state.metrics[metric] ?? { balance: run.programme.metrics.get(metric)?.initial ?? 0 };
  const floor = run.floorOf(metric);
  if (!Number.isSafeInteger(cost) || (floor !== null && held.balance - cost < floor)) return { refused: "insufficient_balance" };
  const owned = run.state.products[productId] ?? 0;
  if (product.perUserLimit !== null && owned + quantity > product.perUserLimit) return { refused: "per_user_limit" };

  const granted = grantProduct(run, productId, quantity, origin, "redemption");
  if ("refused" in granted) return granted;
  const balance = run.touchMetric(metric, origin);
  run.changeMetric(metric, -cost, "redemption", origin, { source: { redemption: redemptionId } });
  const price = { metric, amount: cost };
  run.emit("loyalty.reward.redeemed", { redemption: redemptionId, product: productId, quantity, price, ...codeFields(granted.codes) }, origin.event.depth);
  run.redemptions.push({ id: redemptionId, product: productId, quantity, price, codes: granted.codes, reservationKey: run.used[run.used.length - 1] ?? null });
  return { redemption: redemptionId, product: productId, quantity, price, codes: granted.codes, balance: balance.balance };
}

export interface RedemptionRecord {
  id: string;
  product: string;
  quantity: number;
  price: { metric: string; amount: number };
  codes: string[];
  /** The reservation behind it, if the product was stocked or coded. */
  reservationKey: string | null;
}

/**
 * Cancels a redemption (SPEC §7): the price back (not earned: lifetime unchanged), the
 * product revoked (what the user still holds of it), the codes withdrawn — never reissued.
 */
export function cancelRedemption(run: Run, redemption: RedemptionRecord, origin: Origin): { refunded: number; revoked: number } {
  run.touchMetric(redemption.price.metric, origin);
  run.changeMetric(redemption.price.metric, redemption.price.amount, "refund", origin, { source: { redemption: redemption.id }, lifetimeDelta: 0 });
  const revoked = revokeProduct(run, redemption.product, redemption.quantity, redemption.codes, origin, "redemption");
  run.emit(
    "loyalty.redemption.cancelled",
    { redemption: redemption.id, product: redemption.product, quantity: redemption.quantity, price: redemption.price, ...codeFields(redemption.codes) },
    origin.event.depth,
  );
  return { refunded: redemption.price.amount, revoked };
}

/**
 * Takes back up to `quantity` of a product (what the user still holds of it) and the given
 * codes, which are withdrawn, never reissued; emits loyalty.product.revoked. Answers the
 * quantity revoked.
 */
export function revokeProduct(run: Run, productId: string, quantity: number, codes: string[], origin: Origin, via: string): number {
  const held = run.state.products[productId] ?? 0;
  const revoked = Math.min(held, quantity);
  const allocated = run.state.codes?.[productId];
  if (allocated && codes.length > 0) {
    const left = allocated.filter((c) => !codes.includes(c));
    if (left.length > 0) run.state.codes![productId] = left;
    else delete run.state.codes![productId];
  }
  if (revoked === 0) return 0;
  if (held === revoked) delete run.state.products[productId];
  else run.state.products[productId] = held - revoked;
  run.emit("loyalty.product.revoked", { product: productId, quantity: revoked, via }, origin.event.depth);
  run.stateChanged(`products.${productId}`, origin);
  return revoked;
}
