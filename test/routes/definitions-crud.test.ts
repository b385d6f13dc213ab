import { describe, expect, it } from "vitest";
import { expectProblem, json, type TestSpace } from "../helpers/harness";
import {
  ADMIN,
  ISO_MS,
  KIND_FIXTURES,
  api,
  call,
  createSpace,
  viaSelf,
  createDefinition,
  listIds,
  programmeVersion,
  readDefinition,
  setupPrerequisites,
  type KindFixture,
} from "../helpers/definitions-api";

// Admin API definitions CRUD (SPEC §2 lists/ETags/errors, §4): the same six routes for
// every kind, through the real Worker and the real D1. One fixture per kind
// (test/helpers/definitions-api.ts); every test builds its own spaces.

/**
 * The answer of a definition: the stored body plus id and server fields (segments also
 * count their members, products their redemptions: none in these tests, which have no users).
 */
function view(kind: string, id: string, body: Record<string, unknown>, version: number, archived = false): Record<string, unknown> {
  return {
    id,
    ...body,
    version,
    createdAt: expect.stringMatching(ISO_MS),
    updatedAt: expect.stringMatching(ISO_MS),
    archivedAt: archived ? expect.stringMatching(ISO_MS) : null,
    ...(kind === "segments" ? { memberCount: 0 } : {}),
    // Products: the stock that remains (no takes in these tests) and what was redeemed.
    ...(kind === "products" ? { redeemed: 0 } : {}),
  };
}

/** The answer without a webhook's one-time `secret`. */
function withoutSecret(answer: Record<string, unknown>): Record<string, unknown> {
  const { secret: _secret, ...rest } = answer;
  return rest;
}

async function newSpace(fixture: KindFixture): Promise<TestSpace> {
  const space = await createSpace();
  await setupPrerequisites(space, fixture);
  return space;
}

const MALFORMED_IDS = ["Bad-Id", "a.b", "_lead", "x".repeat(65)];

