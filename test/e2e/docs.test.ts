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

// The Worker cannot read a rate-limiting binding's settings, so the headers announce the
// vars ADMIN_RATE_LIMIT and USER_RATE_LIMIT (src/http/rate-limit.ts): they must say what
// wrangler.toml's [[ratelimits]] blocks are set to.
describe("wrangler.toml rate limits", () => {
  const toml = readFileSync(path.resolve(import.meta.dirname, "../../wrangler.toml"), "utf8");
  const bindings = new Map(
    [...toml.matchAll(/\[\[ratelimits\]\]\s*\nname = "(\w+)"[^[]*?simple = \{ limit = (\d+), period = (\d+) \}/g)].map((m) => [m[1], `${m[2]}/${m[3]}`]),
  );
  const varOf = (name: string) => new RegExp(`^${name} = "([^"]*)"`, "m").exec(toml)?.[1];

  it.each([
    ["ADMIN_RATE_LIMITER", "ADMIN_RATE_LIMIT"],
    ["USER_RATE_LIMITER", "USER_RATE_LIMIT"],
  ])("%s is set to what %s says", (binding, variable) => {
    expect(bindings.get(binding)).toBeDefined();
    expect(varOf(variable)).toBe(bindings.get(binding));
  });
});
