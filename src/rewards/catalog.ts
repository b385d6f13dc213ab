import { TtlCache } from "../lib/ttl-cache";
import { stockOf, type StockInfo } from "./inventory";

// The catalogue's view of stock (SPEC §4.2: "from a cache at most a few seconds old"): one
// D1 read per space and isolate every few seconds, however many users browse.

const STOCK_CACHE_MS = 3000;
const cache = new TtlCache<Map<string, StockInfo>>(500);

export async function cachedStock(d1: D1Database, spaceId: string, productIds: string[]): Promise<Map<string, StockInfo>> {
  const key = `${spaceId}\n${productIds.join(",")}`;
  const hit = cache.get(key, STOCK_CACHE_MS);
  if (hit) return hit;
  const fresh = await stockOf(d1, spaceId, productIds);
  cache.set(key, fresh, STOCK_CACHE_MS);
  return fresh;
}
