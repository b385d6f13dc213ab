import { describe, expect, it } from "vitest";
import { requirementFor, scopesAllow, type Requirement, type Scope } from "../../src/auth/scopes";
import { configOf } from "../../src/config";
import { secretsEqual } from "../../src/crypto/hash";
import { open, seal } from "../../src/crypto/sealed";
import type { Env } from "../../src/env";
import { ApiError } from "../../src/errors";
import { decodeCursor, encodeCursor } from "../../src/http/cursor";
import { assertIfMatch, etagOf } from "../../src/http/etag";
import { formatPath } from "../../src/http/paths";
import { base64url, newId } from "../../src/lib/ids";
import { mergePatch } from "../../src/lib/merge-patch";
import { isValidTimeZone } from "../../src/lib/time";

// Pure, table-driven tests of the foundation's building blocks.

/** Runs `fn` and returns the ApiError it threw (fails the test when it throws nothing else). */
function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error("expected an ApiError, nothing was thrown");
}

describe("formatPath", () => {
  it.each<[ReadonlyArray<PropertyKey>, string | undefined, string]>([
    [[], undefined, ""],
    [["name"], undefined, "name"],
    [["steps", 1, "effects", 0, "product"], undefined, "steps[1].effects[0].product"],
    [[0], undefined, "[0]"],
    [[0, "a"], undefined, "[0].a"],
    [["a", 0, 1], undefined, "a[0][1]"],
    [["auth", "__proto__"], undefined, "auth.__proto__"],
    [["a-b", "c_d", "$e"], undefined, "a-b.c_d.$e"],
    [["a.b"], undefined, `["a.b"]`],
    [["x", "b c"], undefined, `x["b c"]`],
    [["1abc"], undefined, `["1abc"]`],
    [[""], undefined, `[""]`],
    [["-lead"], undefined, `["-lead"]`],
    [[`q"uote`], undefined, `["q\\"uote"]`],
    [["limit"], "query", "query.limit"],
    [["x-loyalty-space"], "header", "header.x-loyalty-space"],
    [[2], "path", "path[2]"],
    [[], "query", "query"],
  ])("%j (prefix %s) → %s", (path, prefix, expected) => {
    expect(prefix === undefined ? formatPath(path) : formatPath(path, prefix)).toBe(expected);
  });
});

describe("mergePatch (RFC 7396 appendix A)", () => {
  it.each<[unknown, unknown, unknown]>([
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])("%j + %j → %j", (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it("does not modify its inputs", () => {
    const target = { a: { b: 1, c: [1, 2] }, d: "x" };
    const patch = { a: { b: null, e: { f: 1 } }, d: null };
    const targetCopy = structuredClone(target);
    const patchCopy = structuredClone(patch);
    const result = mergePatch(target, patch);
    expect(result).toEqual({ a: { c: [1, 2], e: { f: 1 } } });
    expect(target).toEqual(targetCopy);
    expect(patch).toEqual(patchCopy);
  });
});

describe("list cursors", () => {
  const SPACE = "spc_a";

  it("round-trips within the same list and space", () => {
    for (const after of ["", "key_01", "a/b?c=d&é", "x".repeat(500)]) {
      const cursor = encodeCursor("api-keys", SPACE, after);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor, "api-keys", SPACE)).toBe(after);
    }
  });

  it("no cursor = the first page", () => {
    expect(decodeCursor(undefined, "api-keys", SPACE)).toBeUndefined();
  });

  const json64 = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));

  it.each<[string, string]>([
    ["another list", encodeCursor("spaces", SPACE, "k")],
    ["another space", encodeCursor("api-keys", "spc_b", "k")],
    ["garbage characters", "!!!not a cursor!!!"],
    ["empty string", ""],
    ["base64 of non-JSON", base64url(new TextEncoder().encode("hello"))],
    ["base64 of invalid UTF-8", base64url(new Uint8Array([0xff, 0xfe, 0xfd]))],
    ["JSON null", json64(null)],
    ["a JSON array", json64(["api-keys", SPACE, "k"])],
    ["wrong version", json64({ v: 2, list: "api-keys", space: SPACE, after: "k" })],
    ["after not a string", json64({ v: 1, list: "api-keys", space: SPACE, after: 5 })],
    ["after missing", json64({ v: 1, list: "api-keys", space: SPACE })],
    ["too long", encodeCursor("api-keys", SPACE, "x".repeat(800))],
  ])("%s → 400 invalid_cursor", (_name, cursor) => {
    const error = apiErrorOf(() => decodeCursor(cursor, "api-keys", SPACE));
    expect(error.code).toBe("invalid_cursor");
    expect(error.status).toBe(400);
    expect(error.errors).toEqual([{ path: "query.cursor", message: expect.any(String) }]);
  });

  it("the length limit is on the cursor text (1024)", () => {
    // A cursor of exactly 1024 characters still decodes.
    let after = "";
    while (encodeCursor("l", SPACE, after + "x").length <= 1024) after += "x";
    const cursor = encodeCursor("l", SPACE, after);
    expect(cursor.length).toBeLessThanOrEqual(1024);
    expect(cursor.length).toBeGreaterThan(1018);
    expect(decodeCursor(cursor, "l", SPACE)).toBe(after);
    expect(apiErrorOf(() => decodeCursor(encodeCursor("l", SPACE, after + "xxxx"), "l", SPACE)).code).toBe("invalid_cursor");
  });
});

