import { describe, expect, it } from "vitest";
import {
  bodies,
  definitionsOf,
  expectProblemAnswer,
  freshDefinitions,
  pathsOf,
  viaApp,
  viaSelf,
  type Definitions,
} from "../helpers/definition-calls";

// The campaign lifecycle over HTTP (SPEC §4, §4.7): `draft → active ⇄ paused → archived`
// (a draft may be archived directly), 409 invalid_transition otherwise; DELETE archives;
// once out of draft the steps (ids, triggers, targets, measures, their number), `order`
// and `repeat` are frozen (409 campaign_frozen with paths) while names, descriptions,
// dates, priority, audience, visibility and effects stay editable.
//
// ~900 requests: they go to the Worker app in-process (real workerd, real D1), not through
// SELF, whose per-request cost grows with every request (see test/helpers/definition-calls.ts).
// One test goes through SELF to show both paths agree.

const transport = viaApp();

type Status = "draft" | "active" | "paused" | "archived";
const STATUSES: Status[] = ["draft", "active", "paused", "archived"];

/** The allowed moves (SPEC §4.7); staying in the same status is a no-op, not a move. */
const ALLOWED = new Set(["draft>active", "draft>archived", "active>paused", "active>archived", "paused>active", "paused>archived"]);

/** A space with a currency, a static segment, a trigger and a draft campaign `c1` using them. */
async function setup(): Promise<Definitions> {
  const d = await freshDefinitions(transport);
  await d.make("metrics", { id: "points", ...bodies.currency() });
  await d.make("metrics", { id: "xp", name: "XP", kind: "counter" });
  await d.make("segments", { id: "vip", name: "VIP", type: "static" });
  await d.make("triggers", { id: "read", ...bodies.trigger("article_read") });
  await d.make("triggers", { id: "buy", ...bodies.trigger("purchase") });
  await d.make("campaigns", {
    id: "c1",
    name: "Welcome",
    steps: [
      { id: "s1", name: "Read", trigger: "read", target: 3, effects: [{ type: "metric.add", metric: "points", amount: 10 }] },
      { id: "s2", name: "Buy", trigger: { eventType: "purchase" }, measure: "event.data.amount", target: 200 },
    ],
    effects: [{ type: "metric.add", metric: "xp", amount: 5 }],
  });
  return d;
}

/** Brings c1 to `status` through allowed moves only. */
async function bringTo(d: Definitions, status: Status): Promise<void> {
  const path: Record<Status, Status[]> = { draft: [], active: ["active"], paused: ["active", "paused"], archived: ["archived"] };
  for (const step of path[status]) {
    const a = await d.patch("campaigns", "c1", { status: step });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.status).toBe(step);
  }
}

describe("status transitions (PATCH { status })", () => {
  for (const from of STATUSES) {
    for (const to of STATUSES) {
      if (from === to) continue;
      const allowed = ALLOWED.has(`${from}>${to}`);
      it(`${from} → ${to}: ${allowed ? "200" : "409 invalid_transition"}`, async () => {
        const d = await setup();
        await bringTo(d, from);
        const before = await d.get("campaigns", "c1");
        const a = await d.patch("campaigns", "c1", { status: to });
        const after = await d.get("campaigns", "c1");
        if (allowed) {
          expect(a.status, JSON.stringify(a.body)).toBe(200);
          expect(a.body.status).toBe(to);
          expect(after.body.status).toBe(to);
          expect(after.body.version).toBe(before.body.version + 1);
          expect(a.headers.get("etag")).toBe(`"${after.body.version}"`);
        } else if (from === "archived") {
          // An archived campaign never changes: invalid_transition, or `frozen` once
          // archiving by status also sets archivedAt (as DELETE does).
          expect(a.status, a.text).toBe(409);
          expect(["invalid_transition", "frozen"]).toContain(a.body.code);
          expect(after.body).toEqual(before.body);
        } else {
          const problem = expectProblemAnswer(a, 409, "invalid_transition");
          expect(pathsOf(a)).toEqual(["status"]);
          expect(problem.detail).toContain(`from ${from} to ${to}`);
          expect(after.body).toEqual(before.body);
        }
      });
    }
  }

  it("staying in the same status is a no-op (version unchanged)", async () => {
    const d = await setup();
    await bringTo(d, "active");
    const before = await d.get("campaigns", "c1");
    const a = await d.patch("campaigns", "c1", { status: "active" });
    expect(a.status).toBe(200);
    expect(a.body.version).toBe(before.body.version);
  });

  it("an archived campaign (by PATCH) refuses every later change of status, and stays archived", async () => {
    const d = await setup();
    await bringTo(d, "archived");
    for (const to of ["draft", "active", "paused"]) {
      const a = await d.patch("campaigns", "c1", { status: to });
      expect(a.status, a.text).toBe(409);
      expect(["invalid_transition", "frozen"]).toContain(a.body.code);
    }
    expect((await d.get("campaigns", "c1")).body.status).toBe("archived");
  });

  it("PUT with another status obeys the same machine (active → draft is 409)", async () => {
    const d = await setup();
    await bringTo(d, "active");
    const current = (await d.get("campaigns", "c1")).body;
    const { id, version, createdAt, updatedAt, archivedAt, ...body } = current;
    const a = await d.put("campaigns", "c1", { ...body, status: "draft" });
    expectProblemAnswer(a, 409, "invalid_transition");
    const ok = await d.put("campaigns", "c1", { ...body, status: "paused" });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.status).toBe("paused");
  });
});

