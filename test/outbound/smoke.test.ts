import { afterEach, describe, expect, it, vi } from "vitest";
import { freshAdmin } from "../helpers/users-api";
vi.setConfig({ testTimeout: 60_000 });
afterEach(() => vi.restoreAllMocks());

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("outbound smoke", () => {
  it("a subscribed webhook is delivered and logged", async () => {
    const seen: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init);
      if (request.url.startsWith("https://hooks.example.com/")) {
        seen.push({ url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() });
        return new Response("ok", { status: 200 });
      }
      return real(input as RequestInfo, init);
    });
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    const hook = await admin.define("webhooks", "crm", { url: "https://hooks.example.com/in", events: ["loyalty.metric.changed"] });
    expect(hook.secret).toMatch(/^whsec_/);
    expect((await admin.adjust("u1", "points", { amount: 5, reason: "r" })).status).toBe(201);
    await until(async () => seen.length, (n) => n >= 1);
    expect(seen).toHaveLength(1);
    const body = JSON.parse(seen[0]!.body);
    expect(body).toMatchObject({ type: "loyalty.metric.changed", userId: "u1", space: admin.space.id, data: { metric: "points", delta: 5 } });
    expect(seen[0]!.headers["webhook-id"]).toBe(body.id);
    expect(seen[0]!.headers["webhook-signature"]).toMatch(/^v1,/);
    const log = await until(() => admin.get("/webhooks/crm/deliveries"), (a) => a.body?.data?.[0]?.status === "delivered");
    expect(log.body.data).toMatchObject([{ id: body.id, status: "delivered", attempts: 1, lastStatusCode: 200 }]);
  });
});