describe("If-Match", () => {
  it("etagOf is the version in quotes", () => {
    expect(etagOf(7)).toBe(`"7"`);
  });

  it.each<[string | undefined, number | null]>([
    [undefined, 3],
    [undefined, null],
    ["*", 3],
    [`"3"`, 3],
    [` "3" `, 3],
    [`"2", "3"`, 3],
    [`"3","4"`, 3],
  ])("%j with version %j passes", (header, version) => {
    expect(() => assertIfMatch(header, version)).not.toThrow();
  });

  it.each<[string, number | null]>([
    ["*", null],
    [`"2"`, 3],
    [`W/"3"`, 3],
    [`3`, 3],
    [`"3"`, null],
    [`"30"`, 3],
    [``, 3],
    [`"2", W/"3"`, 3],
  ])("%j with version %j → 412 precondition_failed", (header, version) => {
    const error = apiErrorOf(() => assertIfMatch(header, version));
    expect(error.code).toBe("precondition_failed");
    expect(error.status).toBe(412);
  });
});

describe("requirementFor (which scope each admin request needs)", () => {
  it.each<[string, string, Requirement]>([
    ["GET", "/spaces", "root"],
    ["POST", "/spaces", "root"],
    ["GET", "/spaces/", "root"],
    ["HEAD", "/spaces", "root"],
    ["GET", "/spaces/fc", "read"],
    ["HEAD", "/spaces/fc", "read"],
    ["PATCH", "/spaces/fc", "admin"],
    ["POST", "/spaces/fc/rotate-signing-key", "admin"],
    ["GET", "/api-keys", "read"],
    ["POST", "/api-keys", "admin"],
    ["DELETE", "/api-keys/key_1", "admin"],
    ["POST", "/events", "events:write"],
    ["POST", "/events/batch", "events:write"],
    ["POST", "/events/", "events:write"],
    ["GET", "/events", "read"],
    ["DELETE", "/users/u1", "admin"],
    ["POST", "/users/u1/token", "users:write"],
    ["POST", "/users/u1/adjustments", "users:write"],
    ["PUT", "/users/u1", "users:write"],
    ["PUT", "/users/u1/push-subscriptions/x", "users:write"],
    ["PATCH", "/users/u1", "users:write"],
    ["DELETE", "/users/u1/push-subscriptions/x", "users:write"],
    ["GET", "/users/u1", "read"],
    ["GET", "/products/p1", "read"],
    ["GET", "/products/p1/codes", "admin"],
    ["HEAD", "/products/p1/codes", "admin"],
    ["PUT", "/products/p1", "admin"],
    ["DELETE", "/campaigns/c1", "admin"],
    ["OPTIONS", "/anything", "admin"],
    ["GET", "/", "read"],
  ])("%s %s needs %s", (method, path, needs) => {
    expect(requirementFor(method, path)).toBe(needs);
  });

  it.each<[Scope[], Requirement, boolean]>([
    [["admin"], "read", true],
    [["admin"], "events:write", true],
    [["admin"], "users:write", true],
    [["admin"], "admin", true],
    [["admin"], "root", false],
    [["read"], "read", true],
    [["read"], "admin", false],
    [["read"], "events:write", false],
    [["events:write"], "events:write", true],
    [["events:write"], "read", false],
    [["users:write"], "users:write", true],
    [["users:write"], "admin", false],
    [["read", "events:write"], "events:write", true],
    [["read", "users:write", "events:write"], "root", false],
  ])("scopes %j allow %s: %s", (scopes, needs, allowed) => {
    expect(scopesAllow(scopes, needs)).toBe(allowed);
  });
});