describe.each(KIND_FIXTURES.map((f) => [f.kind, f] as const))("%s", (kind, fx) => {
  const base = `/${kind}`;

  it("POST without id: 201, a generated prefixed id, Location, ETag \"1\", defaults applied; GET answers the same", async () => {
    const space = await newSpace(fx);
    const res = await api(space, "POST", base, fx.body);
    expect(res.status, await res.clone().text()).toBe(201);
    const answer = await json(res);
    expect(answer.id).toMatch(new RegExp(`^${fx.prefix}_[0-9a-z]{26}$`));
    expect(res.headers.get("location")).toBe(`${ADMIN}/${kind}/${answer.id}`);
    expect(res.headers.get("etag")).toBe('"1"');
    expect(withoutSecret(answer)).toEqual(view(fx.kind, answer.id, fx.stored, 1));
    expect(answer.createdAt).toBe(answer.updatedAt);

    const got = await readDefinition(space, kind, answer.id);
    expect(got.etag).toBe('"1"');
    expect(got.body).toEqual(withoutSecret(answer));
  });

  it("POST with id: 201 under that id; a second POST with that id is 409 already_exists at path id and changes nothing", async () => {
    const space = await newSpace(fx);
    const res = await api(space, "POST", base, { id: "main", ...fx.body });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get("location")).toBe(`${ADMIN}/${kind}/main`);
    expect(res.headers.get("etag")).toBe('"1"');
    const answer = await json(res);
    expect(withoutSecret(answer)).toEqual(view(fx.kind, "main", fx.stored, 1));

    const version = await programmeVersion(space);
    const again = await api(space, "POST", base, { id: "main", ...fx.replacement });
    const problem = await expectProblem(again, 409, "already_exists");
    expect(problem.errors).toEqual([{ path: "id", message: expect.any(String) }]);
    expect((await readDefinition(space, kind, "main")).body).toEqual(withoutSecret(answer));
    expect(await programmeVersion(space)).toBe(version);
  });

  it("POST with a malformed id is 400 at path id; server fields in a body are ignored", async () => {
    const space = await newSpace(fx);
    const problem = await expectProblem(await api(space, "POST", base, { id: "Bad.Id", ...fx.body }), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "id", message: expect.any(String) }]);
    expect(await listIds(space, kind, "include=archived")).toEqual([]);

    const echoed = await createDefinition(space, kind, {
      id: "echo",
      ...fx.body,
      version: 7,
      createdAt: "2000-01-01T00:00:00.000Z",
      updatedAt: "2000-01-01T00:00:00.000Z",
      archivedAt: null,
    });
    expect(withoutSecret(echoed)).toEqual(view(fx.kind, "echo", fx.stored, 1));
    expect(echoed.createdAt).not.toBe("2000-01-01T00:00:00.000Z");
  });

  it("GET of an unknown id is 404 not_found; a malformed id is 400 at path.id", async () => {
    const space = await newSpace(fx);
    await createDefinition(space, kind, { id: "known", ...fx.body });
    await expectProblem(await api(space, "GET", `${base}/unknown`), 404, "not_found");
    for (const bad of MALFORMED_IDS) {
      const problem = await expectProblem(await api(space, "GET", `${base}/${bad}`), 400, "invalid_request");
      expect(problem.errors).toEqual([{ path: "path.id", message: expect.any(String) }]);
      for (const method of ["PUT", "PATCH"]) {
        const write = await api(space, method, `${base}/${bad}`, fx.body);
        expect((await expectProblem(write, 400, "invalid_request")).errors).toEqual([{ path: "path.id", message: expect.any(String) }]);
      }
      const del = await expectProblem(await api(space, "DELETE", `${base}/${bad}`), 400, "invalid_request");
      expect(del.errors).toEqual([{ path: "path.id", message: expect.any(String) }]);
    }
    expect(await listIds(space, kind, "include=archived")).toEqual(["known"]);
  });

  it("PUT creates (201), replaces (200, version 2), and the same body again is a no-op (version and ETag unchanged)", async () => {
    const space = await newSpace(fx);
    const created = await api(space, "PUT", `${base}/put-me`, fx.body);
    expect(created.status, await created.clone().text()).toBe(201);
    expect(created.headers.get("location")).toBe(`${ADMIN}/${kind}/put-me`);
    expect(created.headers.get("etag")).toBe('"1"');
    const first = await json(created);
    expect(withoutSecret(first)).toEqual(view(fx.kind, "put-me", fx.stored, 1));

    const replaced = await api(space, "PUT", `${base}/put-me`, fx.replacement);
    expect(replaced.status, await replaced.clone().text()).toBe(200);
    expect(replaced.headers.get("etag")).toBe('"2"');
    expect(replaced.headers.get("location")).toBeNull();
    const second = await json(replaced);
    expect(second).toEqual(view(fx.kind, "put-me", fx.replaced, 2));
    expect(second.createdAt).toBe(first.createdAt);

    const version = await programmeVersion(space);
    // The same body again, with the id and server fields a client echoes from a GET.
    const same = await api(space, "PUT", `${base}/put-me`, { ...second, version: 99 });
    expect(same.status, await same.clone().text()).toBe(200);
    expect(same.headers.get("etag")).toBe('"2"');
    expect(await json(same)).toEqual(second);
    expect(await programmeVersion(space)).toBe(version);

    const got = await readDefinition(space, kind, "put-me");
    expect(got).toEqual({ body: second, etag: '"2"' });
  });

  it("PUT with an id in the body that differs from the path is 400 at path id and stores nothing", async () => {
    const space = await newSpace(fx);
    const problem = await expectProblem(await api(space, "PUT", `${base}/one`, { id: "two", ...fx.body }), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "id", message: expect.any(String) }]);
    await expectProblem(await api(space, "GET", `${base}/one`), 404, "not_found");
    await expectProblem(await api(space, "GET", `${base}/two`), 404, "not_found");
    // The same id in the body is fine.
    const ok = await api(space, "PUT", `${base}/one`, { id: "one", ...fx.body });
    expect(ok.status, await ok.clone().text()).toBe(201);
  });

  it("If-None-Match: * creates but is 412 on an existing id; If-Match stale is 412, current succeeds (PUT, PATCH, DELETE)", async () => {
    const space = await newSpace(fx);
    const created = await api(space, "PUT", `${base}/guarded`, fx.body, { "If-None-Match": "*" });
    expect(created.status, await created.clone().text()).toBe(201);
    await expectProblem(await api(space, "PUT", `${base}/guarded`, fx.replacement, { "If-None-Match": "*" }), 412, "precondition_failed");
    // If-Match on an id that does not exist yet is 412 too (nothing to match).
    await expectProblem(await api(space, "PUT", `${base}/absent`, fx.body, { "If-Match": '"1"' }), 412, "precondition_failed");
    await expectProblem(await api(space, "GET", `${base}/absent`), 404, "not_found");

    const replaced = await api(space, "PUT", `${base}/guarded`, fx.replacement, { "If-Match": '"1"' });
    expect(replaced.status, await replaced.clone().text()).toBe(200);
    expect(replaced.headers.get("etag")).toBe('"2"');

    // Stale tags (and a weak one) on every write: 412, nothing changes.
    await expectProblem(await api(space, "PUT", `${base}/guarded`, fx.body, { "If-Match": '"1"' }), 412, "precondition_failed");
    await expectProblem(await api(space, "PATCH", `${base}/guarded`, fx.patch, { "If-Match": '"1"' }), 412, "precondition_failed");
    await expectProblem(await api(space, "PATCH", `${base}/guarded`, fx.patch, { "If-Match": 'W/"2"' }), 412, "precondition_failed");
    await expectProblem(await api(space, "DELETE", `${base}/guarded`, undefined, { "If-Match": '"1"' }), 412, "precondition_failed");
    const after = await readDefinition(space, kind, "guarded");
    expect(after.etag).toBe('"2"');
    expect(after.body).toEqual(view(fx.kind, "guarded", fx.replaced, 2));

    const patched = await api(space, "PATCH", `${base}/guarded`, { [fx.optional.field]: fx.optional.value }, { "If-Match": '"0", "2"' });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect(patched.headers.get("etag")).toBe('"3"');
    const deleted = await api(space, "DELETE", `${base}/guarded`, undefined, { "If-Match": '"3"' });
    expect(deleted.status, await deleted.clone().text()).toBe(204);
  });

  it.each([["application/json"], ["application/merge-patch+json"]])(
    "PATCH (%s) is a merge patch: one field changes, the rest is kept, version +1",
    async (contentType) => {
      const space = await newSpace(fx);
      const original = withoutSecret(await createDefinition(space, kind, { id: "p", ...fx.body }));
      const res = await api(space, "PATCH", `${base}/p`, fx.patch, { "Content-Type": contentType });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(res.headers.get("etag")).toBe('"2"');
      expect(res.headers.get("location")).toBeNull();
      const answer = await json(res);
      expect(answer).toEqual(view(fx.kind, "p", fx.patched, 2));
      expect(answer.createdAt).toBe(original.createdAt);
      expect((await readDefinition(space, kind, "p")).body).toEqual(answer);

      // The same patch again changes nothing: version and definitions version stay.
      const version = await programmeVersion(space);
      const again = await api(space, "PATCH", `${base}/p`, fx.patch, { "Content-Type": contentType });
      expect(again.status).toBe(200);
      expect(again.headers.get("etag")).toBe('"2"');
      expect(await json(again)).toEqual(answer);
      expect(await programmeVersion(space)).toBe(version);
    },
  );

  it("PATCH with null removes an optional field back to its default; an empty patch is a no-op", async () => {
    const space = await newSpace(fx);
    await createDefinition(space, kind, { id: "opt", ...fx.body });
    const set = await api(space, "PATCH", `${base}/opt`, { [fx.optional.field]: fx.optional.value });
    expect(set.status, await set.clone().text()).toBe(200);
    const withValue = await json(set);
    expect(withValue).toEqual(view(fx.kind, "opt", { ...fx.stored, [fx.optional.field]: fx.optional.storedValue ?? fx.optional.value }, 2));

    const cleared = await api(space, "PATCH", `${base}/opt`, { [fx.optional.field]: null }, { "Content-Type": "application/merge-patch+json" });
    expect(cleared.status, await cleared.clone().text()).toBe(200);
    expect(await json(cleared)).toEqual(view(fx.kind, "opt", { ...fx.stored, [fx.optional.field]: fx.optional.default }, 3));

    const empty = await api(space, "PATCH", `${base}/opt`, {});
    expect(empty.status).toBe(200);
    expect(empty.headers.get("etag")).toBe('"3"');
  });

  it("PATCH that leaves the definition invalid is refused and changes nothing", async () => {
    const space = await newSpace(fx);
    const original = withoutSecret(await createDefinition(space, kind, { id: "v", ...fx.body }));
    const problem = await expectProblem(await api(space, "PATCH", `${base}/v`, { nope: 1 }), 400, "invalid_request");
    expect(problem.errors).toEqual([{ path: "nope", message: "unknown field" }]);
    // A required field removed by null.
    const required = Object.keys(fx.body)[0]!;
    const removed = await expectProblem(await api(space, "PATCH", `${base}/v`, { [required]: null }), 400, "invalid_request");
    expect(removed.errors.map((e: { path: string }) => e.path)).toEqual([required]);
    expect((await readDefinition(space, kind, "v")).body).toEqual(original);
  });

  it("PATCH of an unknown id is 404 and creates nothing", async () => {
    const space = await newSpace(fx);
    await expectProblem(await api(space, "PATCH", `${base}/ghost`, fx.patch), 404, "not_found");
    await expectProblem(await api(space, "PATCH", `${base}/ghost`, fx.body), 404, "not_found");
    await expectProblem(await api(space, "GET", `${base}/ghost`), 404, "not_found");
    await expectProblem(await api(space, "DELETE", `${base}/ghost`), 404, "not_found");
  });

  if (fx.archivable) {
    it("DELETE archives: 204, gone from the list, listed with ?include=archived, still readable, the id never reused", async () => {
      const space = await newSpace(fx);
      const kept = withoutSecret(await createDefinition(space, kind, { id: "kept", ...fx.body }));
      await createDefinition(space, kind, { id: "gone", ...fx.body });
      const versionBefore = await programmeVersion(space);

      const res = await api(space, "DELETE", `${base}/gone`);
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      expect(await programmeVersion(space)).toBe(versionBefore + 1);

      expect(await listIds(space, kind)).toEqual(["kept"]);
      const archivedList = await json(await api(space, "GET", `${base}?include=archived`));
      expect(archivedList.data.map((d: { id: string }) => d.id)).toEqual(["gone", "kept"]);
      expect(archivedList.data[1]).toEqual(kept);

      const got = await readDefinition(space, kind, "gone");
      expect(got.etag).toBe('"2"');
      const archivedBody = kind === "campaigns" ? { ...fx.stored, status: "archived" } : fx.stored;
      expect(got.body).toEqual(view(fx.kind, "gone", archivedBody, 2, true));
      expect(archivedList.data[0]).toEqual(got.body);

      const version = await programmeVersion(space);
      // Deleting again is idempotent and moves nothing.
      expect((await api(space, "DELETE", `${base}/gone`)).status).toBe(204);

      const post = await expectProblem(await api(space, "POST", base, { id: "gone", ...fx.body }), 409, "already_exists");
      expect(post.errors).toEqual([{ path: "id", message: expect.any(String) }]);
      const put = await expectProblem(await api(space, "PUT", `${base}/gone`, fx.body), 409, "already_exists");
      expect(put.errors).toEqual([{ path: "id", message: expect.any(String) }]);
      await expectProblem(await api(space, "PATCH", `${base}/gone`, fx.patch), 409, "frozen");

      expect(await readDefinition(space, kind, "gone")).toEqual(got);
      expect(await programmeVersion(space)).toBe(version);
      // The programme export lists live definitions only.
      const exported = await json(await api(space, "GET", "/programme"));
      expect(exported[kind].map((d: { id: string }) => d.id)).toEqual(["kept"]);
    });
  } else {
    it("DELETE erases: 204, then 404 everywhere, not even with ?include=archived, and the id is never reused", async () => {
      const space = await newSpace(fx);
      await createDefinition(space, kind, { id: "kept", ...fx.body });
      await createDefinition(space, kind, { id: "gone", ...fx.body });
      const versionBefore = await programmeVersion(space);

      const res = await api(space, "DELETE", `${base}/gone`);
      expect(res.status).toBe(204);
      expect(await programmeVersion(space)).toBe(versionBefore + 1);

      await expectProblem(await api(space, "GET", `${base}/gone`), 404, "not_found");
      expect(await listIds(space, kind)).toEqual(["kept"]);
      expect(await listIds(space, kind, "include=archived")).toEqual(["kept"]);
      await expectProblem(await api(space, "DELETE", `${base}/gone`), 404, "not_found");
      await expectProblem(await api(space, "PATCH", `${base}/gone`, fx.patch), 404, "not_found");

      const version = await programmeVersion(space);
      const post = await expectProblem(await api(space, "POST", base, { id: "gone", ...fx.body }), 409, "already_exists");
      expect(post.errors).toEqual([{ path: "id", message: expect.any(String) }]);
      const put = await expectProblem(await api(space, "PUT", `${base}/gone`, fx.body), 409, "already_exists");
      expect(put.errors).toEqual([{ path: "id", message: expect.any(String) }]);
      await expectProblem(await api(space, "GET", `${base}/gone`), 404, "not_found");
      expect(await programmeVersion(space)).toBe(version);
    });
  }

  it("lists page by id: 7 definitions with limit=3 give 3 + 3 + 1, ids ascending, nextCursor null at the end", async () => {
    const space = await newSpace(fx);
    const ids = ["d-5", "a-1", "g-0", "c-3", "b-9", "f-2", "e-7"];
    for (const id of ids) await createDefinition(space, kind, { id, ...fx.body });

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const res = await api(space, "GET", `${base}${query}`);
      expect(res.status, await res.clone().text()).toBe(200);
      const page = await json(res);
      expect(Object.keys(page).sort()).toEqual(["data", "nextCursor"]);
      for (const item of page.data) expect(withoutSecret(item)).toEqual(view(fx.kind, item.id, fx.stored, 1));
      pages.push(page.data.map((d: { id: string }) => d.id));
      cursor = page.nextCursor;
      expect(pages.length).toBeLessThanOrEqual(3);
    } while (cursor !== null);
    expect(pages).toEqual([
      ["a-1", "b-9", "c-3"],
      ["d-5", "e-7", "f-2"],
      ["g-0"],
    ]);
    // Listed answers never carry a webhook's secret.
    const all = await json(await api(space, "GET", `${base}?limit=100`));
    expect(all.data.every((d: Record<string, unknown>) => !("secret" in d))).toBe(true);
    expect(all.nextCursor).toBeNull();
  });

  it("a cursor of another kind, another space or the archived list is 400 invalid_cursor", async () => {
    const space = await newSpace(fx);
    const other = await newSpace(fx);
    for (const id of ["a", "b"]) {
      await createDefinition(space, kind, { id, ...fx.body });
      await createDefinition(other, kind, { id, ...fx.body });
    }
    const otherKind = kind === "segments" ? "streaks" : "segments";
    await createDefinition(space, otherKind, { id: "x1", ...(otherKind === "segments" ? { name: "S", type: "static" } : { name: "S", period: "day" }) });
    await createDefinition(space, otherKind, { id: "x2", ...(otherKind === "segments" ? { name: "S", type: "static" } : { name: "S", period: "day" }) });

    const cursorOf = async (s: TestSpace, path: string) => {
      const page = await json(await api(s, "GET", path));
      expect(page.nextCursor).toEqual(expect.any(String));
      return page.nextCursor as string;
    };
    const own = await cursorOf(space, `${base}?limit=1`);
    expect((await json(await api(space, "GET", `${base}?limit=1&cursor=${encodeURIComponent(own)}`))).data.map((d: { id: string }) => d.id)).toEqual(["b"]);

    const foreign = [
      await cursorOf(space, `/${otherKind}?limit=1`),
      await cursorOf(other, `${base}?limit=1`),
      await cursorOf(space, `${base}?limit=1&include=archived`),
      "not-a-cursor",
    ];
    for (const cursor of foreign) {
      const problem = await expectProblem(await api(space, "GET", `${base}?limit=1&cursor=${encodeURIComponent(cursor)}`), 400, "invalid_cursor");
      expect(problem.errors).toEqual([{ path: "query.cursor", message: expect.any(String) }]);
    }
    // And the other way round: this list's cursor on the archived list.
    await expectProblem(await api(space, "GET", `${base}?limit=1&include=archived&cursor=${encodeURIComponent(own)}`), 400, "invalid_cursor");
  });

  it("bad list parameters are 400 at their query path", async () => {
    const space = await newSpace(fx);
    for (const [query, path] of [
      ["limit=0", "query.limit"],
      ["limit=101", "query.limit"],
      ["include=erased", "query.include"],
    ] as const) {
      const problem = await expectProblem(await api(space, "GET", `${base}?${query}`), 400, "invalid_request");
      expect(problem.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    }
  });

  it("a definition of space A is invisible from space B: 404 to GET, PATCH, DELETE; PUT creates B's own; lists stay apart", async () => {
    const a = await newSpace(fx);
    const b = await newSpace(fx);
    const original = withoutSecret(await createDefinition(a, kind, { id: "shared", ...fx.body }));
    const versionA = await programmeVersion(a);

    await expectProblem(await api(b, "GET", `${base}/shared`), 404, "not_found");
    await expectProblem(await api(b, "PATCH", `${base}/shared`, fx.patch), 404, "not_found");
    await expectProblem(await api(b, "DELETE", `${base}/shared`), 404, "not_found");
    await expectProblem(await api(b, "PUT", `${base}/shared`, fx.replacement, { "If-Match": '"1"' }), 412, "precondition_failed");
    expect(await listIds(b, kind, "include=archived")).toEqual([]);

    const put = await api(b, "PUT", `${base}/shared`, fx.replacement);
    expect(put.status, await put.clone().text()).toBe(201);
    expect(put.headers.get("etag")).toBe('"1"');
    expect(withoutSecret(await json(put))).toEqual(view(fx.kind, "shared", fx.replaced, 1));

    expect((await readDefinition(a, kind, "shared")).body).toEqual(original);
    expect(await programmeVersion(a)).toBe(versionA);

    await createDefinition(a, kind, { id: "only-a", ...fx.body });
    expect(await listIds(a, kind)).toEqual(["only-a", "shared"]);
    expect(await listIds(b, kind, "include=archived")).toEqual(["shared"]);
    // Deleting B's copy leaves A's alone.
    expect((await api(b, "DELETE", `${base}/shared`)).status).toBe(204);
    expect((await readDefinition(a, kind, "shared")).body).toEqual(original);
  });
});