describe("DELETE of a campaign archives it", () => {
  for (const from of ["draft", "active", "paused"] as const) {
    it(`from ${from}: 204, then GET shows archived with archivedAt; it leaves the list; the id is never reused`, async () => {
      const d = await setup();
      await bringTo(d, from);
      const before = await d.get("campaigns", "c1");
      const del = await d.del("campaigns", "c1");
      expect(del.status, JSON.stringify(del.body)).toBe(204);
      const after = await d.get("campaigns", "c1");
      expect(after.status).toBe(200);
      expect(after.body.status).toBe("archived");
      expect(after.body.archivedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(after.body.version).toBe(before.body.version + 1);
      expect(after.body.steps).toEqual(before.body.steps);
      expect((await d.list("campaigns")).map((c) => c.id)).not.toContain("c1");
      expect((await d.list("campaigns", true)).map((c) => c.id)).toContain("c1");
      // Archiving again is idempotent; the archived campaign never changes again.
      expect((await d.del("campaigns", "c1")).status).toBe(204);
      expect((await d.get("campaigns", "c1")).body.version).toBe(after.body.version);
      expect((await d.patch("campaigns", "c1", { status: "active" })).status).toBe(409);
      expect((await d.patch("campaigns", "c1", { name: "Renamed" })).status).toBe(409);
      expectProblemAnswer(await d.create("campaigns", { id: "c1", ...bodies.campaign("read") }), 409, "already_exists");
    });
  }
});

describe("archiving by status", () => {
  // A PATCH/PUT to `status: "archived"` is an archive: archivedAt is set, the campaign
  // leaves the lists and can no longer be referenced, and DELETE's in_use rule applies.
  it("PATCH { status: archived } archives like DELETE (archivedAt set, hidden from lists, 409 in_use while referenced)", async () => {
    const d = await setup();
    await bringTo(d, "active");
    await d.make("segments", { id: "done", name: "Done", type: "dynamic", rule: { path: "user.campaigns.c1.completions", op: "gte", value: 1 } });
    expectProblemAnswer(await d.del("campaigns", "c1"), 409, "in_use");
    expectProblemAnswer(await d.patch("campaigns", "c1", { status: "archived" }), 409, "in_use");
    expect((await d.get("campaigns", "c1")).body.status).toBe("active");

    expect((await d.del("segments", "done")).status).toBe(204);
    const archived = await d.patch("campaigns", "c1", { status: "archived" });
    expect(archived.status, archived.text).toBe(200);
    expect(archived.body.archivedAt).toEqual(expect.any(String));
    expect((await d.list("campaigns")).map((c) => c.id)).not.toContain("c1");
    const ref = await d.create("segments", { id: "done2", name: "Done", type: "dynamic", rule: { path: "user.campaigns.c1.completions", op: "gte", value: 1 } });
    expectProblemAnswer(ref, 422, "unknown_reference");
  });
});

/** c1 as a merge patch of its steps: the current steps with `change` applied to step i. */
async function stepsWith(d: Definitions, change: (steps: any[]) => any[]): Promise<any[]> {
  const steps = structuredClone((await d.get("campaigns", "c1")).body.steps);
  return change(steps);
}

const FROZEN_CHANGES: Array<{ name: string; patch: (d: Definitions) => Promise<Record<string, unknown>>; paths: string[] }> = [
  {
    name: "a step's trigger (another trigger id)",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => (s[0].trigger = "buy", s)) }),
    paths: ["steps[0].trigger"],
  },
  {
    name: "a step's trigger (id → the same match inline)",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => (s[0].trigger = { eventType: "article_read" }, s)) }),
    paths: ["steps[0].trigger"],
  },
  {
    name: "an inline trigger's conditions",
    patch: async (d) => ({
      steps: await stepsWith(d, (s) => ((s[1].trigger.conditions = { path: "event.data.amount", op: "gte", value: 5 }), s)),
    }),
    paths: ["steps[1].trigger"],
  },
  { name: "a step's target", patch: async (d) => ({ steps: await stepsWith(d, (s) => ((s[0].target = 4), s)) }), paths: ["steps[0].target"] },
  {
    name: "a step's measure",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => ((s[1].measure = "event.data.total"), s)) }),
    paths: ["steps[1].measure"],
  },
  {
    name: "a step's measure removed",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => ((s[1].measure = null), s)) }),
    paths: ["steps[1].measure"],
  },
  { name: "a step's id", patch: async (d) => ({ steps: await stepsWith(d, (s) => ((s[0].id = "s0"), s)) }), paths: ["steps[0].id"] },
  {
    name: "the order of the steps",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => s.reverse()) }),
    paths: ["steps[0].id", "steps[0].trigger", "steps[0].target", "steps[0].measure", "steps[1].id", "steps[1].trigger", "steps[1].target", "steps[1].measure"],
  },
  {
    name: "adding a step",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => [...s, { id: "s3", name: "More", trigger: "read" }]) }),
    paths: ["steps"],
  },
  { name: "removing a step", patch: async (d) => ({ steps: await stepsWith(d, (s) => s.slice(0, 1)) }), paths: ["steps"] },
  { name: "order", patch: async () => ({ order: "any" }), paths: ["order"] },
  // Merge patch: `limit: null` would delete the key and fall back to the default 1 (no change).
  { name: "repeat.limit", patch: async () => ({ repeat: { limit: 5 } }), paths: ["repeat"] },
  { name: "repeat.every", patch: async () => ({ repeat: { every: "day" } }), paths: ["repeat"] },
  { name: "repeat.total", patch: async () => ({ repeat: { total: 3 } }), paths: ["repeat"] },
  {
    name: "order and a target together (every path reported)",
    patch: async (d) => ({ order: "any", steps: await stepsWith(d, (s) => ((s[0].target = 9), s)) }),
    paths: ["steps[0].target", "order"],
  },
];

