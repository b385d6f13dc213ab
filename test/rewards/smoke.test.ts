import { describe, expect, it, vi } from "vitest";
import { freshAdmin } from "../helpers/users-api";
vi.setConfig({ testTimeout: 60_000 });

describe("rewards smoke", () => {
  it("redeem with stock and codes", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("products", "scarf", { name: "Scarf", type: "reward", price: { metric: "points", amount: 100 }, stock: 2 });
    const codes = await admin.at("POST", "/products/scarf/codes", { codes: ["A1", "A2", "A3"] });
    expect(codes.status, codes.text).toBe(200);
    expect(codes.body).toEqual({ product: "scarf", added: 3, available: 3, allocated: 0 });
    expect((await admin.adjust("u1", "points", { amount: 500, reason: "seed" })).status).toBe(201);
    const r1 = await admin.at("POST", "/users/u1/redemptions", { product: "scarf" });
    expect(r1.status, r1.text).toBe(201);
    expect(r1.body).toMatchObject({ product: "scarf", quantity: 1, price: { metric: "points", amount: 100 }, code: "A1", balance: 400 });
    const r2 = await admin.at("POST", "/users/u1/redemptions", { product: "scarf" });
    expect(r2.status, r2.text).toBe(201);
    const r3 = await admin.at("POST", "/users/u1/redemptions", { product: "scarf" });
    expect(r3.status, r3.text).toBe(409);
    expect(r3.body.code).toBe("out_of_stock");
    const product = await admin.get("/products/scarf");
    expect(product.body).toMatchObject({ stock: 0, redeemed: 2 });
    expect(await admin.balance("u1", "points")).toBe(300);
    const doc = await admin.user("u1");
    expect(doc.body.rewards).toEqual([{ product: "scarf", type: "reward", name: "Scarf", quantity: 2, codes: ["A1", "A2"] }]);
    const cancel = await admin.at("POST", `/users/u1/redemptions/${r1.body.id}/cancel`, { restock: true });
    expect(cancel.status, cancel.text).toBe(200);
    expect((await admin.get("/products/scarf")).body).toMatchObject({ stock: 1, redeemed: 1 });
    expect(await admin.balance("u1", "points")).toBe(400);
    const again = await admin.at("POST", `/users/u1/redemptions/${r1.body.id}/cancel`, { restock: true });
    expect(again.status).toBe(409);
  });
});