describe("newId", () => {
  const CROCKFORD = /^[0-9a-hjkmnp-tv-z]+$/;

  it.each(["spc", "key", "req", "cmp", "job"] as const)("%s_ followed by 26 Crockford base32 characters", (prefix) => {
    const id = newId(prefix);
    expect(id.startsWith(`${prefix}_`)).toBe(true);
    const rest = id.slice(prefix.length + 1);
    expect(rest).toHaveLength(26);
    expect(rest).toMatch(CROCKFORD);
  });

  it("encodes the time in the first 10 characters", () => {
    expect(newId("req", 0).slice(4, 14)).toBe("0000000000");
    expect(newId("req", 32).slice(4, 14)).toBe("0000000010");
    expect(newId("req", 31).slice(4, 14)).toBe("000000000z");
    expect(newId("req", 1_700_000_000_000).slice(4, 14)).toBe(newId("req", 1_700_000_000_000).slice(4, 14));
  });

  it("sorts by creation time", () => {
    const times = [0, 1, 31, 32, 1023, 1024, 1_600_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 2_000_000_000_000];
    const ids = [...times].reverse().map((t) => newId("met", t));
    expect([...ids].sort()).toEqual(times.map((t, i) => ids[times.length - 1 - i]));
  });

  it("is unique for the same millisecond", () => {
    const ids = new Set(Array.from({ length: 500 }, () => newId("key", 1_700_000_000_000)));
    expect(ids.size).toBe(500);
  });
});

describe("sealed secrets", () => {
  const K1 = "k1:first-secret-0123456789abcdef0123456789";
  const K2 = "k2:second-secret-0123456789abcdef012345678";

  it("round-trips under a secret, and the sealed text does not contain the plaintext", async () => {
    for (const plaintext of ["hello", "", "ünïcødé ✓ 🔑", "x".repeat(5000)]) {
      const sealed = await seal(plaintext, "ctx:a", K1);
      expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      if (plaintext.length > 3) expect(sealed).not.toContain(plaintext);
      expect(await open(sealed, "ctx:a", K1)).toBe(plaintext);
    }
  });

  it("uses a fresh IV each time", async () => {
    const a = await seal("same", "ctx", K1);
    const b = await seal("same", "ctx", K1);
    expect(a).not.toBe(b);
  });

  it("without a secret stores plain.<base64url>, which opens with or without a secret", async () => {
    const sealed = await seal("hello", "ctx", undefined);
    expect(sealed).toBe(`plain.${base64url(new TextEncoder().encode("hello"))}`);
    expect(await open(sealed, "ctx", undefined)).toBe("hello");
    expect(await open(sealed, "other", K1)).toBe("hello");
    expect(await seal("hello", "ctx", "")).toMatch(/^plain\./);
  });

  it("a value sealed under context A does not open under context B", async () => {
    const sealed = await seal("signing key", "signing-key:spc_a:kid1", K1);
    await expect(open(sealed, "signing-key:spc_b:kid1", K1)).rejects.toThrow();
    await expect(open(sealed, "signing-key:spc_a:kid1", K1)).resolves.toBe("signing key");
  });

  it("rotation: the first entry seals, every entry opens", async () => {
    const old = await seal("secret", "ctx", K1);
    expect(await open(old, "ctx", `${K2},${K1}`)).toBe("secret");
    const fresh = await seal("secret", "ctx", `${K2},${K1}`);
    expect(fresh.startsWith("v1.k2.")).toBe(true);
    expect(await open(fresh, "ctx", `${K2},${K1}`)).toBe("secret");
    expect(await open(fresh, "ctx", ` ${K2} , ${K1} `)).toBe("secret");
  });

  it("a value sealed with k1 does not open when only k2 is configured", async () => {
    const sealed = await seal("secret", "ctx", K1);
    await expect(open(sealed, "ctx", K2)).rejects.toThrow(/k1/);
  });

  it("the same key id with another secret does not open", async () => {
    const sealed = await seal("secret", "ctx", K1);
    await expect(open(sealed, "ctx", "k1:a-different-secret-with-the-same-id-000")).rejects.toThrow();
  });

  it("a sealed value needs a secret to open", async () => {
    const sealed = await seal("secret", "ctx", K1);
    await expect(open(sealed, "ctx", undefined)).rejects.toThrow();
  });

  it("tampered or unrecognised values do not open", async () => {
    const sealed = await seal("secret", "ctx", K1);
    const parts = sealed.split(".");
    const last = parts[3]!;
    const flipped = (last[0] === "A" ? "B" : "A") + last.slice(1);
    await expect(open([parts[0], parts[1], parts[2], flipped].join("."), "ctx", K1)).rejects.toThrow();
    await expect(open("v2.k1.aa.bb", "ctx", K1)).rejects.toThrow();
    await expect(open("garbage", "ctx", K1)).rejects.toThrow();
    await expect(open(`${sealed}.extra`, "ctx", K1)).rejects.toThrow();
  });

  it("an entry without a key id is the 'default' key", async () => {
    const sealed = await seal("secret", "ctx", "just-a-long-secret-without-an-id-0123456789");
    expect(sealed.startsWith("v1.default.")).toBe(true);
    expect(await open(sealed, "ctx", "just-a-long-secret-without-an-id-0123456789")).toBe("secret");
  });
});

