import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors";

// docs/errors.md is the operator-facing list of error codes; it must name every code the
// service can answer, with the status the code maps to.
describe("docs/errors.md", () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs/errors.md"), "utf8");

  it.each(Object.entries(ERROR_CODES))("lists %s with status %i", (code, status) => {
    expect(doc).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });

  it("lists no code that does not exist", () => {
    const listed = [...doc.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
