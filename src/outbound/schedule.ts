// When to try a delivery again (SPEC §8.1): ≈ 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h with
// jitter, each within the queue's maximum delay; then the dead-letter queue. Pure, so
// the decisions are tested as a table.

export const RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/** Cloudflare Queues delay a retry by at most 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;
/** Success must come within this long (SPEC §8.1). */
export const DELIVERY_TIMEOUT_MS = 15_000;

/** The delay before the next attempt after attempt `attempt` (1-based) failed; null: no more. */
export function retryDelaySeconds(attempt: number, random: () => number = Math.random, schedule: number[] = RETRY_SCHEDULE_SECONDS): number | null {
  const base = schedule[attempt - 1];
  if (base === undefined) return null;
  // ±10 % jitter, so endpoints that failed together are not retried together.
  const jittered = Math.round(base * (0.9 + 0.2 * random()));
  return Math.max(1, Math.min(jittered, MAX_QUEUE_DELAY_SECONDS));
}

export type AttemptVerdict =
  | { kind: "delivered" }
  /** 410 Gone (webhooks: disable the endpoint; push: drop the subscription). */
  | { kind: "gone" }
  | { kind: "retry"; delaySeconds: number }
  /** Out of attempts: recorded as failed (the dead-letter queue records it). */
  | { kind: "exhausted" };

/**
 * What one attempt's answer means. `status` null = no answer (network error, timeout, a
 * URL refused by the policy). Redirects are failures (never followed). 429 and 503 honour
 * `Retry-After` (seconds or an HTTP date), capped at the queue's maximum delay.
 */
export function verdictOf(
  status: number | null,
  retryAfter: string | null,
  attempt: number,
  options: { goneStatuses?: number[]; now?: number; random?: () => number; schedule?: number[] } = {},
): AttemptVerdict {
  if (status !== null && status >= 200 && status < 300) return { kind: "delivered" };
  if (status !== null && (options.goneStatuses ?? [410]).includes(status)) return { kind: "gone" };
  const scheduled = retryDelaySeconds(attempt, options.random, options.schedule);
  if (scheduled === null) return { kind: "exhausted" };
  if ((status === 429 || status === 503) && retryAfter) {
    const asked = retryAfterSeconds(retryAfter, options.now ?? Date.now());
    if (asked !== null) return { kind: "retry", delaySeconds: Math.max(1, Math.min(asked, MAX_QUEUE_DELAY_SECONDS)) };
  }
  return { kind: "retry", delaySeconds: scheduled };
}

export function retryAfterSeconds(value: string, now: number): number | null {
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}
