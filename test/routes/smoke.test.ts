import { describe, expect, it } from "vitest";
import { call, createKey, createSpace, json, me, mintToken } from "../helpers/harness";

describe("smoke", () => {
  it("health, space, key, token, me", async () => {
    const health = await call("/api/loyalty/health", { key: null });
    expect(health.status).toBe(200);
    expect(await json(health)).toEqual({ status: "ok" });
    const space = await createSpace();
    const key = await createKey(space, ["admin"]);
    expect(key.secret).toMatch(/^lk_/);
    const token = await mintToken(space, "u_1");
    const res = await me(token, space.slug);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({ userId: "u_1", space: space.slug });
  });
});
