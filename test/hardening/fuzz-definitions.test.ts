import { afterAll, describe, expect, it } from "vitest";
import { fuzzEach, fuzzPart, partOf, prepareAdmin, selfAnswersLikeDirect, world } from "../helpers/fuzz-setup";

// Schema-driven fuzzing of the Admin API (issue #10; SPEC §2, §4, §10), part 2 of 3: the six
// routes of every definition kind and the programme document. The bodies are generated
// from the kinds' own zod schemas (as JSON Schema), which the service validates with
// (fuzz-setup.ts bodySchemaOf): PATCH bodies and the programme document are described
// loosely in the OpenAPI document.
// Each operation gets its fixed examples (one per family of hostile input its schema
// allows, plus the pinned ones of fuzz.ts casesFor) and RUNS seeded random cases; every
// answer is a 4xx problem (400s with an errors[].path), never a 5xx, and the batch leaves
// the programme, the space's D1 rows, the witness user and the operation's own user as
// they were (test/helpers/fuzz.ts, fuzz-setup.ts).
//
// Requests go in-process (callDirect): SELF.fetch gets slower with every request a file
// makes (cloudflare/workers-sdk#15446); the first test sends a few through SELF.fetch.

const PART = "definitions";
const { report, operations, mine } = await fuzzPart(PART, "test/hardening/fuzz-definitions.test.ts");

describe("fuzzing the Admin API from its OpenAPI document (part 2: definitions and the programme)", () => {
  it("through SELF.fetch hostile inputs are answered as in-process", { timeout: 60_000 }, () =>
    selfAnswersLikeDirect(mine, ["PUT /api/loyalty/admin/campaigns/{id}", "PUT /api/loyalty/admin/programme", "GET /api/loyalty/admin/products"], ["content-type", "invalid-utf8", "huge", "deep", "path-param", "cursor", "query-param"], prepareAdmin, report));

  fuzzEach(mine, prepareAdmin, report);

  it("every operation of the document is fuzzed by exactly one file, and this file's all were", async () => {
    const w = await world();
    expect(w.operations.map((o) => o.key)).toEqual(operations.map((o) => o.key));
    const parts = new Map<string, number>();
    for (const op of operations) parts.set(partOf(op), (parts.get(partOf(op)) ?? 0) + 1);
    expect([...parts.keys()].sort()).toEqual(["admin", "definitions", "user"]);
    expect(mine.length).toBe(8 * 6 + 2);
    expect([...report.fuzzed()].sort()).toEqual(mine.map((o) => o.key).sort());
  });
});

afterAll(() => {
  console.log(report.line({ part: PART, operations: mine.length, documentOperations: operations.length }));
});
