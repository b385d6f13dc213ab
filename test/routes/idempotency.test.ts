import { afterEach, describe, expect, it, vi } from "vitest";
import { answer, call, createSpace, expectProblem, type TestSpace } from "../helpers/harness";

// Idempotency-Key on Admin API POSTs that are not about one user (SPEC §5.1, §2): the
// first answer stored in D1 and replayed for 24 h; another payload 422; a duplicate while
// the first runs 409; requests refused before they ran leave the key free.

const ADMIN = "/api/loyalty/admin";
const metric = (extra: Record<string, unknown> = {}) => ({ name: "Points", kind: "currency", ...extra });

function post(space: TestSpace, path: string, body: unknown, key?: string, extra: Record<string, string> = {}) {
  return call(`${ADMIN}${path}`, { method: "POST", space: space.slug, body, headers: { ...(key ? { "Idempotency-Key": key } : {}), ...extra } });
}

async function metricIds(space: TestSpace): Promise<string[]> {
  const a = await answer(await call(`${ADMIN}/metrics?limit=100`, { space: space.slug }));
  return a.body.data.map((m: { id: string }) => m.id);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Idempotency-Key on Admin API POSTs", () => {
  it("the first answer is replayed (status, body, Location, ETag) and nothing is created twice", async () => {
    const space = await createSpace();
    const first = await answer(await post(space, "/metrics", metric(), "create-points"));
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await answer(await post(space, "/metrics", metric(), "create-points"));
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(again.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(again.headers.get("content-type")).toContain("application/json");
    // A generated id: a second create would have made a second metric.
    expect(await metricIds(space)).toEqual([first.body.id]);
  });

  it("the same key with another body, or on another path, is 422 idempotency_key_reused", async () => {
    const space = await createSpace();
    expect((await post(space, "/metrics", metric(), "k1")).status).toBe(201);
    const other = await post(space, "/metrics", metric({ name: "Other" }), "k1");
    const problem = await expectProblem(other, 422, "idempotency_key_reused");
    expect(problem.errors[0].path).toBe("header.idempotency-key");
    await expectProblem(await post(space, "/segments", { name: "S", type: "static" }, "k1"), 422, "idempotency_key_reused");
    expect(await metricIds(space)).toHaveLength(1);
  });

  it("key order in the body does not make another payload", async () => {
    const space = await createSpace();
    const a = await post(space, "/metrics", { name: "P", kind: "currency" }, "order");
    const b = await post(space, "/metrics", { kind: "currency", name: "P" }, "order");
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
  });

  it("10 concurrent requests with one key create one definition; the rest replay or answer 409 in progress", async () => {
    const space = await createSpace();
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(space, "/metrics", metric(), "burst").then(answer)));
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((a) => a.body.id)).size).toBe(1);
    for (const a of answers) {
      if (a.status === 201) continue;
      expect(a.status, a.text).toBe(409);
      expect(a.body.code).toBe("idempotency_in_progress");
    }
    expect(await metricIds(space)).toEqual([created[0]!.body.id]);
  });

  it("a business refusal (409) is stored and replayed; a malformed request (400) is not", async () => {
    const space = await createSpace();
    expect((await post(space, "/metrics", metric({ id: "taken" }))).status).toBe(201);
    const refused = await post(space, "/metrics", metric({ id: "taken" }), "dup");
    await expectProblem(refused, 409, "already_exists");
    const replayed = await post(space, "/metrics", metric({ id: "taken" }), "dup");
    await expectProblem(replayed, 409, "already_exists");
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");

    await expectProblem(await post(space, "/metrics", { name: "No kind" }, "fix-me"), 400, "invalid_request");
    const fixed = await post(space, "/metrics", metric({ id: "fixed" }), "fix-me");
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get("idempotent-replayed")).toBeNull();
  });

  it("keys are per space", async () => {
    const [a, b] = [await createSpace(), await createSpace()];
    const inA = await answer(await post(a, "/metrics", metric(), "shared"));
    const inB = await answer(await post(b, "/metrics", metric({ name: "B" }), "shared"));
    expect([inA.status, inB.status]).toEqual([201, 201]);
    expect(inB.headers.get("idempotent-replayed")).toBeNull();
    expect(inB.body.id).not.toBe(inA.body.id);
  });

  it("a stored answer expires after 24 hours: the key may then be used again", async () => {
    const space = await createSpace();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    expect((await post(space, "/metrics", metric(), "daily")).status).toBe(201);
    vi.setSystemTime(Date.now() + 23 * 3_600_000);
    await expectProblem(await post(space, "/metrics", metric({ name: "Next day" }), "daily"), 422, "idempotency_key_reused");
    vi.setSystemTime(Date.now() + 2 * 3_600_000);
    const reused = await post(space, "/metrics", metric({ name: "Next day" }), "daily");
    expect(reused.status).toBe(201);
    expect(reused.headers.get("idempotent-replayed")).toBeNull();
  });

  it.each(["/api-keys", "/webhooks"])("POST %s answers a secret and refuses the header (400, nothing created)", async (path) => {
    const space = await createSpace();
    const body = path === "/api-keys" ? { name: "k", scopes: ["read"] } : { name: "H", url: "https://example.com/hook", events: ["*"] };
    const problem = await expectProblem(await post(space, path, body, "secret"), 400, "idempotency_not_supported");
    expect(problem.errors[0].path).toBe("header.idempotency-key");
    const list = await answer(await call(`${ADMIN}${path}?limit=100`, { space: space.slug }));
    expect(list.body.data).toEqual([]);
  });

  it.each([
    ["too long", "k".repeat(256)],
    ["a space inside", "a b"],
    ["non-ASCII", "clé"],
  ])("a malformed key (%s) is 400 at header.idempotency-key", async (_name, key) => {
    const space = await createSpace();
    // (workerd sends a non-ASCII header value as UTF-8 bytes, which arrive as other characters)
    const res = await call(`${ADMIN}/metrics`, { method: "POST", space: space.slug, body: metric(), headers: { "Idempotency-Key": key } });
    const problem = await expectProblem(res, 400, "invalid_request");
    expect(problem.errors[0].path).toBe("header.idempotency-key");
    expect(await metricIds(space)).toEqual([]);
  });

  it("without the header every POST acts (no replay)", async () => {
    const space = await createSpace();
    expect((await post(space, "/metrics", metric())).status).toBe(201);
    expect((await post(space, "/metrics", metric())).status).toBe(201);
    expect(await metricIds(space)).toHaveLength(2);
  });
});

