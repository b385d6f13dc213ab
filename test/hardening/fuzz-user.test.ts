import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkAnswer, describeCase, fuzzOperation, send, seedFor, type Case, type Operation } from "../helpers/fuzz";
import { ADMIN, RUNS, d1Rows, fuzzEach, fuzzPart, prepareUser, programme, selfAnswersLikeDirect, world } from "../helpers/fuzz-setup";
import { browserSubscription } from "../helpers/admin-matrix";
import { ROOT_KEY, answer, callDirect } from "../helpers/harness";

// Schema-driven fuzzing of the User API and the public routes (issue #10; SPEC §2, §9,
// §10), part 3 of 3. Every /me operation is called with a valid user token of a user with
// state of every kind (one user per operation: the per-user rate limit is 100 a minute),
// so hostile input reaches validation; the user's state, the witness user, the programme
// and the space's D1 rows must be unchanged after each batch. Also: the public routes the
// document does not describe (the document itself, the docs page) and paths no route has.

const PART = "user";
const { report, operations, mine } = await fuzzPart(PART, "test/hardening/fuzz-user.test.ts");

/** Public routes outside the document: fuzzed with what applies to a GET without inputs. */
const UNDOCUMENTED: Operation[] = ["/api/loyalty/openapi.json", "/api/loyalty/docs"].map((path) => ({
  key: `GET ${path}`,
  method: "GET",
  path,
  group: "public",
  pathParams: [],
  queryParams: [],
  pathMethods: ["GET"],
}));

describe("fuzzing the User API and the public routes from the OpenAPI document (part 3)", () => {
  it("through SELF.fetch hostile inputs are answered as in-process", { timeout: 60_000 }, () =>
    selfAnswersLikeDirect(mine, ["PUT /api/loyalty/me/push-subscriptions", "GET /api/loyalty/me/metrics/{id}/transactions", "GET /api/loyalty/spaces/{slug}/.well-known/jwks.json"], ["content-type", "invalid-utf8", "huge", "deep", "unicode", "path-param", "cursor", "space-header"], prepareUser, report));

  fuzzEach(mine, prepareUser, report);

  it.each(UNDOCUMENTED.map((op) => [op.key, op] as const))("%s (not in the document)", { timeout: 60_000 }, async (_key, op) => {
    const w = await world();
    await fuzzOperation({
      target: { op, base: { params: {}, query: {} }, foreignSpaceId: w.f.other.id },
      credentials: { key: null },
      report,
      numRuns: RUNS,
      snapshot: async () => ({ programme: await programme(w.f), d1: await d1Rows(w.f.space.id) }),
    });
  });

  it("paths no route has are 404/405 problems (admin key, user token, anonymous), never a 5xx", { timeout: 60_000 }, async () => {
    const w = await world();
    const minted = await answer(await callDirect(`${ADMIN}/users/${w.witness}/token`, { space: w.f.space.slug, body: {} }));
    expect(minted.status, minted.text).toBe(201);
    const op: Operation = { key: "(no route)", method: "GET", path: "/api/loyalty/{any}", group: "public", pathParams: [], queryParams: [], pathMethods: [] };
    const segment = fc.oneof(
      fc.constantFrom("%00", "%ED%A0%80", "%C0%AF", "%FF", "%2F", "%5C", "..%2F", "%E2%80%AE", "x".repeat(5000), "__proto__", "constructor", "%25"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).filter((s) => !/^\.+$/.test(s)).map((s) => s.replace(/[^A-Za-z0-9]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, "0")}`.slice(0, 3))),
    );
    const prefixes = ["/api/loyalty/admin/zz-fuzz/", "/api/loyalty/me/zz-fuzz/", "/api/loyalty/zz-fuzz/", "/api/loyalty/admin/users/u/zz-fuzz/", "/api/loyalty/spaces/zz/"];
    const credentials = [{ key: ROOT_KEY }, { key: w.f.keys.admin, space: w.f.space.slug }, { key: null, space: w.f.space.slug, headers: { Authorization: `Bearer ${minted.body.token}` } }, { key: null }];
    const before = { programme: await programme(w.f), d1: await d1Rows(w.f.space.id) };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...prefixes), fc.array(segment, { minLength: 1, maxLength: 3 }), fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE"), fc.constantFrom(...credentials), async (prefix, parts, method, cred) => {
        const c: Case = { family: "no-route", how: "unrouted path", method, path: `${prefix}${parts.join("/")}`, headers: {} };
        const a = await send(c, cred);
        report.record(op, c, a.status);
        expect(a.status, describeCase(op, c, a)).toBeLessThan(500);
        expect([401, 404, 405], describeCase(op, c, a)).toContain(a.status);
        checkAnswer(op, c, a);
      }),
      { seed: seedFor(op.key), numRuns: 60, endOnFailure: true },
    );
    expect({ programme: await programme(w.f), d1: await d1Rows(w.f.space.id) }).toEqual(before);
  });

  it("a push subscription whose p256dh is too long or not base64url is 400 at keys.p256dh, not a 500 (found by this suite)", async () => {
    const w = await world();
    const minted = await answer(await callDirect(`${ADMIN}/users/${w.witness}/token`, { space: w.f.space.slug, body: {} }));
    const good = await browserSubscription();
    for (const p256dh of ["x".repeat(201), "x".repeat(257), "!!!!", "a=b", "%%", "x"]) {
      const body = { ...good, keys: { ...good.keys, p256dh } };
      for (const [label, path, options] of [
        ["admin", `${ADMIN}/users/${w.witness}/push-subscriptions`, { space: w.f.space.slug }],
        ["me", "/api/loyalty/me/push-subscriptions", { key: null, space: w.f.space.slug, headers: { Authorization: `Bearer ${minted.body.token}` } }],
      ] as const) {
        const a = await answer(await callDirect(path, { ...options, method: "PUT", body }));
        expect([a.status, a.body?.code], `${label} ${p256dh.slice(0, 20)}: ${a.text}`).toEqual([400, "invalid_request"]);
        expect(a.body.errors.map((e: { path: string }) => e.path), label).toContain("keys.p256dh");
      }
    }
  });

  it("every operation of the document in this part was fuzzed", async () => {
    const w = await world();
    expect(w.operations.map((o) => o.key)).toEqual(operations.map((o) => o.key));
    expect(mine.filter((o) => o.group === "user").length).toBeGreaterThan(10);
    expect(mine.filter((o) => o.group === "public").length).toBeGreaterThan(0);
    const fuzzed = report.fuzzed();
    expect(mine.filter((o) => !fuzzed.has(o.key)).map((o) => o.key)).toEqual([]);
  });
});

afterAll(() => {
  console.log(report.line({ part: PART, operations: mine.length, documentOperations: operations.length, undocumented: UNDOCUMENTED.map((o) => o.key) }));
});
