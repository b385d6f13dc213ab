import { afterAll, describe, it } from "vitest";
import { IsolationReport } from "../helpers/isolation";
import { b64, firstCursor, fixture, flip, read, refusedOrOwn, unb64, variants, whole, type Variant } from "../helpers/isolation-cursors";

// The isolation matrix, cursors (issue #10, case 2), tampered and forged cursors, first half (the other: isolation-cursors-tamper-2.test.ts):
// every paginated route given its own cursor with characters flipped (every fourth one;
// fewer on /me, where a user has 100 requests a minute), truncated, extended, garbage,
// and forged bodies (another space, list or position). The answer is 400 — or, for a
// cursor that still decodes to this very list (cursors are opaque, not signed), rows of
// the caller's own list only. Never a row of B or a 500.

const report = new IsolationReport("isolation-cursors-tamper.test.ts");
const tally = { refused: 0, own: 0 };

describe("tampered and forged cursors: 400, or the caller's own rows; never a 500", () => {
  for (const listed of variants().filter((_v, i) => i % 2 === 0)) {
    // /me lists are read by m1t…m4t here (the same lists as m1…m4's), whose requests are spare.
    const v: Variant = typeof listed.as === "object" ? { ...listed, as: { user: `${listed.as.user}t` } } : listed;
    it(v.label, async () => {
      const f = await fixture();
      const own = await whole(f, f.a, v);
      const cursor = await firstCursor(f, f.a, v);
      const fromB = await firstCursor(f, f.b, v);
      const body = JSON.parse(unb64(cursor)) as Record<string, unknown>;
      const bBody = JSON.parse(unb64(fromB)) as Record<string, unknown>;
      const check = async (c: string, label: string) => {
        tally[refusedOrOwn(report, f, v, await read(f, f.a, v, c), own, label)] += 1;
      };
      const step = typeof v.as === "object" ? Math.max(1, Math.ceil(cursor.length / 40)) : 4;
      for (let i = 0; i < cursor.length; i += step) await check(flip(cursor, i), `flip at ${i}`);
      const garbage = [
        "",
        "x",
        "!!!!",
        "%00",
        "null",
        cursor.slice(0, Math.floor(cursor.length / 2)),
        `${cursor}A`,
        `${cursor}==`,
        cursor.split("").reverse().join(""),
        b64("{}"),
        b64("[]"),
        b64("null"),
        b64("42"),
        b64('"x"'),
        b64("{not json"),
        b64("\u00ff\u00fe"),
        b64(JSON.stringify({ ...body, v: 2 })),
        b64(JSON.stringify({ ...body, list: `${body.list}x` })),
        b64(JSON.stringify({ ...body, list: "spaces", space: "*" })),
        b64(JSON.stringify({ ...body, space: f.b.id })),
        b64(JSON.stringify({ ...body, space: "*" })),
        b64(JSON.stringify({ ...body, after: 1 })),
        b64(JSON.stringify({ v: 1, list: body.list, space: body.space })),
        // B's cursor with only its space rewritten to A's: B's position in A's list.
        b64(JSON.stringify({ ...bBody, space: body.space })),
        // Positions that are not keys of this list.
        b64(JSON.stringify({ ...body, after: "not-a-number" })),
        b64(JSON.stringify({ ...body, after: "" })),
        b64(JSON.stringify({ ...body, after: "-1" })),
        b64(JSON.stringify({ ...body, after: "1e309" })),
        b64(JSON.stringify({ ...body, after: "x|y|z" })),
        b64(JSON.stringify({ ...body, after: "\u0000" })),
        b64(JSON.stringify({ ...body, after: "'; DROP TABLE spaces; --" })),
        "A".repeat(1025),
      ];
      for (const [n, g] of garbage.entries()) await check(g, `garbage #${n}`);
    });
  }
});

afterAll(() => report.print({ tampered: tally }));
