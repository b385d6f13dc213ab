import { describe, expect, it } from "vitest";
import { call, createSpace, json } from "../helpers/harness";

describe("events smoke", () => {
  it("ingests, replays, refuses a reused id", async () => {
    const space = await createSpace();
    const s = space.slug;
    await call("/api/loyalty/admin/metrics/points", { space: s, method: "PUT", body: { name: "Points", kind: "currency" } });
    let r = await call("/api/loyalty/admin/campaigns/read", {
      space: s, method: "PUT",
      body: { name: "Read", status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "s", trigger: { eventType: "article_read" }, effects: [{ type: "metric.add", metric: "points", amount: 10 }] }] },
    });
    expect(r.status, await r.clone().text()).toBe(201);
    r = await call("/api/loyalty/admin/events", { space: s, body: { id: "e1", userId: "u1", type: "article_read" } });
    expect(r.status, await r.clone().text()).toBe(201);
    console.log(JSON.stringify(await r.clone().json()));
    r = await call("/api/loyalty/admin/events", { space: s, body: { id: "e1", userId: "u1", type: "article_read" } });
    expect(r.status).toBe(200);
    expect((await json(r)).duplicate).toBe(true);
    r = await call("/api/loyalty/admin/events", { space: s, body: { id: "e1", userId: "u1", type: "other" } });
    expect(r.status).toBe(409);
  });
});

describe("users smoke", () => {
  it("profile, adjust, me views", async () => {
    const { mintToken, me } = await import("../helpers/harness");
    const space = await createSpace();
    const s = space.slug;
    await call("/api/loyalty/admin/metrics/points", { space: s, method: "PUT", body: { name: "Points", kind: "currency" } });
    let r = await call("/api/loyalty/admin/users/u9", { space: s, method: "PUT", body: { attributes: { country: "GB" }, timezone: "Europe/London" } });
    expect(r.status, await r.clone().text()).toBe(201);
    r = await call("/api/loyalty/admin/users/u9/metrics/points/adjust", { space: s, body: { amount: 50, reason: "goodwill" } });
    expect(r.status, await r.clone().text()).toBe(201);
    r = await call("/api/loyalty/admin/users/u9/metrics/points/adjust", { space: s, body: { amount: -80, reason: "oops" } });
    expect(r.status, await r.clone().text()).toBe(409);
    r = await call("/api/loyalty/admin/users/u9/metrics/points/transactions", { space: s });
    console.log(await r.clone().text());
    const token = await mintToken(space, "u9");
    for (const p of ["", "/metrics", "/metrics/points", "/metrics/points/transactions", "/rewards", "/segments", "/ladders", "/campaigns", "/activity"]) {
      r = await me(token, s, `/api/loyalty/me${p}`);
      expect(r.status, `${p} ${await r.clone().text()}`).toBe(200);
    }
    r = await me(token, s, "/api/loyalty/me");
    console.log(await r.clone().text());
    r = await call("/api/loyalty/admin/users/u9", { space: s });
    console.log(await r.clone().text());
  });
});

describe("batch and async smoke", () => {
  it("batch applies per user in order; async goes through the ingest queue", async () => {
    const space = await createSpace();
    const s = space.slug;
    await call("/api/loyalty/admin/metrics/points", { space: s, method: "PUT", body: { name: "Points", kind: "currency" } });
    await call("/api/loyalty/admin/campaigns/read", {
      space: s, method: "PUT",
      body: { name: "Read", status: "active", repeat: { limit: null }, steps: [{ id: "s", name: "s", trigger: { eventType: "read" }, effects: [{ type: "metric.add", metric: "points", amount: 1 }] }] },
    });
    let r = await call("/api/loyalty/admin/events/batch", {
      space: s,
      body: { events: [{ id: "a1", userId: "a", type: "read" }, { id: "b1", userId: "b", type: "read" }, { id: "a1", userId: "a", type: "read" }, { userId: "c", type: "read" }, { id: "x", userId: "a", type: "loyalty.nope" }] },
    });
    expect(r.status, await r.clone().text()).toBe(200);
    const { results } = await json(r);
    expect(results.map((x: { status: number }) => x.status)).toEqual([201, 201, 200, 400, 400]);
    r = await call("/api/loyalty/admin/events?async=true", { space: s, body: { id: "q1", userId: "q", type: "read" } });
    expect(r.status, await r.clone().text()).toBe(202);
    // The queue consumer runs in the background of the test runtime; wait for it.
    const { mintToken, me } = await import("../helpers/harness");
    const token = await mintToken(space, "q");
    let balance = 0;
    for (let i = 0; i < 50 && balance === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const view = await json(await me(token, s, "/api/loyalty/me/metrics/points"));
      balance = view.balance;
    }
    expect(balance).toBe(1);
  });
});