describe("frozen once out of draft: 409 campaign_frozen with paths", () => {
  for (const status of ["active", "paused"] as const) {
    for (const change of FROZEN_CHANGES) {
      it(`${status}: ${change.name}`, async () => {
        const d = await setup();
        await bringTo(d, status);
        const before = await d.get("campaigns", "c1");
        const a = await d.patch("campaigns", "c1", await change.patch(d));
        expectProblemAnswer(a, 409, "campaign_frozen");
        expect(pathsOf(a).sort()).toEqual([...change.paths].sort());
        expect((await d.get("campaigns", "c1")).body).toEqual(before.body);
      });
    }
  }

  it("a frozen change together with a status change is still refused (nothing stored)", async () => {
    const d = await setup();
    await bringTo(d, "active");
    const before = await d.get("campaigns", "c1");
    const a = await d.patch("campaigns", "c1", { status: "paused", order: "any" });
    expectProblemAnswer(a, 409, "campaign_frozen");
    expect(pathsOf(a)).toEqual(["order"]);
    expect((await d.get("campaigns", "c1")).body).toEqual(before.body);
  });

  it("in draft every one of those changes is accepted", async () => {
    for (const change of FROZEN_CHANGES) {
      const d = await setup();
      const a = await d.patch("campaigns", "c1", await change.patch(d));
      expect(a.status, `${change.name}: ${JSON.stringify(a.body)}`).toBe(200);
    }
  });

  it("the draft → active write itself may still change the steps (it leaves draft with them)", async () => {
    const d = await setup();
    const a = await d.patch("campaigns", "c1", { status: "active", order: "any", steps: await stepsWith(d, (s) => ((s[0].target = 7), s)) });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.order).toBe("any");
    expect(a.body.steps[0].target).toBe(7);
    expectProblemAnswer(await d.patch("campaigns", "c1", { order: "sequential" }), 409, "campaign_frozen");
  });
});

