import { afterAll, describe, expect, it } from "vitest";
import { USER_METRIC } from "../helpers/admin-matrix";
import { ADMIN, d1Rows, fuzzEach, fuzzPart, partOf, prepareAdmin, selfAnswersLikeDirect, world } from "../helpers/fuzz-setup";
import { answer, callDirect, uniqueSlug } from "../helpers/harness";

// Schema-driven fuzzing of the Admin API (issue #10; SPEC §2, §10), part 1 of 3: every
// admin operation of the OpenAPI document except the definition CRUD routes and the
// programme (fuzz-definitions.test.ts); /me and public routes are in fuzz-user.test.ts.
// Each operation gets its fixed examples (one per family of hostile input its schema
// allows, plus the pinned ones of fuzz.ts casesFor) and RUNS seeded random cases; every
// answer is a 4xx problem (400s with an errors[].path), never a 5xx, and the batch leaves
// the programme, the space's D1 rows, the witness user and the operation's own user as
// they were (test/helpers/fuzz.ts, fuzz-setup.ts).
//
// Requests go in-process (callDirect): SELF.fetch gets slower with every request a file
// makes (cloudflare/workers-sdk#15446); the first test sends a few through SELF.fetch.

const PART = "admin";
const { report, operations, mine } = await fuzzPart(PART, "test/hardening/fuzz-admin.test.ts");

describe("fuzzing the Admin API from its OpenAPI document (part 1: spaces, keys, events, users, audiences, rewards, outbound)", () => {
  it("through SELF.fetch hostile inputs are answered as in-process", { timeout: 60_000 }, () =>
    selfAnswersLikeDirect(mine, ["POST /api/loyalty/admin/events/batch", "PATCH /api/loyalty/admin/users/{userId}", "GET /api/loyalty/admin/users"], ["content-type", "invalid-utf8", "huge", "deep", "path-param", "cursor", "query-param"], prepareAdmin, report));

  fuzzEach(mine, prepareAdmin, report);

  // Free text takes any Unicode: what is stored is what was sent. A lone surrogate half is no
  // Unicode text (UTF-8 cannot carry it): it used to be accepted and stored as U+FFFD in
  // columns (API key and space names, adjustment reasons); now 400 at its path.
  it("free text keeps NUL, RTL marks, emoji and combining marks exactly; a lone surrogate is 400 at its path", { timeout: 30_000 }, async () => {
    const w = await world();
    const { f } = w;
    const at = (method: string, path: string, body?: unknown, space: string | null = f.space.slug) =>
      callDirect(`${ADMIN}${path}`, { method, space: space ?? undefined, body }).then(answer);
    for (const text of ["a\u0000b", "\u202eevil", "a\u200fb", "😀👨‍👩‍👧‍👦", "e\u0301", "a\ufeffb", "\u{10ffff}", "İı", "a\u2028b"]) {
      const key = await at("POST", "/api-keys", { name: text, scopes: ["read"] });
      expect(key.status, key.text).toBe(201);
      expect((await at("GET", `/api-keys/${key.body.id}`)).body.name).toBe(text);
      const space = await at("POST", "/spaces", { slug: uniqueSlug("u"), name: text }, null);
      expect(space.status, space.text).toBe(201);
      expect((await at("GET", `/spaces/${space.body.slug}`, undefined, null)).body.name).toBe(text);
      const user = uniqueSlug("u");
      expect((await at("POST", `/users/${user}/metrics/${USER_METRIC}/adjust`, { amount: 1, reason: text })).status).toBe(201);
      expect((await at("GET", `/users/${user}/metrics/${USER_METRIC}/transactions`)).body.data[0].reason).toBe(text);
    }
    const before = await d1Rows(f.space.id);
    for (const text of ["\ud800", "x\udfff", "\udfff\ud800", "a\ud83d"]) {
      for (const [path, body, where] of [
        ["/api-keys", { name: text, scopes: ["read"] }, "name"],
        [`/users/${w.witness}/metrics/${USER_METRIC}/adjust`, { amount: 1, reason: text }, "reason"],
        ["/events", { id: uniqueSlug("e"), userId: w.witness, type: "t", data: { note: text } }, "data.note"],
        ["/segments", { name: "ok", type: "static", [text]: 1 }, `[${JSON.stringify(text)}]`],
      ] as const) {
        const a = await at("POST", path, body);
        expect([a.status, a.body.code], `${path} ${JSON.stringify(text)}: ${a.text}`).toEqual([400, "invalid_request"]);
        expect(a.body.errors, a.text).toEqual([{ path: where, message: expect.any(String) }]);
      }
    }
    expect(await d1Rows(f.space.id)).toEqual(before);
  });

  it("every operation of the document is fuzzed by exactly one file, and this file's all were", async () => {
    const w = await world();
    expect(w.operations.map((o) => o.key)).toEqual(operations.map((o) => o.key));
    const parts = new Map<string, number>();
    for (const op of operations) parts.set(partOf(op), (parts.get(partOf(op)) ?? 0) + 1);
    expect([...parts.keys()].sort()).toEqual(["admin", "definitions", "user"]);
    expect(mine.length).toBeGreaterThan(30);
    expect([...report.fuzzed()].sort()).toEqual(mine.map((o) => o.key).sort());
  });
});

afterAll(() => {
  console.log(report.line({ part: PART, operations: mine.length, documentOperations: operations.length }));
});
