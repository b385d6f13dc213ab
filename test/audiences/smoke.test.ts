import { describe, expect, it, vi } from "vitest";
vi.setConfig({ testTimeout: 60_000 });
import { freshAdmin, uniqueUser } from "../helpers/users-api";

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("audiences smoke", () => {
  it("dynamic segment, directory, job", async () => {
    const admin = await freshAdmin();
    await admin.define("metrics", "points", { name: "Points", kind: "currency" });
    await admin.define("segments", "rich", { name: "Rich", type: "dynamic", rule: { path: "user.metrics.points.balance", op: "gte", value: 100 } });
    const user = uniqueUser();
    const outcome = await admin.apply({ id: "e1", userId: user, type: "x" });
    expect(outcome).toBeDefined();
    const adj = await admin.adjust(user, "points", { amount: 150, reason: "r" });
    expect(adj.status, adj.text).toBe(201);
    const doc = await admin.user(user);
    expect(doc.body.segments).toEqual([{ segment: "rich", name: "Rich" }]);
    const listed = await until(() => admin.get(`/users?segment=rich`), (a) => a.body?.data?.length === 1);
    expect(listed.body, listed.text).toMatchObject({ data: [{ userId: user, segments: ["rich"] }] });
    const seg = await admin.get("/segments/rich");
    expect(seg.body.memberCount).toBe(1);
    const change = await admin.at("PATCH", "/segments/rich", { rule: { path: "user.metrics.points.balance", op: "gte", value: 1000 } });
    expect(change.status, change.text).toBe(200);
    const jobId = change.headers.get("loyalty-job");
    expect(jobId).toBeTruthy();
    const job = await until(() => admin.get(`/jobs/${jobId}`), (a) => a.body?.status === "finished");
    expect(job.body, job.text).toMatchObject({ status: "finished", total: 1, processed: 1, changed: 1 });
    const after = await admin.user(user);
    expect(after.body.segments).toEqual([]);
    const gone = await until(() => admin.get(`/users?segment=rich`), (a) => a.body?.data?.length === 0);
    expect(gone.body.data).toEqual([]);
  });
});