describe("Idempotency-Key on a user's operations (kept by the user's Durable Object)", () => {
  const setup = async () => {
    const space = await createSpace();
    expect((await post(space, "/metrics", metric({ id: "points", min: 0 }))).status).toBe(201);
    return space;
  };
  const adjust = (space: TestSpace, userId: string, amount: number, key?: string) =>
    post(space, `/users/${userId}/metrics/points/adjust`, { amount, reason: "goodwill" }, key);
  const balance = async (space: TestSpace, userId: string) => {
    const doc = await answer(await call(`${ADMIN}/users/${userId}`, { space: space.slug }));
    return doc.body.metrics.find((m: { metric: string }) => m.metric === "points").balance;
  };

  it("an adjustment replayed with its key credits once and answers the same", async () => {
    const space = await setup();
    const first = await answer(await adjust(space, "u1", 50, "adj-1"));
    expect(first.status, first.text).toBe(201);
    const again = await answer(await adjust(space, "u1", 50, "adj-1"));
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await balance(space, "u1")).toBe(50);
    await expectProblem(await adjust(space, "u1", 60, "adj-1"), 422, "idempotency_key_reused");
    expect(await balance(space, "u1")).toBe(50);
  });

  it("20 concurrent adjustments with one key credit once; the others replay or answer 409 in progress", async () => {
    const space = await setup();
    const answers = await Promise.all(Array.from({ length: 20 }, () => adjust(space, "u2", 7, "same").then(answer)));
    for (const a of answers) {
      if (a.status === 201) continue;
      expect(a.status, a.text).toBe(409);
      expect(a.body.code).toBe("idempotency_in_progress");
    }
    expect(answers.filter((a) => a.status === 201).length).toBeGreaterThanOrEqual(1);
    expect(await balance(space, "u2")).toBe(7);
  });

  it("a refused debit (409 insufficient_balance) is replayed even after the balance would allow it", async () => {
    const space = await setup();
    await expectProblem(await adjust(space, "u3", -10, "debit"), 409, "insufficient_balance");
    expect((await adjust(space, "u3", 100)).status).toBe(201);
    const replayed = await adjust(space, "u3", -10, "debit");
    await expectProblem(replayed, 409, "insufficient_balance");
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(await balance(space, "u3")).toBe(100);
  });

  it("keys are per user: the same key for two users acts for each", async () => {
    const space = await setup();
    expect((await adjust(space, "u4", 5, "k")).status).toBe(201);
    const other = await adjust(space, "u5", 5, "k");
    expect(other.status).toBe(201);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
  });

  it("a token request refuses the header", async () => {
    const space = await setup();
    await expectProblem(await post(space, "/users/u6/token", {}, "tok"), 400, "idempotency_not_supported");
  });
});
