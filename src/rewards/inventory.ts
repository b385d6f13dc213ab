import type { ReservationAnswer } from "../engine/types";

// Stock and code pools in D1 (SPEC §4.2). A reservation is one D1 batch — a transaction —
// that records the reservation, takes the stock and allocates the codes; if the stock or
// the codes do not suffice, a CHECK constraint aborts the whole batch, so nothing is taken
// at all and the stock can never go below zero. Confirming and releasing are guarded by
// the reservation's status, so each happens at most once whoever asks.

export interface ReservationRequest {
  id: string;
  spaceId: string;
  userId: string;
  productId: string;
  quantity: number;
}

function constraintOf(error: unknown): string {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const message = String((e as Error).message ?? e);
    if (message.includes("out_of_stock")) return "out_of_stock";
    if (message.includes("out_of_codes")) return "out_of_codes";
    if (message.includes("UNIQUE constraint failed: reservations.id")) return "exists";
  }
  return "";
}

/** Reserves stock and codes for one take; finds the same reservation again on a retry. */
export async function reserve(d1: D1Database, r: ReservationRequest, now: number): Promise<ReservationAnswer> {
  const pool = `EXISTS (SELECT 1 FROM product_codes WHERE space_id = ?2 AND product_id = ?3)`;
  try {
    await d1.batch([
      // A reservation released earlier (its first attempt never committed) is taken anew.
      d1.prepare(`DELETE FROM reservations WHERE id = ?1 AND status = 'released'`).bind(r.id),
      d1
        .prepare(
          `INSERT INTO reservations (id, space_id, user_id, product_id, quantity, stock_taken, codes_wanted, codes_allocated, status, created_at, updated_at)
           SELECT ?1, ?2, ?4, ?3, ?5,
                  COALESCE((SELECT remaining IS NOT NULL FROM product_stock WHERE space_id = ?2 AND product_id = ?3), 0),
                  CASE WHEN ${pool} THEN ?5 ELSE 0 END, CASE WHEN ${pool} THEN ?5 ELSE 0 END, 'reserved', ?6, ?6`,
        )
        .bind(r.id, r.spaceId, r.productId, r.userId, r.quantity, now),
      // Violates CHECK out_of_stock when less remains (null = unlimited stays null).
      d1
        .prepare(`UPDATE product_stock SET remaining = remaining - ?3, redeemed = redeemed + ?3 WHERE space_id = ?1 AND product_id = ?2`)
        .bind(r.spaceId, r.productId, r.quantity),
      d1
        .prepare(
          `UPDATE product_codes SET reservation_id = ?3, user_id = ?4, allocated_at = ?6
           WHERE rowid IN (SELECT rowid FROM product_codes WHERE space_id = ?1 AND product_id = ?2 AND reservation_id IS NULL ORDER BY rowid LIMIT
             (SELECT codes_wanted FROM reservations WHERE id = ?3))`,
        )
        .bind(r.spaceId, r.productId, r.id, r.userId, r.quantity, now),
      // Violates CHECK out_of_codes when fewer codes were free than wanted.
      d1
        .prepare(
          `UPDATE reservations SET codes_allocated = (SELECT COUNT(*) FROM product_codes WHERE space_id = ?2 AND product_id = ?3 AND reservation_id = ?1)
           WHERE id = ?1`,
        )
        .bind(r.id, r.spaceId, r.productId),
    ]);
  } catch (error) {
    const constraint = constraintOf(error);
    if (constraint === "out_of_stock" || constraint === "out_of_codes") return { refused: constraint };
    if (constraint !== "exists") throw error;
    // A retry of a take already reserved: the same reservation answers.
  }
  const codes = await d1
    .prepare(`SELECT code FROM product_codes WHERE space_id = ?1 AND product_id = ?2 AND reservation_id = ?3 ORDER BY rowid`)
    .bind(r.spaceId, r.productId, r.id)
    .all<{ code: string }>();
  return { id: r.id, codes: codes.results.map((c) => c.code) };
}

/** Marks reservations the user's object committed as confirmed. */
export async function confirmReservations(d1: D1Database, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await d1
    .prepare(`UPDATE reservations SET status = 'confirmed', updated_at = ?2 WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'reserved'`)
    .bind(JSON.stringify(ids), now)
    .run();
}

