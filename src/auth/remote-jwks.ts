import type { JSONWebKeySet } from "jose";
import { readAtMost } from "../lib/streams";
import { checkOutboundUrl, type UrlPolicyOptions } from "../outbound/url-policy";

// An operator IdP's JWKS, fetched from `auth.jwksUrl` (SPEC §3.3) under the outbound URL
// policy (§8.3): checked again before every fetch, no redirects followed, bounded time
// and size. Keys are cached per isolate. An unknown `kid` refetches at most once per
// 5 minutes (so forged kids cannot make us hammer the IdP), and a failed refetch keeps
// the keys we already have: an IdP outage must not log every user out.

const REFETCH_INTERVAL_MS = 5 * 60_000;
/** With no keys at all every request fails, so a failed first fetch is retried sooner. */
export const FIRST_FETCH_RETRY_MS = 30_000;
const MAX_AGE_MS = 60 * 60_000;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_BODY_BYTES = 64 * 1024;

interface Entry {
  jwks: JSONWebKeySet | undefined;
  fetchedAt: number;
  attemptedAt: number;
  /** The fetch in flight: concurrent callers wait for it instead of failing. */
  pending?: Promise<void>;
}

const entries = new Map<string, Entry>();

export class JwksUnavailableError extends Error {}

/** Seconds until `url` may be fetched again after a failed first fetch (for Retry-After). */
export function secondsUntilRetry(url: string, now = Date.now()): number {
  const entry = entries.get(url);
  if (!entry) return 1;
  return Math.max(1, Math.ceil((entry.attemptedAt + FIRST_FETCH_RETRY_MS - now) / 1000));
}

async function fetchJwks(url: string, policy: UrlPolicyOptions): Promise<JSONWebKeySet> {
  const verdict = checkOutboundUrl(url, policy);
  if (!verdict.ok) throw new JwksUnavailableError(`jwksUrl refused: ${verdict.reason}`);
  const response = await fetch(verdict.url, {
    redirect: "manual",
    headers: { Accept: "application/json" },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (response.status !== 200 || !response.body) {
    throw new JwksUnavailableError(`jwksUrl answered ${response.status}`);
  }
  const bytes = await readAtMost(response.body, MAX_BODY_BYTES);
  if (bytes === null) throw new JwksUnavailableError("jwksUrl answered more than 64 KiB");
  const text = new TextDecoder().decode(bytes);
  const body = JSON.parse(text) as { keys?: unknown };
  if (!body || !Array.isArray(body.keys)) throw new JwksUnavailableError("jwksUrl did not answer a JWKS");
  // Only public asymmetric keys: an `oct` key here would let HS256 tokens through.
  const keys = body.keys.filter(
    (k): k is JSONWebKeySet["keys"][number] =>
      typeof k === "object" && k !== null && ["RSA", "EC", "OKP"].includes((k as { kty?: string }).kty ?? "") && !("d" in k),
  );
  return { keys };
}

/**
 * The JWKS for `url`, refreshed when `kid` is unknown or the copy is old, within the
 * refetch interval. Throws JwksUnavailableError only when no copy exists at all.
 */
export async function remoteJwks(
  url: string,
  kid: string | undefined,
  policy: UrlPolicyOptions,
  now = Date.now(),
): Promise<JSONWebKeySet> {
  const knows = (e: Entry | undefined) => e?.jwks !== undefined && (kid === undefined || e.jwks.keys.some((k) => k.kid === kid));
  // Only a caller the cached copy cannot serve waits for a fetch in flight: a slow IdP
  // must not hold up tokens signed with keys we already have.
  const inFlight = entries.get(url)?.pending;
  if (inFlight && !knows(entries.get(url))) await inFlight;
  const entry = entries.get(url);
  const knowsKid = knows(entry);
  const stale = !entry?.jwks || !knowsKid || now - entry.fetchedAt > MAX_AGE_MS;
  const interval = entry?.jwks ? REFETCH_INTERVAL_MS : FIRST_FETCH_RETRY_MS;
  const mayFetch = !entry || now - entry.attemptedAt >= interval;
  if (stale && mayFetch) {
    const attempt: Entry = { jwks: entry?.jwks, fetchedAt: entry?.fetchedAt ?? 0, attemptedAt: now };
    const fetched = fetchJwks(url, policy).then((jwks) => {
      attempt.jwks = jwks;
      attempt.fetchedAt = now;
    });
    attempt.pending = fetched.catch(() => {}).finally(() => (attempt.pending = undefined));
    entries.set(url, attempt);
    // A copy that knows the kid and is only old is served now; the refresh goes on without us.
    if (knowsKid) return entry!.jwks!;
    try {
      await fetched;
    } catch (e) {
      if (!attempt.jwks) throw e instanceof JwksUnavailableError ? e : new JwksUnavailableError(String(e));
    }
    return attempt.jwks!;
  }
  if (!entry?.jwks) throw new JwksUnavailableError("the identity provider's keys are not available yet");
  return entry.jwks;
}

/** Test hook: forget every cached JWKS. */
export function clearRemoteJwksCache(): void {
  entries.clear();
}