describe("secretsEqual", () => {
  it.each<[string, string, boolean]>([
    ["abc", "abc", true],
    ["", "", true],
    ["lk_" + "a".repeat(43), "lk_" + "a".repeat(43), true],
    ["abc", "abd", false],
    ["abc", "abcd", false],
    ["abc", "", false],
    ["ABC", "abc", false],
    ["a".repeat(1000), "a".repeat(999), false],
  ])("%j vs %j → %s", async (a, b, equal) => {
    expect(await secretsEqual(a, b)).toBe(equal);
    expect(await secretsEqual(b, a)).toBe(equal);
  });
});

describe("isValidTimeZone", () => {
  it.each<[string, boolean]>([
    ["Europe/London", true],
    ["UTC", true],
    ["Asia/Calcutta", true], // legacy alias, accepted as given
    ["Asia/Kathmandu", true],
    ["Pacific/Kiritimati", true],
    ["America/Argentina/Buenos_Aires", true],
    ["Mars/Olympus", false],
    ["", false],
    ["Europe/London ", false],
    ["x".repeat(65), false],
  ])("%j → %s", (zone, valid) => {
    expect(isValidTimeZone(zone)).toBe(valid);
  });
});

describe("configOf", () => {
  // configOf caches per env object: every case builds a fresh one.
  const of = (vars: Record<string, string>) => configOf({ ...vars } as unknown as Env);

  it("defaults when nothing is set", () => {
    expect(of({})).toEqual({
      publicBaseUrl: undefined,
      spaceHostSuffix: undefined,
      allowPrivateTargets: false,
      definitionsTtlMs: 2000,
      logLevel: "info",
      maxActiveCampaigns: 1000,
      activityRetentionMs: 30 * 86_400_000,
      adminRateLimit: { limit: 10_000, windowSeconds: 60 },
      userRateLimit: { limit: 100, windowSeconds: 60 },
      adminRootKey: undefined,
      signingKeySecret: undefined,
      deliveryTimeoutMs: 15_000,
    });
  });

  it("the delivery timeout is shortened only under TEST_FAULT_INJECTION", () => {
    expect(of({ TEST_DELIVERY_TIMEOUT_MS: "50" }).deliveryTimeoutMs).toBe(15_000);
    expect(of({ TEST_DELIVERY_TIMEOUT_MS: "50", TEST_FAULT_INJECTION: "on" }).deliveryTimeoutMs).toBe(50);
  });

  it("ACTIVITY_RETENTION_DAYS: 30 days unless set, 1 to 3650, anything else refused", () => {
    expect(of({}).activityRetentionMs).toBe(30 * 86_400_000);
    expect(of({ ACTIVITY_RETENTION_DAYS: "" }).activityRetentionMs).toBe(30 * 86_400_000);
    expect(of({ ACTIVITY_RETENTION_DAYS: "7" }).activityRetentionMs).toBe(7 * 86_400_000);
    expect(of({ ACTIVITY_RETENTION_DAYS: "3650" }).activityRetentionMs).toBe(3650 * 86_400_000);
    for (const bad of ["0", "3651", "-1", "1.5", "thirty"]) expect(() => of({ ACTIVITY_RETENTION_DAYS: bad }), bad).toThrow();
  });

  it("ADMIN_RATE_LIMIT and USER_RATE_LIMIT: what the bindings are set to, limit/10 or limit/60, the SPEC's defaults unless set", () => {
    expect(of({}).adminRateLimit).toEqual({ limit: 10_000, windowSeconds: 60 });
    expect(of({}).userRateLimit).toEqual({ limit: 100, windowSeconds: 60 });
    expect(of({ ADMIN_RATE_LIMIT: "", USER_RATE_LIMIT: " " }).userRateLimit).toEqual({ limit: 100, windowSeconds: 60 });
    expect(of({ ADMIN_RATE_LIMIT: "5000/10" }).adminRateLimit).toEqual({ limit: 5000, windowSeconds: 10 });
    expect(of({ USER_RATE_LIMIT: " 30/60 " }).userRateLimit).toEqual({ limit: 30, windowSeconds: 60 });
    for (const bad of ["0/60", "100/30", "100", "100/60s", "-5/60", "1.5/60", "ten/60"]) {
      expect(() => of({ USER_RATE_LIMIT: bad }), bad).toThrow();
      expect(() => of({ ADMIN_RATE_LIMIT: bad }), bad).toThrow();
    }
  });

  it("empty strings mean unset", () => {
    expect(
      of({
        PUBLIC_BASE_URL: "",
        SPACE_HOST_SUFFIX: "  ",
        ALLOW_PRIVATE_WEBHOOK_TARGETS: "",
        DEFINITIONS_TTL_MS: "",
        LOG_LEVEL: "",
        MAX_ACTIVE_CAMPAIGNS: "",
        ADMIN_ROOT_KEY: "",
        SIGNING_KEY_SECRET: "",
      }),
    ).toEqual(of({}));
  });

  it("parses and normalises set values", () => {
    expect(
      of({
        PUBLIC_BASE_URL: "https://loyalty.example.com//",
        SPACE_HOST_SUFFIX: ".Loyalty.Example.COM.",
        ALLOW_PRIVATE_WEBHOOK_TARGETS: "true",
        DEFINITIONS_TTL_MS: "0",
        LOG_LEVEL: "warn",
        MAX_ACTIVE_CAMPAIGNS: "5000",
        ADMIN_ROOT_KEY: " root ",
        SIGNING_KEY_SECRET: "k1:abc",
      }),
    ).toEqual({
      publicBaseUrl: "https://loyalty.example.com",
      spaceHostSuffix: "loyalty.example.com",
      allowPrivateTargets: true,
      definitionsTtlMs: 0,
      logLevel: "warn",
      maxActiveCampaigns: 5000,
      activityRetentionMs: 30 * 86_400_000,
      adminRateLimit: { limit: 10_000, windowSeconds: 60 },
      userRateLimit: { limit: 100, windowSeconds: 60 },
      adminRootKey: "root",
      signingKeySecret: "k1:abc",
      deliveryTimeoutMs: 15_000,
    });
  });

  it.each<[string, boolean]>([
    ["true", true],
    ["1", true],
    ["false", false],
    ["0", false],
    ["yes", false],
  ])("ALLOW_PRIVATE_WEBHOOK_TARGETS=%j → %s", (value, expected) => {
    expect(of({ ALLOW_PRIVATE_WEBHOOK_TARGETS: value }).allowPrivateTargets).toBe(expected);
  });

  it("an unknown LOG_LEVEL falls back to info", () => {
    expect(of({ LOG_LEVEL: "loud" }).logLevel).toBe("info");
  });

  it.each(["abc", "-1", "1.5", "1e400", "12abc"])("DEFINITIONS_TTL_MS=%j throws", (value) => {
    expect(() => of({ DEFINITIONS_TTL_MS: value })).toThrow();
  });

  it("MAX_ACTIVE_CAMPAIGNS=abc throws", () => {
    expect(() => of({ MAX_ACTIVE_CAMPAIGNS: "abc" })).toThrow();
  });

  it("is computed once per env object", () => {
    const env = { DEFINITIONS_TTL_MS: "5" } as unknown as Env;
    expect(configOf(env)).toBe(configOf(env));
  });
});