const EDITABLE: Array<{ name: string; patch: (d: Definitions) => Promise<Record<string, unknown>>; check: (c: any) => void }> = [
  { name: "name", patch: async () => ({ name: "Renamed" }), check: (c) => expect(c.name).toBe("Renamed") },
  { name: "description", patch: async () => ({ description: "New text" }), check: (c) => expect(c.description).toBe("New text") },
  { name: "imageUrl", patch: async () => ({ imageUrl: "https://img.example.com/c.png" }), check: (c) => expect(c.imageUrl).toBe("https://img.example.com/c.png") },
  {
    name: "dates",
    patch: async () => ({ startsAt: "2030-01-01T00:00:00+01:00", endsAt: "2030-02-01T00:00:00Z", acceptLateUntil: "2030-02-03T00:00:00Z" }),
    check: (c) => expect([c.startsAt, c.endsAt, c.acceptLateUntil]).toEqual(["2029-12-31T23:00:00.000Z", "2030-02-01T00:00:00.000Z", "2030-02-03T00:00:00.000Z"]),
  },
  { name: "priority", patch: async () => ({ priority: 42 }), check: (c) => expect(c.priority).toBe(42) },
  { name: "audience", patch: async () => ({ audience: { include: ["vip"] } }), check: (c) => expect(c.audience).toEqual({ include: ["vip"], exclude: [] }) },
  { name: "visibility", patch: async () => ({ visibility: "hidden" }), check: (c) => expect(c.visibility).toBe("hidden") },
  {
    name: "completion effects",
    patch: async () => ({ effects: [{ type: "push.send", title: "Done", body: "You earned {{completion.metric.points}} points" }] }),
    check: (c) => expect(c.effects[0].type).toBe("push.send"),
  },
  {
    name: "a step's name",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => ((s[0].name = "Read three"), s)) }),
    check: (c) => expect(c.steps[0].name).toBe("Read three"),
  },
  {
    name: "a step's effects",
    patch: async (d) => ({ steps: await stepsWith(d, (s) => ((s[1].effects = [{ type: "metric.add", metric: "points", amount: 50 }]), s)) }),
    check: (c) => expect(c.steps[1].effects).toEqual([{ type: "metric.add", metric: "points", amount: 50 }]),
  },
];

describe("still editable once out of draft", () => {
  for (const status of ["active", "paused"] as const) {
    for (const change of EDITABLE) {
      it(`${status}: ${change.name}`, async () => {
        const d = await setup();
        await bringTo(d, status);
        const before = await d.get("campaigns", "c1");
        const a = await d.patch("campaigns", "c1", await change.patch(d), { "If-Match": before.headers.get("etag")! });
        expect(a.status, JSON.stringify(a.body)).toBe(200);
        expect(a.body.version).toBe(before.body.version + 1);
        expect(a.body.status).toBe(status);
        change.check(a.body);
        change.check((await d.get("campaigns", "c1")).body);
      });
    }
  }

  it("an edited reference must still resolve (422 unknown_reference with its path)", async () => {
    const d = await setup();
    await bringTo(d, "active");
    const a = await d.patch("campaigns", "c1", { audience: { exclude: ["nobody"] }, effects: [{ type: "metric.add", metric: "gone", amount: 1 }] });
    expectProblemAnswer(a, 422, "unknown_reference");
    expect(pathsOf(a)).toEqual(["audience.exclude[0]", "effects[0].metric"]);
  });
});