describe("through SELF.fetch (the pool's service binding) the routes answer alike", () => {
  it.each(KIND_FIXTURES.map((f) => [f.kind, f] as const))("%s: create, read, replace, patch, list, delete", async (kind, fx) => {
    const space = await newSpace(fx);
    const self = (method: string, path: string, body?: unknown) => viaSelf(`${ADMIN}/${kind}${path}`, { method, space: space.slug, body });
    const created = await self("POST", "", { id: "via-self", ...fx.body });
    expect(created.status, await created.clone().text()).toBe(201);
    expect(created.headers.get("location")).toBe(`${ADMIN}/${kind}/via-self`);
    expect(withoutSecret(await json(created))).toEqual(view(fx.kind, "via-self", fx.stored, 1));
    const got = await self("GET", "/via-self");
    expect(got.headers.get("etag")).toBe('"1"');
    expect(await json(got)).toEqual(view(fx.kind, "via-self", fx.stored, 1));
    const replaced = await self("PUT", "/via-self", fx.replacement);
    expect(replaced.status).toBe(200);
    expect(await json(replaced)).toEqual(view(fx.kind, "via-self", fx.replaced, 2));
    const patched = await self("PATCH", "/via-self", { [fx.optional.field]: fx.optional.value });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect(patched.headers.get("etag")).toBe('"3"');
    expect((await json(await self("GET", ""))).data.map((d: { id: string }) => d.id)).toEqual(["via-self"]);
    expect((await self("DELETE", "/via-self")).status).toBe(204);
    await expectProblem(await self("POST", "", { id: "via-self", ...fx.body }), 409, "already_exists");
    // The in-process handler sees the same state.
    expect(await listIds(space, kind, "include=archived")).toEqual(fx.archivable ? ["via-self"] : []);
  });
});

