import { afterAll, describe, expect, it } from "vitest";
import { IsolationReport, ROOT_KEY, adminCall, documentedOperations, meCall } from "../helpers/isolation";
import { firstCursor, fixture, foreign, read, refused, refusedOrOwn, rowKey, variants, whole } from "../helpers/isolation-cursors";

// The isolation matrix, cursors (issue #10, case 2), part 1: every paginated route of the
// OpenAPI document given (a) the cursor of the same list obtained in space B, or for B's
// user of the same id, and (b) the cursor of every other list, filter, user and metric of
// space A (the whole cross product). Tampered cursors: isolation-cursors-tamper*.test.ts.
// Fixture and variants: test/helpers/isolation-cursors.ts.

const report = new IsolationReport("isolation-cursors.test.ts");

describe("coverage", () => {
  it("every operation with a cursor parameter in the OpenAPI document has variants here", async () => {
    const paginated = (await documentedOperations()).filter((op) => op.params.some((p) => p.in === "query" && p.name === "cursor")).map((op) => op.key);
    const covered = new Set(variants().map((v) => v.op));
    expect(paginated.filter((op) => !covered.has(op))).toEqual([]);
    expect([...covered].filter((op) => !paginated.includes(op))).toEqual([]);
    expect(paginated.length).toBeGreaterThanOrEqual(16);
  });
});

describe("a cursor of the same list from space B (or B's same-named user) is 400 in A", () => {
  for (const v of variants()) {
    it(v.label, async () => {
      const f = await fixture();
      // Control: A's own cursor pages on, with A's rows.
      const own = await whole(f, f.a, v);
      const next = await read(f, f.a, v, await firstCursor(f, f.a, v));
      expect(next.status, next.text).toBe(200);
      report.noLeak(next, foreign(f), `${v.label}: A's own second page`);
      for (const row of next.body.data) expect(own.has(rowKey(row))).toBe(true);
      report.count(v.op);

      // The root key's list of spaces belongs to no space: its cursor is the same everywhere.
      if (v.as === "root") return;
      const fromB = await firstCursor(f, f.b, v);
      refused(report, f, v, await read(f, f.a, v, fromB), "B's cursor");
      if (v.as === "admin") {
        const path = `${v.path}&cursor=${encodeURIComponent(fromB)}`;
        // The root key naming A, with B's cursor.
        refused(report, f, v, await adminCall(path, { key: ROOT_KEY, space: f.a.slug }), "B's cursor, root key naming A");
        // A's key naming B (to make B's cursor fit): refused before the cursor is read.
        const cross = await adminCall(path, { key: f.a.admin, space: f.b.slug });
        report.count(v.op);
        report.noLeak(cross, foreign(f), `${v.label}: A's key naming B`);
        report.problem(cross, 403, "wrong_space", `${v.label}: A's key naming B`);
      } else {
        // A's cursor presented by B's user of the same id, in B.
        const mine = await firstCursor(f, f.a, v);
        const bToken = f.tokens.get(`${f.b.slug}:${v.as.user}`)!;
        const a = await meCall(`${v.path}&cursor=${encodeURIComponent(mine)}`, bToken, { space: f.b.slug });
        report.count(v.op);
        report.problem(a, 400, "invalid_cursor", `${v.label}: A's cursor on B's same user`);
        // And A's user's token with B's space header: the token is A's, refused by B.
        const aToken = f.tokens.get(`${f.a.slug}:${v.as.user}`)!;
        const swapped = await meCall(`${v.path}&cursor=${encodeURIComponent(fromB)}`, aToken, { space: f.b.slug });
        report.count(v.op);
        report.noLeak(swapped, foreign(f), `${v.label}: A's token naming B`);
        report.problem(swapped, 401, "token_invalid", `${v.label}: A's token naming B`);
      }
    });
  }
});

describe("a cursor of another list, filter, user or metric is 400 (every pair of lists in A)", () => {
  for (const target of variants()) {
    it(target.label, async () => {
      const f = await fixture();
      const own = await whole(f, f.a, target);
      for (const source of variants()) {
        if (source.label === target.label) continue;
        const cursor = await firstCursor(f, f.a, source);
        const a = await read(f, f.a, target, cursor);
        if (source.group !== undefined && source.group === target.group) {
          // The same list by another route (e.g. the admin ledger of m1 and m1's /me ledger).
          expect(refusedOrOwn(report, f, target, a, own, `cursor of ${source.label}`)).toBe("own");
        } else {
          refused(report, f, target, a, `cursor of ${source.label}`);
        }
      }
    });
  }
});

afterAll(() => report.print());