describe("references of a campaign cannot be pulled from under it", () => {
  for (const status of ["draft", "active", "paused"] as const) {
    it(`${status}: its step trigger (by id) cannot be erased: 409 in_use naming the campaign`, async () => {
      const d = await setup();
      await bringTo(d, status);
      const a = await d.del("triggers", "read");
      const problem = expectProblemAnswer(a, 409, "in_use");
      expect(problem.referrers).toEqual([{ kind: "campaigns", id: "c1", path: "steps[0].trigger" }]);
      expect((await d.get("triggers", "read")).status).toBe(200);
      // Nor can the metrics its effects credit.
      expectProblemAnswer(await d.del("metrics", "points"), 409, "in_use");
      expectProblemAnswer(await d.del("metrics", "xp"), 409, "in_use");
    });
  }

  it("a draft whose trigger is in use can be activated; once the campaign is archived the trigger can be erased", async () => {
    const d = await setup();
    expectProblemAnswer(await d.del("triggers", "read"), 409, "in_use");
    expect((await d.patch("campaigns", "c1", { status: "active" })).status).toBe(200);
    expect((await d.del("campaigns", "c1")).status).toBe(204);
    expect((await d.del("triggers", "read")).status).toBe(204);
    expect((await d.get("triggers", "read")).status).toBe(404);
    // A new campaign naming the erased trigger is refused with the path.
    const a = await d.create("campaigns", { id: "c2", ...bodies.campaign("read") });
    expectProblemAnswer(a, 422, "unknown_reference");
    expect(pathsOf(a)).toEqual(["steps[0].trigger"]);
  });

  it("a trigger's eventType and conditions are frozen while a non-draft campaign uses it, editable for drafts only", async () => {
    const d = await setup();
    const change = { conditions: { path: "event.data.words", op: "gte", value: 100 } };
    const draftEdit = await d.patch("triggers", "read", change);
    expect(draftEdit.status, JSON.stringify(draftEdit.body)).toBe(200);
    await bringTo(d, "active");
    const a = await d.patch("triggers", "read", { eventType: "article_opened", conditions: null });
    expectProblemAnswer(a, 409, "frozen");
    expect(pathsOf(a).sort()).toEqual(["conditions", "eventType"]);
    expect((await d.patch("triggers", "read", { name: "Renamed trigger" })).status).toBe(200);
    expect((await d.patch("campaigns", "c1", { status: "paused" })).status).toBe(200);
    expectProblemAnswer(await d.patch("triggers", "read", { eventType: "x" }), 409, "frozen");
  });
});

describe("activation re-validates the whole campaign", () => {
  it("MAX_ACTIVE_CAMPAIGNS: the next activation is 409 limit_reached; pausing one frees a place; edits of active ones still pass", async () => {
    const d = await setup();
    const limited = definitionsOf(d.space, viaApp({ MAX_ACTIVE_CAMPAIGNS: "2" }));
    await d.make("campaigns", { id: "c2", ...bodies.campaign("read") });
    await d.make("campaigns", { id: "c3", ...bodies.campaign("read") });
    expect((await limited.patch("campaigns", "c1", { status: "active" })).status).toBe(200);
    expect((await limited.patch("campaigns", "c2", { status: "active" })).status).toBe(200);
    const refused = await limited.patch("campaigns", "c3", { status: "active" });
    expectProblemAnswer(refused, 409, "limit_reached");
    expect(pathsOf(refused)).toEqual(["status"]);
    expect((await d.get("campaigns", "c3")).body.status).toBe("draft");
    // Created directly as active: the same limit.
    expectProblemAnswer(await limited.create("campaigns", { id: "c4", ...bodies.campaign("read"), status: "active" }), 409, "limit_reached");
    expect((await d.get("campaigns", "c4")).status).toBe(404);
    // At the limit, an active campaign can still be edited.
    expect((await limited.patch("campaigns", "c1", { name: "Still fine" })).status).toBe(200);
    expect((await limited.patch("campaigns", "c2", { status: "paused" })).status).toBe(200);
    expect((await limited.patch("campaigns", "c3", { status: "active" })).status).toBe(200);
    // Resuming the paused one now exceeds the limit.
    expectProblemAnswer(await limited.patch("campaigns", "c2", { status: "active" }), 409, "limit_reached");
    // Archiving an active one frees a place too.
    expect((await limited.del("campaigns", "c1")).status).toBe(204);
    expect((await limited.patch("campaigns", "c2", { status: "active" })).status).toBe(200);
  });
});

describe("through SELF (the Worker's own entry point)", () => {
  it("draft → active → paused → archived, frozen steps, DELETE archives", async () => {
    const d = await freshDefinitions(viaSelf);
    await d.make("triggers", { id: "read", ...bodies.trigger() });
    await d.make("campaigns", { id: "c1", ...bodies.campaign("read") });
    expect((await d.patch("campaigns", "c1", { status: "active" })).body.status).toBe("active");
    const frozen = await d.patch("campaigns", "c1", { order: "any", repeat: { every: "week" } });
    expectProblemAnswer(frozen, 409, "campaign_frozen");
    expect(pathsOf(frozen)).toEqual(["order", "repeat"]);
    expectProblemAnswer(await d.patch("campaigns", "c1", { status: "draft" }), 409, "invalid_transition");
    expect((await d.patch("campaigns", "c1", { status: "paused", name: "Paused one" })).body).toMatchObject({ status: "paused", name: "Paused one" });
    expectProblemAnswer(await d.del("triggers", "read"), 409, "in_use");
    expect((await d.del("campaigns", "c1")).status).toBe(204);
    expect((await d.get("campaigns", "c1")).body).toMatchObject({ status: "archived", archivedAt: expect.any(String) });
  });
});
