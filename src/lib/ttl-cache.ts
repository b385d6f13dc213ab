/**
 * A per-isolate cache with a time-to-live. Module-scoped instances are shared by every
 * request (and Durable Object) in the isolate; a TTL of 0 disables caching, which tests
 * use so that every write is visible at once.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; storedAt: number }>();
  constructor(private readonly maxEntries = 1000) {}

  get(key: string, ttlMs: number, now = Date.now()): V | undefined {
    if (ttlMs <= 0) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (now - entry.storedAt >= ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number, now = Date.now()): void {
    if (ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, storedAt: now });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