/**
 * Puts back what a reservation in `status` took of the product's stock (the remaining
 * count only if the product is stocked) and takes it off `redeemed`. A reservation in
 * another status matches nothing, so this runs at most once per status change.
 */
function stockBack(d1: D1Database, id: string, status: "reserved" | "confirmed"): D1PreparedStatement {
  return d1
    .prepare(
      `UPDATE product_stock SET remaining = CASE WHEN r.stock_taken = 1 THEN remaining + r.quantity ELSE remaining END,
         redeemed = redeemed - r.quantity
       FROM (SELECT space_id, product_id, quantity, stock_taken FROM reservations WHERE id = ?1 AND status = ?2) AS r
       WHERE product_stock.space_id = r.space_id AND product_stock.product_id = r.product_id`,
    )
    .bind(id, status);
}

/**
 * Gives back what a reservation took — only while it is `reserved` (never confirmed):
 * the stock, and its codes to the pool. Used for takes the user's object did not commit.
 */
export async function releaseReservation(d1: D1Database, id: string, now: number): Promise<void> {
  const pending = `EXISTS (SELECT 1 FROM reservations WHERE id = ?1 AND status = 'reserved')`;
  await d1.batch([
    stockBack(d1, id, "reserved"),
    d1.prepare(`UPDATE product_codes SET reservation_id = NULL, user_id = NULL, allocated_at = NULL WHERE reservation_id = ?1 AND ${pending}`).bind(id),
    d1.prepare(`UPDATE reservations SET status = 'released', updated_at = ?2 WHERE id = ?1 AND status = 'reserved'`).bind(id, now),
  ]);
}

/**
 * A cancelled redemption's stock goes back when asked (SPEC §7 `restock`); its codes stay
 * spent (a code is never reissued). Once per reservation.
 */
export async function restockReservation(d1: D1Database, id: string, now: number): Promise<void> {
  await d1.batch([
    stockBack(d1, id, "confirmed"),
    d1.prepare(`UPDATE reservations SET status = 'restocked', updated_at = ?2 WHERE id = ?1 AND status = 'confirmed'`).bind(id, now),
  ]);
}

export interface StockInfo {
  remaining: number | null;
  redeemed: number;
  configured: number | null;
}

export async function stockOf(d1: D1Database, spaceId: string, productIds: string[]): Promise<Map<string, StockInfo>> {
  const out = new Map<string, StockInfo>();
  if (productIds.length === 0) return out;
  const { results } = await d1
    .prepare(`SELECT product_id, remaining, redeemed, configured FROM product_stock WHERE space_id = ?1 AND product_id IN (SELECT value FROM json_each(?2))`)
    .bind(spaceId, JSON.stringify(productIds))
    .all<{ product_id: string; remaining: number | null; redeemed: number; configured: number | null }>();
  for (const r of results) out.set(r.product_id, { remaining: r.remaining, redeemed: r.redeemed, configured: r.configured });
  return out;
}

/** Adds codes to a pool (duplicates ignored); answers the pool's counts. */
export async function addCodes(d1: D1Database, spaceId: string, productId: string, codes: string[]): Promise<{ added: number; available: number; allocated: number }> {
  const [inserted] = await d1.batch([
    d1
      .prepare(`INSERT OR IGNORE INTO product_codes (space_id, product_id, code) SELECT ?1, ?2, value FROM json_each(?3)`)
      .bind(spaceId, productId, JSON.stringify(codes)),
  ]);
  return { added: inserted?.meta.changes ?? 0, ...(await codeCounts(d1, spaceId, productId)) };
}

export async function codeCounts(d1: D1Database, spaceId: string, productId: string): Promise<{ available: number; allocated: number }> {
  const row = await d1
    .prepare(
      `SELECT COALESCE(SUM(reservation_id IS NULL), 0) AS available, COALESCE(SUM(reservation_id IS NOT NULL), 0) AS allocated
       FROM product_codes WHERE space_id = ?1 AND product_id = ?2`,
    )
    .bind(spaceId, productId)
    .first<{ available: number; allocated: number }>();
  return { available: row?.available ?? 0, allocated: row?.allocated ?? 0 };
}