describe("definitions version (SPEC §5.9): +1 per actual change, never on a no-op", () => {
  it("moves once per create, replace, patch and delete, and not for no-ops or refused writes", async () => {
    const space = await createSpace();
    const start = await programmeVersion(space);
    expect(start).toBe(0);

    await createDefinition(space, "metrics", { id: "pts", name: "Points", kind: "currency" });
    expect(await programmeVersion(space)).toBe(1);
    expect((await api(space, "PUT", "/metrics/pts", { name: "Points", kind: "currency" })).status).toBe(200);
    expect(await programmeVersion(space)).toBe(1);
    expect((await api(space, "PUT", "/metrics/pts", { name: "Pointz", kind: "currency" })).status).toBe(200);
    expect(await programmeVersion(space)).toBe(2);
    expect((await api(space, "PATCH", "/metrics/pts", { name: "Pointz" })).status).toBe(200);
    expect(await programmeVersion(space)).toBe(2);
    expect((await api(space, "PATCH", "/metrics/pts", { max: 10 })).status).toBe(200);
    expect(await programmeVersion(space)).toBe(3);
    // Refused writes do not move it either.
    await expectProblem(await api(space, "PATCH", "/metrics/pts", { kind: "gauge" }), 409, "frozen");
    await expectProblem(await api(space, "POST", "/metrics", { id: "pts", name: "P", kind: "counter" }), 409, "already_exists");
    await expectProblem(await api(space, "POST", "/metrics", { name: "P" }), 400, "invalid_request");
    expect(await programmeVersion(space)).toBe(3);
    expect((await api(space, "DELETE", "/metrics/pts")).status).toBe(204);
    expect(await programmeVersion(space)).toBe(4);
    expect((await api(space, "DELETE", "/metrics/pts")).status).toBe(204);
    expect(await programmeVersion(space)).toBe(4);
    // Reads never move it.
    await readDefinition(space, "metrics", "pts");
    await listIds(space, "metrics", "include=archived");
    expect(await programmeVersion(space)).toBe(4);
  });

  it("versions are per space", async () => {
    const a = await createSpace();
    const b = await createSpace();
    await createDefinition(a, "segments", { name: "A", type: "static" });
    await createDefinition(a, "segments", { name: "A2", type: "static" });
    expect(await programmeVersion(a)).toBe(2);
    expect(await programmeVersion(b)).toBe(0);
  });
});

describe("request bodies", () => {
  it("non-object bodies are 400 and non-JSON bodies 415 on every write", async () => {
    const space = await createSpace();
    await createDefinition(space, "segments", { id: "s", name: "S", type: "static" });
    for (const [method, path] of [
      ["POST", "/segments"],
      ["PUT", "/segments/s"],
      ["PATCH", "/segments/s"],
    ] as const) {
      for (const body of [[], "text", 3, null]) {
        await expectProblem(await api(space, method, path, body), 400, "invalid_request");
      }
      const res = await call(`${ADMIN}${path}`, {
        method,
        space: space.slug,
        rawBody: "name=x",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      await expectProblem(res, 415, "unsupported_media_type");
    }
    // merge-patch+json is for PATCH only.
    const res = await call(`${ADMIN}/segments`, {
      space: space.slug,
      body: { name: "S", type: "static" },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    await expectProblem(res, 415, "unsupported_media_type");
    expect(await listIds(space, "segments")).toEqual(["s"]);
  });
});
