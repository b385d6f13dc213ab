import { describe, expect, it, vi } from "vitest";
import { answer, callDirect, createKey, createSpace, mintToken } from "../helpers/harness";

// Rate limits (SPEC §10) through the Workers rate-limiting binding as the pool runs it:
// 100 requests a minute per user token subject, 10,000 per admin key, each per space; a
// refusal is 429 rate_limited problem+json with Retry-After and RateLimit headers.

const ME = "/api/loyalty/me";

// A test may wait for the next window to start (see startOfUsableWindow).
vi.setConfig({ testTimeout: 30_000 });

/**
 * The binding counts in windows aligned to the epoch (miniflare: floor(now / period)): 101
 * requests that straddle a boundary are counted in two windows and none is refused. So a
 * test that fills a window starts with at least `neededMs` of its window left.
 */
async function startOfUsableWindow(periodMs: number, neededMs: number): Promise<void> {
  const left = periodMs - (Date.now() % periodMs);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe("per user (100 requests a minute)", () => {
  it("the 101st request of a user within a minute is 429 with Retry-After; another user and another space are not limited", async () => {
    const space = await createSpace();
    const token = await mintToken(space, "busy-user");
    await startOfUsableWindow(60_000, 8_000);
    const get = (t: string, slug = space.slug) => callDirect(ME, { key: null, space: slug, headers: { Authorization: `Bearer ${t}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) {
      const res = await get(token);
      statuses.push(res.status);
      if (i === 0) expect(res.headers.get("ratelimit-policy")).toBe("100;w=60");
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, 100).every((s) => s === 200)).toBe(true);
    const refused = await answer(await get(token));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.body.code).toBe("rate_limited");
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.headers.get("ratelimit")).toBe("limit=100, remaining=0, reset=60");
    // Someone else in the same space, and the same user id in another space, go on.
    expect((await get(await mintToken(space, "calm-user"))).status).toBe(200);
    const other = await createSpace();
    expect((await get(await mintToken(other, "busy-user"), other.slug)).status).toBe(200);
  });
});

describe("per admin key", () => {
  it("answers carry the key's policy; keys are counted apart", async () => {
    const space = await createSpace();
    const key = await createKey(space, ["read"]);
    const res = await callDirect("/api/loyalty/admin/metrics", { key: key.secret, space: space.slug });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe("10000;w=60");
  });
});
