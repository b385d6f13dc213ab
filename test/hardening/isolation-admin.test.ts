import { describe, expect, it } from "vitest";
import { ROUTE_OPS, adminCases, defineAdminIsolation } from "../helpers/isolation-admin";
import { ADMIN, adminKey, documentedOperations } from "../helpers/isolation";

// The isolation matrix, Admin API (issue #10, case 1): the first half of the cases of
// test/helpers/isolation-admin.ts (the second half runs in isolation-admin-2.test.ts),
// and the check that every Admin API operation has cases.

describe("coverage of the Admin API matrix", () => {
  it("every Admin API operation of the OpenAPI document (and of admin-matrix ROUTES) has isolation cases", async () => {
    const documented = (await documentedOperations()).filter((op) => op.path.startsWith(`${ADMIN}/`)).map(adminKey);
    const covered = new Set(adminCases().map((c) => c.op));
    expect(documented.filter((op) => !covered.has(op))).toEqual([]);
    expect([...covered].filter((op) => !documented.includes(op))).toEqual([]);
    expect(ROUTE_OPS.filter((op) => !covered.has(op))).toEqual([]);
  });
});

defineAdminIsolation("isolation-admin.test.ts", (_c, i) => i % 2 === 0);
