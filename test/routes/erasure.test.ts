import { describe, expect, it } from "vitest";
import { call, createSpace, expectProblem, json, me, mintToken } from "../helpers/harness";

// Erasure's tombstone (SPEC §7, §3.3): tokens issued before the erasure stop working, and
// asynchronous events that occurred before it are dropped; the user can come back anew.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function programme() {
  const space = await createSpace();
  await call("/api/loyalty/admin/metrics/points", { space: space.slug, method: "PUT", body: { name: "Points", kind: "currency" } });
  const campaign = await call("/api/loyalty/admin/campaigns/visit", {
    space: space.slug,
    method: "PUT",
    body: { name: "Visit", status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "s", trigger: { eventType: "visit" }, effects: [{ type: "metric.add", metric: "points", amount: 5 }] }] },
  });
  expect(campaign.status, await campaign.clone().text()).toBe(201);
  return space;
}

async function balanceOf(space: { slug: string }, userId: string): Promise<number | null> {
  const res = await call(`/api/loyalty/admin/users/${userId}`, { space: space.slug });
  if (res.status === 404) return null;
  return (await json(res)).metrics.find((m: { metric: string }) => m.metric === "points").balance;
}

describe("erasure tombstone", () => {
  it("tokens issued before the erasure are refused with token_revoked; tokens issued after work", async () => {
    const space = await programme();
    const before = await mintToken(space, "gone");
    expect((await call("/api/loyalty/admin/events", { space: space.slug, body: { id: "v1", userId: "gone", type: "visit" } })).status).toBe(201);
    expect((await me(before, space.slug)).status).toBe(200);

    expect((await call("/api/loyalty/admin/users/gone", { space: space.slug, method: "DELETE" })).status).toBe(204);
    await expectProblem(await me(before, space.slug), 401, "token_revoked");
    await expectProblem(await me(before, space.slug, "/api/loyalty/me/metrics"), 401, "token_revoked");

    await sleep(1100); // iat has second granularity
    const after = await mintToken(space, "gone");
    const fresh = await me(after, space.slug, "/api/loyalty/me/metrics/points");
    expect(fresh.status, await fresh.clone().text()).toBe(200);
    expect((await json(fresh)).balance).toBe(0);
  });

  it("an async event that occurred before the erasure is dropped; one after it applies", async () => {
    const space = await programme();
    const past = new Date(Date.now() - 60_000).toISOString();
    expect((await call("/api/loyalty/admin/events", { space: space.slug, body: { id: "p1", userId: "u-async", type: "visit", occurredAt: past } })).status).toBe(201);
    expect(await balanceOf(space, "u-async")).toBe(5);
    expect((await call("/api/loyalty/admin/users/u-async", { space: space.slug, method: "DELETE" })).status).toBe(204);

    const queued = await call("/api/loyalty/admin/events?async=true", {
      space: space.slug,
      body: { id: "p2", userId: "u-async", type: "visit", occurredAt: past },
    });
    expect(queued.status).toBe(202);
    const later = await call("/api/loyalty/admin/events?async=true", { space: space.slug, body: { id: "p3", userId: "u-async", type: "visit" } });
    expect(later.status).toBe(202);

    let balance: number | null = null;
    for (let i = 0; i < 50 && balance === null; i++) {
      await sleep(100);
      balance = await balanceOf(space, "u-async");
    }
    // Only the event that occurred after the erasure counted.
    expect(balance).toBe(5);
    const activity = await json(await call("/api/loyalty/admin/users/u-async/activity", { space: space.slug }));
    expect(activity.data.map((a: { eventId: string }) => a.eventId)).toEqual(["p3"]);
  });
});
